//! A session's terminal output: a bounded log that one reader follows, with replay.
//!
//! The shell's output goes into a ring of the most recent bytes. While a browser is attached, the
//! shell is slowed to the browser's pace (the writer waits when the reader is a full ring behind),
//! so nothing is lost and memory stays bounded. While no browser is attached, the oldest bytes
//! are dropped, and a browser that attaches again is replayed what the ring still holds.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// Bounded, replayable output of one shell.
pub struct OutputLog {
    state: Mutex<LogState>,
    changed: Notify,
    capacity: usize,
}

struct LogState {
    buf: VecDeque<u8>,
    /// Position (in bytes since the shell started) of `buf[0]`.
    start: u64,
    /// The attached reader, if one is: its generation (which attachment it is) and the
    /// position up to which it has read. Only that generation's reads move it, so a displaced
    /// reader still draining cannot pose as the new one.
    reader: Option<(u64, u64)>,
    closed: bool,
}

impl LogState {
    fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Appends `bytes`, dropping the oldest bytes past `capacity`. The oldest bytes go first and
    /// the ring grows only as far as it must (never past `capacity`): an idle shell's few hundred
    /// bytes of prompt cost a few hundred bytes, not the whole ring.
    fn append(&mut self, bytes: &[u8], capacity: usize) {
        // Whatever does not fit is dropped from the front: first the ring's oldest bytes, then,
        // for a chunk larger than the ring, the chunk's own first bytes.
        let excess = (self.buf.len() + bytes.len()).saturating_sub(capacity);
        let from_ring = excess.min(self.buf.len());
        self.buf.drain(..from_ring);
        let bytes = &bytes[excess - from_ring..];
        self.start += excess as u64;
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            // Double as a Vec would, but stop at the ring's size instead of overshooting it.
            let target = needed.max(self.buf.capacity() * 2).min(capacity);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend(bytes);
    }

    /// Copies `len` bytes starting `offset` bytes into the ring, slice by slice.
    fn copy_out(&self, offset: usize, len: usize) -> Vec<u8> {
        let (front, back) = self.buf.as_slices();
        let mut chunk = Vec::with_capacity(len);
        if offset < front.len() {
            chunk.extend_from_slice(&front[offset..front.len().min(offset + len)]);
        }
        let from_back = offset.saturating_sub(front.len());
        chunk.extend_from_slice(&back[from_back..from_back + (len - chunk.len())]);
        chunk
    }
}

impl OutputLog {
    /// A log keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(LogState {
                buf: VecDeque::new(),
                start: 0,
                reader: None,
                closed: false,
            }),
            changed: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A panic while holding this lock cannot leave the ring inconsistent (every update is a
        // single push/drain), so a poisoned lock is still safe to use.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends shell output, waiting while an attached reader is a full ring behind. A chunk
    /// larger than the ring goes in ring-sized pieces, each waiting for the reader, so an
    /// attached reader loses nothing whatever the ring's size.
    pub async fn push(&self, bytes: &[u8]) {
        for piece in bytes.chunks(self.capacity) {
            self.push_piece(piece).await;
        }
    }

    async fn push_piece(&self, bytes: &[u8]) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                let lag = state
                    .reader
                    .map_or(0, |(_, at)| state.end().saturating_sub(at));
                if lag == 0 || lag as usize + bytes.len() <= self.capacity || state.closed {
                    state.append(bytes, self.capacity);
                    drop(state);
                    self.changed.notify_waiters();
                    return;
                }
            }
            notified.await;
        }
    }

    /// Marks the end of output: readers get what is left, then `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_waiters();
    }

    /// Makes attachment `generation` the attached reader and returns its cursor: the oldest
    /// byte still held, so the new reader is replayed the recent screen.
    pub fn attach(&self, generation: u64) -> u64 {
        let mut state = self.lock();
        let cursor = state.start;
        state.reader = Some((generation, cursor));
        drop(state);
        self.changed.notify_waiters();
        cursor
    }

    /// Everything the ring holds and the position just past it: what a takeover replays. The
    /// position tells a caller saving it periodically whether anything changed since.
    pub fn snapshot(&self) -> (u64, Vec<u8>) {
        let state = self.lock();
        (state.end(), state.copy_out(0, state.buf.len()))
    }

    /// The last `max` bytes held, and whether they are all the shell ever wrote (nothing was
    /// dropped from the front).
    pub fn tail(&self, max: usize) -> (Vec<u8>, bool) {
        let state = self.lock();
        let len = state.buf.len().min(max);
        let whole = state.start == 0 && len == state.buf.len();
        (state.copy_out(state.buf.len() - len, len), whole)
    }

    /// The bytes held past position `from` (all that is held, if `from` was dropped already).
    pub fn since(&self, from: u64) -> Vec<u8> {
        let state = self.lock();
        let skip = usize::try_from(from.saturating_sub(state.start))
            .unwrap_or(usize::MAX)
            .min(state.buf.len());
        state.copy_out(skip, state.buf.len() - skip)
    }

    /// Waits until the output goes past position `end`, or the log is closed.
    pub async fn grown(&self, end: u64) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let state = self.lock();
                if state.end() > end || state.closed {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Where the output ends now (bytes since the shell started).
    pub fn end(&self) -> u64 {
        self.lock().end()
    }

    /// Detaches attachment `generation`, if it is the attached reader; the writer then waits
    /// for no one.
    pub fn detach(&self, generation: u64) {
        let mut state = self.lock();
        if state
            .reader
            .is_some_and(|(attached, _)| attached == generation)
        {
            state.reader = None;
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Waits for output past `cursor` and returns up to `max` bytes of it, advancing the cursor.
    /// Returns `None` once the log is closed and everything was read. Cancel-safe: the cursor
    /// only moves when bytes are returned.
    pub async fn read(&self, generation: u64, cursor: &mut u64, max: usize) -> Option<Vec<u8>> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                // A reader that fell behind while detached skips what the ring no longer holds.
                let from = (*cursor).max(state.start);
                if from < state.end() {
                    let offset = (from - state.start) as usize;
                    let len = (state.buf.len() - offset).min(max.max(1));
                    let chunk = state.copy_out(offset, len);
                    *cursor = from + len as u64;
                    if state
                        .reader
                        .is_some_and(|(attached, _)| attached == generation)
                    {
                        state.reader = Some((generation, *cursor));
                    }
                    drop(state);
                    self.changed.notify_waiters();
                    return Some(chunk);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_displaced_reader_cannot_move_the_new_readers_place() {
        let log = OutputLog::new(4);
        let mut old = log.attach(1);
        let mut new = log.attach(2);
        log.push(b"abcd").await;
        // The displaced reader drains what is there; the writer must still wait for reader 2.
        assert_eq!(
            log.read(1, &mut old, 100).await.as_deref(),
            Some(&b"abcd"[..])
        );
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(50), log.push(b"e"));
        assert!(
            blocked.await.is_err(),
            "the writer followed the displaced reader"
        );
        log.detach(1);
        assert_eq!(
            log.read(2, &mut new, 100).await.as_deref(),
            Some(&b"abcd"[..])
        );
    }

    #[tokio::test]
    async fn an_attached_reader_gets_a_chunk_larger_than_the_ring_whole() {
        let log = Arc::new(OutputLog::new(4));
        let mut cursor = log.attach(1);
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                log.push(b"0123456789").await;
                log.close();
            })
        };
        let mut got = Vec::new();
        while let Some(chunk) = log.read(1, &mut cursor, 100).await {
            got.extend(chunk);
        }
        writer.await.unwrap();
        assert_eq!(got, b"0123456789");
    }

    #[tokio::test]
    async fn detached_log_keeps_only_the_newest_bytes() {
        let log = OutputLog::new(4);
        log.push(b"abcdef").await;
        let mut cursor = log.attach(1);
        assert_eq!(
            log.read(1, &mut cursor, 100).await.as_deref(),
            Some(&b"cdef"[..])
        );
    }

    #[tokio::test]
    async fn ring_wraps_and_never_grows_past_its_size() {
        let log = OutputLog::new(8);
        log.push(b"abcdef").await;
        log.push(b"ghij").await;
        log.push(b"kl").await;
        assert!(log.lock().buf.capacity() <= 8);
        let mut cursor = log.attach(1);
        assert_eq!(cursor, 4);
        assert_eq!(
            log.read(1, &mut cursor, 100).await.as_deref(),
            Some(&b"efghijkl"[..])
        );
        assert_eq!(cursor, 12);
    }

    #[tokio::test]
    async fn idle_shell_output_takes_only_its_size() {
        let log = OutputLog::new(64 * 1024);
        log.push(&[b'$'; 200]).await;
        assert!(log.lock().buf.capacity() < 1024);
    }

    #[tokio::test]
    async fn reader_gets_everything_in_order_under_backpressure() {
        let log = Arc::new(OutputLog::new(8));
        let mut cursor = log.attach(1);
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..100u8 {
                    log.push(&[i, i]).await;
                }
                log.close();
            })
        };
        let mut seen = Vec::new();
        while let Some(chunk) = log.read(1, &mut cursor, 3).await {
            seen.extend(chunk);
        }
        writer.await.unwrap();
        let expected: Vec<u8> = (0..100u8).flat_map(|i| [i, i]).collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn writer_waits_for_a_lagging_reader() {
        let log = Arc::new(OutputLog::new(4));
        let mut cursor = log.attach(1);
        log.push(b"1234").await;
        let blocked = {
            let log = log.clone();
            tokio::spawn(async move { log.push(b"5").await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !blocked.is_finished(),
            "writer must wait while the reader is a ring behind"
        );
        assert_eq!(
            log.read(1, &mut cursor, 2).await.as_deref(),
            Some(&b"12"[..])
        );
        tokio::time::timeout(Duration::from_secs(1), blocked)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn closed_log_ends_reads_after_draining() {
        let log = OutputLog::new(16);
        let mut cursor = log.attach(1);
        log.push(b"bye").await;
        log.close();
        assert_eq!(
            log.read(1, &mut cursor, 16).await.as_deref(),
            Some(&b"bye"[..])
        );
        assert_eq!(log.read(1, &mut cursor, 16).await, None);
    }
}
