//! The panel's resource meter below the page: a real server, a real container, the engine's own
//! figures. It rises under `yes > /dev/null` and after 20 MiB are written to /tmp, and a socket
//! that turns it off gets no more readings.

mod common;

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use common::{test_config, Event, Term, TestServer};
use rootresume_protocol::{ClientMessage, MeterReading};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(30);

/// Reads meter readings until one satisfies `check`; fails after `within` naming the last.
async fn until_reading(
    term: &mut Term,
    within: Duration,
    what: &str,
    check: impl Fn(&MeterReading) -> bool,
) -> Result<MeterReading> {
    let deadline = Instant::now() + within;
    let mut last = None;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match term.next_event(left).await {
            Ok(Event::Meter(reading)) if check(&reading) => return Ok(reading),
            Ok(Event::Meter(reading)) => last = Some(reading),
            Ok(Event::Closed(why)) => bail!("the socket closed: {why:?}"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    bail!("no reading showed {what} within {within:?}; last: {last:?}")
}

#[tokio::test]
async fn the_meter_reads_cpu_memory_disk_and_processes_from_the_engine() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let result = meter(&server).await;
    server.server.shutdown().await;
    result
}

async fn meter(server: &TestServer) -> Result<()> {
    let session = server.create_session().await?;
    let mut term = Term::connect_raw(&server.socket_url()).await?;
    term.attach_terminal(&session, 0).await?;
    term.started().await?;
    term.wait_for(0, "$ ", WAIT).await?;
    term.send(ClientMessage::Meter(true)).await?;

    let first = until_reading(&mut term, Duration::from_secs(5), "a first reading", |_| {
        true
    })
    .await?;
    ensure!(first.memory_limit == 128 << 20, "{first:?}");
    ensure!(
        first.processes >= 2 && first.processes_limit == 128,
        "{first:?}"
    );
    let calm = until_reading(&mut term, WAIT, "the CPU and the disk", |r| {
        r.cpu_percent.is_some() && r.disk.is_some()
    })
    .await?;
    let disk = calm.disk.unwrap_or_default();
    ensure!(
        disk.home_size == 50 << 20 && disk.tmp_size == 50 << 20,
        "{calm:?}"
    );
    ensure!(
        calm.cpu_percent.unwrap_or(0) < 50,
        "an idle sandbox reads busy: {calm:?}"
    );

    term.type_text("yes > /dev/null &\r").await?;
    let busy = until_reading(&mut term, WAIT, "the CPU near its quota", |r| {
        r.cpu_percent.unwrap_or(0) >= 80
    })
    .await?;
    term.run("kill %1; head -c 20M /dev/zero > /tmp/twenty")
        .await?;
    let written = until_reading(&mut term, WAIT, "20 MiB more in /tmp", |r| {
        r.disk
            .is_some_and(|d| d.tmp_used >= disk.tmp_used + (20 << 20))
    })
    .await?;
    ensure!(
        written.memory >= calm.memory + (20 << 20),
        "a tmpfs file is memory too: {written:?} after {calm:?}"
    );
    println!(
        "meter: idle CPU {:?} %, under yes {:?} %; /tmp {} → {} bytes; memory {} → {} bytes",
        calm.cpu_percent,
        busy.cpu_percent,
        disk.tmp_used,
        written.disk.map_or(0, |d| d.tmp_used),
        calm.memory,
        written.memory
    );

    // Off (a hidden tab): no more readings.
    term.send(ClientMessage::Meter(false)).await?;
    let off_at = Instant::now();
    // One reading may already be under way when the page says so.
    while off_at.elapsed() < Duration::from_secs(6) {
        match term.next_event(Duration::from_secs(6)).await {
            Ok(Event::Meter(_)) if off_at.elapsed() > Duration::from_millis(2500) => {
                bail!(
                    "a reading came {:?} after the meter was turned off",
                    off_at.elapsed()
                )
            }
            Ok(Event::Closed(why)) => bail!("the socket closed: {why:?}"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    term.exit_at_prompt().await?;
    common::wait_removed(&session, WAIT).await?;
    Ok(())
}
