//! The task that owns one session's container, from creation (or adoption, or the pool) to
//! removal, and the conditions that end a session.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use rootresume_protocol::EndReason;
use tokio::time::Instant;

use super::guard::ContainerGuard;
use super::live::LiveTable;
use super::session::{Session, SessionState};
use super::terminal::Terminal;
use crate::metrics::Metrics;
use crate::sandbox::{
    ContainerId, ContainerSpec, Sandbox, SandboxError, SandboxLimits, ShellId, TermSize,
};
use crate::store::{ms_from_now, SessionStore};

/// The longest creating a container, or attaching to its shell, may take before the session is
/// reported failed: a session never stays starting forever.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

fn too_slow(action: &'static str) -> SandboxError {
    SandboxError::Engine {
        action,
        detail: format!("no answer within {} s", START_DEADLINE.as_secs()),
    }
}

/// How far the idle deadline must move before the record is rewritten with it.
const IDLE_WRITE_EVERY: Duration = Duration::from_secs(30);

/// How often, at most, a session's screen is written to a shared store for a takeover.
const SCREEN_EVERY: Duration = Duration::from_secs(1);

/// Why the supervisor stops streaming.
enum Stop {
    /// The session is over: its container goes.
    End(EndReason),
    /// Another replica takes it over (or the server stops and keeps containers): the container
    /// stays, the lease is released.
    Handover,
}

/// Writes the owner proof on a session's container in the background, once the container and
/// the visitor are both known (a pooled container gets its visitor after it was made). Off the
/// visitor's path: if it fails, only the adoption of this session after a restart is lost.
pub(super) fn write_owner(
    sandbox: &Arc<dyn Sandbox>,
    tasks: &tokio_util::task::TaskTracker,
    session: &Session,
) {
    let Some((container, proof)) = session.owner_to_write() else {
        return;
    };
    let (sandbox, hash, tag) = (sandbox.clone(), session.hash.clone(), session.tag());
    tasks.spawn(async move {
        if let Err(error) = sandbox.set_owner(&container, &hash, &proof).await {
            tracing::warn!(session = %tag, %error, "could not write the owner on a pooled container; it will not be adopted after a restart");
        }
    });
}

/// The task that owns one session's container from creation to removal.
pub(super) struct Supervisor {
    pub(super) session: Arc<Session>,
    pub(super) sandbox: Arc<dyn Sandbox>,
    /// This replica's live sessions, which the session leaves when the supervisor ends.
    pub(super) live: Arc<LiveTable>,
    /// The session's record, lease and slot.
    pub(super) store: Arc<dyn SessionStore>,
    pub(super) grace: Duration,
    /// Lifetime written on the container's labels (a pooled one also waits in the pool).
    pub(super) lifetime: Duration,
    /// How long a pooled session may wait unclaimed; `None` for a visitor's session.
    pub(super) pool_ttl: Option<Duration>,
    pub(super) limits: SandboxLimits,
    /// What the abuse watchdog stops.
    pub(super) abuse: crate::config::AbuseSettings,
    /// Leave a visitor's container running when the server shuts down, for re-adoption.
    pub(super) keep_on_shutdown: bool,
    pub(super) metrics: Arc<Metrics>,
    /// The manager's tasks, which a dropped container guard's removal joins.
    pub(super) tasks: tokio_util::task::TaskTracker,
}

impl Supervisor {
    /// Why a session whose shell stream ended is over. A stream that ended cleanly may still
    /// mean the sandbox was killed or its engine stopped (which closes every stream): the
    /// engine is asked, and only an exit code below 128 counts as the shell exiting.
    async fn why_it_ended(&self, ended: EndReason, container: &ContainerId) -> EndReason {
        if ended != EndReason::ShellExited {
            return ended;
        }
        match self.sandbox.exit_code(container).await {
            Ok(Some(code)) if !(0..128).contains(&code) => {
                // Said in the log: a shell killed by a signal is otherwise hard to tell from a
                // sandbox that died.
                tracing::info!(code, "the shell was ended by a signal or its sandbox died");
                EndReason::ContainerGone
            }
            Err(SandboxError::EngineUnreachable { .. } | SandboxError::ContainerGone { .. }) => {
                EndReason::ContainerGone
            }
            _ => EndReason::ShellExited,
        }
    }

    pub(super) async fn run(self, existing: Option<ContainerId>) {
        let lifetime = self.lifetime + self.pool_ttl.unwrap_or_default();
        let spec = ContainerSpec::new(&self.session.hash, lifetime, self.limits.clone())
            .owned_by(self.session.owner_proof());
        let fresh = existing.is_none();
        if !fresh || spec.owner.is_some() {
            // An adopted or taken-over container has its name already.
            self.session.owner_is_written();
        }
        let create = async {
            match existing {
                Some(container) => Ok(container),
                None => self.sandbox.create(&spec).await,
            }
        };
        // Never cancelled midway: a creation dropped after the engine made the container but
        // before we learn its id would leak it. It is short; cancellation is honoured next. An
        // engine that never answers is given up on after START_DEADLINE (what it made then
        // carries our labels and no record: the sweep removes it).
        let created = tokio::time::timeout(START_DEADLINE, create)
            .await
            .unwrap_or_else(|_| Err(too_slow("create a container")));
        let guard = match created {
            Ok(container) => {
                ContainerGuard::new(self.sandbox.clone(), container).tracked_by(&self.tasks)
            }
            Err(error) => return self.fail(error).await,
        };
        if let Some(container) = guard.id() {
            self.session.set_container(container.clone());
            // A pooled session handed out while its container was being created.
            write_owner(&self.sandbox, &self.tasks, &self.session);
            if fresh {
                self.record_container(container).await;
            }
        }
        if self.session.cancel.is_cancelled() {
            return self.end(self.session.cancel_reason(), guard).await;
        }
        let Some(container) = guard.id().cloned() else {
            return;
        };
        let size = TermSize::default();
        let open = tokio::time::timeout(START_DEADLINE, self.sandbox.open_shell(&container, size));
        let opened = tokio::select! {
            opened = open => opened.unwrap_or_else(|_| Err(too_slow("attach to the shell"))),
            () = self.session.cancel.cancelled() => {
                return self.end(self.session.cancel_reason(), guard).await;
            }
        };
        let shell = match opened {
            Ok(shell) => shell,
            Err(error) => {
                self.remove(guard).await;
                return self.fail(error).await;
            }
        };
        if !fresh {
            redraw(&*self.sandbox, &shell.id, size).await;
        }
        self.session.main().set_shell(shell.id, shell.input).await;
        self.session.set_state(SessionState::Running);
        tracing::info!(container = %container.0, "session started");

        let mut output = shell.output;
        let stop = tokio::select! {
            reason = pump(&mut output, self.session.main()) => {
                Stop::End(self.why_it_ended(reason, &container).await)
            }
            () = self.session.cancel.cancelled() => Stop::End(self.session.cancel_reason()),
            () = self.session.handover.cancelled() => Stop::Handover,
            () = self.keep_screen() => Stop::Handover,
            () = unclaimed(&self.session, self.pool_ttl) => Stop::End(EndReason::Expired),
            () = expired(&self.session) => Stop::End(EndReason::Expired),
            () = idle(&self.session) => Stop::End(EndReason::Idle),
            () = abandoned(&self.session, self.grace) => Stop::End(EndReason::Abandoned),
            never = super::watchdog::watch(
                &*self.sandbox,
                &self.session,
                &container,
                &self.abuse,
                self.limits.cpu_millis,
                &self.metrics,
            ) => match never {},
        };
        match stop {
            Stop::End(EndReason::ServerShutdown)
                if self.keep_on_shutdown && self.session.is_claimed() =>
            {
                tracing::info!("server shutting down; container left for the next process");
                self.suspend(guard, SessionState::Suspended).await;
            }
            Stop::End(reason) => {
                tracing::info!(?reason, "session ended");
                self.end(reason, guard).await;
            }
            Stop::Handover => {
                tracing::info!("another server takes this session over");
                drain(&mut output, self.session.main()).await;
                self.suspend(guard, SessionState::HandedOver).await;
            }
        }
    }

    /// Writes the recent screen to a shared store at most every [`SCREEN_EVERY`] while it
    /// changes, for a takeover to replay. Completes only when the lease turns out lost.
    async fn keep_screen(&self) {
        if !self.store.is_shared() {
            return std::future::pending().await;
        }
        let mut saved = 0;
        let mut idle_written = self.session.idle_deadline();
        loop {
            tokio::time::sleep(SCREEN_EVERY).await;
            // The idle deadline, for a takeover to continue the clock: written when typing
            // moved it by a while, not on every keystroke.
            if self.session.idle_deadline() >= idle_written + IDLE_WRITE_EVERY {
                idle_written = self.session.idle_deadline();
                if let (Some(lease), Some(container)) =
                    (self.session.lease(), self.session.container())
                {
                    let record = self
                        .session
                        .record(self.sandbox.engine_of(&container), &container);
                    if let Ok(false) = self.store.update(&record, &lease).await {
                        return;
                    }
                }
            }
            if self.session.main().output.end() == saved {
                continue;
            }
            if self.save_screen().await == Some(false) {
                return;
            }
            saved = self.session.main().output.end();
        }
    }

    /// Saves the screen; `Some(false)` when the lease is no longer this replica's.
    async fn save_screen(&self) -> Option<bool> {
        let lease = self.session.lease()?;
        let (_, screen) = self.session.main().output.snapshot();
        let until = ms_from_now(
            self.session
                .expires_at()
                .saturating_duration_since(Instant::now()),
        );
        match self
            .store
            .save_screen(&self.session.hash, &lease, &screen, until)
            .await
        {
            Ok(current) => Some(current),
            Err(error) => {
                tracing::debug!(%error, "could not save the screen");
                None
            }
        }
    }

    /// Records the container in the session's record, so any replica can find it.
    async fn record_container(&self, container: &ContainerId) {
        let Some(lease) = self.session.lease() else {
            return;
        };
        let record = self
            .session
            .record(self.sandbox.engine_of(container), container);
        if let Err(error) = self.store.update(&record, &lease).await {
            tracing::warn!(%error, "could not record the container; a takeover cannot find it");
        }
    }

    /// Gives the session up as it is: the store loses this replica's lease, the container stays.
    /// Returns whether this replica still held the lease, so the caller may remove things.
    async fn finish_record(&self) -> bool {
        let Some(lease) = self.session.lease() else {
            return true;
        };
        match self.store.finish(&self.session.hash, &lease).await {
            Ok(held) => held,
            Err(error) => {
                // Without the store we cannot know; the lease was ours when last seen, and a
                // container left running would leak. The record lapses at the session's end.
                tracing::warn!(%error, "could not end the session's record; removing anyway");
                true
            }
        }
    }

    async fn release_slot(&self) {
        let client = self.session.client_key();
        if let Err(error) = self
            .store
            .release_slot(&self.session.hash, client.as_ref())
            .await
        {
            tracing::warn!(%error, "could not free the session's slot; it lapses at the session's end");
        }
    }

    /// Records why the session could not start and keeps it findable for the grace period, so
    /// the tab that connects next is told why instead of being told the session is unknown.
    async fn fail(&self, error: SandboxError) {
        tracing::warn!(%error, "session could not start");
        self.session.set_state(SessionState::Failed(error));
        self.session.main().output.close();
        tokio::select! {
            () = tokio::time::sleep(self.grace) => {}
            () = self.session.cancel.cancelled() => {}
        }
        if self.finish_record().await {
            self.release_slot().await;
        }
        self.live.remove(&self.session);
    }

    /// Tells attached tabs why the session ended, removes the container, then forgets the
    /// session — only once its container is gone, so the reaper never mistakes a container
    /// being removed for an orphan.
    async fn end(&self, reason: EndReason, guard: ContainerGuard) {
        if self.session.is_claimed() {
            self.metrics.session_ended(reason);
        }
        self.session.set_state(SessionState::Ended(reason));
        self.session.main().output.close();
        if self.finish_record().await {
            self.remove(guard).await;
            self.release_slot().await;
        } else {
            tracing::info!("another server holds this session now; its container stays");
            guard.release();
        }
        self.live.remove(&self.session);
    }

    /// Lets go of the container without removing it: saves the screen, releases the lease and
    /// tells attached tabs to reconnect (to whichever replica takes the session over).
    async fn suspend(&self, guard: ContainerGuard, state: SessionState) {
        self.save_screen().await;
        if let Some(lease) = self.session.lease() {
            if let Err(error) = self.store.release_lease(&self.session.hash, &lease).await {
                tracing::debug!(%error, "could not release the lease; it lapses with this replica's heartbeat");
            }
        }
        self.session.set_state(state);
        self.session.main().output.close();
        guard.release();
        self.live.remove(&self.session);
    }

    async fn remove(&self, guard: ContainerGuard) {
        if let Err(error) = guard.shutdown().await {
            tracing::warn!(%error, "container removal failed; the reaper will retry");
        }
    }
}

/// The longest a handover keeps reading the shell before letting go.
const DRAIN_FOR: Duration = Duration::from_secs(1);
/// A handover stops reading once the shell has been quiet this long.
const DRAIN_QUIET: Duration = Duration::from_millis(150);

/// Reads what the shell is still printing before a handover, so the screen saved for the next
/// replica has it (a prompt printed a moment ago would otherwise be lost between the two
/// attaches): until it is quiet, at most [`DRAIN_FOR`], waiting longer for a first byte when
/// nothing was printed yet.
async fn drain(output: &mut BoxStream<'static, Result<Bytes, SandboxError>>, terminal: &Terminal) {
    let reading = async {
        loop {
            let quiet = if terminal.output.end() == 0 {
                DRAIN_FOR
            } else {
                DRAIN_QUIET
            };
            match tokio::time::timeout(quiet, output.next()).await {
                Ok(Some(Ok(bytes))) => terminal.push(&bytes).await,
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_FOR, reading).await;
}

/// Has the shell draw its prompt line again, through two resizes (each a SIGWINCH, on which
/// readline clears the line and prints the prompt and what was typed). For a shell another
/// replica (or process) held: what it printed while nobody was attached — between the old
/// holder's last read and this attach, or since a replica died — is lost, and when that was
/// the prompt the visitor would face a blank line. A same-size resize sends no signal, hence
/// the step through a size one row taller. A failure only costs the redraw.
async fn redraw(sandbox: &dyn Sandbox, shell: &ShellId, size: TermSize) {
    let taller = TermSize {
        rows: size.rows.saturating_add(1),
        ..size
    };
    for step in [taller, size] {
        if let Err(error) = sandbox.resize_shell(shell, step).await {
            tracing::debug!(%error, "could not have the shell redraw its prompt");
            return;
        }
    }
}

/// A chunk of output at least this large comes from a flood (a key's echo, a prompt or a short
/// answer are smaller): the next read waits [`FLOOD_GATHER`] for more to gather.
const FLOOD_CHUNK: usize = 2048;
/// A chunk this large already gathered enough: the next read goes at once, so the wait never
/// caps a flood's rate.
const GATHERED_CHUNK: usize = 16 * 1024;
/// How long the output of a flood gathers between reads.
const FLOOD_GATHER: Duration = Duration::from_millis(1);

/// Copies the shell's output into the session's log until it ends: `ShellExited` when the stream ends,
/// `ContainerGone` when it breaks (the engine went away or cut the connection), so the visitor is
/// told what happened.
pub(super) async fn pump(
    output: &mut BoxStream<'static, Result<Bytes, SandboxError>>,
    terminal: &Terminal,
) -> EndReason {
    while let Some(chunk) = output.next().await {
        match chunk {
            Ok(bytes) => {
                terminal.push(&bytes).await;
                // A flood: let the next reads gather, rather than wake for every pty read.
                if (FLOOD_CHUNK..GATHERED_CHUNK).contains(&bytes.len()) {
                    tokio::time::sleep(FLOOD_GATHER).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "shell output stream failed");
                return EndReason::ContainerGone;
            }
        }
    }
    EndReason::ShellExited
}

/// Completes when a pooled session has waited `ttl` without being handed out, so pooled
/// containers are recycled; never completes for a visitor's session.
async fn unclaimed(session: &Session, ttl: Option<Duration>) {
    let Some(ttl) = ttl else {
        return std::future::pending().await;
    };
    tokio::select! {
        () = tokio::time::sleep(ttl) => {}
        () = session.claimed() => std::future::pending().await,
    }
}

/// Completes when the session reaches its maximum lifetime (which a hand-out may move).
async fn expired(session: &Session) {
    while Instant::now() < session.expires_at() {
        tokio::time::sleep_until(session.expires_at()).await;
    }
}

/// Completes once no input has arrived for the idle timeout, counted from the hand-out.
async fn idle(session: &Session) {
    session.claimed().await;
    while Instant::now() < session.idle_deadline() {
        tokio::time::sleep_until(session.idle_deadline()).await;
    }
}

/// Completes once no browser has been attached for a whole `grace` period.
async fn abandoned(session: &Session, grace: Duration) {
    // A pooled session has no tab yet: the grace period starts at the hand-out.
    session.claimed().await;
    let mut owner = session.main().owner();
    loop {
        if *owner.borrow_and_update() == 0 {
            tokio::select! {
                () = tokio::time::sleep(grace) => return,
                changed = owner.changed() => if changed.is_err() { return },
            }
        } else if owner.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pumps `chunks` (sizes) into a fresh terminal, returning what it holds and how much
    /// (paused) time the pump took.
    async fn pump_sizes(sizes: &[usize]) -> (Vec<u8>, Duration) {
        let chunks: Vec<Result<Bytes, SandboxError>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| Ok(Bytes::from(vec![b'a' + i as u8; len])))
            .collect();
        let mut output = futures_util::stream::iter(chunks).boxed();
        let terminal = Terminal::new(0, 1024 * 1024);
        let started = Instant::now();
        assert_eq!(pump(&mut output, &terminal).await, EndReason::ShellExited);
        let elapsed = started.elapsed();
        (terminal.output.snapshot().1, elapsed)
    }

    #[tokio::test(start_paused = true)]
    async fn echoes_and_short_answers_are_never_held_back() {
        let (held, took) = pump_sizes(&[1, 300, FLOOD_CHUNK - 1, 5]).await;
        assert_eq!(took, Duration::ZERO);
        assert_eq!(held.len(), 1 + 300 + FLOOD_CHUNK - 1 + 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_gathers_between_reads_and_loses_nothing() {
        let (held, took) = pump_sizes(&[FLOOD_CHUNK, 4096, 3]).await;
        // Two flood-sized reads: each lets the next one gather.
        assert!(took >= 2 * FLOOD_GATHER, "took {took:?}");
        let expected: Vec<u8> = [(b'a', FLOOD_CHUNK), (b'b', 4096), (b'c', 3)]
            .iter()
            .flat_map(|&(byte, len)| std::iter::repeat_n(byte, len))
            .collect();
        assert_eq!(held, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn reads_that_gathered_enough_go_on_at_once() {
        let (held, took) = pump_sizes(&[GATHERED_CHUNK, 32 * 1024, 1]).await;
        assert_eq!(took, Duration::ZERO);
        assert_eq!(held.len(), GATHERED_CHUNK + 32 * 1024 + 1);
    }
}
