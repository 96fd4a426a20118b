//! A server killed with SIGKILL leaves its containers behind; the next start reconciles them:
//! resumable sessions are adopted (the tab reattaches, files intact), everything else is removed.
//! Alone in its own test binary: the real server's start-up reconcile touches every labelled
//! container on the engine.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::real_server::{free_addr, RealServer};
use common::{label_of, labelled, wait_removed, Event, Term};
use rootresume_protocol::ErrorCode;
use server::sandbox::docker::DockerSandbox;
use server::sandbox::{ContainerSpec, Sandbox, SandboxLimits};

fn adopt(on: bool) -> (&'static str, &'static str) {
    let value = if on { "true" } else { "false" };
    ("ROOTRESUME_REAPER_ADOPT_ON_START", value)
}

#[tokio::test]
async fn kill_dash_nine_then_restart_adopts_or_removes_everything() -> Result<()> {
    let addr = free_addr()?;
    let instance = format!("restart-{}", uuid::Uuid::new_v4().simple());
    let mut first = RealServer::start(&addr, &instance, &[adopt(true)]).await?;
    let id = first.session().await?;
    let mut term = first.connect(&id).await?;
    term.started().await?;
    term.run("echo before-crash > kept.txt").await?;
    drop(term);
    first.kill_hard()?;
    assert_eq!(
        labelled(Some(&id)).await?.len(),
        1,
        "SIGKILL leaves the container behind"
    );

    // Also left behind: a container whose lifetime is over.
    let sandbox = DockerSandbox::new(
        "unix:///var/run/docker.sock",
        &SandboxLimits::default().image,
    )?
    .with_instance(&instance);
    let expired = server::ids::SessionId::random().expose();
    let mut spec = ContainerSpec::new(
        &label_of(&expired)?,
        Duration::from_secs(600),
        SandboxLimits::default(),
    );
    spec.expires_at = std::time::SystemTime::now() - Duration::from_secs(5);
    sandbox.create(&spec).await?;

    let mut second = RealServer::start(&addr, &instance, &[adopt(true)]).await?;
    assert!(
        labelled(Some(&expired)).await?.is_empty(),
        "expired container survived the restart"
    );
    // The adopted session is still bound to its creator: its id from another address gets
    // nothing (the owner proof on the container's name, not the id alone, decides).
    let url = format!("ws://{addr}/ws/terminal");
    let mut thief = Term::connect_from(&url, [127, 0, 0, 2].into(), &id).await?;
    match thief.next_event(Duration::from_secs(15)).await? {
        Event::Error(ErrorCode::UnknownSession, _) => {}
        other => panic!("another address attached to the adopted session: {other:?}"),
    }
    let mut term = second.connect(&id).await?;
    term.started().await?;
    assert_eq!(
        term.run("cat kept.txt").await?,
        "before-crash",
        "adopted session keeps its files"
    );
    drop(term);
    second.kill_hard()?;

    // With adoption off, a restart removes what the crashed run left.
    let mut third = RealServer::start(&addr, &instance, &[adopt(false)]).await?;
    assert!(
        labelled(Some(&id)).await?.is_empty(),
        "reconcile without adoption must remove it"
    );
    let fresh = third.session().await?;
    let mut term = third.connect(&fresh).await?;
    term.started().await?;
    let took = third.terminate()?;
    println!("SIGTERM with one live session: exited in {took:?}");
    wait_removed(&fresh, Duration::from_secs(5)).await?;
    assert!(
        sandbox.list().await?.is_empty(),
        "containers of this instance left after the restarts"
    );
    Ok(())
}
