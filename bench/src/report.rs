//! Everything one run measured, and its markdown report: every figure beside its target and its
//! comparison (the bare engine or the peer), then the details and the machine.

use std::fmt::Write;

use crate::burst::Burst;
use crate::first_load::FirstLoad;
use crate::machine::Machine;
use crate::memory::{Accounted, PerSession};
use crate::ramp::{Climb, Level};
use crate::stats::Summary;
use crate::throughput::Throughput;
use crate::ttp::Ttp;

/// The results of one bench run.
#[derive(Debug)]
pub struct Results {
    /// Where it ran.
    pub machine: Machine,
    /// Whether this was the short smoke run (figures meaningless).
    pub smoke: bool,
    /// Time to prompt without a pool.
    pub cold: Ttp,
    /// Bare engine create + start + exec → prompt.
    pub bare: Ttp,
    /// Time to prompt with the warm pool.
    pub warm: Ttp,
    /// Echo, memory and capacity on RootResume.
    pub climb: Climb,
    /// Echo on the peer, by session count.
    pub peer_echo: Vec<Level>,
    /// Echo on shells attached straight to the engine (no server), by session count.
    pub bare_echo: Vec<Level>,
    /// Visitors arriving together, by pool setting.
    pub bursts: Vec<(String, Vec<Burst>)>,
    /// Output throughput on RootResume.
    pub throughput: Throughput,
    /// Output throughput of a bare engine attach (no server): the engine's own ceiling.
    pub bare_throughput: Throughput,
    /// Every run of each throughput figure, by what was measured (the figures above are the
    /// median runs).
    pub throughput_runs: Vec<(String, Vec<Throughput>)>,
    /// Ctrl-C during an output flood → the next prompt, per sample.
    pub interrupt: Vec<std::time::Duration>,
    /// The same command alone inside a sandbox, writing to `/dev/null`: what it can produce.
    pub command_throughput: Throughput,
    /// The same command through a pty inside a sandbox, read there by `script`, no engine
    /// stream nor server in the path.
    pub pty_throughput: Throughput,
    /// Output throughput on the peer.
    pub peer_throughput: Option<Throughput>,
    /// Memory per idle bare container.
    pub bare_memory: PerSession,
    /// First load of the home page, or why it was not measured.
    pub first_load: Result<FirstLoad, String>,
    /// Why the peer was not measured, if it was not.
    pub peer_missing: Option<String>,
    /// Phases that failed, and why.
    pub problems: Vec<String>,
}

fn ms(value: f64) -> String {
    format!("{value:.1} ms")
}

fn pct(s: &Summary) -> String {
    format!("{:.1} / {:.1} / {:.1} ms", s.p50, s.p95, s.p99)
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

/// The verdict, unless nothing was measured (a failed phase must not read as a target met).
fn verdict_of(measured: bool, met: bool) -> &'static str {
    if measured {
        verdict(met)
    } else {
        "not measured"
    }
}

impl Results {
    /// Echo at `n` sessions on RootResume.
    pub fn echo_at(&self, n: usize) -> Option<Summary> {
        self.climb.echo.iter().find(|l| l.n == n).map(Level::median)
    }

    /// Echo at `n` sessions on the peer.
    pub fn peer_echo_at(&self, n: usize) -> Option<Summary> {
        self.peer_echo.iter().find(|l| l.n == n).map(Level::median)
    }

    /// The markdown report.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let cold = Summary::of(&self.cold.total);
        let cold_socket = Summary::of(&self.cold.from_socket);
        let bare = Summary::of(&self.bare.total);
        let warm = Summary::of(&self.warm.total);
        let cold_ratio = cold.p50 / bare.p50.max(1e-9);
        let _ = writeln!(md, "# RootResume benchmarks\n");
        if self.smoke {
            let _ = writeln!(md, "> Smoke run: tiny counts, the figures mean nothing.\n");
        }
        let _ = writeln!(md, "Produced by `scripts/bench.sh` (the `rootresume-bench` tool) in one run on {}; chart: [benchmarks.svg](benchmarks.svg).\n", self.machine.date);
        let _ = writeln!(md, "| Figure | RootResume | Comparison | Target | |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        let _ = writeln!(md, "| Time to prompt, warm pool, p50 / p95 / p99 (n = {}) | {} | — | p50 ≤ 30 ms, p99 ≤ 100 ms | {} |", warm.n, pct(&warm), verdict_of(warm.n > 0, warm.p50 <= 30.0 && warm.p99 <= 100.0));
        let _ = writeln!(md, "| Time to prompt, cold, p50 / p95 / p99 (n = {}) | {} | bare engine {} | ≤ 1.1× bare (p50) | {:.2}× — {} |", cold.n, pct(&cold), pct(&bare), cold_ratio, verdict_of(cold.n > 0 && bare.n > 0, cold_ratio <= 1.1));
        for level in &self.climb.echo {
            let (n, ours, (low, high)) = (level.n, level.median(), level.p99_spread());
            let compared = |name: &str, levels: &[Level]| {
                levels.iter().find(|l| l.n == n).map(|l| {
                    let (p, (low, high)) = (l.median(), l.p99_spread());
                    format!(
                        "{name} {} / {} (p99 {low:.1}–{high:.1})",
                        ms(p.p50),
                        ms(p.p99)
                    )
                })
            };
            let peers: Vec<String> = [
                compared("terminado", &self.peer_echo),
                compared("bare engine attach, no server", &self.bare_echo),
            ]
            .into_iter()
            .flatten()
            .collect();
            let peer = if peers.is_empty() {
                "—".to_owned()
            } else {
                peers.join("; ")
            };
            let failures = level.failures();
            let (target, met) = if n == 50 {
                ("p99 ≤ 5 ms", verdict(ours.p99 <= 5.0 && failures == 0))
            } else {
                ("", "")
            };
            let failed = if failures > 0 {
                format!(
                    "; **{} lost, {} echo timeouts**",
                    level.lost, level.timeouts
                )
            } else {
                String::new()
            };
            let _ = writeln!(md, "| Echo round trip p50 / p99, {n} live session(s), median of {} runs (p99 spread) | {} / {} ({low:.1}–{high:.1}){failed} | {peer} | {target} | {met} |", level.runs.len(), ms(ours.p50), ms(ours.p99));
        }
        let ours_mb = self.throughput.mb_per_s();
        let pty_mb = self.pty_throughput.mb_per_s();
        let _ = writeln!(md, "| Output of the same command alone in a sandbox (to /dev/null, under the sandbox's CPU limit) | — | {:.1} MB/s | | |", self.command_throughput.mb_per_s());
        let _ = writeln!(md, "| Output through a pty inside a sandbox, same command, no engine stream nor server (`script` reads it, under the same CPU limit) | — | {pty_mb:.1} MB/s | | |");
        let _ = writeln!(md, "| Output throughput of a bare engine attach, same command (no server; its client reads every write of the engine's stream) | — | {:.1} MB/s | | |", self.bare_throughput.mb_per_s());
        let share = ours_mb / pty_mb.max(1e-9);
        let _ = writeln!(md, "| Output throughput end to end, share of the pty inside the sandbox | {:.0} % | — | ≥ 90 % | {} |", share * 100.0, verdict_of(self.pty_throughput.bytes > 0 && self.throughput.bytes > 0, share >= 0.9));
        match self.peer_throughput {
            Some(peer) => {
                let ratio = ours_mb / peer.mb_per_s().max(1e-9);
                let _ = writeln!(md, "| Output throughput (`head -c 200M /dev/zero \\| base64`) | {ours_mb:.1} MB/s | terminado {:.1} MB/s | ≥ 2× peer | {ratio:.2}× — {} |", peer.mb_per_s(), verdict_of(self.throughput.bytes > 0 && peer.bytes > 0, ratio >= 2.0));
            }
            None => {
                let _ = writeln!(md, "| Output throughput | {ours_mb:.1} MB/s | peer not measured | ≥ 2× peer | {} |", verdict_of(false, false));
            }
        }
        if let Some((_, ours)) = self.throughput_runs.first() {
            let spread = |runs: &[Throughput]| {
                let (low, high) = crate::throughput::spread(runs);
                format!("{low:.1}–{high:.1} MB/s")
            };
            let others: Vec<String> = self
                .throughput_runs
                .iter()
                .skip(1)
                .map(|(what, runs)| format!("{what} {}", spread(runs)))
                .collect();
            let _ = writeln!(md, "| Output throughput, slowest–fastest of {} runs each (the figures above are the median runs) | {} | {} | | |", ours.len(), spread(ours), others.join("; "));
        }
        let ctrl_c = Summary::of(&self.interrupt);
        let worst = crate::stats::percentile(&self.interrupt, 100.0);
        let _ = writeln!(md, "| Ctrl-C during an output flood → next prompt, p50 / max of {} | {} / {} | — | < 100 ms | {} |", ctrl_c.n, ms(ctrl_c.p50), ms(worst), verdict_of(ctrl_c.n > 0, worst < 100.0));
        let memory = &self.climb.memory;
        let compared = |ours: f64, bare: f64| -> String {
            if memory.n == 0 || self.bare_memory.n == 0 {
                "not measured".into()
            } else if ours <= 0.0 || bare <= 0.0 {
                // Something else on the machine freed more than the sessions took.
                "not comparable: the machine's memory moved by more than the sessions took".into()
            } else {
                format!("{:.2}× — {}", ours / bare, verdict(ours / bare <= 1.05))
            }
        };
        let _ = writeln!(md, "| Host memory per idle session (drop in MemAvailable / N, N = {}) | {} | bare containers {} | ≤ 1.05× bare | {} |", memory.n, mib(memory.host), mib(self.bare_memory.host), compared(memory.host, self.bare_memory.host));
        let per_container = |p: &Accounted<f64>| p.cgroups + p.shims + p.server;
        let (ours_own, bare_own) = (
            per_container(&memory.parts),
            per_container(&self.bare_memory.parts),
        );
        let _ = writeln!(md, "| Host memory per idle session, accounted (engine daemons' PSS + shims' PSS + container cgroups + server PSS) | {} | bare containers {} | ≤ 1.05× bare | {} |", mib(memory.accounted), mib(self.bare_memory.accounted), compared(memory.accounted, self.bare_memory.accounted));
        let _ = writeln!(md, "| Host memory per idle session, each session's own (shims + container cgroups + server, without the engine daemons' heap) | {} | bare containers {} | ≤ 1.05× bare | {} |", mib(ours_own), mib(bare_own), compared(ours_own, bare_own));
        let parts = |p: &Accounted<f64>| {
            format!(
                "cgroups {:.0} KiB, shims {:.0} KiB, dockerd + containerd {:.0} KiB, server {:.0} KiB",
                p.cgroups / 1024.0,
                p.shims / 1024.0,
                p.daemons / 1024.0,
                p.server / 1024.0
            )
        };
        let _ = writeln!(
            md,
            "| … accounted, by source | {} | bare: {} | | |",
            parts(&memory.parts),
            parts(&self.bare_memory.parts)
        );
        let _ = writeln!(
            md,
            "| Server RSS per idle session | {:.1} KiB | bare: no server | ≤ 64 KB | {} |",
            memory.server_rss / 1024.0,
            verdict_of(memory.n > 0, memory.server_rss <= 64_000.0)
        );
        let _ = writeln!(
            md,
            "| Most concurrent sessions with echo p99 < 50 ms and none lost | {} | — | ≥ 500 | {} |",
            self.climb.capacity_ok,
            verdict(self.climb.capacity_ok >= 500)
        );
        match &self.first_load {
            Ok(load) => {
                let kb = load.sent_kib * 1.024;
                let _ = writeln!(md, "| First-load transfer of the home page with its shell (HTML + JS + WASM + CSS, as sent) | {:.1} KiB sent ({kb:.1} KB); {:.1} KiB as gzip -9 | — | ≤ 200 KB | {} |", load.sent_kib, load.gzip9_kib, verdict(kb <= 200.0));
                let times = [
                    (
                        "Page → prompt painted, `/terminal` (navigation start; first screen or xterm.js)",
                        load.terminal,
                        Some(150.0),
                    ),
                    (
                        "Page → prompt painted by xterm.js, `/terminal` (navigation start)",
                        load.terminal_xterm,
                        None,
                    ),
                    (
                        "Page → prompt painted, home page (press of \"Start your sandbox\"; first screen or xterm.js)",
                        load.home,
                        Some(150.0),
                    ),
                    (
                        "Page → prompt painted by xterm.js, home page (press of \"Start your sandbox\")",
                        load.home_xterm,
                        None,
                    ),
                    (
                        "First paint of a page with no terminal, `/about` (navigation start): the floor",
                        load.plain_paint,
                        None,
                    ),
                    (
                        "First paint of a one-line page served by Node (navigation start): the browser's own floor",
                        load.blank_paint,
                        None,
                    ),
                    (
                        "Page → first typed command answered, `/terminal` (navigation start)",
                        load.answered,
                        None,
                    ),
                    (
                        "Run on a post's C block → its output painted (press of Run; the terminal loads then)",
                        load.run,
                        None,
                    ),
                ];
                for (what, spread, goal) in times {
                    let Some((p50, min, max)) = spread else {
                        let _ = writeln!(md, "| {what} | not measured | — | | |");
                        continue;
                    };
                    let (target, met) = match goal {
                        Some(goal) => (format!("p50 ≤ {goal:.0} ms"), verdict(p50 <= goal)),
                        None => (String::new(), ""),
                    };
                    let _ = writeln!(md, "| {what}, p50 (min–max) of {} fresh tabs ({}), warm pool | {p50:.0} ms ({min:.0}–{max:.0}) | — | {target} | {met} |", load.tabs, load.spacing);
                }
            }
            Err(why) => {
                let _ = writeln!(
                    md,
                    "| First-load transfer and page → prompt | not measured: {why} | — | ≤ 200 KB; p50 ≤ 150 ms | |"
                );
            }
        }
        let _ = writeln!(md, "\nCold time to prompt counts from the `create_session` request (where the container starts) to the first prompt byte; from socket open alone it is {}. The bare baseline is create + start + exec of the same image with the server's own container spec, through the engine API, timed to the first prompt byte; cold and bare samples alternate.\n", pct(&cold_socket));
        self.details(&mut md);
        md
    }

    fn details(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "## How each figure is taken
"
        );
        let _ = writeln!(md, "- **Echo**: at each level every live session types at once, five keys a second (a letter, then a delete, so the line stays empty), 40 keys each; a round trip runs from sending the key to the next output frame. Each level runs several times: the figure is the median of the runs' percentiles, the spread the lowest and highest p99. A key whose echo never comes counts as 10 s and as a failure; a session lost at a level is a failure of that level (and is replaced before the next run). Sessions stay open from one level to the next. The server logs at its production level (info). The bare engine attach beside it is the same typing on as many shells started and attached straight through the engine API (the server's container spec, no server), after the server has stopped: what the engine's stream and the pty take of a round trip.");
        let _ = writeln!(md, "- **Throughput**: bytes of terminal output (base64 of the zeros, with the pty's line endings) from sending the command to its end marker, read by the same client; the bare figure reads the engine's attach stream directly, with no server; the pty figure runs the same command under `script` inside a container (the pty's master read and counted there), timed in the container, with neither the engine's stream nor the server in the path.");
        let _ = writeln!(md, "- **Memory**: idle sessions at the prompt, their sockets open. `MemAvailable` is the issue's measure but moves with everything else the machine runs; the accounted figure adds up only what the sessions cost: proportional set size of dockerd, containerd, the sessions' shims and the server, plus the containers' memory cgroups. Server RSS is the server's resident growth over the same sessions. The engine daemons' growth depends on the order of the phases (dockerd's Go heap keeps its high-water mark, and RootResume's sessions come first, the bare containers after), so the session's own memory — its shim, its container and its share of the server — is given without it.");
        let _ = writeln!(md, "- **Capacity**: sessions are added a hundred at a time (eight opening at once); at each level every session types a key a second for six seconds.\n");
        let _ = writeln!(md, "## Capacity ramp\n\nEvery live session types one key per {:.1} s; a level counts when echo p99 stays under 50 ms, no session was lost and every key got its echo. Stopped: {}.\n", self.climb_typing_secs(), self.climb.stopped);
        let _ = writeln!(md, "| Live sessions | Echo p50 | Echo p99 | Lost sessions | Echo timeouts |\n|---|---|---|---|---|");
        for level in &self.climb.capacity {
            let s = level.median();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                level.n,
                ms(s.p50),
                ms(s.p99),
                level.lost,
                level.timeouts
            );
        }
        self.bursts(md);
        if let Some(why) = &self.peer_missing {
            let _ = writeln!(md, "\nThe peer was not measured: {why}.");
        } else {
            let _ = writeln!(md, "\n## The peer\n\n[terminado](https://pypi.org/project/terminado/) (Jupyter's terminal server), installed by `scripts/bench.sh` into a scratch virtualenv, serves each socket `docker exec -it CONTAINER rootresume-shell` in a container created with the server's own container spec. Echo and throughput use the same client code as for RootResume; only the framing differs (terminado's JSON text frames).");
        }
        if let Ok(load) = &self.first_load {
            let _ = writeln!(md, "\n## First load\n\nRelease build, Chromium, cache disabled (end2end/bench/first-load.mjs):\n\n```");
            for line in &load.files {
                let _ = writeln!(md, "{line}");
            }
            let _ = writeln!(md, "```");
            let _ = writeln!(md, "\nWhere the time to prompt on `/terminal` goes: the p50 over {} fresh tabs (a new browser context each, nothing cached) of when each step was done, by the page's own clock from navigation start. \"Painted\" is the first animation frame after the prompt's text entered the first screen (plain text, shown before the bundle runs) or xterm.js's rows.\n\n```", load.tabs);
            for line in &load.steps {
                let _ = writeln!(md, "{line}");
            }
            let _ = writeln!(md, "```");
        }
        self.problems(md);
        let _ = writeln!(md, "\n## Machine\n\n{}", self.machine.markdown());
    }

    fn bursts(&self, md: &mut String) {
        if self.bursts.is_empty() {
            return;
        }
        let _ = writeln!(md, "\n## Bursts: visitors arriving together\n\nTime to prompt from the `create_session` request to the prompt's first byte, on a server with the default pool size; arrivals from many clients come from their own loopback addresses. \"Found ready\" is the server's own count of visitors handed a pooled sandbox whose shell already ran (the others waited for a container start: their own, or a pooled one still starting).\n");
        let _ = writeln!(md, "| Pool | Arrivals | Time to prompt p50 / p95 / p99 | Found ready | Failed |\n|---|---|---|---|---|");
        for (pool, bursts) in &self.bursts {
            for burst in bursts {
                let _ = writeln!(
                    md,
                    "| {pool} | {} | {} | {} of {} | {} |",
                    burst.what,
                    pct(&burst.summary()),
                    burst.found_ready(),
                    burst.arrivals,
                    burst.errors.len()
                );
            }
        }
    }

    /// Failed phases and failed samples, so a figure's gaps are explained where it stands.
    fn problems(&self, md: &mut String) {
        let mut lines = self.problems.clone();
        for (name, series) in [
            ("cold", &self.cold),
            ("bare", &self.bare),
            ("warm", &self.warm),
        ] {
            if let Some(first) = series.errors.first() {
                let count = series.errors.len();
                lines.push(format!(
                    "{count} {name} time-to-prompt sample(s) failed; the first: {first}"
                ));
            }
        }
        if lines.is_empty() {
            return;
        }
        let _ = writeln!(md, "\n## Problems in this run\n");
        for line in lines {
            let _ = writeln!(md, "- {line}");
        }
    }

    fn climb_typing_secs(&self) -> f64 {
        crate::CAPACITY_TYPING.interval.as_secs_f64()
    }
}
