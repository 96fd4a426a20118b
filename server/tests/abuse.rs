//! The abuse watchdog below the page, with a real server and real containers (the watchdog
//! looks every second and calls a sandbox busy after 5 s, for the test's sake): fake miners by
//! name and by pool address are stopped and counted, so is a CPU hog no one types at; a
//! `gcc -O2` build, a busy loop while someone types and `yes` stopped by Ctrl-C are not.

mod common;

use std::time::Duration;

use anyhow::{ensure, Result};
use common::{http_get, test_config, Term, TestServer};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(60);

/// The value of `rootresume_abuse_stopped_total{reason="…"}`.
async fn stopped(server: &TestServer, reason: &str) -> Result<f64> {
    let metrics = http_get(&format!("http://{}/metrics", server.server.addr())).await?;
    let series = format!("rootresume_abuse_stopped_total{{reason=\"{reason}\"}} ");
    Ok(metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(-1.0))
}

async fn shell(server: &TestServer) -> Result<(String, Term)> {
    let session = server.create_session().await?;
    let mut term = server.connect(&session).await?;
    term.started().await?;
    term.wait_for(0, "$ ", WAIT).await?;
    Ok((session, term))
}

fn config() -> server::config::Config {
    let mut config = test_config();
    config.sessions.abuse.check_every_secs = 1;
    config.sessions.abuse.busy_secs = 5;
    config.sessions.abuse.busy_percent = 80;
    config
}

#[tokio::test]
async fn miners_and_unattended_hogs_are_stopped_and_counted() -> Result<()> {
    let server = TestServer::start(config()).await?;
    let result = async {
        let (session, mut term) = shell(&server).await?;
        let miners_before = stopped(&server, "miner").await?;
        ensure!(miners_before == 0.0, "the counter starts at 0: {miners_before}");

        // A miner by its program's name (here `yes` under a miner's name, burning the CPU).
        let from = term.text().len();
        let started = Instant::now();
        term.type_text("cp /usr/bin/yes ~/xmrig && ~/xmrig > /dev/null\r").await?;
        let seen = term.wait_for(from, "[stopped xmrig", WAIT).await?;
        let by_name = started.elapsed();
        ensure!(seen.contains("cryptocurrency miner"), "{seen}");
        term.wait_for(from, "$ ", WAIT).await?;

        // A miner by its pool address, whatever its name.
        let from = term.text().len();
        let started = Instant::now();
        term.type_text(
            "python3 -c 'while True: pass' -o stratum+tcp://pool.example:3333 -u wallet\r",
        )
        .await?;
        term.wait_for(from, "[stopped python3", WAIT).await?;
        let by_pool = started.elapsed();
        ensure!(stopped(&server, "miner").await? == 2.0, "two miners counted");

        // A CPU hog left alone past the busy time.
        let from = term.text().len();
        let started = Instant::now();
        term.type_text("(exec -a hog yes > /dev/null &)\r").await?;
        let seen = term.wait_for(from, "[stopped ", WAIT).await?;
        ensure!(seen.contains("no one typing"), "{seen}");
        ensure!(stopped(&server, "cpu").await? == 1.0, "one hog counted");
        println!(
            "miner start → stop: by name {:.1} s, by pool address {:.1} s; idle hog {:.1} s (check every 1 s, busy after 5 s)",
            by_name.as_secs_f64(),
            by_pool.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
        term.exit_at_prompt().await?;
        common::wait_removed(&session, WAIT).await?;
        Ok(())
    }
    .await;
    server.server.shutdown().await;
    result
}

#[tokio::test]
async fn builds_attended_loops_and_interrupted_floods_are_left_alone() -> Result<()> {
    let server = TestServer::start(config()).await?;
    let result = async {
        let (session, mut term) = shell(&server).await?;
        // A build at full speed.
        let built = term
            .run(
                "printf 'int main(void){return 0;}' > p.c && gcc -O2 -o p p.c && ./p && echo built",
            )
            .await?;
        ensure!(built.trim().ends_with("built"), "{built}");
        // `yes` for 3 s, then Ctrl-C: shorter than the busy time.
        term.type_text("yes > /dev/null\r").await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        term.type_text("\x03").await?;
        // A busy loop of 12 s (more than twice the busy time) while the visitor types.
        term.type_text(
            "python3 -c 'import time; t = time.time()\nwhile time.time() - t < 12: pass' &\r",
        )
        .await?;
        let until = Instant::now() + Duration::from_secs(14);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1)).await;
            term.type_text(": still here\r").await?;
        }
        let done = term.run("wait; echo loop-finished").await?;
        ensure!(done.contains("loop-finished"), "{done}");
        let screen = term.text();
        ensure!(
            !screen.contains("[stopped"),
            "a normal workload was stopped: {screen}"
        );
        ensure!(
            stopped(&server, "miner").await? == 0.0 && stopped(&server, "cpu").await? == 0.0,
            "nothing counted"
        );
        term.exit_at_prompt().await?;
        common::wait_removed(&session, WAIT).await?;
        Ok(())
    }
    .await;
    server.server.shutdown().await;
    result
}
