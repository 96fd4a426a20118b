//! Serving a tab whose session another replica holds: the takeover, and the heartbeat through
//! which a replica learns that another one asks it to let go.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::session::Session;
use super::{SessionError, SessionManager};
use crate::ids::SessionId;
use crate::sandbox::ContainerId;
use crate::store::{now_ms, ClientKey, StoreError, HEARTBEAT_EVERY};

/// The longest a takeover waits for the holder to let go before the tab is told to retry.
const TAKEOVER_WAIT: Duration = Duration::from_secs(8);
/// The longest a takeover waits for another replica to create the session's container.
const STARTING_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting takeover looks at the lease again.
const TAKEOVER_POLL: Duration = Duration::from_millis(100);

impl SessionManager {
    /// The session a browser's socket asks for by `id`, from `client`: this replica's own, or
    /// one taken over from the replica that holds it (which is asked to let go, or has died).
    /// `Ok(None)` for unknown, ended or someone else's sessions.
    pub async fn attach_target(
        &self,
        id: &SessionId,
        client: Option<IpAddr>,
    ) -> Result<Option<Arc<Session>>, SessionError> {
        let hash = id.hash();
        if let Some(session) = self.live.get(&hash) {
            return Ok(session.admits(id, client).then_some(session));
        }
        if !self.store.is_shared() || self.shutdown.is_cancelled() {
            return Ok(None);
        }
        let starting_deadline = Instant::now() + STARTING_WAIT;
        let record = loop {
            let Some(record) = self.store.get(&hash).await? else {
                return Ok(None);
            };
            // Someone else's id is as unknown as a forged one.
            if let (Some(owner), Some(client)) = (&record.client, client) {
                if *owner != ClientKey::of(client) {
                    return Ok(None);
                }
            }
            if record.expires_at_ms <= now_ms() {
                return Ok(None);
            }
            if !record.container.is_empty() {
                break record;
            }
            // Another replica is still creating its container: wait for it to be recorded.
            if Instant::now() >= starting_deadline {
                return Err(StoreError::Busy.into());
            }
            tokio::time::sleep(TAKEOVER_POLL).await;
        };
        let deadline = Instant::now() + TAKEOVER_WAIT;
        let mut asked = false;
        let lease = loop {
            if let Some(session) = self.live.get(&hash) {
                // A concurrent socket of this replica took it over first.
                return Ok(session.admits(id, client).then_some(session));
            }
            let holder = self.store.lease(&hash).await?;
            let free = match &holder {
                None => true,
                Some(lease) if lease.replica == self.store.replica() => true,
                Some(lease) => !self.store.is_alive(&lease.replica).await?,
            };
            if free {
                if let Some(lease) = self
                    .store
                    .take_lease(&hash, holder.as_ref(), record.expires_at_ms)
                    .await?
                {
                    break lease;
                }
            } else if !asked {
                if let Some(lease) = &holder {
                    self.store.ask_to_let_go(&lease.replica, &hash).await?;
                    asked = true;
                }
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Busy.into());
            }
            tokio::time::sleep(TAKEOVER_POLL).await;
        };
        let left = Duration::from_millis(record.expires_at_ms.saturating_sub(now_ms()));
        let session = Arc::new(Session::new(
            hash.clone(),
            None,
            client,
            Instant::now() + left,
            self.settings.idle_timeout,
            self.settings.output_buffer_bytes,
            self.shutdown.child_token(),
        ));
        session.set_lease(lease);
        session.set_resumed();
        let idle_left = Duration::from_millis(record.idle_at_ms.saturating_sub(now_ms()));
        session.set_idle_deadline(Instant::now() + idle_left);
        let session = self.live.insert(session);
        match self.store.load_screen(&hash).await {
            Ok(screen) => session.main().output.push(&screen).await,
            Err(error) => tracing::debug!(%error, "no screen to replay"),
        }
        tracing::info!(session = %session.tag(), "took the session over from another server");
        self.metrics.takeovers.inc();
        self.spawn(session.clone(), Some(ContainerId(record.container)), None);
        Ok(Some(session))
    }

    /// Writes back the records, leases and slots of this replica's sessions that the store no
    /// longer has (Redis restarted without its data): otherwise another replica's sweep would
    /// take their containers for orphans, and the caps would forget them.
    async fn restore_records(&self) {
        let sessions = self.live.all();
        tracing::warn!(
            count = sessions.len(),
            "the session store lost this replica's heartbeat; writing its sessions back"
        );
        for session in sessions {
            let (Some(lease), Some(container)) = (session.lease(), session.container()) else {
                continue;
            };
            if let Err(error) = self
                .store
                .restore(
                    &session.record(self.sandbox.engine_of(&container), &container),
                    &lease,
                )
                .await
            {
                tracing::warn!(%error, session = %session.tag(), "could not write the session back");
            }
        }
    }

    /// Renews this replica's heartbeat every [`HEARTBEAT_EVERY`] and lets go of the sessions
    /// other replicas ask for, until shutdown. Only for a shared store.
    pub fn start_heartbeat(self: &Arc<Self>) {
        if !self.store.is_shared() {
            return;
        }
        let manager = self.clone();
        self.tasks.spawn(async move {
            let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            let mut first = true;
            loop {
                tokio::select! {
                    () = manager.shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                match manager.store.heartbeat().await {
                    Ok(beat) => {
                        if failing {
                            tracing::info!("the session store answers again");
                            failing = false;
                        }
                        if beat.lapsed && !first {
                            manager.restore_records().await;
                        }
                        first = false;
                        for hash in beat.let_go {
                            if let Some(session) = manager.live.get(&hash) {
                                session.handover.cancel();
                            }
                        }
                    }
                    Err(error) => {
                        if !failing {
                            tracing::warn!(%error, "heartbeat failed; attached shells keep working");
                            failing = true;
                        }
                    }
                }
            }
        });
    }
}
