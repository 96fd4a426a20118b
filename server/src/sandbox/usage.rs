//! What a sandbox uses of its limits, as the engine counts it: the figures behind the panel's
//! resource meter and the abuse watchdog.

use std::collections::HashMap;

use bollard::models::ContainerStatsResponse;

/// A container's use of its resources at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time the container used since it started, in nanoseconds (a rate needs two).
    pub cpu_ns: u64,
    /// Memory in use, in bytes, less the page cache the kernel can drop (as `docker stats`).
    pub memory: u64,
    /// The memory limit, in bytes.
    pub memory_limit: u64,
    /// Processes and threads running.
    pub pids: u64,
    /// The most processes and threads the container may have.
    pub pids_limit: u64,
}

impl Usage {
    /// Reads the engine's one-shot stats. `None` when they lack the CPU or memory figures (a
    /// stopped container, or a runtime that reports none).
    pub fn from_stats(stats: &ContainerStatsResponse) -> Option<Self> {
        let cpu_ns = stats.cpu_stats.as_ref()?.cpu_usage.as_ref()?.total_usage?;
        let memory = stats.memory_stats.as_ref()?;
        let usage = memory.usage?;
        let empty = HashMap::new();
        let counters = memory.stats.as_ref().unwrap_or(&empty);
        // cgroup v2 names it inactive_file, v1 total_inactive_file: what `docker stats` subtracts.
        let cache = counters
            .get("inactive_file")
            .or_else(|| counters.get("total_inactive_file"))
            .copied()
            .unwrap_or(0);
        let pids = stats.pids_stats.as_ref();
        Some(Self {
            cpu_ns,
            memory: usage.saturating_sub(cache),
            memory_limit: memory.limit.unwrap_or(0),
            pids: pids.and_then(|p| p.current).unwrap_or(0),
            pids_limit: pids.and_then(|p| p.limit).unwrap_or(0),
        })
    }

    /// Percent of `cpu_millis` thousandths of a core used between `earlier` and this sample,
    /// `elapsed_ns` apart (100 is the whole quota; a burst may read a little above).
    pub fn cpu_percent_since(&self, earlier: &Usage, elapsed_ns: u64, cpu_millis: u32) -> u32 {
        let used = self.cpu_ns.saturating_sub(earlier.cpu_ns) as u128;
        let allowed = u128::from(elapsed_ns) * u128::from(cpu_millis) / 1000;
        if allowed == 0 {
            return 0;
        }
        u32::try_from(used * 100 / allowed).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats, ContainerPidsStats,
    };

    fn stats(total: u64, usage: u64, inactive: u64) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(total),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(usage),
                limit: Some(128 << 20),
                stats: Some(HashMap::from([("inactive_file".to_owned(), inactive)])),
                ..Default::default()
            }),
            pids_stats: Some(ContainerPidsStats {
                current: Some(3),
                limit: Some(128),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn reads_memory_less_cache_and_processes() {
        let usage = Usage::from_stats(&stats(5, 40 << 20, 8 << 20)).unwrap();
        assert_eq!(usage.memory, 32 << 20);
        assert_eq!(usage.memory_limit, 128 << 20);
        assert_eq!((usage.pids, usage.pids_limit), (3, 128));
        assert_eq!(Usage::from_stats(&ContainerStatsResponse::default()), None);
    }

    #[test]
    fn cpu_is_a_percentage_of_the_quota() {
        let earlier = Usage::from_stats(&stats(1_000_000_000, 1, 0)).unwrap();
        // Half a core for 2 s is 1 s of CPU: a 500-millicore quota, full.
        let later = Usage::from_stats(&stats(2_000_000_000, 1, 0)).unwrap();
        assert_eq!(later.cpu_percent_since(&earlier, 2_000_000_000, 500), 100);
        assert_eq!(later.cpu_percent_since(&earlier, 4_000_000_000, 500), 50);
        assert_eq!(earlier.cpu_percent_since(&later, 2_000_000_000, 500), 0);
        assert_eq!(later.cpu_percent_since(&earlier, 0, 500), 0);
    }
}
