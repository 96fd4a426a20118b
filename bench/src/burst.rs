//! Visitors arriving together: several tabs of one visitor opened at once, and many visitors
//! arriving faster than the warm pool refills. Each arrival is timed as the warm and cold figures
//! are (the `create_session` request → the prompt's first byte); how many found a pooled sandbox
//! and how many found one ready are the server's own counts, read before and after.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use crate::server::ServerProcess;
use crate::stats::Summary;
use crate::term::{Shell, Term, PROMPT};

/// What one burst measured.
#[derive(Debug, Clone, Default)]
pub struct Burst {
    /// What arrived, for the report ("5 tabs at once from one client").
    pub what: String,
    /// Visitors that arrived.
    pub arrivals: usize,
    /// Request → prompt of every arrival that got one.
    pub ttp: Vec<Duration>,
    /// Arrivals that got no prompt, and why: failures, never dropped.
    pub errors: Vec<String>,
    /// Arrivals handed a pooled sandbox (the server's `rootresume_pool_handouts_total`).
    pub pooled: u64,
    /// Arrivals that found no ready one: started cold or handed one still starting (the
    /// server's `rootresume_pool_missed_total`).
    pub missed: u64,
}

impl Burst {
    /// Arrivals handed a pooled sandbox whose prompt was out.
    pub fn found_ready(&self) -> u64 {
        (self.arrivals as u64).saturating_sub(self.missed)
    }

    /// The time-to-prompt percentiles.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.ttp)
    }
}

/// One visitor from `from`: creates a session, opens its socket, waits for the prompt.
async fn arrive(server: &ServerProcess, from: IpAddr) -> Result<(Duration, Term)> {
    let started = Instant::now();
    let session = server.create_session_from(Some(from)).await?;
    let url = server.socket_url();
    let mut term = Term::connect_session_from(&url, from, server.addr(), &session).await?;
    term.read_until(PROMPT, Duration::from_secs(60)).await?;
    Ok((started.elapsed(), term))
}

/// The `i`th visitor's own loopback address (127.0.1.1, 127.0.1.2, …): each counts as another
/// client, and stays on this machine.
fn visitor(i: usize) -> IpAddr {
    let i = u32::try_from(i).unwrap_or(0) + 1;
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 1, 0)) + i))
}

/// `n` visitors arriving at the given offsets from the start, from the given addresses; every
/// terminal stays open until the last arrival is done, as the tabs of real visitors would.
async fn arrivals(
    server: &ServerProcess,
    what: String,
    plan: Vec<(Duration, IpAddr)>,
) -> Result<Burst> {
    let before = server.counter("rootresume_pool_handouts_total").await?;
    let missed_before = server.counter("rootresume_pool_missed_total").await?;
    let start = Instant::now();
    let tasks = plan.iter().map(|&(offset, from)| async move {
        tokio::time::sleep_until(start + offset).await;
        arrive(server, from).await
    });
    let outcomes = futures_util::future::join_all(tasks).await;
    let after = server.counter("rootresume_pool_handouts_total").await?;
    let missed = server.counter("rootresume_pool_missed_total").await?;
    let mut burst = Burst {
        what,
        arrivals: plan.len(),
        pooled: after.saturating_sub(before),
        missed: missed.saturating_sub(missed_before),
        ..Burst::default()
    };
    let mut terms = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok((took, term)) => {
                burst.ttp.push(took);
                terms.push(term);
            }
            Err(error) => burst.errors.push(format!("{error:#}")),
        }
    }
    futures_util::future::join_all(terms.into_iter().map(Term::close)).await;
    let s = burst.summary();
    println!(
        "  {}: p50 {:.1} ms p99 {:.1} ms, {} of {} found a ready sandbox ({} handed a pooled one), {} failed",
        burst.what,
        s.p50,
        s.p99,
        burst.found_ready(),
        burst.arrivals,
        burst.pooled,
        burst.errors.len()
    );
    Ok(burst)
}

/// `n` tabs of one visitor (127.0.0.1) opened at the same moment.
pub async fn at_once(server: &ServerProcess, n: usize, what: &str) -> Result<Burst> {
    let from = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let plan = (0..n).map(|_| (Duration::ZERO, from)).collect();
    arrivals(
        server,
        format!("{n} tabs at once from one client{what}"),
        plan,
    )
    .await
}

/// `n` visitors, each from its own address, arriving evenly over `over`.
pub async fn spread(server: &ServerProcess, n: usize, over: Duration) -> Result<Burst> {
    let plan = (0..n)
        .map(|i| {
            (
                over * u32::try_from(i).unwrap_or(0) / n.max(1) as u32,
                visitor(i),
            )
        })
        .collect();
    let what = format!(
        "{n} arrivals from {n} clients within {:.1} s",
        over.as_secs_f64()
    );
    arrivals(server, what, plan).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitors_have_their_own_loopback_addresses() {
        assert_eq!(visitor(0).to_string(), "127.0.1.1");
        assert_eq!(visitor(299).to_string(), "127.0.2.44");
        assert!(visitor(49).is_loopback());
    }
}
