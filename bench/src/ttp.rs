//! Time to first prompt: cold (no warm pool) beside the bare engine, and warm (pool on).
//!
//! A sample runs from the `create_session` request (where the page starts the container) to the
//! first byte of the prompt on the socket; that includes the WebSocket open, so it is never less
//! than "socket open → prompt". The bare baseline runs from the first engine request (create)
//! to the prompt on the exec stream. Cold and bare samples alternate, so drift on a shared
//! machine touches both alike.

use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::server::ServerProcess;
use crate::term::{Shell, Term, PROMPT};

/// Samples of one time-to-prompt series.
#[derive(Debug, Default, Clone)]
pub struct Ttp {
    /// Request → prompt (for the bare engine: create → prompt).
    pub total: Vec<Duration>,
    /// Socket open → prompt (none for the bare engine).
    pub from_socket: Vec<Duration>,
    /// Samples that failed, and why: a failure costs a sample, not the run.
    pub errors: Vec<String>,
}

/// A series gives up after this many failed samples: something is broken, not unlucky.
const MAX_ERRORS: usize = 5;

/// One session opened the page's way, timed; the socket is closed afterwards so the server
/// removes the container after its grace period, as it would for a closed tab.
async fn sample(server: &ServerProcess, into: &mut Ttp) -> Result<()> {
    let started = Instant::now();
    let session = server.create_session().await?;
    let opened = Instant::now();
    let mut term = Term::connect_session(&server.socket_url(), &session).await?;
    term.read_until(PROMPT, Duration::from_secs(60)).await?;
    into.total.push(started.elapsed());
    into.from_socket.push(opened.elapsed());
    term.close().await;
    Ok(())
}

/// `n` cold sessions (the server must run without a pool) alternating with `n` bare shells.
/// Returns (cold, bare).
pub async fn cold_and_bare(server: &ServerProcess, engine: &Engine, n: usize) -> (Ttp, Ttp) {
    let mut cold = Ttp::default();
    let mut bare = Ttp::default();
    for i in 0..n {
        if cold.errors.len() >= MAX_ERRORS || bare.errors.len() >= MAX_ERRORS {
            break;
        }
        if let Err(error) = sample(server, &mut cold).await {
            cold.errors.push(format!("{error:#}"));
        }
        match engine.start_shell(&format!("ttp-{i}")).await {
            Ok((shell, elapsed)) => {
                bare.total.push(elapsed);
                // Removed in the background, as the server removes a closed tab's container.
                let engine = engine.clone();
                tokio::spawn(async move { engine.remove(&shell.container).await });
            }
            Err(error) => bare.errors.push(format!("{error:#}")),
        }
        // Let the server's and the engine's removals settle between samples.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    (cold, bare)
}

/// `n` sessions from a server with a warm pool, `pause` apart so the pool refills between
/// visitors (a pool drained faster than it refills measures cold starts, not warm ones).
pub async fn warm(server: &ServerProcess, n: usize, pause: Duration) -> Ttp {
    let mut warm = Ttp::default();
    for _ in 0..n {
        if warm.errors.len() >= MAX_ERRORS {
            break;
        }
        if let Err(error) = sample(server, &mut warm).await {
            warm.errors.push(format!("{error:#}"));
        }
        tokio::time::sleep(pause).await;
    }
    warm
}
