//! The warm pool: ready containers handed out on demand, refilled, recycled after their TTL,
//! bounded by the global cap, and removed at shutdown.

mod common;

use std::time::{Duration, Instant};

use std::sync::Arc;

use anyhow::{bail, Result};
use common::{labelled, test_config, TestServer};
use server::config::Config;
use server::sandbox::Sandbox;

fn pooled(size: usize, configure: impl FnOnce(&mut Config)) -> Config {
    let mut config = test_config();
    config.sessions.pool_size = size;
    configure(&mut config);
    config
}

async fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn instance_containers(server: &TestServer) -> Result<Vec<String>> {
    containers_of(server.server.sessions().sandbox()).await
}

async fn containers_of(sandbox: &Arc<dyn Sandbox>) -> Result<Vec<String>> {
    Ok(sandbox
        .list()
        .await?
        .into_iter()
        .map(|c| c.session)
        .collect())
}

#[tokio::test]
async fn pool_hands_out_ready_shells_and_refills() -> Result<()> {
    let server = TestServer::start(pooled(2, |_| {})).await?;
    let pool = || server.server.sessions().pool().ready();
    until("a full pool", Duration::from_secs(30), || pool() == 2).await?;
    let waiting = instance_containers(&server).await?;
    assert_eq!(waiting.len(), 2);

    let started = Instant::now();
    let id = server.create_session().await?;
    assert!(
        waiting.contains(&common::label_of(&id)?),
        "the session is one of the pooled containers"
    );
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.wait_for(0, "visitor@", Duration::from_secs(5)).await?;
    println!("pooled time to prompt: {:?}", started.elapsed());
    assert_eq!(term.run("echo from-the-pool").await?, "from-the-pool");

    until("the pool to refill", Duration::from_secs(30), || {
        pool() == 2
    })
    .await?;
    assert_eq!(
        instance_containers(&server).await?.len(),
        3,
        "two waiting plus one in use"
    );
    let sandbox = server.server.sessions().sandbox().clone();
    server.server.shutdown().await;
    assert!(
        containers_of(&sandbox).await?.is_empty(),
        "shutdown removes pooled containers too"
    );
    assert!(labelled(Some(&id)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn pooled_containers_are_recycled_after_their_ttl() -> Result<()> {
    let server =
        TestServer::start(pooled(1, |c| c.sessions.pool_ttl = Duration::from_secs(10))).await?;
    until("a full pool", Duration::from_secs(30), || {
        server.server.sessions().pool().ready() == 1
    })
    .await?;
    let first = instance_containers(&server).await?;
    tokio::time::sleep(Duration::from_secs(12)).await;
    until("a fresh pooled container", Duration::from_secs(30), || {
        server.server.sessions().pool().ready() == 1
    })
    .await?;
    let later = instance_containers(&server).await?;
    assert_eq!(later.len(), 1, "{later:?}");
    assert_ne!(
        first, later,
        "the pooled container should have been replaced"
    );
    let sandbox = server.server.sessions().sandbox().clone();
    server.server.shutdown().await;
    assert!(containers_of(&sandbox).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn pool_never_grows_past_the_global_cap() -> Result<()> {
    let server = TestServer::start(pooled(3, |c| c.sessions.max_sessions = 3)).await?;
    until("a full pool", Duration::from_secs(30), || {
        server.server.sessions().pool().ready() == 3
    })
    .await?;
    let a = server.create_session().await?;
    let b = server.create_session().await?;
    // Attached, so they outlive the grace period and stay in use.
    let mut ta = server.connect(&a).await?;
    ta.started().await?;
    let mut tb = server.connect(&b).await?;
    tb.started().await?;
    // Two in use, so the pool may hold one more at most (and the other two pooled were handed
    // out, not replaced).
    until("the pool at one", Duration::from_secs(30), || {
        server.server.sessions().pool().len() == 1
    })
    .await?;
    assert_eq!(instance_containers(&server).await?.len(), 3);
    let c = server.create_session().await?;
    // Refused for capacity, and for nothing else: the visitor waits in line.
    let refused = server.create_session().await.err().map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("answered 503") && e.contains("number 1 in line")),
        "a fourth session must wait for a slot: {refused:?}"
    );
    server.server.shutdown().await;
    for id in [a, b, c] {
        assert!(labelled(Some(&id)).await?.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn the_pool_grows_while_visitors_arrive() -> Result<()> {
    let server = TestServer::start(pooled(1, |c| c.sessions.pool_max = 3)).await?;
    let pool = || server.server.sessions().pool().ready();
    until("a full pool", Duration::from_secs(30), || pool() == 1).await?;
    let (a, b, c) = tokio::join!(
        server.create_session(),
        server.create_session(),
        server.create_session()
    );
    for created in [a, b, c] {
        created?;
    }
    // Three visitors at once, two more than the pool held: it grows to three ready sandboxes
    // for the next ones, each a real container.
    until("the pool grown to 3", Duration::from_secs(60), || {
        pool() == 3
    })
    .await?;
    let containers = instance_containers(&server).await?;
    for session in server.server.sessions().pool().all() {
        assert!(
            containers.contains(&session.hash),
            "pooled {} has no container",
            session.tag()
        );
    }
    let sandbox = server.server.sessions().sandbox().clone();
    server.server.shutdown().await;
    assert!(containers_of(&sandbox).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_refill_waits_for_the_visitors_tab_while_another_sandbox_is_ready() -> Result<()> {
    let server = TestServer::start(pooled(2, |_| {})).await?;
    let pool = server.server.sessions().pool();
    until("a full pool", Duration::from_secs(30), || pool.ready() == 2).await?;

    // Handed out with one more ready: no start until the visitor's tab attaches.
    let id = server.create_session().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pool.len(), 1, "no refill while the visitor is being served");
    let mut term = server.connect(&id).await?;
    term.started().await?;
    until(
        "the refill once the tab attached",
        Duration::from_secs(30),
        || pool.len() == 2,
    )
    .await?;
    until("a full pool", Duration::from_secs(30), || pool.ready() == 2).await?;

    // A tab that never comes puts the refill off for the hold only.
    let started = Instant::now();
    server.create_session().await?;
    until("the refill after the hold", Duration::from_secs(30), || {
        pool.len() == 2
    })
    .await?;
    println!(
        "refill began {:?} after a handout no tab took",
        started.elapsed()
    );
    until("a full pool", Duration::from_secs(30), || pool.ready() == 2).await?;

    // The last ready sandbox handed out: the refill starts at once (and two visitors at once
    // leave none ready).
    let (a, b) = tokio::join!(server.create_session(), server.create_session());
    a?;
    b?;
    until(
        "the refill of an emptied pool",
        Duration::from_secs(30),
        || pool.len() == 2,
    )
    .await?;

    let sandbox = server.server.sessions().sandbox().clone();
    server.server.shutdown().await;
    assert!(containers_of(&sandbox).await?.is_empty());
    Ok(())
}

/// The value of attribute `name` in `html`, if it is there.
fn attribute<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let start = html.find(&format!(" {name}=\""))? + name.len() + 3;
    html[start..].split('"').next()
}

#[tokio::test]
async fn the_terminal_page_comes_with_a_pooled_session_and_its_prompt() -> Result<()> {
    use base64::Engine as _;
    // A grace period longer than the test waits: a session given back must end sooner.
    let server = TestServer::start(pooled(1, |c| {
        c.sessions.grace_period = Duration::from_secs(120)
    }))
    .await?;
    let sessions = server.server.sessions();
    until("a full pool", Duration::from_secs(30), || {
        sessions.pool().ready() == 1
    })
    .await?;
    let page = format!("http://{}/terminal", server.server.addr());

    // A script's GET, a reload and a prefetch get the page alone.
    for headers in [
        &[][..],
        &[
            ("Sec-Fetch-Dest", "document"),
            ("Cache-Control", "max-age=0"),
        ][..],
        &[("Sec-Fetch-Dest", "document"), ("Sec-Purpose", "prefetch")][..],
    ] {
        let response = common::http_get_with(&page, headers).await?;
        assert!(
            response.starts_with("HTTP/1.0 200"),
            "{headers:?}: {response:.200}"
        );
        assert_eq!(attribute(&response, "data-granted"), None, "{headers:?}");
    }
    assert_eq!(sessions.live_count(), 0, "no session for those");

    // A browser's navigation gets its session in the page, with the prompt it printed.
    let response = common::http_get_with(&page, &[("Sec-Fetch-Dest", "document")]).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "a page with a session in it is never stored: {head}"
    );
    let id = attribute(body, "data-granted").expect("the page carries its session");
    let screen = attribute(body, "data-screen").expect("and its screen");
    let screen = base64::engine::general_purpose::STANDARD.decode(screen)?;
    assert!(
        String::from_utf8_lossy(&screen).contains("visitor@"),
        "the pooled shell's prompt: {:?}",
        String::from_utf8_lossy(&screen)
    );
    assert_eq!(sessions.live_count(), 1);

    // The page's socket attaches to that shell, which replays the same screen first.
    let mut term = server.connect(id).await?;
    term.started().await?;
    term.wait_for(0, "visitor@", Duration::from_secs(5)).await?;
    assert_eq!(term.run("echo page-$((20+1))").await?, "page-21");

    // Giving back a session a tab attached to does nothing; one no tab took ends at once.
    let release = format!("http://{}/api/release_session", server.server.addr());
    assert_eq!(
        common::http_post_form(&release, &format!("id={id}")).await?,
        200
    );
    assert_eq!(term.run("echo still-$((1+1))").await?, "still-2");
    let second = common::http_get_with(&page, &[("Sec-Fetch-Dest", "document")]).await?;
    let unused = attribute(&second, "data-granted").expect("a second session");
    assert_eq!(sessions.live_count(), 2);
    assert_eq!(
        common::http_post_form(&release, &format!("id={unused}")).await?,
        200
    );
    until("the unused session to end", Duration::from_secs(10), || {
        sessions.get(unused).is_none()
    })
    .await?;
    // Any id is answered alike.
    assert_eq!(
        common::http_post_form(&release, "id=not-a-session").await?,
        200
    );
    assert_eq!(term.run("echo after-$((2+1))").await?, "after-3");

    let sandbox = sessions.sandbox().clone();
    server.server.shutdown().await;
    assert!(containers_of(&sandbox).await?.is_empty());
    Ok(())
}
