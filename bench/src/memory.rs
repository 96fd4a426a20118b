//! Host memory per idle session: the drop in `MemAvailable` over N sessions, divided by N, for
//! RootResume's sessions and for N bare containers with the same shell; and the server's own
//! resident memory per session.

use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt};

use crate::engine::{BareShell, Engine};
use crate::server::kib_field;

/// Memory taken by N idle sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerSession {
    /// How many sessions.
    pub n: usize,
    /// Drop in `MemAvailable` per session, bytes.
    pub host: f64,
    /// Growth of [`accounted`] memory per session, bytes: unlike `MemAvailable`, not moved by
    /// whatever else the machine runs meanwhile.
    pub accounted: f64,
    /// The accounted growth per session by source.
    pub parts: Accounted<f64>,
    /// Growth of the server's resident memory per session, bytes (0 for bare containers).
    pub server_rss: f64,
}

/// `MemAvailable` from /proc/meminfo, in bytes.
pub fn mem_available() -> Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    kib_field(&meminfo, "MemAvailable:").context("no MemAvailable in /proc/meminfo")
}

/// `MemAvailable` once the machine has settled: the median of `count` readings a second apart,
/// so a short-lived allocation elsewhere on the machine does not count.
pub async fn settled_available(count: usize) -> Result<u64> {
    let mut readings = Vec::new();
    for _ in 0..count.max(1) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        readings.push(mem_available()?);
    }
    readings.sort_unstable();
    Ok(readings[readings.len() / 2])
}

/// Daemons of the container engine, whose memory grows with every container.
const ENGINE_DAEMONS: [&str; 2] = ["dockerd", "containerd"];

/// Memory by source: engine daemons, the containers' shims, the containers' memory cgroups, the
/// server.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Accounted<T> {
    /// dockerd and containerd (PSS).
    pub daemons: T,
    /// The containers' shims (PSS).
    pub shims: T,
    /// The containers' memory cgroups (everything their processes and tmpfs use).
    pub cgroups: T,
    /// The server (PSS).
    pub server: T,
}

impl Accounted<u64> {
    /// The sum of the sources.
    pub fn total(&self) -> u64 {
        self.daemons + self.shims + self.cgroups + self.server
    }

    /// Growth from `before` to `self`, per session, by source.
    pub fn growth_per_session(&self, before: &Self, n: usize) -> Accounted<f64> {
        let per = |after: u64, before: u64| per_session(after, before, n);
        Accounted {
            daemons: per(self.daemons, before.daemons),
            shims: per(self.shims, before.shims),
            cgroups: per(self.cgroups, before.cgroups),
            server: per(self.server, before.server),
        }
    }
}

/// Memory counted at its sources: the proportional set size (PSS: shared pages split fairly,
/// so it adds up across processes) of the engine's daemons, of the shims of `containers` and
/// of `server`, plus the memory cgroup usage of `containers`. Other containers on the machine,
/// and anything else it runs, do not count.
pub fn accounted(server: Option<u32>, containers: &[String]) -> Accounted<u64> {
    let mut total = Accounted::default();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let source = match comm.trim() {
            name if ENGINE_DAEMONS.contains(&name) => Some(&mut total.daemons),
            // A shim names its container on its command line (`-id ID`).
            name if name.starts_with("containerd-shim") => {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmdline = String::from_utf8_lossy(&cmdline);
                let ours = containers.iter().any(|id| cmdline.contains(id.as_str()));
                ours.then_some(&mut total.shims)
            }
            _ => (Some(pid) == server).then_some(&mut total.server),
        };
        if let Some(source) = source {
            let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"));
            *source += rollup.ok().and_then(|r| kib_field(&r, "Pss:")).unwrap_or(0);
        }
    }
    for id in containers {
        // cgroup v1 (this machine) and the two usual v2 layouts.
        let paths = [
            format!("/sys/fs/cgroup/memory/docker/{id}/memory.usage_in_bytes"),
            format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.current"),
            format!("/sys/fs/cgroup/docker/{id}/memory.current"),
        ];
        total.cgroups += paths
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// `(high - low) / n` in bytes: a drop in `MemAvailable` (high = before) or a growth of
/// accounted memory (high = after), per session.
pub fn per_session(high: u64, low: u64, n: usize) -> f64 {
    (high as f64 - low as f64) / n.max(1) as f64
}

/// Opens `n` bare shells (created, started, exec'd and attached, as the server holds them),
/// measures the drop in `MemAvailable`, then removes them.
pub async fn bare_idle(engine: &Engine, n: usize, readings: usize) -> Result<PerSession> {
    let before = settled_available(readings).await?;
    let accounted_before = accounted(None, &[]);
    let shells: Vec<BareShell> = futures_util::stream::iter(0..n)
        .map(|i| async move {
            engine
                .start_shell(&format!("idle-{i}"))
                .await
                .map(|(s, _)| s)
        })
        .buffer_unordered(crate::OPEN_CONCURRENCY)
        .try_collect()
        .await?;
    let after = settled_available(readings).await?;
    let containers: Vec<String> = shells.iter().map(|s| s.container.clone()).collect();
    let accounted_after = accounted(None, &containers);
    engine.remove_shells(shells).await;
    Ok(PerSession {
        n,
        host: per_session(before, after, n),
        accounted: per_session(accounted_after.total(), accounted_before.total(), n),
        parts: accounted_after.growth_per_session(&accounted_before, n),
        server_rss: 0.0,
    })
}
