//! Placement over several engines, with fake engines (pure logic: the real two-engine test is
//! tests/engines_docker.rs): a burst spreads by free capacity, an engine that stops answering
//! is left out and its share goes to the others, ids route back to the engine that holds them.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Result};
use common::fake::FakeSandbox;
use server::sandbox::engines::{EngineSet, EngineSettings};
use server::sandbox::{ContainerSpec, Sandbox, SandboxError, SandboxLimits, TermSize};

fn set(capacities: &[usize]) -> (EngineSet, Vec<Arc<FakeSandbox>>) {
    let fakes: Vec<Arc<FakeSandbox>> = capacities.iter().map(|_| Arc::default()).collect();
    let engines = capacities
        .iter()
        .zip(&fakes)
        .enumerate()
        .map(|(i, (capacity, fake))| {
            let settings = EngineSettings {
                name: format!("e{i}"),
                endpoint: format!("unix:///fake/{i}.sock"),
                capacity: *capacity,
                tls: None,
            };
            (settings, fake.clone() as Arc<dyn Sandbox>)
        })
        .collect();
    (EngineSet::new(engines), fakes)
}

fn spec() -> ContainerSpec {
    ContainerSpec::new(
        &server::ids::SessionId::random().hash(),
        Duration::from_secs(60),
        SandboxLimits::default(),
    )
}

#[tokio::test]
async fn a_burst_spreads_by_free_capacity_and_stops_when_all_are_full() -> Result<()> {
    let (engines, fakes) = set(&[30, 30]);
    let engines = Arc::new(engines);
    let burst = (0..50).map(|_| {
        let engines = engines.clone();
        tokio::spawn(async move { engines.create(&spec()).await })
    });
    let mut ids = Vec::new();
    for arrival in burst {
        ids.push(arrival.await??);
    }
    let counts: Vec<usize> = fakes
        .iter()
        .map(|f| f.created.load(Ordering::SeqCst))
        .collect();
    ensure!(
        counts == [25, 25],
        "50 arrivals over two equal engines placed {counts:?}"
    );
    ensure!(ids
        .iter()
        .all(|id| id.0.starts_with("e0/") || id.0.starts_with("e1/")));
    for _ in 0..10 {
        engines.create(&spec()).await?;
    }
    let full = engines.create(&spec()).await;
    ensure!(
        matches!(&full, Err(SandboxError::Engine { detail, .. }) if detail.contains("no engine has room")),
        "a 61st sandbox over a capacity of 60: {full:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_engine_that_stops_answering_is_left_out_and_ids_route_home() -> Result<()> {
    let (engines, fakes) = set(&[10, 10]);
    let first = engines.create(&spec()).await?;
    ensure!(first.0.starts_with("e0/"), "{first:?}");
    fakes[1].unreachable.store(true, Ordering::SeqCst);
    // e1 has more room now, fails, and the same call lands on e0; then e1 is left out.
    for _ in 0..4 {
        let id = engines.create(&spec()).await?;
        ensure!(
            id.0.starts_with("e0/"),
            "placed on the stopped engine: {id:?}"
        );
    }
    ensure!(
        fakes[1].created.load(Ordering::SeqCst) == 0,
        "the stopped engine made containers"
    );
    let free = engines.free_places();
    ensure!(
        free[1].1.is_none(),
        "the stopped engine is not taken for down: {free:?}"
    );
    fakes[0].unreachable.store(true, Ordering::SeqCst);
    let none = engines.create(&spec()).await;
    ensure!(
        matches!(none, Err(SandboxError::EngineUnreachable { .. })),
        "with every engine down: {none:?}"
    );

    // Shells, resizes and removals go to the engine holding the container.
    let shell = engines.open_shell(&first, TermSize::default()).await?;
    ensure!(shell.id.0.starts_with("e0/"), "{:?}", shell.id);
    engines.resize_shell(&shell.id, TermSize::default()).await?;
    ensure!(fakes[0].resizes.load(Ordering::SeqCst) == 1);
    engines.remove(&first).await?;
    let removed = fakes[0]
        .removed
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    ensure!(
        removed.len() == 1 && first.0.ends_with(&removed[0]),
        "{removed:?}"
    );
    ensure!(
        engines
            .remove(&server::sandbox::ContainerId("nowhere/x".into()))
            .await
            .is_err(),
        "an id of no engine must not be taken for removed"
    );
    Ok(())
}
