//! One climb through session counts on one server: echo latency at the fixed levels, memory
//! per idle session at N = 100, then the capacity ramp until echo p99 reaches its limit.
//! Sessions stay open all the way up, so each level adds to the one before.

use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;

use crate::echo::{self, Typing};
use crate::engine::Engine;
use crate::memory::{accounted, per_session, settled_available, PerSession};
use crate::server::ServerProcess;
use crate::stats::Summary;
use crate::term::{Shell, Term};

/// What to climb through.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Session counts at which every session types fast and echo is measured.
    pub echo_levels: Vec<usize>,
    /// Typing for the echo levels.
    pub echo_typing: Typing,
    /// Runs at each echo level (the report gives their median and spread).
    pub echo_repeats: usize,
    /// Sessions held idle for the memory figure.
    pub memory_at: usize,
    /// Session counts of the capacity ramp.
    pub capacity_levels: Vec<usize>,
    /// Typing at each capacity level (every session, a relaxed pace).
    pub capacity_typing: Typing,
    /// Echo p99 a capacity level must stay under, ms.
    pub capacity_p99_ms: f64,
    /// `MemAvailable` readings (a second apart) whose median is taken.
    pub settle_readings: usize,
    /// No new capacity level starts after this long on the ramp (the run must fit its slot).
    pub capacity_budget: Duration,
}

/// The echo measured at one session count: each run's percentiles and what failed.
#[derive(Debug, Clone, Default)]
pub struct Level {
    /// Live sessions.
    pub n: usize,
    /// Each run's round-trip percentiles.
    pub runs: Vec<Summary>,
    /// Sessions lost at this level: failed to open, or died during a run.
    pub lost: usize,
    /// Keys whose echo never came (each counted among the samples as the timeout).
    pub timeouts: usize,
}

impl Level {
    /// The level's figures in one line of the bench's output.
    pub fn line(&self) -> String {
        let (summary, (low, high)) = (self.median(), self.p99_spread());
        format!(
            "median of {} runs p50 {:.2} ms p99 {:.2} ms (p99 {low:.2}–{high:.2}), {} lost, {} timeouts",
            self.runs.len(),
            summary.p50,
            summary.p99,
            self.lost,
            self.timeouts
        )
    }

    /// The median over the runs of each percentile (`n` = every sample of every run).
    pub fn median(&self) -> Summary {
        let median = |pick: fn(&Summary) -> f64| {
            let mut v: Vec<f64> = self.runs.iter().map(pick).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
        };
        Summary {
            n: self.runs.iter().map(|s| s.n).sum(),
            p50: median(|s| s.p50),
            p95: median(|s| s.p95),
            p99: median(|s| s.p99),
        }
    }

    /// The lowest and highest p99 over the runs.
    pub fn p99_spread(&self) -> (f64, f64) {
        let p99s = self.runs.iter().map(|s| s.p99);
        (
            p99s.clone().fold(f64::INFINITY, f64::min),
            p99s.fold(0.0, f64::max),
        )
    }

    /// Lost sessions and timed-out echoes: a level with any is not a level held.
    pub fn failures(&self) -> usize {
        self.lost + self.timeouts
    }
}

/// What the climb measured.
#[derive(Debug, Clone, Default)]
pub struct Climb {
    /// Echo round trips at each echo level.
    pub echo: Vec<Level>,
    /// Memory per idle session at `memory_at`.
    pub memory: PerSession,
    /// Echo round trips at each capacity level reached.
    pub capacity: Vec<Level>,
    /// The most sessions held with echo p99 under the limit and nothing lost.
    pub capacity_ok: usize,
    /// Why the ramp stopped.
    pub stopped: String,
    /// Sessions that failed to open or died during a measurement, and why.
    pub lost: Vec<String>,
}

/// Opens sessions until `terms` holds `n`, a few at a time as visitors would arrive.
async fn grow(
    server: &ServerProcess,
    terms: &mut Vec<Term>,
    n: usize,
    lost: &mut Vec<String>,
) -> Result<()> {
    // A few rounds: a session that fails to open is replaced, as a visitor would reload.
    for _ in 0..3 {
        let missing = n.saturating_sub(terms.len());
        if missing == 0 {
            return Ok(());
        }
        let opened: Vec<Result<Term>> = futures_util::stream::iter(0..missing)
            .map(|_| server.open())
            .buffer_unordered(crate::OPEN_CONCURRENCY)
            .collect()
            .await;
        for result in opened {
            match result {
                Ok(term) => terms.push(term),
                Err(error) => lost.push(format!("opening: {error:#}")),
            }
        }
    }
    anyhow::ensure!(
        terms.len() >= n,
        "could not open {n} sessions; see the lost sessions"
    );
    Ok(())
}

/// Climbs per `plan`; the sessions are closed at the end (the server removes their containers
/// after its grace period, or at shutdown). A failure ends the climb where it happened, and says
/// why in [`Climb::stopped`]: the figures measured before it are kept.
pub async fn climb(server: &ServerProcess, engine: &Engine, plan: &Plan) -> Climb {
    let mut result = Climb::default();
    let mut terms: Vec<Term> = Vec::new();
    match fixed_levels(server, engine, plan, &mut terms, &mut result).await {
        Ok(()) => capacity(server, plan, &mut terms, &mut result).await,
        Err(error) => result.stopped = format!("before the capacity ramp: {error:#}"),
    }
    futures_util::future::join_all(terms.into_iter().map(Term::close)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    result
}

/// The echo levels and the memory figure.
async fn fixed_levels(
    server: &ServerProcess,
    engine: &Engine,
    plan: &Plan,
    terms: &mut Vec<Term>,
    result: &mut Climb,
) -> Result<()> {
    let mut levels: Vec<usize> = plan.echo_levels.clone();
    levels.push(plan.memory_at);
    levels.sort_unstable();
    levels.dedup();
    let available_before = settled_available(plan.settle_readings).await?;
    let accounted_before = accounted(Some(server.pid()), &[]);
    let rss_before = server.rss()?;
    for n in levels {
        let lost_before = result.lost.len();
        grow(server, terms, n, &mut result.lost).await?;
        let mut level = Level {
            n,
            lost: result.lost.len() - lost_before,
            ..Level::default()
        };
        if n == plan.memory_at {
            let available = settled_available(plan.settle_readings).await?;
            let containers = engine.labelled(&server.instance).await?;
            let accounted_now = accounted(Some(server.pid()), &containers);
            result.memory = PerSession {
                n,
                host: per_session(available_before, available, n),
                accounted: per_session(accounted_now.total(), accounted_before.total(), n),
                parts: accounted_now.growth_per_session(&accounted_before, n),
                server_rss: (server.rss()? as f64 - rss_before as f64) / n as f64,
            };
        }
        if plan.echo_levels.contains(&n) {
            for run in 0..plan.echo_repeats.max(1) {
                // Sessions lost in a run are replaced before the next, and counted.
                if run > 0 {
                    let lost_before = result.lost.len();
                    grow(server, terms, n, &mut result.lost).await?;
                    level.lost += result.lost.len() - lost_before;
                }
                measure_into(terms, plan.echo_typing, &mut level, &mut result.lost).await;
            }
            println!("  echo at {n}: {}", level.line());
            result.echo.push(level);
        }
    }
    Ok(())
}

/// One echo run over `terms` (the server's sockets, the peer's, or bare engine shells), added to
/// `level`; why any session was lost goes to `lost`.
pub(crate) async fn measure_into<S: Shell + 'static>(
    terms: &mut Vec<S>,
    typing: crate::echo::Typing,
    level: &mut Level,
    lost: &mut Vec<String>,
) {
    let measured = echo::measure(std::mem::take(terms), typing).await;
    *terms = measured.terms;
    level.lost += measured.lost.len();
    level.timeouts += measured.timeouts;
    lost.extend(measured.lost);
    level.runs.push(Summary::of(&measured.samples));
}

/// Adds sessions level by level until echo p99 reaches the limit, a session fails to open, or
/// the time budget runs out.
async fn capacity(server: &ServerProcess, plan: &Plan, terms: &mut Vec<Term>, result: &mut Climb) {
    result.stopped = "reached the top of the ramp".into();
    let ramp_started = tokio::time::Instant::now();
    for &n in &plan.capacity_levels {
        if ramp_started.elapsed() > plan.capacity_budget {
            result.stopped = format!(
                "the ramp's time budget ({} s) ran out before {n} sessions",
                plan.capacity_budget.as_secs()
            );
            return;
        }
        let lost_before = result.lost.len();
        if let Err(error) = grow(server, terms, n, &mut result.lost).await {
            result.stopped = format!("opening session {} failed: {error:#}", terms.len() + 1);
            return;
        }
        let mut level = Level {
            n,
            lost: result.lost.len() - lost_before,
            ..Level::default()
        };
        measure_into(terms, plan.capacity_typing, &mut level, &mut result.lost).await;
        let summary = level.median();
        println!(
            "  capacity: {n} sessions, echo p50 {:.1} ms, p99 {:.1} ms, {} lost, {} timeouts",
            summary.p50, summary.p99, level.lost, level.timeouts
        );
        let failures = level.failures();
        result.capacity.push(level);
        // A level counts only if every session lived through it and every key got its echo.
        if failures > 0 {
            result.stopped =
                format!("{failures} session(s) lost or echo(es) timed out at {n} sessions");
            return;
        }
        if summary.p99 >= plan.capacity_p99_ms {
            result.stopped = format!("echo p99 reached {:.1} ms at {n} sessions", summary.p99);
            return;
        }
        result.capacity_ok = n;
    }
}
