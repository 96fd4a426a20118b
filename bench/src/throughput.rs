//! Output throughput: how fast a flood of shell output reaches the WebSocket client.

use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use crate::term::Shell;

/// One throughput run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Throughput {
    /// Bytes of terminal output received.
    pub bytes: u64,
    /// From sending the command to its end marker.
    pub elapsed: Duration,
}

impl Throughput {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs `head -c {mib}M /dev/zero | base64` in the shell at its prompt and times the output.
pub async fn measure(term: &mut impl Shell, mib: u32) -> Result<Throughput> {
    // The shell expands the marker, so the echoed command line does not end the read early.
    let command = format!("head -c {mib}M /dev/zero | base64; echo BENCH_$((6*7))_DONE\r");
    term.drain_for(Duration::from_millis(200)).await?;
    let started = Instant::now();
    term.send_input(command.as_bytes()).await?;
    let bytes = term
        .read_until(b"BENCH_42_DONE", Duration::from_secs(600))
        .await?;
    Ok(Throughput {
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Ctrl-C during a flood, `repeats` times: `base64 /dev/zero` floods the terminal for half a
/// second, read all the while as a page reads it, then Ctrl-C goes; a sample runs from sending it
/// to the shell's next prompt arriving, the flood's output still in flight read on the way.
pub async fn interrupt(term: &mut impl Shell, repeats: usize) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        term.drain_for(Duration::from_millis(200)).await?;
        term.send_input(b"base64 /dev/zero\r").await?;
        term.drain_for(Duration::from_millis(500)).await?;
        let sent = Instant::now();
        term.send_input(b"\x03").await?;
        term.read_until(crate::term::PROMPT, Duration::from_secs(30))
            .await?;
        samples.push(sent.elapsed());
    }
    Ok(samples)
}

/// [`measure`] `runs` times on the same terminal.
pub async fn measure_runs(term: &mut impl Shell, mib: u32, runs: usize) -> Result<Vec<Throughput>> {
    let mut measured = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        measured.push(measure(term, mib).await?);
    }
    Ok(measured)
}

/// The median run of several (by MB/s): the one that stands for them in the report.
pub fn median(runs: &[Throughput]) -> Throughput {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.mb_per_s().total_cmp(&b.mb_per_s()));
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

/// The slowest and fastest of several runs, MB/s.
pub fn spread(runs: &[Throughput]) -> (f64, f64) {
    let rates = runs.iter().map(Throughput::mb_per_s);
    (
        rates.clone().fold(f64::INFINITY, f64::min),
        rates.fold(0.0, f64::max),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mb: u64) -> Throughput {
        Throughput {
            bytes: mb * 1_000_000,
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_median_run_stands_for_the_runs() {
        let runs = [run(30), run(10), run(20)];
        assert_eq!(median(&runs).mb_per_s(), 20.0);
        assert_eq!(spread(&runs), (10.0, 30.0));
        assert_eq!(median(&[]).bytes, 0);
    }
}
