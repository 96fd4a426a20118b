//! Several Docker engines behind one [`Sandbox`]: placement, health, and routing by engine.
//!
//! Configured by `[[engines]]` (see [`EngineSettings`]); with none configured the server uses
//! the one engine at `docker_host` directly, as before. Each container's id is written here as
//! `<engine>/<the engine's id>`, so every later call (attach, resize, remove) goes to the engine
//! that holds it, and a session never moves. Placement picks the healthy engine with the most
//! free capacity, counting what the engine listed at the last sweep plus what this replica has
//! placed since; an engine that stops answering is left out until it answers again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{
    Command, CommandOutput, ContainerId, ContainerSpec, LabelledContainer, Sandbox, SandboxError,
    Shell, ShellId, StoppedContainer, StoppedStream, TermSize,
};
use crate::ids::EngineId;

/// How long an engine that stopped answering is left out of placement before it is tried again.
const DOWN_FOR: Duration = Duration::from_secs(10);
/// Longest wait before watching an engine's events again after its stream broke.
const WATCH_RETRY_MAX: Duration = Duration::from_secs(30);

/// One Docker engine of `[[engines]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// The engine's name: letters, digits, `-`, `_`, `.`; written on its containers
    /// (`rootresume.engine`) and in session records.
    pub name: String,
    /// `unix:///path`, or `tcp://host:port` (with `tls`, mutual TLS as Docker documents it).
    pub endpoint: String,
    /// Most sessions (pooled ones included) placed on this engine at once.
    pub capacity: usize,
    /// Client certificate, key and CA for a `tcp://` endpoint; none: plain HTTP (loopback or a
    /// tunnel's local end only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::tls::EngineTls>,
}

impl EngineSettings {
    /// Checks the name and endpoint can be used.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 63
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(format!(
                "engines: name {:?} must be 1 to 63 letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        if !["unix://", "tcp://"]
            .iter()
            .any(|scheme| self.endpoint.starts_with(scheme))
        {
            return Err(format!(
                "engines: {}'s endpoint {:?} must start with unix:// or tcp://",
                self.name, self.endpoint
            ));
        }
        if self.tls.is_some() && !self.endpoint.starts_with("tcp://") {
            return Err(format!(
                "engines: {}'s tls needs a tcp:// endpoint, not {:?}",
                self.name, self.endpoint
            ));
        }
        if self.capacity == 0 {
            return Err(format!(
                "engines: {}'s capacity must be at least 1",
                self.name
            ));
        }
        Ok(())
    }
}

/// What this replica knows of one engine's load and health.
#[derive(Default)]
struct Load {
    /// Containers on the engine: as listed at the last sweep, plus those placed since.
    containers: HashSet<String>,
    /// Creations under way (placed, not yet answered).
    pending: usize,
    /// Since when the engine has not answered, if it stopped.
    down_since: Option<Instant>,
}

/// One engine of the set.
struct Engine {
    id: EngineId,
    sandbox: Arc<dyn Sandbox>,
    capacity: usize,
    load: Mutex<Load>,
}

impl Engine {
    fn load(&self) -> MutexGuard<'_, Load> {
        // Every update is a few assignments: a poisoned lock still holds consistent data.
        self.load.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes how an operation on the engine went: unreachable marks it down, anything else up.
    fn saw<T>(&self, result: &Result<T, SandboxError>) {
        let mut load = self.load();
        match result {
            Err(SandboxError::EngineUnreachable { .. }) => {
                if load.down_since.is_none() {
                    tracing::warn!(engine = %self.id, "engine stopped answering; placing sessions elsewhere");
                }
                load.down_since.get_or_insert_with(Instant::now);
            }
            _ => {
                if load.down_since.take().is_some() {
                    tracing::info!(engine = %self.id, "engine answers again");
                }
            }
        }
    }

    /// Free places, or `None` while the engine is taken for down.
    fn free(&self) -> Option<usize> {
        let load = self.load();
        if load
            .down_since
            .is_some_and(|since| since.elapsed() < DOWN_FOR)
        {
            return None;
        }
        Some(
            self.capacity
                .saturating_sub(load.containers.len() + load.pending),
        )
    }
}

/// Several engines as one [`Sandbox`].
pub struct EngineSet {
    engines: Vec<Engine>,
    /// Held while choosing an engine and counting the choice, so concurrent arrivals each see
    /// the others' choices.
    placing: Mutex<()>,
}

impl EngineSet {
    /// A set of `(settings, sandbox)` pairs, in the configured order.
    pub fn new(engines: Vec<(EngineSettings, Arc<dyn Sandbox>)>) -> Self {
        let engines = engines
            .into_iter()
            .map(|(settings, sandbox)| Engine {
                id: EngineId::new(&settings.name),
                sandbox,
                capacity: settings.capacity,
                load: Mutex::default(),
            })
            .collect();
        Self {
            engines,
            placing: Mutex::new(()),
        }
    }

    /// The engine holding `id` (`<engine>/<id>`), and the engine's own id.
    fn route(&self, id: &str) -> Result<(&Engine, String), SandboxError> {
        let gone = || SandboxError::ContainerGone {
            detail: format!("{id:?} names no configured engine"),
        };
        let (name, inner) = id.split_once('/').ok_or_else(gone)?;
        let engine = self
            .engines
            .iter()
            .find(|e| e.id.as_str() == name)
            .ok_or_else(gone)?;
        Ok((engine, inner.to_owned()))
    }

    /// Chooses the engine for a new container and counts it as pending there: the healthy one
    /// with the most free places (the first configured among equals). `None` when every engine
    /// is down or full (or was tried already).
    fn place(&self, tried: &[usize]) -> Option<usize> {
        let _placing = self.placing.lock().unwrap_or_else(|p| p.into_inner());
        let (index, _) = self
            .engines
            .iter()
            .enumerate()
            .filter(|(i, _)| !tried.contains(i))
            .filter_map(|(i, engine)| Some((i, engine.free()?)))
            .filter(|(_, free)| *free > 0)
            .max_by_key(|(i, free)| (*free, std::cmp::Reverse(*i)))?;
        self.engines[index].load().pending += 1;
        Some(index)
    }

    /// Free places per engine, `None` for one taken for down (for tests and the bench).
    pub fn free_places(&self) -> Vec<(EngineId, Option<usize>)> {
        self.engines
            .iter()
            .map(|e| (e.id.clone(), e.free()))
            .collect()
    }
}

fn prefixed(engine: &EngineId, id: &str) -> String {
    format!("{engine}/{id}")
}

#[async_trait]
impl Sandbox for EngineSet {
    fn engine(&self) -> EngineId {
        EngineId::new("engines")
    }

    fn engine_of(&self, container: &ContainerId) -> EngineId {
        self.route(&container.0)
            .map_or_else(|_| self.engine(), |(engine, _)| engine.id.clone())
    }

    /// Ready while any engine answers with the image: the others are left out of placement.
    async fn check(&self) -> Result<(), SandboxError> {
        let mut last = None;
        for engine in &self.engines {
            let checked = engine.sandbox.check().await;
            engine.saw(&checked);
            match checked {
                Ok(()) => return Ok(()),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or(SandboxError::EngineUnreachable {
            endpoint: "engines".into(),
            detail: "no engine is configured".into(),
        }))
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<ContainerId, SandboxError> {
        let mut tried = Vec::new();
        let mut last = None;
        while let Some(index) = self.place(&tried) {
            tried.push(index);
            let engine = &self.engines[index];
            let created = engine.sandbox.create(spec).await;
            engine.saw(&created);
            let mut load = engine.load();
            load.pending = load.pending.saturating_sub(1);
            match created {
                Ok(id) => {
                    load.containers.insert(id.0.clone());
                    return Ok(ContainerId(prefixed(&engine.id, &id.0)));
                }
                // Another engine may well answer: try it before failing the visitor.
                Err(error @ SandboxError::EngineUnreachable { .. }) => last = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last.unwrap_or(SandboxError::Engine {
            action: "place a sandbox",
            detail: "no engine has room: each is full or not answering".into(),
        }))
    }

    async fn open_shell(
        &self,
        container: &ContainerId,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        let opened = engine.sandbox.open_shell(&ContainerId(id), size).await;
        engine.saw(&opened);
        let shell = opened?;
        Ok(Shell {
            id: ShellId(prefixed(&engine.id, &shell.id.0)),
            ..shell
        })
    }

    async fn open_terminal(
        &self,
        container: &ContainerId,
        number: u8,
        size: TermSize,
    ) -> Result<Shell, SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        let opened = engine
            .sandbox
            .open_terminal(&ContainerId(id), number, size)
            .await;
        engine.saw(&opened);
        let shell = opened?;
        Ok(Shell {
            id: ShellId(prefixed(&engine.id, &shell.id.0)),
            ..shell
        })
    }

    async fn set_owner(
        &self,
        container: &ContainerId,
        session: &str,
        proof: &str,
    ) -> Result<(), SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        engine
            .sandbox
            .set_owner(&ContainerId(id), session, proof)
            .await
    }

    async fn exit_code(&self, container: &ContainerId) -> Result<Option<i64>, SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        let code = engine.sandbox.exit_code(&ContainerId(id)).await;
        engine.saw(&code);
        code
    }

    async fn usage(&self, container: &ContainerId) -> Result<super::Usage, SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        engine.sandbox.usage(&ContainerId(id)).await
    }

    async fn resize_shell(&self, shell: &ShellId, size: TermSize) -> Result<(), SandboxError> {
        let (engine, id) = self.route(&shell.0)?;
        engine.sandbox.resize_shell(&ShellId(id), size).await
    }

    async fn run_command(
        &self,
        container: &ContainerId,
        command: &Command,
    ) -> Result<CommandOutput, SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        engine.sandbox.run_command(&ContainerId(id), command).await
    }

    async fn remove(&self, container: &ContainerId) -> Result<(), SandboxError> {
        let (engine, id) = self.route(&container.0)?;
        let removed = engine.sandbox.remove(&ContainerId(id.clone())).await;
        engine.saw(&removed);
        if removed.is_ok() {
            engine.load().containers.remove(&id);
        }
        removed
    }

    /// The containers of every engine that answers; an engine that does not is skipped (its
    /// containers are judged when it answers again), and fails the list only if all fail.
    async fn list(&self) -> Result<Vec<LabelledContainer>, SandboxError> {
        let mut all = Vec::new();
        let mut failed = None;
        let mut answered = false;
        for engine in &self.engines {
            let listed = engine.sandbox.list().await;
            engine.saw(&listed);
            match listed {
                Ok(containers) => {
                    answered = true;
                    engine.load().containers = containers.iter().map(|c| c.id.0.clone()).collect();
                    all.extend(containers.into_iter().map(|c| LabelledContainer {
                        id: ContainerId(prefixed(&engine.id, &c.id.0)),
                        ..c
                    }));
                }
                Err(error) => {
                    tracing::debug!(engine = %engine.id, %error, "engine not listed");
                    failed = Some(error);
                }
            }
        }
        match failed {
            Some(error) if !answered => Err(error),
            _ => Ok(all),
        }
    }

    /// Every engine's stopped containers, each engine watched again by itself (with backoff)
    /// when its stream breaks, so one engine down never blinds the watch of the others.
    async fn stopped(&self) -> Result<StoppedStream, SandboxError> {
        let streams = self
            .engines
            .iter()
            .map(|engine| watch_engine(engine.id.clone(), engine.sandbox.clone()).boxed());
        Ok(stream::select_all(streams).map(Ok).boxed())
    }
}

/// One engine's stopped containers, forever: watched again after a break, with backoff.
fn watch_engine(
    id: EngineId,
    sandbox: Arc<dyn Sandbox>,
) -> impl futures_util::Stream<Item = StoppedContainer> + Send {
    struct State {
        id: EngineId,
        sandbox: Arc<dyn Sandbox>,
        current: Option<StoppedStream>,
        retry: Duration,
    }
    let state = State {
        id,
        sandbox,
        current: None,
        retry: Duration::from_secs(1),
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(current) = state.current.as_mut() {
                match current.next().await {
                    Some(Ok(stopped)) => {
                        state.retry = Duration::from_secs(1);
                        let stopped = StoppedContainer {
                            id: ContainerId(prefixed(&state.id, &stopped.id.0)),
                            ..stopped
                        };
                        return Some((stopped, state));
                    }
                    Some(Err(error)) => {
                        tracing::debug!(engine = %state.id, %error, "watching the engine failed")
                    }
                    None => {}
                }
                state.current = None;
                tokio::time::sleep(state.retry).await;
                state.retry = (state.retry * 2).min(WATCH_RETRY_MAX);
            }
            match state.sandbox.stopped().await {
                Ok(stream) => state.current = Some(stream),
                Err(_) => {
                    tokio::time::sleep(state.retry).await;
                    state.retry = (state.retry * 2).min(WATCH_RETRY_MAX);
                }
            }
        }
    })
}
