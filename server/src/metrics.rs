//! Prometheus metrics: what an operator watches to know the site is healthy.
//!
//! Counters are bumped where things happen; the live-session and pool gauges are read from the
//! session manager at scrape time, so they can never drift from the truth.

mod metered;

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rootresume_protocol::EndReason;

pub use metered::MeteredSandbox;

/// Why a session ended, as a metric label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndLabels {
    /// The end reason, in snake case.
    pub reason: EndLabel,
}

/// [`EndReason`] as a label value.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum EndLabel {
    /// The shell exited.
    shell_exited,
    /// The lifetime ran out.
    expired,
    /// No input for the idle timeout.
    idle,
    /// The server shut down.
    server_shutdown,
    /// The container disappeared or the reaper took it.
    container_gone,
    /// No tab came back within the grace period.
    abandoned,
}

impl From<EndReason> for EndLabel {
    fn from(reason: EndReason) -> Self {
        match reason {
            EndReason::ShellExited => Self::shell_exited,
            EndReason::Expired => Self::expired,
            EndReason::Idle => Self::idle,
            EndReason::ServerShutdown => Self::server_shutdown,
            EndReason::ContainerGone => Self::container_gone,
            EndReason::Abandoned => Self::abandoned,
        }
    }
}

/// Why a visitor was refused a session, as a metric label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// The rule that refused it.
    pub reason: RejectLabel,
}

/// Admission rules, as label values.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RejectLabel {
    /// The global cap.
    at_capacity,
    /// The per-client cap.
    per_client,
    /// The per-client creation rate.
    rate_limited,
    /// The server was shutting down.
    shutting_down,
}

/// Why the abuse watchdog stopped a process, as a metric label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AbuseLabels {
    /// The rule it broke.
    pub reason: AbuseLabel,
}

/// The watchdog's rules, as label values.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum AbuseLabel {
    /// Its name or command line looked like a cryptocurrency miner's.
    miner,
    /// It held the CPU at the quota with no one typing.
    cpu,
}

/// A Docker API call, as a metric label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The sandbox operation that failed.
    pub operation: &'static str,
}

/// Every series the server exports.
pub struct Metrics {
    registry: Registry,
    /// Sessions handed to visitors.
    pub sessions_started: Counter,
    /// Sessions handed to visitors from the warm pool (the rest started cold).
    pub pool_handouts: Counter,
    /// Visitors who found no ready pooled sandbox: started cold, or handed one still starting.
    pub pool_missed: Counter,
    /// Sessions this replica took over from another (shared store only).
    pub takeovers: Counter,
    /// Sessions that ended, by reason.
    pub sessions_ended: Family<EndLabels, Counter>,
    /// Sessions alive now (set at scrape time).
    pub sessions_live: Gauge,
    /// Pooled sandboxes waiting, ready or starting (set at scrape time).
    pub pool_size: Gauge,
    /// Of those, the ones whose container or shell is still starting (set at scrape time): 0
    /// when no refill is under way, which a benchmark waits for to find the server quiet.
    pub pool_starting: Gauge,
    /// Containers the reaper or the start-up reconcile removed.
    pub reaper_removed: Counter,
    /// Session requests refused, by rule.
    pub admission_rejected: Family<RejectLabels, Counter>,
    /// Failed calls to the container engine, by operation.
    pub docker_errors: Family<OperationLabels, Counter>,
    /// Seconds from a session's creation to the first byte of its shell reaching the browser.
    pub time_to_first_prompt: Histogram,
    /// Processes the abuse watchdog stopped, by rule.
    pub abuse_stopped: Family<AbuseLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every series under the `rootresume_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rootresume");
        let metrics = Self {
            sessions_started: Counter::default(),
            pool_handouts: Counter::default(),
            pool_missed: Counter::default(),
            takeovers: Counter::default(),
            sessions_ended: Family::default(),
            sessions_live: Gauge::default(),
            pool_size: Gauge::default(),
            pool_starting: Gauge::default(),
            reaper_removed: Counter::default(),
            admission_rejected: Family::default(),
            docker_errors: Family::default(),
            abuse_stopped: Family::default(),
            // 10 ms to ~20 s: a warm pool attach to a cold start on a loaded engine.
            time_to_first_prompt: Histogram::new([
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
            ]),
            registry: Registry::default(),
        };
        registry.register(
            "sessions_started",
            "Sessions handed to visitors",
            metrics.sessions_started.clone(),
        );
        registry.register(
            "pool_handouts",
            "Sessions handed to visitors from the warm pool",
            metrics.pool_handouts.clone(),
        );
        registry.register(
            "pool_missed",
            "Visitors who found no ready pooled sandbox",
            metrics.pool_missed.clone(),
        );
        registry.register(
            "takeovers",
            "Sessions taken over from another replica",
            metrics.takeovers.clone(),
        );
        registry.register(
            "sessions_ended",
            "Sessions that ended, by reason",
            metrics.sessions_ended.clone(),
        );
        registry.register(
            "sessions_live",
            "Sessions alive now",
            metrics.sessions_live.clone(),
        );
        registry.register(
            "pool_size",
            "Pooled sandboxes waiting for a visitor",
            metrics.pool_size.clone(),
        );
        registry.register(
            "pool_starting",
            "Pooled sandboxes whose container or shell is still starting",
            metrics.pool_starting.clone(),
        );
        registry.register(
            "reaper_removed",
            "Containers removed by the reaper or the start-up reconcile",
            metrics.reaper_removed.clone(),
        );
        registry.register(
            "admission_rejected",
            "Session requests refused, by rule",
            metrics.admission_rejected.clone(),
        );
        registry.register(
            "docker_errors",
            "Failed container engine calls, by operation",
            metrics.docker_errors.clone(),
        );
        registry.register(
            "abuse_stopped",
            "Processes the abuse watchdog stopped, by rule",
            metrics.abuse_stopped.clone(),
        );
        registry.register(
            "time_to_first_prompt_seconds",
            "Seconds from session creation to the shell's first byte reaching the browser",
            metrics.time_to_first_prompt.clone(),
        );
        // Every labelled series exists from the start at 0, so dashboards and alerts see a
        // rate of 0 instead of no data.
        for reason in EndReason::ALL {
            let labels = EndLabels {
                reason: reason.into(),
            };
            drop(metrics.sessions_ended.get_or_create(&labels));
        }
        for reason in [
            RejectLabel::at_capacity,
            RejectLabel::per_client,
            RejectLabel::rate_limited,
            RejectLabel::shutting_down,
        ] {
            drop(
                metrics
                    .admission_rejected
                    .get_or_create(&RejectLabels { reason }),
            );
        }
        for reason in [AbuseLabel::miner, AbuseLabel::cpu] {
            drop(metrics.abuse_stopped.get_or_create(&AbuseLabels { reason }));
        }
        for operation in metered::OPERATIONS {
            drop(
                metrics
                    .docker_errors
                    .get_or_create(&OperationLabels { operation }),
            );
        }
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts a session that ended.
    pub fn session_ended(&self, reason: EndReason) {
        self.sessions_ended
            .get_or_create(&EndLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// Counts a refused session request.
    pub fn rejected(&self, reason: RejectLabel) {
        self.admission_rejected
            .get_or_create(&RejectLabels { reason })
            .inc();
    }

    /// Records a time to first prompt.
    pub fn first_prompt(&self, took: Duration) {
        self.time_to_first_prompt.observe(took.as_secs_f64());
    }

    /// The text exposition format, with the gauges set to `live` sessions, `pooled` sandboxes
    /// and the `starting` ones among them.
    pub fn render(&self, live: usize, pooled: usize, starting: usize) -> String {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.sessions_live.set(gauge(live));
        self.pool_size.set(gauge(pooled));
        self.pool_starting.set(gauge(starting));
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "could not encode metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_named_series() {
        let metrics = Metrics::new();
        metrics.sessions_started.inc();
        metrics.pool_handouts.inc();
        metrics.pool_missed.inc();
        metrics.session_ended(EndReason::Idle);
        metrics.rejected(RejectLabel::rate_limited);
        metrics.first_prompt(Duration::from_millis(40));
        let text = metrics.render(3, 2, 1);
        for line in [
            "rootresume_sessions_started_total 1",
            "rootresume_pool_handouts_total 1",
            "rootresume_pool_missed_total 1",
            "rootresume_sessions_ended_total{reason=\"idle\"} 1",
            "rootresume_sessions_live 3",
            "rootresume_pool_size 2",
            "rootresume_pool_starting 1",
            "rootresume_admission_rejected_total{reason=\"rate_limited\"} 1",
            "rootresume_time_to_first_prompt_seconds_count 1",
            "rootresume_reaper_removed_total 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
