//! One shell of a session: its pty's input and output, and the tab attached to it.
//!
//! A session starts with one terminal, the container's own shell (number 0), and may open more
//! beside it ([`crate::sessions::SessionManager::open_terminal`]), each its own shell with its
//! own size in the same container.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::output::OutputLog;
use super::recording::Recording;
use crate::sandbox::{ShellId, TermSize};

/// How long one write of a visitor's input may wait for the shell to take it.
pub const INPUT_TIMEOUT: Duration = Duration::from_secs(5);

/// A shell's pty input.
type Input = Pin<Box<dyn AsyncWrite + Send>>;

/// One shell of a session and who is attached to it.
pub struct Terminal {
    /// Its number in the session: 0 for the first (the container's own shell), then 1, 2… in
    /// the order opened, never reused, so a stale tab never reaches another shell.
    pub number: u8,
    /// The shell's output, replayable.
    pub output: OutputLog,
    /// The shell's input, once it runs. An async lock, held across one write (bounded by
    /// [`INPUT_TIMEOUT`]).
    input: tokio::sync::Mutex<Option<Input>>,
    /// Until when input is dropped because the shell stopped reading it.
    stalled_until: Mutex<Instant>,
    /// The engine's id of the shell, for resizes.
    shell: OnceLock<ShellId>,
    /// The pty's size, as last set: spectators' screens take it.
    size: watch::Sender<TermSize>,
    /// The attachment that currently owns the terminal; 0 when none.
    owner: watch::Sender<u64>,
    /// The generation the next attachment gets (1 for the first: 2 and up are reattaches).
    next_attachment: AtomicU64,
    /// Cancelled to close this terminal (its tab was closed); the first one ends with its
    /// session instead.
    pub close: CancellationToken,
    /// Its recording, for the first terminal when recordings are on. Each update is one
    /// append, under a plain lock.
    recording: OnceLock<Mutex<Recording>>,
}

/// A browser's claim on a terminal, from [`Terminal::attach`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachment {
    /// Identifies this attachment among all of the terminal's.
    pub generation: u64,
    /// Where in the output this attachment starts reading.
    pub cursor: u64,
    /// Whether a browser had attached before (so this is a reattach).
    pub resumed: bool,
}

impl Terminal {
    /// Terminal `number`, keeping `output_capacity` bytes of output for a reattach; its shell
    /// comes with [`Terminal::set_shell`].
    pub fn new(number: u8, output_capacity: usize) -> Self {
        Self {
            number,
            output: OutputLog::new(output_capacity),
            input: tokio::sync::Mutex::new(None),
            stalled_until: Mutex::new(Instant::now()),
            shell: OnceLock::new(),
            size: watch::channel(TermSize::default()).0,
            owner: watch::channel(0).0,
            next_attachment: AtomicU64::new(1),
            close: CancellationToken::new(),
            recording: OnceLock::new(),
        }
    }

    /// Records this terminal from now on (asciicast v3, at most `max` bytes; 0 records nothing).
    pub(super) fn start_recording(&self, max: usize) {
        if max > 0 {
            let unix = crate::store::now_ms() / 1000;
            let _ = self
                .recording
                .set(Mutex::new(Recording::new(TermSize::default(), unix, max)));
        }
    }

    /// Adds what the shell printed to the output (and the recording).
    pub(super) async fn push(&self, bytes: &[u8]) {
        self.output.push(bytes).await;
        if let Some(recording) = self.recording.get() {
            lock(recording).output(bytes);
        }
    }

    /// Notes a resize the shell's pty took: in the recording, and for spectators.
    pub(super) fn record_resize(&self, size: TermSize) {
        self.size.send_replace(size);
        if let Some(recording) = self.recording.get() {
            lock(recording).resize(size);
        }
    }

    /// The recording so far, as a `.cast` file's text; `None` when this terminal is not
    /// recorded.
    pub fn recording(&self) -> Option<String> {
        self.recording
            .get()
            .map(|recording| lock(recording).text().to_owned())
    }

    /// Connects the running shell.
    pub(super) async fn set_shell(&self, id: ShellId, input: Input) {
        *self.input.lock().await = Some(input);
        let _ = self.shell.set(id);
    }

    /// The running shell's id, once it started.
    pub fn shell_id(&self) -> Option<&ShellId> {
        self.shell.get()
    }

    /// Marks the next attachment as a reattach (a takeover: a tab attached elsewhere before).
    pub(super) fn set_resumed(&self) {
        self.next_attachment.store(2, Ordering::Relaxed);
    }

    /// Writes keystrokes to the shell, giving up after [`INPUT_TIMEOUT`] (a shell that reads
    /// nothing while the tab pastes megabytes must not hold the socket, or the lock, forever).
    /// After a write gave up, input is dropped at once for `INPUT_TIMEOUT` instead of each
    /// frame of the paste waiting again.
    pub(super) async fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        if *self.stalled() > Instant::now() {
            return Err(not_reading());
        }
        let write = async {
            let mut input = self.input.lock().await;
            let Some(writer) = input.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the shell is not running",
                ));
            };
            writer.write_all(bytes).await?;
            writer.flush().await
        };
        match tokio::time::timeout(INPUT_TIMEOUT, write).await {
            Ok(written) => written,
            Err(_) => {
                *self.stalled() = Instant::now() + INPUT_TIMEOUT;
                Err(not_reading())
            }
        }
    }

    /// Drops the shell's input: an exec'd shell gets end-of-file and exits.
    pub(super) async fn hang_up(&self) {
        self.input.lock().await.take();
    }

    fn stalled(&self) -> std::sync::MutexGuard<'_, Instant> {
        // One assignment at a time: a poisoned lock still holds a consistent instant.
        self.stalled_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a browser has ever attached to this terminal (or to the session it was taken
    /// over from).
    pub fn was_attached(&self) -> bool {
        self.next_attachment.load(Ordering::Relaxed) > 1
    }

    /// Makes a new browser connection the terminal's owner; an earlier one is displaced.
    pub fn attach(&self) -> Attachment {
        let generation = self.next_attachment.fetch_add(1, Ordering::Relaxed);
        let resumed = generation > 1;
        let cursor = self.output.attach(generation);
        self.owner.send_replace(generation);
        Attachment {
            generation,
            cursor,
            resumed,
        }
    }

    /// Ends an attachment, if it still owns the terminal.
    pub fn detach(&self, generation: u64) {
        let released = self.owner.send_if_modified(|owner| {
            let owns = *owner == generation;
            if owns {
                *owner = 0;
            }
            owns
        });
        if released {
            self.output.detach(generation);
        }
    }

    /// Watches the pty's size.
    pub fn watch_size(&self) -> watch::Receiver<TermSize> {
        self.size.subscribe()
    }

    /// Watches which attachment owns the terminal (0 when none).
    pub fn owner(&self) -> watch::Receiver<u64> {
        self.owner.subscribe()
    }
}

/// Locks a recording: each update is one append, so a poisoned lock still holds a whole one.
fn lock(recording: &Mutex<Recording>) -> std::sync::MutexGuard<'_, Recording> {
    recording
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn not_reading() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the shell is not reading its input; input dropped",
    )
}
