//! One run, phase by phase. A phase that fails is written into the report's problems and the
//! run goes on: a run takes a quarter of an hour and hundreds of containers, and the figures of
//! the phases that worked are worth keeping.

use std::time::Duration;

use anyhow::Result;
use futures_util::{StreamExt, TryStreamExt};

use crate::burst::{self, Burst};
use crate::engine::{BareShell, Engine};
use crate::first_load;
use crate::machine::Machine;
use crate::memory::{self, PerSession};
use crate::options::{Options, Sizes};
use crate::peer::Peer;
use crate::ramp::{self, Climb, Level};
use crate::report::Results;
use crate::server::{ServerProcess, ServerSetup};
use crate::stats::Summary;
use crate::term::{Shell, Term};
use crate::throughput::{self, Throughput};
use crate::ttp::{self, Ttp};
use crate::OPEN_CONCURRENCY;

fn step(what: &str) {
    println!("== {what}");
}

/// Keeps a phase's value, or records why it failed and goes on with a default.
fn keep<T: Default>(problems: &mut Vec<String>, phase: &str, result: Result<T>) -> T {
    result.unwrap_or_else(|error| {
        println!("  {phase} failed: {error:#}");
        problems.push(format!("{phase}: {error:#}"));
        T::default()
    })
}

/// Runs every phase against the server, the bare engine and the peer.
pub async fn run(options: &Options, instance: &str, engine: &Engine) -> Result<Results> {
    let sizes = Sizes::for_run(options);
    let mut problems = Vec::new();
    let setup = ServerSetup {
        binary: options.server.clone(),
        site_root: options.site_root.clone(),
        instance: instance.to_owned(),
        scratch: options.scratch.clone(),
    };
    let mut results = Results {
        machine: Machine::describe(engine.describe().await),
        smoke: options.smoke,
        cold: Ttp::default(),
        bare: Ttp::default(),
        warm: Ttp::default(),
        climb: Climb::default(),
        peer_echo: Vec::new(),
        bare_echo: Vec::new(),
        bursts: Vec::new(),
        throughput: Throughput::default(),
        bare_throughput: Throughput::default(),
        interrupt: Vec::new(),
        throughput_runs: Vec::new(),
        command_throughput: Throughput::default(),
        pty_throughput: Throughput::default(),
        peer_throughput: None,
        bare_memory: PerSession::default(),
        first_load: Err("not reached".into()),
        peer_missing: None,
        problems: Vec::new(),
    };

    if options.runs("cold") {
        cold_phases(engine, &setup, &sizes, &mut results, &mut problems).await?;
    }
    if options.runs("throughput") && !options.runs("cold") {
        step("server without a pool: throughput");
        let server = ServerProcess::start(&setup, 0).await?;
        throughput_phase(&server, engine, &sizes, &mut results, &mut problems).await;
        keep(&mut problems, "stopping the server", server.stop().await);
    }
    if options.runs("warm") {
        warm_phase(options, &setup, &sizes, &mut results, &mut problems).await;
    }
    if options.runs("bursts") {
        step("bursts: visitors arriving together, on the default pool size");
        for (pool, settings) in burst_settings(sizes.burst_pool) {
            match bursts(&setup, &sizes, &pool, &settings).await {
                Ok(measured) => results.bursts.push((pool, measured)),
                Err(error) => problems.push(format!("bursts ({pool}): {error:#}")),
            }
        }
    }
    if options.runs("peer") {
        peer_phase(options, instance, &sizes, &mut results, &mut problems).await?;
    }
    if let Some(first) = results.climb.lost.first() {
        problems.push(format!(
            "{} RootResume session(s) failed to open or were lost during the climb (replaced); the first: {first}",
            results.climb.lost.len()
        ));
    }
    problems.append(&mut results.problems);
    results.problems = problems;
    Ok(results)
}

/// Throughput, cold time to prompt beside the bare engine, then echo, memory and capacity on one
/// climb, and the bare containers' memory.
async fn cold_phases(
    engine: &Engine,
    setup: &ServerSetup,
    sizes: &Sizes,
    results: &mut Results,
    problems: &mut Vec<String>,
) -> Result<()> {
    step("server without a pool: throughput, cold time to prompt beside the bare engine");
    let cold_server = ServerProcess::start(setup, 0).await?;
    throughput_phase(&cold_server, engine, sizes, results, problems).await;
    (results.cold, results.bare) =
        ttp::cold_and_bare(&cold_server, engine, sizes.ttp_sessions).await;
    let (c, b) = (
        Summary::of(&results.cold.total),
        Summary::of(&results.bare.total),
    );
    println!(
        "  cold p50 {:.1} ms p99 {:.1} ms; bare p50 {:.1} ms p99 {:.1} ms",
        c.p50, c.p99, b.p50, b.p99
    );
    // The closed sessions' containers go after the grace period; let that finish.
    tokio::time::sleep(Duration::from_secs(3)).await;

    step("echo, memory per idle session and capacity on one climb");
    results.climb = ramp::climb(&cold_server, engine, &sizes.plan).await;
    let memory = &results.climb.memory;
    println!(
        "  memory per idle session: MemAvailable {:.0} KiB, accounted {:.0} KiB, server RSS {:.1} KiB",
        memory.host / 1024.0,
        memory.accounted / 1024.0,
        memory.server_rss / 1024.0
    );
    println!("  capacity ramp stopped: {}", results.climb.stopped);
    keep(problems, "stopping the server", cold_server.stop().await);

    step("bare engine: echo on shells attached straight to it, no server in the path");
    results.bare_echo = keep(problems, "bare engine echo", bare_echo(engine, sizes).await);

    step("bare containers: memory per idle session");
    let bare_memory = memory::bare_idle(engine, sizes.plan.memory_at, sizes.plan.settle_readings);
    results.bare_memory = keep(problems, "bare memory", bare_memory.await);
    println!(
        "  bare: MemAvailable {:.0} KiB, accounted {:.0} KiB per container",
        results.bare_memory.host / 1024.0,
        results.bare_memory.accounted / 1024.0
    );

    Ok(())
}

/// Warm time to prompt and the first load, on a server with a warm pool.
async fn warm_phase(
    options: &Options,
    setup: &ServerSetup,
    sizes: &Sizes,
    results: &mut Results,
    problems: &mut Vec<String>,
) {
    step("server with a warm pool: warm time to prompt, first load");
    match ServerProcess::start(setup, sizes.warm_pool).await {
        Ok(warm_server) => {
            tokio::time::sleep(sizes.pool_fill).await;
            results.warm = ttp::warm(&warm_server, sizes.ttp_sessions, sizes.warm_pause).await;
            let w = Summary::of(&results.warm.total);
            println!("  warm p50 {:.1} ms p99 {:.1} ms", w.p50, w.p99);
            results.first_load = if options.first_load {
                let base = format!("http://{}", warm_server.addr());
                first_load::measure(&options.repo, &base, sizes.first_load_tabs)
                    .map_err(|e| format!("{e:#}"))
            } else {
                Err("skipped (--no-first-load or --smoke)".into())
            };
            keep(
                problems,
                "stopping the warm server",
                warm_server.stop().await,
            );
        }
        Err(error) => problems.push(format!("starting the warm server: {error:#}")),
    }
}

/// As many echo runs over `terms` (`n` of them) as RootResume's levels get, so the medians
/// compare; gives back the terms still working, the level, and why any were lost.
async fn echo_level<S: Shell + 'static>(
    mut terms: Vec<S>,
    n: usize,
    sizes: &Sizes,
) -> (Vec<S>, Level, Vec<String>) {
    let mut level = Level {
        n,
        ..Level::default()
    };
    let mut lost = Vec::new();
    for _ in 0..sizes.plan.echo_repeats.max(1) {
        ramp::measure_into(&mut terms, sizes.plan.echo_typing, &mut level, &mut lost).await;
    }
    (terms, level, lost)
}

/// Echo at the peer's session counts on shells attached straight to the engine, typed by the
/// same client logic: what the engine's stream and the pty take of a key's round trip, the server
/// left out. Their containers are removed after, as the run's end would.
async fn bare_echo(engine: &Engine, sizes: &Sizes) -> Result<Vec<Level>> {
    let mut shells: Vec<BareShell> = Vec::new();
    let mut levels = Vec::new();
    for &n in &sizes.peer_levels {
        let more: Vec<BareShell> = futures_util::stream::iter(shells.len()..n)
            .map(|i| async move {
                engine
                    .start_shell(&format!("echo-{i}"))
                    .await
                    .map(|(shell, _)| shell)
            })
            .buffer_unordered(OPEN_CONCURRENCY)
            .try_collect()
            .await?;
        shells.extend(more);
        let level;
        (shells, level, _) = echo_level(shells, n, sizes).await;
        println!("  bare engine echo at {n}: {}", level.line());
        levels.push(level);
    }
    engine.remove_shells(shells).await;
    Ok(levels)
}

/// Output throughput on `server` (and Ctrl-C during a flood), beside the bare engine's attach
/// and the same command in a sandbox alone and through a pty.
async fn throughput_phase(
    server: &ServerProcess,
    engine: &Engine,
    sizes: &Sizes,
    results: &mut Results,
    problems: &mut Vec<String>,
) {
    match server.settle(Duration::from_secs(30)).await {
        Ok(waited) => println!("  server at rest after {:.1} s", waited.as_secs_f64()),
        Err(error) => problems.push(format!("waiting for the server to be at rest: {error:#}")),
    }
    let ours = async {
        let mut term = server.open().await?;
        let runs = sizes.throughput_runs;
        let measured = throughput::measure_runs(&mut term, sizes.throughput_mib, runs).await;
        let interrupted = throughput::interrupt(&mut term, sizes.interrupt_repeats).await;
        term.close().await;
        anyhow::Ok((measured?, interrupted?))
    };
    let (runs, interrupt) = keep(problems, "throughput", ours.await);
    results.throughput = throughput::median(&runs);
    results.interrupt = interrupt;
    results.throughput_runs.push(("RootResume".into(), runs));
    let ctrl_c = Summary::of(&results.interrupt);
    println!(
        "  Ctrl-C during a flood → prompt: p50 {:.1} ms, max {:.1} ms",
        ctrl_c.p50,
        crate::stats::percentile(&results.interrupt, 100.0)
    );
    let bare = async {
        let (mut shell, _) = engine.start_shell("throughput").await?;
        let runs = sizes.throughput_runs;
        let measured = throughput::measure_runs(&mut shell, sizes.throughput_mib, runs).await;
        engine.remove(&shell.container).await;
        measured
    };
    let runs = keep(problems, "bare engine throughput", bare.await);
    results.bare_throughput = throughput::median(&runs);
    results
        .throughput_runs
        .push(("bare engine attach".into(), runs));
    let (mut alone, mut pty) = (Vec::new(), Vec::new());
    for run in 0..sizes.throughput_runs.max(1) {
        let name = format!("pty-ceiling-{run}");
        let ceilings = engine.pty_ceiling(&name, sizes.throughput_mib).await;
        let (a, p) = keep(problems, "pty ceiling", ceilings);
        alone.push(a);
        pty.push(p);
    }
    (results.command_throughput, results.pty_throughput) =
        (throughput::median(&alone), throughput::median(&pty));
    results
        .throughput_runs
        .push(("the command alone in a sandbox".into(), alone));
    results
        .throughput_runs
        .push(("a pty in a sandbox".into(), pty));
    println!(
        "  throughput {:.1} MB/s; bare engine attach {:.1} MB/s; in a sandbox: the command alone {:.1} MB/s, through a pty {:.1} MB/s",
        results.throughput.mb_per_s(),
        results.bare_throughput.mb_per_s(),
        results.command_throughput.mb_per_s(),
        results.pty_throughput.mb_per_s()
    );
}

/// The peer's throughput and echo, when a Python with terminado was given.
async fn peer_phase(
    options: &Options,
    instance: &str,
    sizes: &Sizes,
    results: &mut Results,
    problems: &mut Vec<String>,
) -> Result<()> {
    match &options.peer_python {
        Some(python) => {
            step("peer (terminado): throughput and echo");
            let peer_instance = format!("{instance}-peer");
            let peer_engine = Engine::connect(&peer_instance)?;
            let log = options.scratch.join("peer.log");
            match Peer::start(python, &options.peer_script, peer_engine.clone(), &log).await {
                Ok(peer) => {
                    let measured = measure_peer(&peer, sizes, results).await;
                    keep(problems, "peer", measured);
                    keep(problems, "stopping the peer", peer.stop().await);
                }
                Err(error) => problems.push(format!("starting the peer: {error:#}")),
            }
            keep(
                problems,
                "removing the peer's containers",
                peer_engine.remove_all(&peer_instance).await,
            );
        }
        None => results.peer_missing = Some("no --peer-python given".to_owned()),
    }
    Ok(())
}

/// The pool settings the bursts are measured with: the pool held at its size (as before it could
/// grow), and the default.
fn burst_settings(pool: usize) -> Vec<(String, Vec<(&'static str, String)>)> {
    vec![
        (
            format!("{pool}, fixed"),
            vec![("ROOTRESUME_SESSIONS_POOL_MAX", pool.to_string())],
        ),
        (
            format!("{pool}, growing with arrivals (default)"),
            Vec::new(),
        ),
    ]
}

/// Both bursts on a fresh server whose pool has filled.
async fn bursts(
    setup: &ServerSetup,
    sizes: &Sizes,
    label: &str,
    settings: &[(&'static str, String)],
) -> Result<Vec<Burst>> {
    let log = format!("burst-{}", label.split(',').next().unwrap_or("pool"));
    let server = ServerProcess::start_with(setup, sizes.burst_pool, &log, settings).await?;
    let measured = async {
        tokio::time::sleep(sizes.pool_fill).await;
        let tabs = burst::at_once(&server, sizes.burst_tabs, "").await?;
        // The sessions of the first burst go after the grace period, and the pool refills (to
        // more than its size, if it grew).
        tokio::time::sleep(sizes.pool_fill).await;
        let again = burst::at_once(&server, sizes.burst_tabs, ", again after a pause").await?;
        tokio::time::sleep(sizes.pool_fill).await;
        let spread = burst::spread(&server, sizes.burst_arrivals, sizes.burst_over).await?;
        // Faster than a pool of this size refills on this machine, where growing is for.
        tokio::time::sleep(sizes.pool_fill).await;
        let fast = burst::spread(&server, sizes.burst_arrivals, sizes.burst_fast_over).await?;
        anyhow::Ok(vec![tabs, again, spread, fast])
    }
    .await;
    server.stop().await?;
    measured
}

/// The peer's throughput and echo levels, with the same client logic as RootResume's; each
/// figure goes into `results` as soon as it is measured.
async fn measure_peer(peer: &Peer, sizes: &Sizes, results: &mut Results) -> Result<()> {
    let mut term = peer.open("peer-throughput").await?;
    let runs = sizes.throughput_runs;
    let measured = throughput::measure_runs(&mut term, sizes.throughput_mib, runs).await;
    term.close().await;
    let runs = measured?;
    let measured = throughput::median(&runs);
    println!("  peer throughput {:.1} MB/s", measured.mb_per_s());
    results.peer_throughput = Some(measured);
    results.throughput_runs.push(("terminado".into(), runs));
    let mut terms = Vec::new();
    for &n in &sizes.peer_levels {
        let more: Vec<Term> = futures_util::stream::iter(terms.len()..n)
            .map(|i| async move { peer.open(&format!("peer-{i}")).await })
            .buffer_unordered(OPEN_CONCURRENCY)
            .try_collect()
            .await?;
        terms.extend(more);
        let (level, lost);
        (terms, level, lost) = echo_level(terms, n, sizes).await;
        if let Some(first) = lost.first() {
            results.problems.push(format!(
                "{} peer session(s) lost during echo; the first: {first}",
                lost.len()
            ));
        }
        let summary = level.median();
        println!(
            "  peer echo at {n}: median of {} runs p50 {:.2} ms p99 {:.2} ms",
            level.runs.len(),
            summary.p50,
            summary.p99
        );
        results.peer_echo.push(level);
    }
    futures_util::future::join_all(terms.into_iter().map(Term::close)).await;
    Ok(())
}
