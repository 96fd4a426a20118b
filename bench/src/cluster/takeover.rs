//! Takeover after kill -9: a tab's shell is proved through the balancer, the replica holding it
//! is killed outright, and the tab reconnects through the balancer with the same session id, as
//! the page does; the time runs from the kill to the same shell's answer.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::time::Instant;

use super::http::{self, cluster_sh, create_session, socket_url};
use super::options::Replica;
use crate::term::{lossy, Attach, Shell, Term, PROMPT};

/// The longest one round may take from the kill to the shell's answer.
const ROUND_LIMIT: Duration = Duration::from_secs(60);
/// The longest a fresh shell may take to show its prompt or answer a command.
const SHELL_LIMIT: Duration = Duration::from_secs(60);
/// The rounds of a schedule stop after this many failures: something is broken.
const MAX_FAILURES: usize = 3;

/// When a dropped tab tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// As the page does (app/src/terminal/client.rs): the first attempt 500 ms after the
    /// socket closed, then each wait doubled, at most 10 s.
    Browser,
    /// At once, then every 100 ms: what the server side alone allows.
    Eager,
}

impl Schedule {
    fn first(self) -> Duration {
        match self {
            Self::Browser => Duration::from_millis(500),
            Self::Eager => Duration::ZERO,
        }
    }

    fn next(self, previous: Duration) -> Duration {
        match self {
            Self::Browser => {
                (previous.max(Duration::from_millis(250)) * 2).min(Duration::from_secs(10))
            }
            Self::Eager => Duration::from_millis(100),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Browser => "browser schedule",
            Self::Eager => "eager reconnect",
        }
    }
}

/// One round that worked.
#[derive(Debug, Clone)]
pub struct Round {
    /// Kill → the same shell's answer.
    pub total: Duration,
    /// Kill → the old socket closed.
    pub dropped: Duration,
    /// Kill → the new socket attached (`Started`).
    pub attached: Duration,
    /// Socket attempts after the kill.
    pub attempts: usize,
    /// The killed replica, and how it was found.
    pub killed: String,
    pub found_by: String,
    /// The replica that took the session over (HAProxy's header).
    pub took_over: String,
    /// Why earlier attempts failed.
    pub refusals: Vec<String>,
}

/// Every round of one schedule.
#[derive(Debug, Clone, Default)]
pub struct Takeovers {
    pub rounds: Vec<Round>,
    pub failures: Vec<String>,
}

/// `rounds` rounds; after each (whatever happened) the cluster is brought back whole.
pub async fn measure(
    lb: SocketAddr,
    replicas: &[Replica],
    script: &std::path::Path,
    rounds: usize,
    schedule: Schedule,
) -> Takeovers {
    let mut result = Takeovers::default();
    for i in 1..=rounds {
        if result.failures.len() >= MAX_FAILURES {
            break;
        }
        match round(lb, replicas, script, schedule, i).await {
            Ok(r) => {
                println!(
                    "  round {i:>2}: {:>7.1} ms  (killed {} [{}]; old socket closed {:.1} ms, \
                     attached via {} {:.1} ms after {} attempt(s){})",
                    ms(r.total),
                    r.killed,
                    r.found_by,
                    ms(r.dropped),
                    r.took_over,
                    ms(r.attached),
                    r.attempts,
                    match r.refusals.first() {
                        Some(first) => format!("; first refusal: {first}"),
                        None => String::new(),
                    }
                );
                result.rounds.push(r);
            }
            Err(error) => {
                println!("  round {i:>2}: failed: {error:#}");
                result.failures.push(format!("round {i}: {error:#}"));
            }
        }
        if let Err(error) = restore(replicas, script).await {
            println!("  could not bring the cluster back: {error:#}");
            result
                .failures
                .push(format!("restore after round {i}: {error:#}"));
            break;
        }
    }
    result
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Restarts whatever part is down (`scripts/cluster.sh up`) and waits until every replica
/// answers /healthz, then lets HAProxy's checks (1 s apart, up after one) see it.
async fn restore(replicas: &[Replica], script: &std::path::Path) -> Result<()> {
    cluster_sh(script, &["up"]).await?;
    http::wait_quiet(replicas, Duration::from_secs(120)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

async fn round(
    lb: SocketAddr,
    replicas: &[Replica],
    script: &std::path::Path,
    schedule: Schedule,
    index: usize,
) -> Result<Round> {
    http::wait_quiet(replicas, Duration::from_secs(60)).await?;
    let (session, _) = create_session(lb).await?;
    let url = socket_url(lb);
    let (mut term, attached_to) = Term::connect_named(&url, &session).await?;
    match term.attached(SHELL_LIMIT).await? {
        Attach::Started { .. } => {}
        other => bail!("the first socket was not attached: {other:?}"),
    }
    term.read_until(PROMPT, SHELL_LIMIT).await?;
    // A shell variable only this shell process holds, with its pid and host name.
    let nonce = format!("{:08x}", nonce(index));
    term.send_input(format!("T={nonce}; echo RR.$$.$T.$HOSTNAME.\r").as_bytes())
        .await?;
    let identity = read_identity(&mut term, &nonce).await?;

    let (holder, found_by) = holder(replicas, attached_to.as_deref()).await?;
    let pid: u32 = cluster_sh(script, &["pid", &holder.name])
        .await?
        .parse()
        .context("scripts/cluster.sh pid gave no number")?;

    let killed_at = Instant::now();
    http::kill9(pid)?;
    let deadline = killed_at + ROUND_LIMIT;
    // The page notices the drop when its socket closes; the schedule starts there.
    loop {
        match tokio::time::timeout_at(deadline, term.next_output()).await {
            Err(_) => bail!("the old socket stayed open {ROUND_LIMIT:?} after the kill"),
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None) | Err(_)) => break,
        }
    }
    let dropped = killed_at.elapsed();

    let mut wait = schedule.first();
    let mut attempts = 0;
    let mut refusals = Vec::new();
    let (mut term, took_over) = loop {
        tokio::time::sleep_until((Instant::now() + wait).min(deadline)).await;
        if Instant::now() >= deadline {
            bail!(
                "no reattach within {ROUND_LIMIT:?} of the kill ({attempts} attempts; {refusals:?})"
            );
        }
        attempts += 1;
        let connecting =
            tokio::time::timeout_at(deadline, Term::connect_named(&url, &session)).await;
        match connecting.unwrap_or_else(|_| Err(anyhow::anyhow!("connect timed out"))) {
            Ok((mut term, replica)) => match term.attached(deadline - Instant::now()).await? {
                Attach::Started { resumed: true } => break (term, replica),
                Attach::Started { resumed: false } => {
                    bail!("the socket got a fresh shell, not the one it had")
                }
                Attach::Refused(why) => {
                    refusals.push(why);
                    term.close().await;
                }
                Attach::Lost(why) => bail!("the session was lost after the kill: {why}"),
            },
            Err(error) => refusals.push(format!("{error:#}")),
        }
        wait = schedule.next(wait);
    };
    let attached = killed_at.elapsed();
    term.send_input(b"echo RQ.$$.$T.$HOSTNAME.\r").await?;
    let expected = format!("RQ.{identity}");
    tokio::time::timeout_at(deadline, term.read_until(expected.as_bytes(), ROUND_LIMIT))
        .await
        .with_context(|| format!("the shell did not answer {expected} in time"))?
        .with_context(|| format!("waiting for {expected}: not the same shell?"))?;
    let total = killed_at.elapsed();
    // Ends the session (and its container) so the next round starts from none.
    term.send_input(b"exit\r").await?;
    let _ = term.drain_for(Duration::from_secs(5)).await;
    term.close().await;
    Ok(Round {
        total,
        dropped,
        attached,
        attempts,
        killed: holder.name.clone(),
        found_by,
        took_over: took_over.unwrap_or_else(|| "?".into()),
        refusals,
    })
}

/// A value for the round's shell variable that no earlier round used.
fn nonce(index: usize) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ (index as u32).rotate_left(24)
}

/// Reads until the shell printed `RR.<pid>.<nonce>.<host>.` and returns what follows `RR.`.
async fn read_identity(term: &mut Term, nonce: &str) -> Result<String> {
    let deadline = Instant::now() + SHELL_LIMIT;
    let mut screen = Vec::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, term.next_output())
            .await
            .context("the shell did not answer echo $$")??
            .context("socket closed before the shell answered")?;
        screen.extend_from_slice(&chunk);
        let text = lossy(&screen);
        // The typed command is echoed too, but shows `RR.$$`: the answer is `RR.` and a digit.
        for (at, _) in text.match_indices("RR.") {
            let rest = &text[at + 3..];
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            if let Some(end) = rest.find(['\r', '\n']) {
                let identity = &rest[..end];
                if identity.contains(nonce) {
                    return Ok(identity.to_owned());
                }
            }
        }
    }
}

/// The replica holding the only live session: the one whose `rootresume_sessions_live` is not
/// zero (every other was at zero when the round began); if that is not conclusive, the one
/// HAProxy says answered the socket's upgrade.
async fn holder<'a>(
    replicas: &'a [Replica],
    upgraded_by: Option<&str>,
) -> Result<(&'a Replica, String)> {
    let mut counts = Vec::new();
    for replica in replicas {
        let live = http::metric(replica.addr, "rootresume_sessions_live")
            .await
            .ok();
        counts.push((replica, live));
    }
    let report: Vec<String> = counts
        .iter()
        .map(|(r, live)| format!("{}={}", r.name, live.map_or("?".into(), |l| l.to_string())))
        .collect();
    let holding: Vec<&Replica> = counts
        .iter()
        .filter(|(_, live)| live.is_some_and(|l| l >= 1.0))
        .map(|(r, _)| *r)
        .collect();
    if let [only] = holding.as_slice() {
        let agrees = match upgraded_by {
            Some(name) if name == only.name => ", upgrade agrees",
            Some(_) => ", upgrade answered elsewhere",
            None => "",
        };
        return Ok((only, format!("sessions_live {}{agrees}", report.join(" "))));
    }
    if let Some(replica) = replicas
        .iter()
        .find(|r| Some(r.name.as_str()) == upgraded_by)
    {
        return Ok((
            replica,
            format!("upgrade header; sessions_live {}", report.join(" ")),
        ));
    }
    bail!(
        "cannot tell which replica holds the session: sessions_live {report:?}, no upgrade header"
    )
}
