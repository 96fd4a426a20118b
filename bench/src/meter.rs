//! `rootresume-bench --meter`: what the panel's resource meter costs at N live sessions (200 by
//! default): the same N idle sessions are measured for a minute with every tab's meter off,
//! then with every tab's meter on, and the table gives, for each, the CPU the engine's daemons
//! and shims used (one core = 100 %), the server's CPU and resident memory, and the readings the
//! tabs received. Asserts nothing. `scripts/bench-meter.sh` builds and runs it.
//!
//! Settings (environment): `RR_BENCH_SERVER` (release server binary), `RR_BENCH_SITE_ROOT`,
//! `RR_BENCH_SCRATCH` (logs), `RR_BENCH_METER_SESSIONS` (200), `RR_BENCH_METER_SECS` (60).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use rootresume_protocol::ClientMessage;
use tokio::time::Instant;

use crate::server::{clock_ticks, cpu_ticks, ServerProcess, ServerSetup};
use crate::term::{Shell, Term, PROMPT};

/// The engine's processes whose CPU a stats call or an exec costs.
const ENGINE_PROCESSES: [&str; 4] = [
    "dockerd",
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v2",
];

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The pids of the engine's processes.
fn engine_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| ENGINE_PROCESSES.contains(&comm.trim()))
        })
        .collect()
}

/// What one window measured.
struct Window {
    engine_cpu_percent: f64,
    server_cpu_percent: f64,
    server_rss_mib: f64,
    readings_per_second: f64,
}

/// Runs the measurement.
pub async fn main() -> Result<()> {
    let setup = ServerSetup::from_env(
        format!("bench-meter-{}", std::process::id()),
        "/var/tmp/rootresume-bench-meter",
    );
    std::fs::create_dir_all(&setup.scratch)?;
    let sessions: usize = env_or("RR_BENCH_METER_SESSIONS", "200").parse()?;
    let secs: u64 = env_or("RR_BENCH_METER_SECS", "60").parse()?;
    let server = ServerProcess::start(&setup, 0).await?;
    let outcome = measure(&server, sessions, Duration::from_secs(secs)).await;
    server.stop().await?;
    let (off, on) = outcome?;
    println!("\n| {sessions} live sessions, {secs} s each | meter off | meter on (every tab) |");
    println!("| --- | --- | --- |");
    let row = |name: &str, f: &dyn Fn(&Window) -> String| {
        println!("| {name} | {} | {} |", f(&off), f(&on));
    };
    row(
        "engine CPU (dockerd, containerd, shims; one core = 100 %)",
        &|w| format!("{:.1} %", w.engine_cpu_percent),
    );
    row("server CPU (one core = 100 %)", &|w| {
        format!("{:.1} %", w.server_cpu_percent)
    });
    row("server resident memory", &|w| {
        format!("{:.1} MiB", w.server_rss_mib)
    });
    row("meter readings received per second", &|w| {
        format!("{:.1}", w.readings_per_second)
    });
    Ok(())
}

async fn measure(
    server: &ServerProcess,
    sessions: usize,
    window: Duration,
) -> Result<(Window, Window)> {
    let ticks = clock_ticks()?;
    let off = measure_window(server, sessions, window, false, ticks).await?;
    let on = measure_window(server, sessions, window, true, ticks).await?;
    Ok((off, on))
}

/// Opens `sessions` sessions (their meters `on` or not), lets them idle for `window` while
/// every socket is read, and measures; then closes them all.
async fn measure_window(
    server: &ServerProcess,
    sessions: usize,
    window: Duration,
    on: bool,
    ticks: f64,
) -> Result<Window> {
    let opened: Vec<Result<Term>> = futures_util::stream::iter(0..sessions)
        .map(|_| async move {
            let id = server.create_session().await?;
            let mut term = Term::connect_session(&server.socket_url(), &id).await?;
            term.read_until(PROMPT, Duration::from_secs(180)).await?;
            if on {
                term.send(&ClientMessage::Meter(true)).await?;
            }
            Ok(term)
        })
        .buffer_unordered(crate::OPEN_CONCURRENCY)
        .collect()
        .await;
    let mut terms = Vec::new();
    for term in opened {
        terms.push(term?);
    }
    println!(
        "{} sessions open (meter {}); measuring for {window:?}",
        terms.len(),
        if on { "on" } else { "off" }
    );
    // Let the first readings (and the shells' start) settle before the window.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let readings = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + window + Duration::from_secs(1);
    let readers: Vec<_> = terms
        .into_iter()
        .map(|mut term| {
            let readings = readings.clone();
            tokio::spawn(async move {
                let _ = term.drain_for(until - Instant::now()).await;
                readings.fetch_add(term.meter_readings(), Ordering::Relaxed);
                term
            })
        })
        .collect();
    let pids = engine_pids();
    let engine_before: u64 = pids.iter().filter_map(|pid| cpu_ticks(*pid)).sum();
    let server_before = cpu_ticks(server.pid()).unwrap_or(0);
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let elapsed = started.elapsed().as_secs_f64();
    let engine_after: u64 = pids.iter().filter_map(|pid| cpu_ticks(*pid)).sum();
    let server_after = cpu_ticks(server.pid()).unwrap_or(0);
    let rss = server.rss()?;
    let mut terms = Vec::new();
    for reader in readers {
        terms.push(reader.await?);
    }
    let percent =
        |before: u64, after: u64| after.saturating_sub(before) as f64 / ticks / elapsed * 100.0;
    let measured = Window {
        engine_cpu_percent: percent(engine_before, engine_after),
        server_cpu_percent: percent(server_before, server_after),
        server_rss_mib: rss as f64 / f64::from(1 << 20),
        readings_per_second: readings.load(Ordering::Relaxed) as f64 / (elapsed + 1.0),
    };
    for term in terms {
        term.close().await;
    }
    // The next window starts on a quiet engine: removing hundreds of containers costs CPU.
    wait_empty(&server.instance).await?;
    Ok(measured)
}

/// Waits until no container of `instance` is left.
async fn wait_empty(instance: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=rootresume.instance={instance}"))
            .output()
            .context("running docker ps")?;
        let left = String::from_utf8_lossy(&out.stdout).lines().count();
        if left == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{left} container(s) stayed 10 min after their tabs closed"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
