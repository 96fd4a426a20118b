//! `rootresume-bench --engines`: the figures of one server over two Docker engines, measured
//! against real engines (the default one and scripts/engine2.sh's): where a burst of arrivals
//! lands, time to prompt on each engine, and what visitors see when the second engine stops
//! with live sessions. Prints every figure as a markdown table; asserts nothing.
//! `scripts/bench-engines.sh` starts the second engine, builds, runs this, and stops it.
//!
//! Settings (environment): `RR_BENCH_SERVER` (release server binary), `RR_BENCH_SITE_ROOT`,
//! `RR_BENCH_ENGINE2` (its endpoint), `RR_BENCH_ENGINE2_SCRIPT` (stops and starts it),
//! `RR_BENCH_SCRATCH` (logs), `RR_BENCH_BURST` (arrivals, 50), `RR_BENCH_LIVE` (sessions live
//! when the engine stops, 10).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::server::{ServerProcess, ServerSetup};
use crate::stats::percentile;
use crate::term::{Attach, Shell, Term, PROMPT};

/// Where the shells of one engine are: its endpoint.
struct EngineRef {
    name: &'static str,
    endpoint: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The session hashes on an engine for an instance (the `rootresume.session` labels).
fn hashes_on(engine: &EngineRef, instance: &str) -> Result<Vec<String>> {
    let out = std::process::Command::new("docker")
        .args(["-H", &engine.endpoint, "ps", "-a", "--filter"])
        .arg(format!("label=rootresume.instance={instance}"))
        .args(["--format", "{{.Label \"rootresume.session\"}}"])
        .output()
        .context("running docker ps")?;
    if !out.status.success() {
        bail!(
            "docker ps on {} failed: {}",
            engine.endpoint,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Which engine holds each session id; an engine that does not answer (stopped on purpose)
/// holds none.
fn placement(engines: &[EngineRef], instance: &str) -> Result<HashMap<String, &'static str>> {
    let mut by_hash = HashMap::new();
    for engine in engines {
        for hash in hashes_on(engine, instance).unwrap_or_default() {
            by_hash.insert(hash, engine.name);
        }
    }
    Ok(by_hash)
}

fn engine_of(by_hash: &HashMap<String, &'static str>, id: &str) -> &'static str {
    server::ids::SessionId::parse(id)
        .and_then(|id| by_hash.get(&id.hash()).copied())
        .unwrap_or("?")
}

/// One visitor: session, socket, prompt. Returns the id, the terminal and the time to prompt.
async fn arrive(server: &ServerProcess) -> Result<(String, Term, Duration)> {
    let started = Instant::now();
    let id = server.create_session().await?;
    let mut term = Term::connect_session(&server.socket_url(), &id).await?;
    term.read_until(PROMPT, Duration::from_secs(120)).await?;
    Ok((id, term, started.elapsed()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the measurement.
pub async fn main() -> Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let setup = ServerSetup::from_env(
        format!("bench-engines-{}", std::process::id()),
        "/var/tmp/rootresume-bench-engines",
    );
    std::fs::create_dir_all(&setup.scratch)?;
    let engines = [
        EngineRef {
            name: "one",
            endpoint: "unix:///var/run/docker.sock".into(),
        },
        EngineRef {
            name: "two",
            endpoint: std::env::var("RR_BENCH_ENGINE2")
                .context("RR_BENCH_ENGINE2 must name the second engine")?,
        },
    ];
    let script = env_or(
        "RR_BENCH_ENGINE2_SCRIPT",
        &repo.join("scripts/engine2.sh").display().to_string(),
    );
    let burst: usize = env_or("RR_BENCH_BURST", "50").parse()?;
    let live: usize = env_or("RR_BENCH_LIVE", "10").parse()?;
    let list = format!(
        "[{{name=\"one\",endpoint=\"{}\",capacity=100}},{{name=\"two\",endpoint=\"{}\",capacity=100}}]",
        engines[0].endpoint, engines[1].endpoint
    );
    let server =
        ServerProcess::start_with(&setup, 0, "engines", &[("ROOTRESUME_ENGINES", list)]).await?;
    let outcome = measure(&server, &engines, &script, burst, live).await;
    server.stop().await?;
    let rows = outcome?;
    println!("\n| figure | value |\n| --- | --- |");
    for (figure, value) in rows {
        println!("| {figure} | {value} |");
    }
    Ok(())
}

async fn measure(
    server: &ServerProcess,
    engines: &[EngineRef],
    script: &str,
    burst: usize,
    live: usize,
) -> Result<Vec<(String, String)>> {
    let mut rows = Vec::new();
    let instance = &server.instance;

    // A burst: every arrival at once.
    let started = Instant::now();
    let arrivals = join_all((0..burst).map(|_| arrive(server))).await;
    let took = started.elapsed();
    let mut visitors = Vec::new();
    for arrival in arrivals {
        visitors.push(arrival?);
    }
    let by_hash = placement(engines, instance)?;
    let mut per_engine: HashMap<&str, Vec<Duration>> = HashMap::new();
    for (id, _, ttp) in &visitors {
        per_engine
            .entry(engine_of(&by_hash, id))
            .or_default()
            .push(*ttp);
    }
    let counts: Vec<String> = engines
        .iter()
        .map(|e| format!("{} {}", e.name, per_engine.get(e.name).map_or(0, Vec::len)))
        .collect();
    rows.push((
        format!("{burst} arrivals at once: sessions per engine"),
        format!(
            "{} (all prompts in {:.1} s)",
            counts.join(", "),
            took.as_secs_f64()
        ),
    ));
    for engine in engines {
        if let Some(samples) = per_engine.get(engine.name) {
            rows.push((
                format!("burst time to prompt on engine {}, p50 / p95", engine.name),
                format!(
                    "{:.0} / {:.0} ms",
                    percentile(samples, 50.0),
                    percentile(samples, 95.0)
                ),
            ));
        }
    }
    for (_, term, _) in visitors.drain(..) {
        term.close().await;
    }
    wait_empty(engines, instance).await?;

    // One at a time: time to prompt by engine, without the burst's queueing.
    let mut sequential: HashMap<&str, Vec<Duration>> = HashMap::new();
    for _ in 0..20 {
        let (id, term, ttp) = arrive(server).await?;
        let by_hash = placement(engines, instance)?;
        sequential
            .entry(engine_of(&by_hash, &id))
            .or_default()
            .push(ttp);
        visitors.push((id, term, ttp));
    }
    for engine in engines {
        if let Some(samples) = sequential.get(engine.name) {
            rows.push((
                format!(
                    "time to prompt on engine {}, one at a time, p50 (n={})",
                    engine.name,
                    samples.len()
                ),
                format!("{:.0} ms", percentile(samples, 50.0)),
            ));
        }
    }
    for (_, term, _) in visitors.drain(..) {
        term.close().await;
    }
    wait_empty(engines, instance).await?;

    // The second engine stops with live sessions.
    for _ in 0..live {
        visitors.push(arrive(server).await?);
    }
    let by_hash = placement(engines, instance)?;
    let stopping = Instant::now();
    let status = std::process::Command::new(script).arg("stop").status()?;
    if !status.success() {
        bail!("{script} stop failed");
    }
    let stop_took = stopping.elapsed();
    let mut told = Vec::new();
    let mut kept = 0;
    for (id, term, _) in &mut visitors {
        if engine_of(&by_hash, id) == "two" {
            let said = ended(term).await;
            told.push((stopping.elapsed(), said));
        } else {
            term.send_input(b"echo still-here\r").await?;
            term.read_until(b"still-here\r\n", Duration::from_secs(10))
                .await?;
            kept += 1;
        }
    }
    let mut newcomers = Vec::new();
    for _ in 0..5 {
        let (id, term, ttp) = arrive(server).await?;
        let by_hash = placement(engines, instance)?;
        newcomers.push((engine_of(&by_hash, &id), ms(ttp)));
        visitors.push((id, term, ttp));
    }
    let restarting = Instant::now();
    let status = std::process::Command::new(script).arg("start").status()?;
    if !status.success() {
        bail!("{script} start failed");
    }
    let answered = restarting.elapsed();
    let rejoined = loop {
        if restarting.elapsed() > Duration::from_secs(60) {
            break None;
        }
        let (id, term, _) = arrive(server).await?;
        let by_hash = placement(engines, instance)?;
        let on = engine_of(&by_hash, &id);
        visitors.push((id, term, Duration::ZERO));
        if on == "two" {
            break Some(restarting.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    rows.push((
        format!(
            "engine two stopped with {live} live sessions (`dockerd` SIGTERM took {:.1} s)",
            stop_took.as_secs_f64()
        ),
        format!(
            "its {} visitors told: {}; the other {kept} kept typing",
            told.len(),
            told.iter()
                .map(|(at, what)| format!("{what} after {:.1} s", at.as_secs_f64()))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    ));
    rows.push((
        "5 arrivals while engine two is down".into(),
        newcomers
            .iter()
            .map(|(on, ttp)| format!("{on} in {ttp:.0} ms"))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    rows.push((
        "engine two started again".into(),
        format!(
            "answered after {:.1} s; a new session placed on it {}",
            answered.as_secs_f64(),
            rejoined.map_or("not within 60 s".into(), |d| format!(
                "{:.1} s after the start",
                d.as_secs_f64()
            ))
        ),
    ));
    for (_, term, _) in visitors {
        term.close().await;
    }
    Ok(rows)
}

/// What the server says when the session ends: the end reason, or how the socket closed.
async fn ended(term: &mut Term) -> String {
    match term.attached(Duration::from_secs(60)).await {
        Ok(Attach::Lost(what) | Attach::Refused(what)) => what,
        Ok(Attach::Started { .. }) => "a started notice".into(),
        Err(error) => format!("{error}"),
    }
}

/// Waits until the instance has no container on any engine (closed tabs after their grace).
async fn wait_empty(engines: &[EngineRef], instance: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut left = 0;
        for engine in engines {
            left += hashes_on(engine, instance)?.len();
        }
        if left == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{left} container(s) stayed 120 s after their tabs closed");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
