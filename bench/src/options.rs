//! Command-line options, and the sizes of a full run and of the smoke run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::echo::Typing;
use crate::ramp::Plan;
use crate::CAPACITY_TYPING;

const USAGE: &str = "\
rootresume-bench: time to prompt, echo, throughput, memory, capacity and first load, against the
real server and Docker engine, beside the bare engine and a peer (terminado).

USAGE: rootresume-bench [OPTIONS]     (scripts/bench.sh builds everything and runs this)

  --smoke                 seconds-long run with tiny counts; checks the tool works, writes nothing
  --server PATH           server binary (default: $CARGO_TARGET_DIR or target, /release/server;
                          /debug/server with --smoke)
  --site-root PATH        cargo-leptos site root (default: target/site)
  --peer-python PATH      python with terminado installed; without it the peer is skipped
  --peer-script PATH      default: bench/peer/terminado_peer.py
  --out DIR               where README.md and benchmarks.svg go (default: docs/benchmarks;
                          none with --smoke)
  --sessions N            time-to-prompt samples per series (default 50)
  --max-sessions N        top of the capacity ramp (default 700)
  --memory-sessions N     idle sessions for the memory figures (default 100)
  --echo-levels A,B,..    session counts for the echo figures (default 1,50,200)
  --ramp-minutes N        no new capacity level starts after N minutes (default 7)
  --throughput-mib N      MiB of zeros base64-encoded for throughput (default 200)
  --no-first-load         skip the Chromium first-load measurement
  --scratch DIR           logs (default: /var/tmp/rootresume-bench-run)
  --only A,B,..           run only these phases: cold (throughput, cold time to prompt, echo,
                          memory, capacity), throughput (only that part of cold), warm (warm
                          time to prompt, first load), bursts, peer;
                          writes no report unless --out is given
  --cluster               measure a local cluster instead (--cluster --help lists its options;
                          scripts/bench-cluster.sh runs it)
Run from the repository root.";

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The short run.
    pub smoke: bool,
    /// The repository root (the current directory).
    pub repo: PathBuf,
    /// The server binary.
    pub server: PathBuf,
    /// cargo-leptos' site root.
    pub site_root: PathBuf,
    /// Python of the peer's virtualenv.
    pub peer_python: Option<PathBuf>,
    /// The peer's server script.
    pub peer_script: PathBuf,
    /// Where the report goes.
    pub out: Option<PathBuf>,
    /// Time-to-prompt samples per series.
    pub sessions: usize,
    /// Top of the capacity ramp.
    pub max_sessions: usize,
    /// Time budget of the capacity ramp, minutes.
    pub ramp_minutes: u64,
    /// MiB for the throughput figure (default 200; 1 with `--smoke`).
    pub throughput_mib: Option<u32>,
    /// Idle sessions for the memory figures (default 100; 2 with `--smoke`).
    pub memory_sessions: Option<usize>,
    /// Session counts at which echo is measured (default 1, 50, 200; 1, 2 with `--smoke`).
    pub echo_levels: Option<Vec<usize>>,
    /// Whether to measure the first load.
    pub first_load: bool,
    /// Folder for logs.
    pub scratch: PathBuf,
    /// The phases to run (`None`: all).
    pub only: Option<Vec<String>>,
}

/// The phases `--only` can name.
const PHASES: [&str; 5] = ["cold", "throughput", "warm", "bursts", "peer"];

impl Options {
    /// Whether the run includes `phase` (one of [`PHASES`]).
    pub fn runs(&self, phase: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == phase))
    }
}

impl Options {
    /// Reads the options from `args` (without the program name).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self> {
        let repo = std::env::current_dir()?;
        let mut smoke = false;
        let mut values: Vec<(String, String)> = Vec::new();
        let mut first_load = true;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "--smoke" => smoke = true,
                "--no-first-load" => first_load = false,
                flag if flag.starts_with("--") => {
                    let value = args
                        .next()
                        .with_context(|| format!("{flag} needs a value"))?;
                    values.push((flag.to_owned(), value));
                }
                other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
            }
        }
        let take = |name: &str| {
            values
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let known = [
            "--server",
            "--site-root",
            "--peer-python",
            "--peer-script",
            "--out",
            "--sessions",
            "--max-sessions",
            "--memory-sessions",
            "--echo-levels",
            "--ramp-minutes",
            "--throughput-mib",
            "--scratch",
            "--only",
        ];
        if let Some((unknown, _)) = values.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            bail!("unknown option {unknown}\n\n{USAGE}");
        }
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or(repo.join("target"), PathBuf::from);
        let profile = if smoke { "debug" } else { "release" };
        let number = |name: &str, default: usize| -> Result<usize> {
            take(name).map_or(Ok(default), |v| {
                v.parse().with_context(|| format!("{name} {v}"))
            })
        };
        let only = take("--only").map(|v| {
            v.split(',')
                .map(|p| p.trim().to_owned())
                .collect::<Vec<_>>()
        });
        if let Some(unknown) = only
            .iter()
            .flatten()
            .find(|p| !PHASES.contains(&p.as_str()))
        {
            bail!(
                "--only: no phase {unknown:?} (phases: {})",
                PHASES.join(", ")
            );
        }
        Ok(Self {
            smoke,
            server: take("--server").map_or(target.join(profile).join("server"), PathBuf::from),
            site_root: take("--site-root").map_or(repo.join("target/site"), PathBuf::from),
            peer_python: take("--peer-python").map(PathBuf::from),
            peer_script: take("--peer-script")
                .map_or(repo.join("bench/peer/terminado_peer.py"), PathBuf::from),
            // A partial run never overwrites the full report unless asked to.
            out: take("--out")
                .map(PathBuf::from)
                .or_else(|| (!smoke && only.is_none()).then(|| repo.join("docs/benchmarks"))),
            sessions: number("--sessions", 50)?,
            max_sessions: number("--max-sessions", 700)?,
            ramp_minutes: number("--ramp-minutes", 7)? as u64,
            throughput_mib: take("--throughput-mib")
                .map(|v| v.parse().with_context(|| format!("--throughput-mib {v}")))
                .transpose()?,
            echo_levels: take("--echo-levels")
                .map(|v| {
                    v.split(',')
                        .map(|n| n.trim().parse::<usize>())
                        .collect::<Result<Vec<_>, _>>()
                        .with_context(|| format!("--echo-levels {v}"))
                })
                .transpose()?,
            memory_sessions: take("--memory-sessions")
                .map(|v| v.parse().with_context(|| format!("--memory-sessions {v}")))
                .transpose()?,
            first_load: first_load && !smoke,
            scratch: take("--scratch").map_or(
                PathBuf::from("/var/tmp/rootresume-bench-run"),
                PathBuf::from,
            ),
            only,
            repo,
        })
    }
}

/// How much of everything a run measures.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Time-to-prompt samples per series.
    pub ttp_sessions: usize,
    /// Warm pool size of the warm server.
    pub warm_pool: usize,
    /// Wait for the pool to fill before the warm samples.
    pub pool_fill: Duration,
    /// Pause between warm samples, so the pool refills.
    pub warm_pause: Duration,
    /// MiB of zeros base64-encoded for the throughput figure.
    pub throughput_mib: u32,
    /// Echo, memory and capacity.
    pub plan: Plan,
    /// Session counts at which the peer's echo is measured.
    pub peer_levels: Vec<usize>,
    /// Runs of each throughput figure (the median stands for them).
    pub throughput_runs: usize,
    /// Ctrl-C samples during a flood.
    pub interrupt_repeats: usize,
    /// Fresh tabs per page for the page → prompt times.
    pub first_load_tabs: usize,
    /// Pool size of the burst server (the default's).
    pub burst_pool: usize,
    /// Tabs one visitor opens at once.
    pub burst_tabs: usize,
    /// Visitors, each from its own address, arriving within `burst_over`.
    pub burst_arrivals: usize,
    /// How long those arrivals take.
    pub burst_over: Duration,
    /// The same arrivals again, faster.
    pub burst_fast_over: Duration,
}

impl Sizes {
    /// The sizes of the run `options` asks for.
    pub fn for_run(options: &Options) -> Self {
        if options.smoke {
            return Self {
                ttp_sessions: 2,
                warm_pool: 1,
                pool_fill: Duration::from_secs(3),
                warm_pause: Duration::from_secs(1),
                throughput_mib: options.throughput_mib.unwrap_or(1),
                plan: Plan {
                    echo_levels: options.echo_levels.clone().unwrap_or(vec![1, 2]),
                    echo_typing: Typing {
                        keys: 4,
                        interval: Duration::from_millis(50),
                    },
                    echo_repeats: 2,
                    memory_at: options.memory_sessions.unwrap_or(2),
                    capacity_levels: vec![3],
                    capacity_typing: Typing {
                        keys: 2,
                        interval: Duration::from_millis(100),
                    },
                    capacity_p99_ms: 50.0,
                    settle_readings: 1,
                    capacity_budget: Duration::from_secs(60),
                },
                peer_levels: vec![1],
                throughput_runs: 2,
                interrupt_repeats: 2,
                first_load_tabs: 1,
                burst_pool: 2,
                burst_tabs: 3,
                burst_arrivals: 4,
                burst_over: Duration::from_secs(1),
                burst_fast_over: Duration::from_millis(500),
            };
        }
        Self {
            ttp_sessions: options.sessions,
            warm_pool: 10,
            pool_fill: Duration::from_secs(15),
            warm_pause: Duration::from_secs(1),
            throughput_mib: options.throughput_mib.unwrap_or(200),
            plan: Plan {
                echo_levels: options.echo_levels.clone().unwrap_or(vec![1, 50, 200]),
                // A fast typist: five keys a second, forty keys.
                echo_typing: Typing {
                    keys: 40,
                    interval: Duration::from_millis(200),
                },
                echo_repeats: 5,
                memory_at: options.memory_sessions.unwrap_or(100),
                capacity_levels: (1..=options.max_sessions / 100).map(|k| k * 100).collect(),
                capacity_typing: CAPACITY_TYPING,
                capacity_p99_ms: 50.0,
                settle_readings: 5,
                capacity_budget: Duration::from_secs(options.ramp_minutes * 60),
            },
            peer_levels: vec![1, 50],
            throughput_runs: 5,
            interrupt_repeats: 10,
            first_load_tabs: 10,
            burst_pool: 4,
            burst_tabs: 5,
            burst_arrivals: 50,
            burst_over: Duration::from_secs(5),
            burst_fast_over: Duration::from_secs(1),
        }
    }
}
