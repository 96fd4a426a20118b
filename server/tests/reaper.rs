//! The reaper removes labelled containers that no live session owns, and leaves owned ones.
//! Alone in its own test binary: a sweep removes every orphan on the engine, so it must not run
//! beside tests whose sessions belong to other managers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use common::{label_of, labelled, test_config, TestServer};
use server::reaper;
use server::sandbox::docker::DockerSandbox;
use server::sandbox::{ContainerSpec, Sandbox, SandboxLimits};

#[tokio::test]
async fn sweep_removes_orphans_and_expired_but_keeps_live_sessions() -> Result<()> {
    let config = test_config();
    let instance = config.instance.clone();
    let server = TestServer::start(config).await?;
    let live = server.create_session().await?;
    let mut term = server.connect(&live).await?;
    term.started().await?;

    // Containers made behind the server's back: one orphan, one whose labels say it expired.
    let sandbox = Arc::new(
        DockerSandbox::new(
            "unix:///var/run/docker.sock",
            &SandboxLimits::default().image,
        )?
        .with_instance(&instance),
    );
    let orphan = server::ids::SessionId::random().expose();
    sandbox
        .create(&ContainerSpec::new(
            &label_of(&orphan)?,
            Duration::from_secs(600),
            SandboxLimits::default(),
        ))
        .await?;
    let expired = server::ids::SessionId::random().expose();
    let mut spec = ContainerSpec::new(
        &label_of(&expired)?,
        Duration::from_secs(600),
        SandboxLimits::default(),
    );
    spec.expires_at = std::time::SystemTime::now() - Duration::from_secs(1);
    sandbox.create(&spec).await?;

    let sweep = reaper::sweep(server.server.sessions()).await?;
    assert!(sweep.found >= 3, "{sweep:?}");
    assert!(sweep.removed >= 2, "{sweep:?}");
    assert!(
        labelled(Some(&orphan)).await?.is_empty(),
        "orphan survived the sweep"
    );
    assert!(
        labelled(Some(&expired)).await?.is_empty(),
        "expired container survived the sweep"
    );
    assert_eq!(
        labelled(Some(&live)).await?.len(),
        1,
        "a live session's container was removed"
    );
    assert_eq!(term.run("echo alive").await?, "alive");

    server.server.shutdown().await;
    assert!(labelled(Some(&live)).await?.is_empty());
    Ok(())
}
