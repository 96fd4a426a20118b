//! `rootresume-bench`: measures, in one run, against the real server and Docker engine, what
//! issue 6 asks — time to prompt (cold, warm, bare engine), echo round trip, output throughput,
//! memory per idle session, sessions per host, first-load transfer — with a peer web terminal
//! (terminado) measured by the same client. Writes a markdown table and an SVG chart.
//!
//! Run it with `scripts/bench.sh` (builds, installs the peer, runs); `--smoke` is a seconds-long
//! run that only checks the tool still works.

mod chart;
mod echo;
mod engine;
mod first_load;
mod machine;
mod memory;
mod options;
mod peer;
mod ramp;
mod report;
mod server;
mod stats;
mod term;
mod throughput;
mod ttp;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{StreamExt, TryStreamExt};

use echo::Typing;
use engine::Engine;
use options::{Options, Sizes};
use peer::Peer;
use report::Results;
use server::{ServerProcess, ServerSetup};
use stats::Summary;

/// Sessions or containers opened at once when many are needed: visitors arriving together.
pub const OPEN_CONCURRENCY: usize = 8;
/// The pace of every session on the capacity ramp: a key a second.
pub const CAPACITY_TYPING: Typing = Typing {
    keys: 6,
    interval: Duration::from_secs(1),
};

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::from_args(std::env::args().skip(1))?;
    let instance = format!("bench-{}", std::process::id());
    std::fs::create_dir_all(&options.scratch)?;
    let engine = Engine::connect(&format!("{instance}-bare"))?;
    let outcome = run(&options, &instance, &engine).await;

    // Whatever happened, leave no container behind: the server removes its own at shutdown;
    // bare and peer containers (and anything a failure left) are removed here.
    let removed = engine.remove_all(&instance).await?;
    if removed > 0 {
        println!("removed {removed} container(s) the run left behind");
    }
    let left = engine.labelled(&instance).await?.len();
    println!("containers labelled rootresume.session from this run still present: {left}");
    let results = outcome?;
    if left > 0 {
        bail!("{left} container(s) of this run could not be removed");
    }
    let markdown = results.markdown();
    println!("\n{markdown}");
    if let Some(out) = &options.out {
        std::fs::create_dir_all(out)?;
        std::fs::write(out.join("README.md"), &markdown)?;
        std::fs::write(out.join("benchmarks.svg"), chart::svg(&results))?;
        println!(
            "wrote {} and benchmarks.svg",
            out.join("README.md").display()
        );
    }
    Ok(())
}

fn step(what: &str) {
    println!("== {what}");
}

async fn run(options: &Options, instance: &str, engine: &Engine) -> Result<Results> {
    let sizes = Sizes::for_run(options);
    let machine = machine::Machine::describe(engine.describe().await);
    let setup = ServerSetup {
        binary: options.server.clone(),
        site_root: options.site_root.clone(),
        instance: instance.to_owned(),
        scratch: options.scratch.clone(),
    };

    step("server without a pool: throughput, cold time to prompt beside the bare engine");
    let cold_server = ServerProcess::start(&setup, 0).await?;
    let mut term = cold_server.open().await?;
    let throughput = throughput::measure(&mut term, sizes.throughput_mib).await?;
    term.close().await;
    let (mut shell, _) = engine.start_shell("throughput").await?;
    let bare_throughput = throughput::measure(&mut shell, sizes.throughput_mib).await?;
    engine.remove(&shell.container).await;
    println!(
        "  throughput {:.1} MB/s; bare engine exec {:.1} MB/s",
        throughput.mb_per_s(),
        bare_throughput.mb_per_s()
    );
    let (cold, bare) = ttp::cold_and_bare(&cold_server, engine, sizes.ttp_sessions).await?;
    let (c, b) = (Summary::of(&cold.total), Summary::of(&bare));
    println!(
        "  cold p50 {:.1} ms p99 {:.1} ms; bare p50 {:.1} ms p99 {:.1} ms",
        c.p50, c.p99, b.p50, b.p99
    );
    // The closed sessions' containers go after the grace period; let that finish.
    tokio::time::sleep(Duration::from_secs(3)).await;

    step("echo, memory per idle session and capacity on one climb");
    let climb = ramp::climb(&cold_server, engine, &sizes.plan).await?;
    for (n, s) in &climb.echo {
        println!("  echo at {n}: p50 {:.2} ms p99 {:.2} ms", s.p50, s.p99);
    }
    println!(
        "  memory per idle session: MemAvailable {:.0} KiB, accounted {:.0} KiB, server RSS {:.1} KiB",
        climb.memory.host / 1024.0,
        climb.memory.accounted / 1024.0,
        climb.memory.server_rss / 1024.0
    );
    cold_server.stop().await.context("stopping the server")?;

    step("bare containers: memory per idle session");
    let bare_memory =
        memory::bare_idle(engine, sizes.plan.memory_at, sizes.plan.settle_readings).await?;
    println!(
        "  bare: MemAvailable {:.0} KiB, accounted {:.0} KiB per container",
        bare_memory.host / 1024.0,
        bare_memory.accounted / 1024.0
    );

    step("server with a warm pool: warm time to prompt, first load");
    let warm_server = ServerProcess::start(&setup, sizes.warm_pool).await?;
    tokio::time::sleep(sizes.pool_fill).await;
    let warm = ttp::warm(&warm_server, sizes.ttp_sessions, sizes.warm_pause).await?;
    let w = Summary::of(&warm.total);
    println!("  warm p50 {:.1} ms p99 {:.1} ms", w.p50, w.p99);
    let first_load = if options.first_load {
        first_load::measure(&options.repo, &format!("http://{}", warm_server.addr()))
            .map_err(|e| format!("{e:#}"))
    } else {
        Err("skipped (--no-first-load or --smoke)".into())
    };
    warm_server.stop().await.context("stopping the server")?;

    let (peer_echo, peer_throughput, peer_missing) = match &options.peer_python {
        Some(python) => {
            step("peer (terminado): throughput and echo");
            let peer_engine = Engine::connect(&format!("{instance}-peer"))?;
            let log = options.scratch.join("peer.log");
            let peer = Peer::start(python, &options.peer_script, peer_engine.clone(), &log).await?;
            let measured = measure_peer(&peer, &sizes).await;
            peer.stop().await?;
            peer_engine.remove_all(&format!("{instance}-peer")).await?;
            let (echo, throughput) = measured?;
            (echo, Some(throughput), None)
        }
        None => (Vec::new(), None, Some("no --peer-python given".to_owned())),
    };

    Ok(Results {
        machine,
        smoke: options.smoke,
        cold,
        bare,
        warm,
        climb,
        peer_echo,
        throughput,
        bare_throughput,
        peer_throughput,
        bare_memory,
        first_load,
        peer_missing,
    })
}

/// The peer's throughput and echo levels, with the same client logic as RootResume's.
async fn measure_peer(
    peer: &Peer,
    sizes: &Sizes,
) -> Result<(Vec<(usize, Summary)>, throughput::Throughput)> {
    let mut term = peer.open("peer-throughput").await?;
    let throughput = throughput::measure(&mut term, sizes.throughput_mib).await?;
    term.close().await;
    println!("  peer throughput {:.1} MB/s", throughput.mb_per_s());
    let mut terms = Vec::new();
    let mut echo = Vec::new();
    for &n in &sizes.peer_levels {
        let more: Vec<term::Term> = futures_util::stream::iter(terms.len()..n)
            .map(|i| async move { peer.open(&format!("peer-{i}")).await })
            .buffer_unordered(OPEN_CONCURRENCY)
            .try_collect()
            .await?;
        terms.extend(more);
        let (back, samples) = echo::measure(terms, sizes.plan.echo_typing).await?;
        terms = back;
        let summary = Summary::of(&samples);
        println!(
            "  peer echo at {n}: p50 {:.2} ms p99 {:.2} ms",
            summary.p50, summary.p99
        );
        echo.push((n, summary));
    }
    futures_util::future::join_all(terms.into_iter().map(term::Term::close)).await;
    Ok((echo, throughput))
}
