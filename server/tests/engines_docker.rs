//! Two real Docker engines behind one server: sessions land on both, each engine's sweep
//! touches only its own containers, and an engine stopped mid-session tells its visitors while
//! new ones go to the other, until it answers again. Needs the second engine of
//! scripts/engine2.sh (`ROOTRESUME_TEST_ENGINE2`, set by scripts/test.sh); skipped with a
//! printed line otherwise. One test: it stops and starts that engine.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use common::{label_of, test_config, Event, Term, TestServer};
use rootresume_protocol::{EndReason, SessionNotice};
use server::reaper;
use server::sandbox::docker::DockerSandbox;
use server::sandbox::engines::EngineSettings;
use server::sandbox::tls::EngineTls;
use server::sandbox::{ContainerSpec, Sandbox, SandboxLimits};

fn engine2() -> Option<String> {
    std::env::var("ROOTRESUME_TEST_ENGINE2")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The second engine's mutual-TLS endpoint and client files, when given.
fn tls_endpoint() -> Option<(String, EngineTls)> {
    let given = std::env::var("ROOTRESUME_TEST_ENGINE2_TLS").ok()?;
    let (endpoint, folder) = given.split_once(' ')?;
    let folder = std::path::Path::new(folder);
    Some((
        endpoint.to_owned(),
        EngineTls {
            ca: folder.join("ca.pem"),
            cert: folder.join("cert.pem"),
            key: folder.join("key.pem"),
        },
    ))
}

fn engine2_script(command: &str) -> Result<()> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/engine2.sh");
    let status = std::process::Command::new(script).arg(command).status()?;
    ensure!(status.success(), "scripts/engine2.sh {command} failed");
    Ok(())
}

async fn client(endpoint: &str) -> Result<Docker> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    Ok(
        Docker::connect_with_unix(path, 30, bollard::API_DEFAULT_VERSION)?
            .negotiate_version()
            .await?,
    )
}

/// The containers of `instance` on an engine, with their session labels.
async fn on_engine(docker: &Docker, instance: &str) -> Result<Vec<(String, String)>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(std::collections::HashMap::from([(
            "label".to_owned(),
            vec![format!("rootresume.instance={instance}")],
        )])),
        ..Default::default()
    };
    Ok(docker
        .list_containers(Some(options))
        .await?
        .into_iter()
        .filter_map(|c| {
            let labels = c.labels?;
            Some((c.id?, labels.get("rootresume.session")?.clone()))
        })
        .collect())
}

async fn open(server: &TestServer) -> Result<(String, Term)> {
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    ensure!(term.run("echo up").await? == "up");
    Ok((id, term))
}

#[tokio::test]
async fn sessions_spread_over_two_engines_and_survive_one_stopping() -> Result<()> {
    let Some(second) = engine2() else {
        println!("SKIPPED: ROOTRESUME_TEST_ENGINE2 names no second engine (scripts/test.sh starts one with scripts/engine2.sh)");
        return Ok(());
    };
    let mut config = test_config();
    let first = "unix:///var/run/docker.sock".to_owned();
    config.engines = vec![
        EngineSettings {
            name: "one".into(),
            endpoint: config.docker_host.clone(),
            capacity: 20,
            tls: None,
        },
        // The server reaches engine two over mutual TLS when the script made its certificates
        // (ROOTRESUME_TEST_ENGINE2_TLS: "tcp://host:port folder"); the test itself uses its socket.
        match tls_endpoint() {
            Some((endpoint, tls)) => EngineSettings {
                name: "two".into(),
                endpoint,
                capacity: 20,
                tls: Some(tls),
            },
            None => EngineSettings {
                name: "two".into(),
                endpoint: second.clone(),
                capacity: 20,
                tls: None,
            },
        },
    ];
    config.reaper.interval_secs = 3600;
    // Every visitor of the test is 127.0.0.1, and it keeps a dozen sockets open.
    config.security.max_sockets_per_client = 100;
    let instance = config.instance.clone();
    let (one, two) = (client(&first).await?, client(&second).await?);
    let server = TestServer::start(config).await?;
    let outcome = scenario(&server, &instance, &one, &two).await;
    // Whatever happened: the server ends its sessions, and nothing of the run stays on either
    // engine (a failed step may leave containers the server could not reach).
    server.server.shutdown().await;
    let mut left = Vec::new();
    for docker in [&one, &two] {
        for (id, _) in on_engine(docker, &instance).await? {
            let force = RemoveContainerOptions {
                force: true,
                ..Default::default()
            };
            let _ = docker.remove_container(&id, Some(force)).await;
            left.push(id);
        }
    }
    let summary = outcome?;
    ensure!(left.is_empty(), "containers left after shutdown: {left:?}");
    println!("{summary}");
    Ok(())
}

/// Places, sweeps, stops and restarts engine two; returns the line the test prints.
async fn scenario(
    server: &TestServer,
    instance: &str,
    one: &Docker,
    two: &Docker,
) -> Result<String> {
    // Four visitors: two on each engine (equal capacity, most free first).
    let mut visitors = Vec::new();
    for _ in 0..4 {
        visitors.push(open(server).await?);
    }
    let (on_one, on_two) = (
        on_engine(one, instance).await?,
        on_engine(two, instance).await?,
    );
    ensure!(
        on_one.len() == 2 && on_two.len() == 2,
        "placed {} on one, {} on two",
        on_one.len(),
        on_two.len()
    );

    // An orphan on each engine: the sweep removes each from its own engine, nothing else.
    let endpoints = [
        "unix:///var/run/docker.sock".to_owned(),
        engine2().unwrap_or_default(),
    ];
    for endpoint in &endpoints {
        let orphan = DockerSandbox::new(endpoint, &SandboxLimits::default().image)?
            .with_instance(instance)
            .with_name("orphan");
        orphan
            .create(&ContainerSpec::new(
                &server::ids::SessionId::random().hash(),
                Duration::from_secs(600),
                SandboxLimits::default(),
            ))
            .await?;
    }
    let sweep = reaper::sweep(server.server.sessions()).await?;
    ensure!(sweep.found == 6 && sweep.removed == 2, "{sweep:?}");
    ensure!(
        on_engine(one, instance).await? == on_one,
        "engine one changed"
    );
    ensure!(
        on_engine(two, instance).await? == on_two,
        "engine two changed"
    );

    // Engine two stops: its visitors are told, the others keep typing, newcomers go to one.
    let hashes_two: Vec<String> = on_two.iter().map(|(_, s)| s.clone()).collect();
    let stopped_at = Instant::now();
    engine2_script("stop")?;
    let mut told = Vec::new();
    for (id, term) in &mut visitors {
        if hashes_two.contains(&label_of(id)?) {
            let event = loop {
                match term.next_event(Duration::from_secs(30)).await? {
                    Event::Pong(_) | Event::Notice(SessionNotice::Expiring { .. }) => {}
                    other => break other,
                }
            };
            match event {
                Event::Notice(SessionNotice::Ended {
                    reason: EndReason::ContainerGone,
                }) => told.push(stopped_at.elapsed()),
                other => bail!("a visitor of the stopped engine got {other:?}"),
            }
        } else {
            ensure!(term.run("echo still").await? == "still");
        }
    }
    ensure!(told.len() == 2, "told {told:?}");
    for _ in 0..2 {
        let (id, _term) = open(server).await?;
        ensure!(
            on_engine(one, instance)
                .await?
                .iter()
                .any(|(_, s)| *s == label_of(&id).unwrap_or_default()),
            "a newcomer was not placed on the engine that answers"
        );
    }

    // Engine two answers again: it rejoins placement once its time out is over, and a sweep
    // clears what its stop left.
    engine2_script("start")?;
    let rejoined_at = Instant::now();
    let mut terms = Vec::new();
    let landed = loop {
        ensure!(
            rejoined_at.elapsed() < Duration::from_secs(40),
            "engine two never rejoined"
        );
        let (id, term) = open(server).await?;
        terms.push(term);
        let hash = label_of(&id)?;
        if on_engine(two, instance)
            .await?
            .iter()
            .any(|(_, s)| *s == hash)
        {
            break rejoined_at.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    reaper::sweep(server.server.sessions()).await?;
    let left_on_two = on_engine(two, instance).await?;
    ensure!(
        left_on_two.len() == 1,
        "the stopped sessions' containers stayed on engine two: {left_on_two:?}"
    );
    drop(terms);
    drop(visitors);
    Ok(format!(
        "ENGINES | engine two over {}: 4 visitors placed 2 + 2; sweep removed 1 orphan per engine and nothing else; engine two stopped: its 2 visitors told ContainerGone after {:?}, newcomers placed on one; rejoined placement {rejoined:.1?} after it answered",
        if tls_endpoint().is_some() { "mutual TLS" } else { "its socket" },
        told.iter().max().copied().unwrap_or_default(),
        rejoined = landed
    ))
}
