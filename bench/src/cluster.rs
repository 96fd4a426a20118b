//! `rootresume-bench --cluster`: the figures of several replicas behind a balancer, measured on a
//! real local cluster (scripts/cluster.sh) — takeover time after kill -9, page → prompt and
//! keystroke echo through HAProxy beside a replica reached directly — and the server's memory
//! per idle session with the Redis store beside the in-memory one. Prints every sample and a
//! markdown summary; asserts nothing. `scripts/bench-cluster.sh` brings a cluster up, runs
//! this, and brings it down.

mod echo;
mod http;
mod memory;
mod options;
mod prompt;
mod takeover;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::engine::Engine;
use crate::server::ServerSetup;
use crate::stats::percentile;
use options::{ClusterOptions, Phase, Replica};

/// Runs the phases the command line asks for.
pub async fn main(args: Vec<String>) -> Result<()> {
    let options = ClusterOptions::from_args(args)?;
    std::fs::create_dir_all(&options.scratch)?;
    let mut rows: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let load_before = load_average();
    let cluster = if options.phases.iter().any(|p| *p != Phase::Memory) {
        Some(targets(&options).await?)
    } else {
        None
    };
    for phase in &options.phases {
        let outcome = match (phase, &cluster) {
            (Phase::Memory, _) => memory_phase(&options, &mut rows, &mut notes).await,
            (phase, Some((lb, replicas))) => {
                cluster_phase(*phase, &options, *lb, replicas, &mut rows, &mut notes).await
            }
            (_, None) => unreachable!("the cluster is resolved for every cluster phase"),
        };
        if let Err(error) = outcome {
            println!("  {phase:?} failed: {error:#}");
            problems.push(format!("{phase:?}: {error:#}"));
        }
    }
    notes.push(format!(
        "Load average (1, 5, 15 min) on this {}-core machine: {load_before} at the start, {} at the end.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    ));
    println!("\n| Figure | Value |\n|---|---|");
    for row in &rows {
        println!("{row}");
    }
    for note in &notes {
        println!("\n{note}");
    }
    if !problems.is_empty() {
        println!("\nProblems:");
        for problem in &problems {
            println!("- {problem}");
        }
        bail!("{} phase(s) had problems", problems.len());
    }
    Ok(())
}

/// The balancer and the replicas: from the command line, else from scripts/cluster.sh.
async fn targets(options: &ClusterOptions) -> Result<(SocketAddr, Vec<Replica>)> {
    let (lb, replicas) = match (&options.lb, &options.replicas) {
        (Some(lb), Some(replicas)) => (*lb, replicas.clone()),
        (lb, replicas) => {
            let (found_lb, found) = http::from_cluster_sh(&options.cluster_script)
                .await
                .context("asking scripts/cluster.sh for the addresses (is the cluster up?)")?;
            (lb.unwrap_or(found_lb), replicas.clone().unwrap_or(found))
        }
    };
    let names: Vec<String> = replicas
        .iter()
        .map(|r| format!("{} {}", r.name, r.addr))
        .collect();
    println!("cluster: balancer {lb}; replicas {}", names.join(", "));
    for replica in &replicas {
        if !http::healthy(replica.addr).await {
            bail!(
                "{} ({}) does not answer /healthz",
                replica.name,
                replica.addr
            );
        }
    }
    Ok((lb, replicas))
}

/// The first three fields of /proc/loadavg: how busy the (shared) machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn cluster_phase(
    phase: Phase,
    options: &ClusterOptions,
    lb: SocketAddr,
    replicas: &[Replica],
    rows: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<()> {
    match phase {
        Phase::Echo => {
            println!(
                "== echo: {} keys through HAProxy and direct, interleaved",
                options.keystrokes
            );
            http::wait_quiet(replicas, Duration::from_secs(60)).await?;
            let measured = echo::measure(lb, replicas, options.keystrokes).await?;
            let direct = format!("direct to {}", measured.replica);
            for (path, samples) in [
                ("through HAProxy", &measured.through_lb),
                (direct.as_str(), &measured.direct),
            ] {
                let line = format!(
                    "{:.2} / {:.2} ms",
                    percentile(samples, 50.0),
                    percentile(samples, 99.0)
                );
                println!("  echo {path}: p50 / p99 {line} (n = {})", samples.len());
                rows.push(format!(
                    "| Echo round trip {path}, p50 / p99 (n = {}, one session each, same replica) | {line} |",
                    samples.len()
                ));
            }
        }
        Phase::Prompt => {
            let direct = match &options.direct {
                Some(name) => replicas
                    .iter()
                    .find(|r| &r.name == name)
                    .with_context(|| format!("--direct {name}: no such replica"))?,
                None => &replicas[0],
            };
            let direct_name = format!("direct {}", direct.name);
            println!(
                "== page → prompt ({}): {} samples through HAProxy and {direct_name}, alternating",
                options.label, options.prompt_samples
            );
            http::wait_quiet(replicas, Duration::from_secs(60)).await?;
            // Let every replica's warm pool fill (or settle) before the first sample.
            tokio::time::sleep(Duration::from_secs(10)).await;
            let targets = [("haproxy", lb), (direct_name.as_str(), direct.addr)];
            let series = prompt::measure(&targets, options.prompt_samples).await;
            for ((name, _), series) in targets.iter().zip(&series) {
                let totals = series.totals();
                let line = format!(
                    "{:.1} / {:.1} ms",
                    percentile(&totals, 50.0),
                    percentile(&totals, 90.0)
                );
                let path = if *name == "haproxy" {
                    "through HAProxy".to_owned()
                } else {
                    format!("straight to {}", direct.name)
                };
                rows.push(format!(
                    "| Page → prompt, {}, {path}, p50 / p90 (n = {}) | {line} |",
                    options.label,
                    totals.len()
                ));
                println!("  {name}: p50 / p90 {line}");
                let crossed: Vec<_> = series.samples.iter().filter(|s| s.crossed()).collect();
                if *name == "haproxy" {
                    let cross: Vec<Duration> = crossed.iter().map(|s| s.total).collect();
                    notes.push(format!(
                        "Page → prompt through HAProxy ({}): in {} of {} samples the socket reached another replica than the one that created the session (round-robin, no stickiness), which took it over; those samples' p50 {:.1} ms.",
                        options.label,
                        crossed.len(),
                        series.samples.len(),
                        percentile(&cross, 50.0)
                    ));
                }
                if let Some(first) = series.errors.first() {
                    notes.push(format!(
                        "Page → prompt {name}: {} failed sample(s); the first: {first}",
                        series.errors.len()
                    ));
                }
            }
        }
        Phase::Takeover => {
            for &schedule in &options.schedules {
                println!(
                    "== takeover after kill -9 ({}): {} rounds",
                    schedule.name(),
                    options.rounds
                );
                let measured = takeover::measure(
                    lb,
                    replicas,
                    &options.cluster_script,
                    options.rounds,
                    schedule,
                )
                .await;
                let totals: Vec<Duration> = measured.rounds.iter().map(|r| r.total).collect();
                let attached: Vec<Duration> = measured.rounds.iter().map(|r| r.attached).collect();
                let line = format!(
                    "{:.0} / {:.0} ms",
                    percentile(&totals, 50.0),
                    percentile(&totals, 100.0)
                );
                println!("  p50 / max {line}");
                rows.push(format!(
                    "| Takeover after kill -9, kill → same shell answers, {}, p50 / max (n = {}) | {line} |",
                    schedule.name(),
                    totals.len()
                ));
                let samples: Vec<String> =
                    totals.iter().map(|d| format!("{:.0}", ms(*d))).collect();
                notes.push(format!(
                    "Takeover ({}), every sample in ms: {}. Kill → new socket attached: p50 {:.0} ms, max {:.0} ms.{}",
                    schedule.name(),
                    samples.join(", "),
                    percentile(&attached, 50.0),
                    percentile(&attached, 100.0),
                    if measured.failures.is_empty() {
                        String::new()
                    } else {
                        format!(" Failed rounds: {}", measured.failures.join("; "))
                    }
                ));
                if measured.rounds.is_empty() {
                    bail!("no takeover round worked");
                }
            }
        }
        Phase::Memory => unreachable!("handled by memory_phase"),
    }
    Ok(())
}

async fn memory_phase(
    options: &ClusterOptions,
    rows: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<()> {
    println!(
        "== server RSS per idle session: in-memory store, then Redis ({} sessions each)",
        options.memory_sessions
    );
    let setup = ServerSetup {
        binary: options.server.clone(),
        site_root: options.site_root.clone(),
        instance: options.instance.clone(),
        scratch: options.scratch.clone(),
    };
    let results = memory::measure(&setup, &options.redis_server, options.memory_sessions).await;
    // The servers removed their containers at shutdown; anything a failure left goes here.
    let engine = Engine::connect(&options.instance)?;
    let removed = engine.remove_all(&options.instance).await?;
    if removed > 0 {
        notes.push(format!(
            "Memory: removed {removed} container(s) a server left behind."
        ));
    }
    let mut failed = Vec::new();
    for result in results {
        match result {
            Ok(m) => {
                rows.push(format!(
                    "| Server RSS per idle session, {} store (N = {}) | {:.1} KiB ({:.1} → {:.1} MiB) |",
                    m.store,
                    m.n,
                    m.per_session() / 1024.0,
                    m.rss_before as f64 / 1048576.0,
                    m.rss_after as f64 / 1048576.0
                ));
                if let Some(keys) = m.keys_left {
                    notes.push(format!(
                        "Memory, Redis store: {keys} key(s) left in the bench's redis-server once the server had stopped (the redis-server was then stopped)."
                    ));
                }
            }
            Err(error) => failed.push(format!("{error:#}")),
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}
