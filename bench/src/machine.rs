//! The machine the figures come from, for the report.

use std::fmt::Write;

/// A description of the host.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// When the run started (UTC, from `date -u`).
    pub date: String,
    /// CPU model.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Total memory, bytes.
    pub memory: u64,
    /// Kernel release.
    pub kernel: String,
    /// Docker engine version and storage driver.
    pub docker: String,
}

impl Machine {
    /// Reads the host's description; `docker` is the engine's own description.
    pub fn describe(docker: String) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown".to_owned(), |(_, v)| v.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let date = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Self {
            date,
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory: crate::server::kib_field(&meminfo, "MemTotal:").unwrap_or(0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            docker,
        }
    }

    /// A markdown list.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let gib = self.memory as f64 / (1u64 << 30) as f64;
        let _ = writeln!(md, "- CPU: {} × {}", self.cores, self.cpu);
        let _ = writeln!(md, "- Memory: {gib:.1} GiB");
        let _ = writeln!(md, "- Kernel: Linux {}", self.kernel);
        let _ = writeln!(md, "- Docker engine: {}", self.docker);
        let _ = writeln!(
            md,
            "- Shared with other work: figures are from one run, not a quiet lab machine."
        );
        md
    }
}
