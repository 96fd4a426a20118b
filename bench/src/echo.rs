//! Keystroke echo round trip: a key goes out, the time until the shell's echo comes back.
//!
//! Every session types at the same steady pace, each with its own phase so the keys of many
//! sessions spread over the interval instead of arriving in bursts. Keys alternate between a
//! letter and a delete, so the command line stays empty however long the test runs.

use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use crate::term::{Shell, Term};

/// How much to type.
#[derive(Debug, Clone, Copy)]
pub struct Typing {
    /// Keys per session.
    pub keys: usize,
    /// Time between two keys of one session.
    pub interval: Duration,
}

/// Longest wait for an echo; a key that gets none counts as this long.
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// What one echo measurement gives back.
pub struct Measured<S = Term> {
    /// The terminals still working.
    pub terms: Vec<S>,
    /// Every round trip measured.
    pub samples: Vec<Duration>,
    /// Why sessions were lost on the way (a session whose container went away, say): a lost
    /// session's samples are gone, so it is reported as a failure of its level.
    pub lost: Vec<String>,
    /// Keys whose echo never came within [`ECHO_TIMEOUT`]: each counts as that long among the
    /// samples, and is reported as a failure too.
    pub timeouts: usize,
}

/// Has every terminal type per `typing`, all at once: the server's sockets, the peer's, or shells
/// attached straight to the engine.
pub async fn measure<S: Shell + 'static>(terms: Vec<S>, typing: Typing) -> Measured<S> {
    let count = terms.len().max(1) as u32;
    let tasks: Vec<_> = terms
        .into_iter()
        .enumerate()
        .map(|(i, term)| {
            let phase = typing.interval * i as u32 / count;
            tokio::spawn(type_keys(term, typing, phase))
        })
        .collect();
    let mut measured = Measured {
        terms: Vec::with_capacity(tasks.len()),
        samples: Vec::new(),
        lost: Vec::new(),
        timeouts: 0,
    };
    for task in tasks {
        match task.await {
            Ok(Ok((term, rtts))) => {
                measured.terms.push(term);
                measured.timeouts += rtts.iter().filter(|&&t| t >= ECHO_TIMEOUT).count();
                measured.samples.extend(rtts);
            }
            Ok(Err(error)) => measured.lost.push(format!("{error:#}")),
            Err(error) => measured.lost.push(format!("{error:#}")),
        }
    }
    measured
}

async fn type_keys<S: Shell>(
    mut term: S,
    typing: Typing,
    phase: Duration,
) -> Result<(S, Vec<Duration>)> {
    term.drain_for(phase).await?;
    let mut rtts = Vec::with_capacity(typing.keys);
    for key in 0..typing.keys {
        let byte: &[u8] = if key % 2 == 0 { b"a" } else { b"\x7f" };
        let sent = Instant::now();
        term.send_input(byte).await?;
        match tokio::time::timeout(ECHO_TIMEOUT, term.next_output()).await {
            Ok(output) => {
                if output?.is_none() {
                    anyhow::bail!("socket closed while waiting for an echo");
                }
                rtts.push(sent.elapsed());
            }
            Err(_) => rtts.push(ECHO_TIMEOUT),
        }
        // Whatever else the key printed is read here, not taken for the next key's echo.
        term.drain_for(typing.interval.saturating_sub(sent.elapsed()))
            .await?;
    }
    Ok((term, rtts))
}
