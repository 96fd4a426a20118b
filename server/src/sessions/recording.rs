//! A recording of a session's first terminal in asciicast v3 (<https://docs.asciinema.org>): a
//! header line, then one JSON array per event, `[seconds since the previous event, code, data]`,
//! with code `o` for output and `r` for a resize (`COLSxROWS`). The visitor's input is never
//! recorded. Bounded: past its size the recording stops, and says so in a last `m` (marker)
//! event. It lives with the session, in the replica that runs it.

use tokio::time::Instant;

use crate::sandbox::TermSize;

/// Room kept for the marker that says the recording stopped.
const MARKER_ROOM: usize = 128;

/// A session's recording so far.
pub struct Recording {
    /// The asciicast text: the header line, then the events, each line ending in `\n`.
    text: String,
    /// The most bytes the text may take.
    max: usize,
    /// When the last event was recorded (or the recording began).
    last: Instant,
    /// Whether the size cap stopped the recording.
    stopped: bool,
    /// The start of a UTF-8 sequence split across two reads, waiting for its end.
    carry: Vec<u8>,
}

impl Recording {
    /// A recording of a terminal of `size`, begun now (`unix_seconds` on the wall clock), of at
    /// most `max` bytes.
    pub fn new(size: TermSize, unix_seconds: u64, max: usize) -> Self {
        let header = serde_json::json!({
            "version": 3,
            "term": { "cols": size.cols, "rows": size.rows, "type": "xterm-256color" },
            "timestamp": unix_seconds,
            "title": "RootResume sandbox",
        });
        Self {
            text: format!("{header}\n"),
            max: max.max(1024),
            last: Instant::now(),
            stopped: false,
            carry: Vec::new(),
        }
    }

    /// Records what the terminal printed. Text is recorded as UTF-8; bytes that are not (a
    /// binary `cat`) become U+FFFD, as a terminal would show them.
    pub fn output(&mut self, bytes: &[u8]) {
        if self.stopped || bytes.is_empty() {
            return;
        }
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(bytes);
        // Keep back the start of a sequence the next read completes.
        let whole = match std::str::from_utf8(&joined) {
            Ok(_) => joined.len(),
            Err(error) if error.error_len().is_none() => error.valid_up_to(),
            Err(_) => joined.len(),
        };
        self.carry = joined.split_off(whole);
        if !joined.is_empty() {
            let text = String::from_utf8_lossy(&joined).into_owned();
            self.event("o", &text);
        }
    }

    /// Records a resize of the terminal.
    pub fn resize(&mut self, size: TermSize) {
        if !self.stopped {
            self.event("r", &format!("{}x{}", size.cols, size.rows));
        }
    }

    /// The recording as a `.cast` file's bytes.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the size cap stopped it.
    #[cfg(test)]
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn event(&mut self, code: &str, data: &str) {
        let now = Instant::now();
        let interval = now.saturating_duration_since(self.last);
        self.last = now;
        // Microseconds, as asciinema writes them.
        let seconds = interval.as_micros() as f64 / 1_000_000.0;
        let line = serde_json::json!([seconds, code, data]).to_string();
        if self.text.len() + line.len() + 1 + MARKER_ROOM > self.max {
            self.stopped = true;
            let marker = serde_json::json!([
                0.0,
                "m",
                format!(
                    "recording stopped: it reached {} KiB, the most a recording keeps",
                    self.max / 1024
                )
            ]);
            self.text.push_str(&format!("{marker}\n"));
            return;
        }
        self.text.push_str(&line);
        self.text.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(recording: &Recording) -> Vec<serde_json::Value> {
        recording
            .text()
            .lines()
            .skip(1)
            .map(|line| serde_json::from_str(line).expect("each event is JSON"))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn events_carry_the_time_since_the_one_before() {
        let mut recording = Recording::new(
            TermSize {
                cols: 100,
                rows: 30,
            },
            1_700_000_000,
            4096,
        );
        tokio::time::advance(std::time::Duration::from_millis(1500)).await;
        recording.output(b"hello\r\n");
        tokio::time::advance(std::time::Duration::from_millis(250)).await;
        recording.resize(TermSize { cols: 80, rows: 24 });
        let header: serde_json::Value =
            serde_json::from_str(recording.text().lines().next().unwrap_or_default())
                .expect("the header is JSON");
        assert_eq!(header["version"], 3);
        assert_eq!(header["term"]["cols"], 100);
        assert_eq!(header["term"]["rows"], 30);
        assert_eq!(
            events(&recording),
            vec![
                serde_json::json!([1.5, "o", "hello\r\n"]),
                serde_json::json!([0.25, "r", "80x24"])
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_character_split_across_reads_is_recorded_whole() {
        let mut recording = Recording::new(TermSize::default(), 0, 4096);
        let e_acute = "é".as_bytes();
        recording.output(&[b'a', e_acute[0]]);
        recording.output(&[e_acute[1], b'b', 0xff]);
        let texts: Vec<String> = events(&recording)
            .iter()
            .map(|event| event[2].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(texts, vec!["a", "éb\u{fffd}"]);
    }

    #[tokio::test(start_paused = true)]
    async fn past_its_size_the_recording_stops_and_says_so() {
        let mut recording = Recording::new(TermSize::default(), 0, 2048);
        for _ in 0..100 {
            recording.output(&[b'x'; 100]);
        }
        assert!(recording.is_stopped());
        assert!(recording.text().len() <= 2048, "{}", recording.text().len());
        let last = events(&recording).pop().unwrap_or_default();
        assert_eq!(last[1], "m");
        assert!(last[2]
            .as_str()
            .unwrap_or_default()
            .contains("recording stopped"));
        let before = recording.text().len();
        recording.output(b"more");
        assert_eq!(recording.text().len(), before, "nothing after the stop");
    }
}
