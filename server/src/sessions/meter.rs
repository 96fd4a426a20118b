//! The panel's resource meter: what a sandbox uses of its CPU, memory, disk and processes,
//! read from the engine every couple of seconds while the panel shows it.
//!
//! Each reading costs one engine operation: the engine's one-shot stats (CPU, memory,
//! processes), except those that measure the home and /tmp with `df` instead (an exec: the
//! engine's stats cannot tell the two tmpfs apart, nor count them apart from the processes'
//! memory): the third, every fifteenth (30 s), and the one after the stats show the memory, which
//! includes the files in the tmpfs, moved by more than 2 MiB since the last `df`. An exec
//! costs the engine several times a stats call (`rootresume-bench --meter` measured `df` every
//! fifth reading at 116 % of a core for 200 tabs), so an idle sandbox's disk is measured rarely
//! and a busy one's as it changes. The CPU rate is the difference of two stats samples, kept here
//! between readings.

use std::time::Duration;

use rootresume_protocol::{Disk, MeterReading};
use tokio::time::Instant;

use super::session::Session;
use super::SessionManager;
use crate::sandbox::{Command, SandboxError, Usage};

/// How often the meter reads while on.
pub const METER_EVERY: Duration = Duration::from_secs(2);
/// Of every this many readings, one measures the disk instead of the stats.
const DISK_EVERY: u32 = 15;
/// How far the memory (files in the tmpfs included) may move before the disk is measured again,
/// in bytes.
const DISK_MOVED: u64 = 2 << 20;
/// How long the disk measurement may take.
const DF_DEADLINE: Duration = Duration::from_secs(5);

/// What the meter keeps between readings of one socket.
#[derive(Debug, Default)]
pub struct MeterState {
    /// Readings taken so far.
    ticks: u32,
    /// The latest stats sample and when it was taken, for the CPU rate.
    last: Option<(Instant, Usage)>,
    /// The latest CPU rate.
    cpu_percent: Option<u16>,
    /// The latest disk measurement.
    disk: Option<Disk>,
    /// The memory the stats showed when the disk was last measured.
    memory_at_disk: Option<u64>,
}

impl SessionManager {
    /// Takes the meter's next reading of `session`'s sandbox; `state` goes in and comes back
    /// (the socket's loop polls this while it goes on streaming).
    pub async fn read_meter(
        &self,
        session: &Session,
        mut state: MeterState,
    ) -> (MeterState, Result<MeterReading, SandboxError>) {
        let Some(container) = session.container() else {
            let gone = SandboxError::ContainerGone {
                detail: "the session has no container".into(),
            };
            return (state, Err(gone));
        };
        let tick = state.ticks;
        state.ticks = state.ticks.wrapping_add(1);
        // The disk on the third reading (the CPU rate is known by then), every fifteenth, and
        // when the memory (where the tmpfs files are) grew or shrank.
        let memory = state.last.map(|(_, usage)| usage.memory);
        let moved = match (memory, state.memory_at_disk) {
            (Some(now), Some(then)) => now.abs_diff(then) > DISK_MOVED,
            _ => false,
        };
        let measured = if tick % DISK_EVERY == 2 || moved {
            self.measure_disk(&container).await.map(|disk| {
                state.disk = Some(disk);
                state.memory_at_disk = memory;
            })
        } else {
            self.sandbox.usage(&container).await.map(|usage| {
                let now = Instant::now();
                if let Some((then, earlier)) = state.last {
                    let elapsed = u64::try_from((now - then).as_nanos()).unwrap_or(u64::MAX);
                    let percent =
                        usage.cpu_percent_since(&earlier, elapsed, self.limits.cpu_millis);
                    state.cpu_percent = Some(u16::try_from(percent).unwrap_or(u16::MAX - 1));
                }
                state.last = Some((now, usage));
            })
        };
        let reading = measured.map(|()| {
            let usage = state.last.map(|(_, usage)| usage).unwrap_or_default();
            MeterReading {
                cpu_percent: state.cpu_percent,
                memory: usage.memory,
                memory_limit: usage.memory_limit,
                disk: state.disk,
                processes: u32::try_from(usage.pids).unwrap_or(u32::MAX),
                processes_limit: u32::try_from(usage.pids_limit).unwrap_or(u32::MAX),
            }
        });
        (state, reading)
    }

    /// The home's and /tmp's use and size, from `df` in the sandbox.
    async fn measure_disk(
        &self,
        container: &crate::sandbox::ContainerId,
    ) -> Result<Disk, SandboxError> {
        let argv = [
            "df",
            "-B1",
            "--output=used,size",
            &self.limits.home_dir,
            "/tmp",
        ];
        let mut command = Command::new(argv.map(String::from).to_vec(), DF_DEADLINE);
        command.keep_stderr = false;
        command.max_output = 512;
        let output = self.sandbox.run_command(container, &command).await?;
        parse_df(&String::from_utf8_lossy(&output.output)).ok_or(SandboxError::Engine {
            action: "measure the sandbox's disk",
            detail: "df printed something unexpected".into(),
        })
    }
}

/// Reads `df -B1 --output=used,size HOME /tmp`: a header, then used and size per place.
fn parse_df(text: &str) -> Option<Disk> {
    let mut rows = text.lines().skip(1).map(|line| {
        let mut figures = line.split_whitespace().map(|word| word.parse::<u64>().ok());
        Some((figures.next()??, figures.next()??))
    });
    let (home_used, home_size) = rows.next()??;
    let (tmp_used, tmp_size) = rows.next()??;
    Some(Disk {
        home_used,
        home_size,
        tmp_used,
        tmp_size,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_df;

    #[test]
    fn reads_df_for_the_home_and_tmp() {
        let text = "     Used 1B-blocks\n    12288  52428800\n 20971520  52428800\n";
        let disk = parse_df(text).unwrap();
        assert_eq!((disk.home_used, disk.home_size), (12288, 52428800));
        assert_eq!((disk.tmp_used, disk.tmp_size), (20971520, 52428800));
        assert_eq!(parse_df("Used 1B-blocks\n12 34\n"), None);
        assert_eq!(parse_df("df: /tmp: No such file or directory\n"), None);
    }
}
