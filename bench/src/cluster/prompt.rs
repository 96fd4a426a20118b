//! Page → prompt: from the session request (`POST /api/create_session`, where the page starts
//! its sandbox) to the shell's first prompt bytes on the terminal socket, through the balancer
//! and straight to one replica, samples alternating so drift touches both alike.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use super::http::{create_session, socket_url};
use crate::term::{Shell, Term, PROMPT};

/// The longest a prompt may take.
const PROMPT_LIMIT: Duration = Duration::from_secs(60);
/// Pause after each sample, so a replica's warm pool refills between visitors.
const PAUSE: Duration = Duration::from_secs(1);
/// A series gives up after this many failed samples.
const MAX_ERRORS: usize = 5;

/// One sample: the time, and which replica created the session and which served the socket
/// (HAProxy's header; none when reached directly).
#[derive(Debug, Clone)]
pub struct Sample {
    pub total: Duration,
    pub created_by: Option<String>,
    pub served_by: Option<String>,
}

impl Sample {
    /// Whether the socket reached another replica than the one that created the session, which
    /// then had to take it over.
    pub fn crossed(&self) -> bool {
        matches!((&self.created_by, &self.served_by), (Some(a), Some(b)) if a != b)
    }
}

/// The samples of one target.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub samples: Vec<Sample>,
    pub errors: Vec<String>,
}

impl Series {
    pub fn totals(&self) -> Vec<Duration> {
        self.samples.iter().map(|s| s.total).collect()
    }
}

/// `n` samples through each of `targets`, alternating.
pub async fn measure(targets: &[(&str, SocketAddr)], n: usize) -> Vec<Series> {
    let mut series = vec![Series::default(); targets.len()];
    for i in 1..=n {
        for ((name, addr), into) in targets.iter().zip(series.iter_mut()) {
            if into.errors.len() >= MAX_ERRORS {
                continue;
            }
            match sample(*addr).await {
                Ok(s) => {
                    println!(
                        "  {name:<8} sample {i:>2}: {:>7.1} ms{}",
                        s.total.as_secs_f64() * 1e3,
                        match (&s.created_by, &s.served_by) {
                            (Some(c), Some(w)) => format!("  (created by {c}, socket on {w})"),
                            _ => String::new(),
                        }
                    );
                    into.samples.push(s);
                }
                Err(error) => {
                    println!("  {name:<8} sample {i:>2}: failed: {error:#}");
                    into.errors.push(format!("{error:#}"));
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    series
}

async fn sample(addr: SocketAddr) -> Result<Sample> {
    let started = Instant::now();
    let (session, created_by) = create_session(addr).await?;
    let (mut term, served_by) = Term::connect_named(&socket_url(addr), &session).await?;
    term.read_until(PROMPT, PROMPT_LIMIT).await?;
    let total = started.elapsed();
    // The shell exits, so the session and its container end now rather than after the grace
    // period: the next sample finds the replicas as quiet as this one did.
    term.send_input(b"exit\r").await?;
    let _ = term.drain_for(Duration::from_secs(3)).await;
    term.close().await;
    Ok(Sample {
        total,
        created_by,
        served_by,
    })
}
