//! Shared by the attack suites: which container runtimes to attack, a server per runtime, a
//! visitor's shell through the real WebSocket, and a one-line report per attack.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bollard::models::ContainerSummaryStateEnum;
use bollard::query_parameters::{EventsOptions, ListContainersOptions, RemoveContainerOptions};
use futures_util::StreamExt;

use crate::common::{
    docker, http_get, label_of, labelled, test_config, Marked, SessionEnded, Term, TestServer,
};

/// Runtimes the attacks run under: `runc`, plus `runsc` (gVisor) when the engine has it.
/// `ROOTRESUME_SANDBOX_RUNTIME` picks one; `ROOTRESUME_EXPECT_RUNTIMES` (e.g. `runc,runsc`)
/// makes a missing one an error.
pub async fn runtimes() -> Result<Vec<String>> {
    if let Ok(only) = std::env::var("ROOTRESUME_SANDBOX_RUNTIME") {
        if !only.is_empty() {
            return Ok(vec![only]);
        }
    }
    let info = docker().await?.info().await?;
    let registered = info.runtimes.unwrap_or_default();
    let mut runtimes = vec!["runc".to_owned()];
    // CI names the runtimes it installed: one missing there is a failure, not a warning.
    let expected = std::env::var("ROOTRESUME_EXPECT_RUNTIMES").unwrap_or_default();
    for runtime in expected.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if runtime != "runc" && !registered.contains_key(runtime) {
            bail!(
                "the runtime {runtime} is expected (ROOTRESUME_EXPECT_RUNTIMES) but the engine \
                 has not registered it; scripts/setup-runsc.sh installs runsc"
            );
        }
    }
    if registered.contains_key("runsc") {
        runtimes.push("runsc".into());
    } else {
        eprintln!(
            "\n!!! gVisor (runsc) is not registered with the Docker engine: attacks run under runc \
             only. scripts/setup-runsc.sh installs and registers it.\n"
        );
    }
    Ok(runtimes)
}

/// What the running attack started, to clean up after it and to judge its outcome.
#[derive(Default)]
struct Started {
    /// The instances of its servers (see [`server`]).
    instances: Vec<String>,
    /// The session ids of its attackers (see [`attacker`]), the sandboxes that may die.
    attackers: Vec<String>,
}

tokio::task_local! {
    static STARTED: Arc<Mutex<Started>>;
}

/// Notes something the running attack started.
fn note(what: impl FnOnce(&mut Started)) {
    let _ = STARTED.try_with(|started| {
        if let Ok(mut started) = started.lock() {
            what(&mut started);
        }
    });
}

/// Whether `error` is the end of one of `attackers`' own sessions (seen by its own socket),
/// as opposed to a neighbour's, the server's or any other failure.
fn attacker_ended(error: &anyhow::Error, attackers: &[String]) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<SessionEnded>()
            .and_then(|ended| ended.session.as_ref())
            .is_some_and(|session| attackers.contains(session))
    })
}

/// Runs `attack` under every runtime in turn (in turn: the timing attacks must not compete with
/// each other); a failure names the runtime. Whatever happens, every container the attack's
/// servers made is removed afterwards, so a failing attack leaks nothing either.
///
/// Under runsc an attack may kill the whole gVisor sandbox (the Debian build's sentry dies on
/// fork storms, `su`, the memory cap): that is contained, since only that visitor's sandbox
/// goes. It is reported as such instead of failing only when all of these hold: the attack
/// failed because an attacker's own session ended (its socket says so; see [`attacker`]), the
/// engine reports that attacker's sandbox died by itself, and no other sandbox died. A failed
/// neighbour or server check, or any other error, fails the attack.
pub async fn each_runtime<F, Fut>(name: &str, attack: F) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<String>>,
{
    for runtime in runtimes().await? {
        let started = Instant::now();
        let record = Arc::new(Mutex::new(Started::default()));
        let deaths = DeathWatch::start().await?;
        let outcome = STARTED.scope(record.clone(), attack(runtime.clone())).await;
        let (instances, attackers) = record
            .lock()
            .map(|r| (r.instances.clone(), r.attackers.clone()))
            .unwrap_or_default();
        let hashes = attackers
            .iter()
            .map(|id| label_of(id))
            .collect::<Result<Vec<_>>>()?;
        let mut died = sandboxes_died(&instances).await?;
        died.extend(deaths.died(&instances).await);
        remove_all(&instances).await?;
        let attackers_died = died.iter().filter(|s| hashes.contains(s)).count();
        let others_died = died.len() - attackers_died;
        let result = match outcome {
            Ok(result) => result,
            Err(error)
                if runtime == "runsc"
                    && attackers_died > 0
                    && others_died == 0
                    && attacker_ended(&error, &attackers) =>
            {
                format!(
                    "the attacker's gVisor sandbox died during the attack, nothing else was \
                     affected: {}",
                    format!("{error:#}").lines().next().unwrap_or("")
                )
            }
            Err(error) => bail!(
                "{name} under {runtime}: {error:#} (sandboxes that died: {attackers_died} \
                 attacker's, {others_died} others)"
            ),
        };
        println!(
            "ATTACK | {name} | {runtime} | defended: {result} | {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn instance_filter(instance: &str) -> ListContainersOptions {
    ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_owned(),
            vec![format!("rootresume.instance={instance}")],
        )])),
        ..Default::default()
    }
}

/// Containers that stop on their own while an attack runs, from the engine's `die` events. The
/// server's own removals kill with SIGKILL (exit code 137), so any other exit code is a death;
/// this sees deaths whose container the server already removed.
struct DeathWatch {
    /// (instance, exit code, session label) of each container that stopped.
    stopped: Arc<Mutex<Vec<(String, String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DeathWatch {
    async fn start() -> Result<Self> {
        let docker = docker().await?;
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let options = EventsOptions {
            since: Some(since.to_string()),
            filters: Some(HashMap::from([
                ("type".to_owned(), vec!["container".to_owned()]),
                ("event".to_owned(), vec!["die".to_owned()]),
                ("label".to_owned(), vec!["rootresume.session".to_owned()]),
            ])),
            ..Default::default()
        };
        let mut events = docker.events(Some(options));
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let sink = stopped.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(event)) = events.next().await {
                let attributes = event.actor.and_then(|a| a.attributes).unwrap_or_default();
                let field = |key: &str| attributes.get(key).cloned().unwrap_or_default();
                if let Ok(mut stopped) = sink.lock() {
                    stopped.push((
                        field("rootresume.instance"),
                        field("exitCode"),
                        field("rootresume.session"),
                    ));
                }
            }
        });
        Ok(Self { stopped, task })
    }

    /// The session labels of the containers of these instances that died by themselves so far.
    async fn died(&self, instances: &[String]) -> Vec<String> {
        // Events trail the deaths by a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.stopped.lock().map_or(Vec::new(), |stopped| {
            stopped
                .iter()
                .filter(|(instance, code, _)| instances.contains(instance) && code != "137")
                .map(|(_, _, session)| session.clone())
                .collect()
        })
    }
}

impl Drop for DeathWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The session labels of the containers of these instances that have exited on their own.
async fn sandboxes_died(instances: &[String]) -> Result<Vec<String>> {
    let docker = docker().await?;
    let mut died = Vec::new();
    for instance in instances {
        let listed = docker
            .list_containers(Some(instance_filter(instance)))
            .await?;
        died.extend(
            listed
                .iter()
                .filter(|c| {
                    matches!(
                        c.state,
                        Some(ContainerSummaryStateEnum::EXITED | ContainerSummaryStateEnum::DEAD)
                    )
                })
                .filter_map(|c| c.labels.as_ref()?.get("rootresume.session").cloned()),
        );
    }
    Ok(died)
}

/// Removes every container of these instances (none are left after a passing attack).
async fn remove_all(instances: &[String]) -> Result<()> {
    let docker = docker().await?;
    for instance in instances {
        for container in docker
            .list_containers(Some(instance_filter(instance)))
            .await?
        {
            if let Some(id) = container.id {
                let options = RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(options)).await;
            }
        }
    }
    Ok(())
}

/// A server whose sandboxes use `runtime`.
pub async fn server(runtime: &str) -> Result<TestServer> {
    let mut config = test_config();
    config.sandbox.runtime = runtime.to_owned();
    note(|started| started.instances.push(config.instance.clone()));
    TestServer::start(config).await
}

/// The attacking visitor's tab, like [`visitor`]: the one sandbox whose own death under gVisor
/// [`each_runtime`] may count as contained.
pub async fn attacker(server: &TestServer) -> Result<(String, Term)> {
    let (id, term) = visitor(server).await?;
    note(|started| started.attackers.push(id.clone()));
    Ok((id, term))
}

/// A visitor's tab: a new session and its terminal, prompt ready.
pub async fn visitor(server: &TestServer) -> Result<(String, Term)> {
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    // Quiet prompt so markers are easy to find; no echo surprises from the prompt itself.
    term.run("PS1='$ '").await?;
    Ok((id, term))
}

/// Whether the server still answers a page quickly: the home page within `within`.
pub async fn server_answers(server: &TestServer, within: Duration) -> Result<Duration> {
    let started = Instant::now();
    let page = tokio::time::timeout(
        within,
        http_get(&format!("http://{}/", server.server.addr())),
    )
    .await
    .map_err(|_| anyhow!("the server did not answer a page within {within:?}"))??;
    if !page.starts_with("HTTP/1.1 200") {
        bail!("the server answered: {}", page.lines().next().unwrap_or(""));
    }
    Ok(started.elapsed())
}

/// Shuts the server down and checks none of its sessions' containers is left.
pub async fn finish(server: TestServer, ids: &[&str]) -> Result<()> {
    server.server.shutdown().await;
    for id in ids {
        if !labelled(Some(id)).await?.is_empty() {
            bail!("container of session {id} left behind");
        }
    }
    Ok(())
}

/// Saves a Python program in `/tmp` (base64 through the terminal, so no quoting or readline
/// surprises) and runs it; returns what it printed.
pub async fn python(term: &mut Term, name: &str, program: &str) -> Result<String> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(program);
    let file = format!("/tmp/{name}.py");
    term.run(&format!("echo {encoded} | base64 -d > {file}"))
        .await?;
    term.run(&format!("python3 {file} 2>&1")).await
}

/// How a command that may take the whole sandbox down went.
#[derive(Debug)]
pub enum Outcome {
    /// It finished; what it printed.
    Ran(String),
    /// The session ended instead; what the visitor was told.
    Ended(String),
}

/// Runs `command` like [`Term::run`], but a session that ends meanwhile is an outcome, not an
/// error: the visitor must then have been told, by an `Ended` notice or a close reason.
pub async fn run_or_end(term: &mut Term, command: &str, timeout: Duration) -> Result<Outcome> {
    use crate::common::Event;
    let marked = Marked::new(command);
    let from = term.screen.len();
    term.type_text(&marked.line).await?;
    let deadline = Instant::now() + timeout;
    loop {
        let seen = String::from_utf8_lossy(&term.screen[from..]).into_owned();
        if let Some(output) = marked.output(&seen) {
            return Ok(Outcome::Ran(output));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("{command:?} neither finished nor ended the session in {timeout:?}: {seen}");
        }
        // next_event returns only on a non-output event: poll briefly to re-check the output.
        match term.next_event(left.min(Duration::from_millis(200))).await {
            Ok(Event::Notice(notice)) => {
                if matches!(notice, rootresume_protocol::SessionNotice::Ended { .. }) {
                    return Ok(Outcome::Ended(format!("{notice:?}")));
                }
            }
            Ok(Event::Error(code, message)) => {
                return Ok(Outcome::Ended(format!("{code:?}: {message}")))
            }
            Ok(Event::Closed(reason)) => return Ok(Outcome::Ended(format!("closed: {reason:?}"))),
            Ok(
                Event::Pong(_)
                | Event::Checked { .. }
                | Event::Terminals(_)
                | Event::Sharing(_)
                | Event::Watching { .. }
                | Event::Meter(_),
            )
            | Err(_) => {}
        }
    }
}

/// [`python`], where the program may take the sandbox down (see [`run_or_end`]).
pub async fn python_or_end(term: &mut Term, name: &str, program: &str) -> Result<Outcome> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(program);
    let file = format!("/tmp/{name}.py");
    term.run(&format!("echo {encoded} | base64 -d > {file}"))
        .await?;
    run_or_end(
        term,
        &format!("python3 {file} 2>&1"),
        Duration::from_secs(60),
    )
    .await
}

/// Checks an attack that may crash a gVisor sandbox: under runc the limit must hold (`held`
/// says whether the output shows it); under runsc the sandbox may die instead (the Debian
/// build's sentry dies on fork storms and on hitting the memory cap), which is contained: only
/// that visitor's sandbox goes, and the visitor is told their session ended. Which notice they
/// get depends on what the server sees first: the shell's stream closing (`ShellExited`, seen
/// on CI machines) or the engine reporting the container gone (`ContainerGone`, seen here).
pub fn contained(runtime: &str, outcome: &Outcome, held: impl Fn(&str) -> bool) -> Result<String> {
    let sandbox_died = |told: &str| told.contains("ContainerGone") || told.contains("ShellExited");
    match outcome {
        Outcome::Ran(output) if held(output) => Ok(output.replace('\n', "; ")),
        Outcome::Ended(told) if runtime == "runsc" && sandbox_died(told) => Ok(format!(
            "the gVisor sandbox died and the visitor was told ({told})"
        )),
        other => bail!("the defence did not hold: {other:?}"),
    }
}
