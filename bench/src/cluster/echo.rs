//! Keystroke echo through the balancer against straight to a replica: two sessions on the same
//! replica, one whose socket goes through HAProxy and one whose socket does not, typed into
//! key by key in turn, so both paths see the same replica at the same moments. A round trip runs
//! from sending one input byte to the next output frame (its echo), as in `crate::echo`; keys
//! alternate between a letter and a delete, so the line stays empty.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::time::Instant;

use super::http::{create_session, socket_url};
use super::options::Replica;
use crate::term::{Attach, Shell, Term, PROMPT};

/// Longest wait for an echo.
const ECHO_LIMIT: Duration = Duration::from_secs(10);
/// Time from one key to the next of the same session (five keys a second, a fast typist).
const INTERVAL: Duration = Duration::from_millis(200);

/// The round trips of each path, and the replica both sessions were on.
pub struct Echo {
    pub through_lb: Vec<Duration>,
    pub direct: Vec<Duration>,
    pub replica: String,
}

/// `keys` round trips on each path.
pub async fn measure(lb: SocketAddr, replicas: &[Replica], keys: usize) -> Result<Echo> {
    let (through, name) = open(lb).await?;
    let name = name.context("HAProxy named no replica on the upgrade")?;
    let replica = replicas
        .iter()
        .find(|r| r.name == name)
        .with_context(|| format!("the balancer's socket went to {name}, not a known replica"))?;
    let (direct, _) = open(replica.addr).await?;
    let mut terms = [through, direct];
    let mut samples = [Vec::with_capacity(keys), Vec::with_capacity(keys)];
    for key in 0..keys {
        let byte: &[u8] = if key % 2 == 0 { b"a" } else { b"\x7f" };
        let started = Instant::now();
        // Each path goes first every other key.
        for which in [key % 2, 1 - key % 2] {
            let term = &mut terms[which];
            let sent = Instant::now();
            term.send_input(byte).await?;
            match tokio::time::timeout(ECHO_LIMIT, term.next_output()).await {
                Ok(output) => {
                    if output?.is_none() {
                        bail!("socket closed while waiting for an echo");
                    }
                    samples[which].push(sent.elapsed());
                }
                Err(_) => samples[which].push(ECHO_LIMIT),
            }
            // Whatever else the key printed is read here, not taken for the next key's echo.
            term.drain_for(Duration::from_millis(20)).await?;
        }
        tokio::time::sleep_until(started + INTERVAL).await;
    }
    for term in terms {
        close(term).await;
    }
    let [through_lb, direct] = samples;
    Ok(Echo {
        through_lb,
        direct,
        replica: replica.name.clone(),
    })
}

/// A session created and attached at `addr`, its prompt read and its output quiet.
async fn open(addr: SocketAddr) -> Result<(Term, Option<String>)> {
    let (session, _) = create_session(addr).await?;
    let (mut term, replica) = Term::connect_named(&socket_url(addr), &session).await?;
    match term.attached(Duration::from_secs(60)).await? {
        Attach::Started { .. } => {}
        other => bail!("not attached: {other:?}"),
    }
    term.read_until(PROMPT, Duration::from_secs(60)).await?;
    term.drain_for(Duration::from_secs(1)).await?;
    Ok((term, replica))
}

/// Ends the shell, so the session and its container go now.
async fn close(mut term: Term) {
    let _ = term.send_input(b"exit\r").await;
    let _ = term.drain_for(Duration::from_secs(3)).await;
    term.close().await;
}
