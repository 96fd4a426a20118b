//! When the engine is away or the image is missing, the visitor is told why and the server
//! carries on — and recovers by itself when the engine comes back.

mod common;

use std::time::Duration;

use anyhow::{bail, Result};
use common::relay::Relay;
use common::{test_config, Event, TestServer};
use rootresume_protocol::ErrorCode;

#[tokio::test]
async fn unreachable_engine_is_explained_and_recovery_is_automatic() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rr-engine-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("docker.sock");
    let mut config = test_config();
    config.docker_host = format!("unix://{}", socket.display());
    let server = TestServer::start(config).await?;

    // No engine behind the socket path yet.
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    match term.next_event(Duration::from_secs(10)).await? {
        Event::Error(ErrorCode::SandboxUnavailable, message) => {
            // A public sentence: the engine's endpoint and text stay in the server's log.
            assert!(message.contains("unavailable right now"), "{message}");
            assert!(!message.contains(&*socket.to_string_lossy()), "{message}");
            assert!(!message.contains("docker"), "{message}");
        }
        other => bail!("expected SandboxUnavailable, got {other:?}"),
    }

    // The engine "comes back": a relay to the real engine appears at that path.
    let relay = Relay::start(&socket)?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    assert_eq!(term.run("echo recovered").await?, "recovered");
    server.server.shutdown().await;
    relay.stop();
    common::wait_removed(&id, Duration::from_secs(10)).await?;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[tokio::test]
async fn missing_image_is_named_with_the_command_that_builds_it() -> Result<()> {
    let mut config = test_config();
    config.sandbox.image = "rootresume-missing:none".into();
    let server = TestServer::start(config).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    match term.next_event(Duration::from_secs(10)).await? {
        Event::Error(ErrorCode::ImageMissing, message) => {
            assert!(!message.contains("rootresume-missing:none"), "{message}");
            assert!(
                message.contains("scripts/build-sandbox-image.sh"),
                "{message}"
            );
        }
        other => bail!("expected ImageMissing, got {other:?}"),
    }
    // The page still renders.
    let page = common::http_get(&format!("http://{}/", server.server.addr())).await?;
    assert!(page.contains("Ada Quill"), "{page}");
    server.server.shutdown().await;
    assert!(common::labelled(Some(&id)).await?.is_empty());
    Ok(())
}
