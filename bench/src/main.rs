//! `rootresume-bench`: measures, in one run, against the real server and Docker engine, what
//! issue 6 asks — time to prompt (cold, warm, bare engine), echo round trip, output throughput,
//! memory per idle session, sessions per host, first-load transfer — with a peer web terminal
//! (terminado) measured by the same client. Writes a markdown table and an SVG chart.
//!
//! Run it with `scripts/bench.sh` (builds, installs the peer, runs); `--smoke` is a seconds-long
//! run that only checks the tool still works. `--cluster` measures a local cluster of replicas
//! instead (`scripts/bench-cluster.sh`; see the `cluster` module), `--engines` one server over
//! two Docker engines (`scripts/bench-engines.sh`; see the `engines` module), `--meter` what the
//! panel's resource meter costs at 200 live sessions (`scripts/bench-meter.sh`).

mod burst;
mod chart;
mod cluster;
mod echo;
mod engine;
mod engines;
mod first_load;
mod machine;
mod memory;
mod meter;
mod options;
mod peer;
mod ramp;
mod report;
mod run;
mod server;
mod stats;
mod term;
mod throughput;
mod ttp;

use std::time::Duration;

use anyhow::{bail, Result};

use echo::Typing;
use engine::Engine;
use options::Options;

/// Sessions or containers opened at once when many are needed: visitors arriving together.
pub const OPEN_CONCURRENCY: usize = 8;
/// The pace of every session on the capacity ramp: a key a second.
pub const CAPACITY_TYPING: Typing = Typing {
    keys: 6,
    interval: Duration::from_secs(1),
};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--cluster") {
        return cluster::main(args).await;
    }
    if args.iter().any(|a| a == "--engines") {
        return engines::main().await;
    }
    if args.iter().any(|a| a == "--meter") {
        return meter::main().await;
    }
    let options = Options::from_args(args)?;
    let instance = format!("bench-{}", std::process::id());
    std::fs::create_dir_all(&options.scratch)?;
    let engine = Engine::connect(&format!("{instance}-bare"))?;
    let outcome = run::run(&options, &instance, &engine).await;

    // Whatever happened, leave no container behind: the server removes its own at shutdown;
    // bare and peer containers (and anything a failure left) are removed here.
    let removed = engine.remove_all(&instance).await?;
    if removed > 0 {
        println!("removed {removed} container(s) the run left behind");
    }
    // Forced removals finish in the background: give the engine a moment before counting.
    let mut left = engine.labelled(&instance).await?.len();
    for _ in 0..30 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        left = engine.labelled(&instance).await?.len();
    }
    println!("containers labelled rootresume.session from this run still present: {left}");
    let results = outcome?;
    // The report is written even when the count fails, so a run's figures are never lost.
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
    if left > 0 {
        bail!("{left} container(s) of this run could not be removed");
    }
    Ok(())
}
