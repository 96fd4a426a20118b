//! Attacks on the web side, against a real server on port 0: cross-site WebSocket hijacking,
//! stolen and forged session ids, ids in logs, slowloris, connection and socket floods, and the
//! security headers of pages.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Result};
use common::{http_get, http_post_with, test_config, Event, TestServer};
use rootresume_protocol::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn cross_site_websockets_and_posts_are_refused() -> Result<()> {
    let mut config = test_config();
    config.security.allowed_origins = vec!["https://friend.example".into()];
    let server = TestServer::start(config).await?;
    let id = server.create_session().await?;
    let own = format!("http://{}", server.server.addr());

    match server
        .connect_with(&id, &[("origin", "https://evil.example")])
        .await?
    {
        Err((403, body)) => ensure!(body.contains("evil.example"), "{body}"),
        Err(other) => bail!("expected 403, got {other:?}"),
        Ok(_) => bail!("a cross-site page opened the visitor's terminal"),
    }
    let url = format!("http://{}/api/create_session", server.server.addr());
    let (status, _) = http_post_with(&url, &[("Origin", "https://evil.example")]).await?;
    ensure!(
        status == 403,
        "a cross-site POST started a session: {status}"
    );

    for origin in [own.as_str(), "https://friend.example"] {
        let mut term = server
            .connect_with(&id, &[("origin", origin)])
            .await?
            .map_err(|refused| anyhow!("{origin} refused: {refused:?}"))?;
        term.started().await?;
    }
    server.server.shutdown().await;
    ensure!(common::labelled(Some(&id)).await?.is_empty());
    println!("ATTACK | cross-site WebSocket / POST | - | defended: 403 for https://evil.example, own and allowed origins pass");
    Ok(())
}

#[tokio::test]
async fn stolen_or_forged_ids_do_not_attach() -> Result<()> {
    let mut config = test_config();
    config.sessions.trusted_proxy_header = "x-forwarded-for".into();
    let server = TestServer::start(config).await?;
    let (status, body) = server.try_create_as("203.0.113.5").await?;
    ensure!(status == 200, "{status} {body}");
    let id = body.trim().trim_matches('"').to_owned();
    let uuid = uuid::Uuid::parse_str(&id)?;
    ensure!(
        uuid.get_version_num() == 4,
        "ids must be random (UUID v4): {id}"
    );

    let forged = uuid::Uuid::new_v4().to_string();
    for (session, client) in [
        (id.as_str(), "198.51.100.7"),
        (forged.as_str(), "203.0.113.5"),
    ] {
        let mut term = server
            .connect_with(session, &[("x-forwarded-for", client)])
            .await?
            .map_err(|r| anyhow!("refused at handshake: {r:?}"))?;
        match term.next_event(Duration::from_secs(10)).await? {
            Event::Error(ErrorCode::UnknownSession, message) => {
                ensure!(message.contains("unknown or has expired"), "{message}")
            }
            other => bail!("{client} attached to {session}: {other:?}"),
        }
    }
    let mut owner = server
        .connect_with(&id, &[("x-forwarded-for", "203.0.113.5")])
        .await?
        .map_err(|r| anyhow!("owner refused: {r:?}"))?;
    owner.started().await?;
    server.server.shutdown().await;
    ensure!(common::labelled(Some(&id)).await?.is_empty());
    println!("ATTACK | stolen / forged session id | - | defended: both told the session is unknown; the owner attaches");
    Ok(())
}

/// Whether `text` shows `id` or any 8 hex digits in a row of it (an old-style tag).
fn shows_id(text: &str, id: &str) -> bool {
    let simple = id.replace('-', "");
    text.contains(id) || (0..=simple.len() - 8).any(|at| text.contains(&simple[at..at + 8]))
}

#[tokio::test]
async fn session_ids_never_leave_the_server() -> Result<()> {
    let mut config = test_config();
    config.sessions.pool_size = 1;
    let server = TestServer::start(config).await?;
    let pool = server.server.sessions().pool();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pool.ready() < 1 {
        ensure!(Instant::now() < deadline, "the pool never filled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One session from the warm pool (its owner written when handed out), one made for its
    // visitor (or from the refilling pool), both in use.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = server.create_session().await?;
        let mut term = server.connect(&id).await?;
        term.started().await?;
        term.run("hostname").await?;
        ids.push((id, term));
    }
    let docker = common::docker().await?;
    for (id, _) in &ids {
        let hash = common::label_of(id)?;
        let proof = server::ids::SessionId::parse(id)
            .ok_or_else(|| anyhow!("not an id"))?
            .owner_proof([127, 0, 0, 1].into());
        let containers = common::labelled(Some(id)).await?;
        ensure!(containers.len() == 1, "{containers:?}");
        // The owner proof reaches a pooled container's name in the background.
        let deadline = Instant::now() + Duration::from_secs(10);
        let inspected = loop {
            let inspected = docker.inspect_container(&containers[0], None).await?;
            if inspected.name.as_deref() == Some(&format!("/rootresume-{hash}-{proof}")) {
                break inspected;
            }
            ensure!(
                Instant::now() < deadline,
                "named {:?}, not by hash and owner proof",
                inspected.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let everything = serde_json::to_string(&inspected)?;
        ensure!(
            !shows_id(&everything, id),
            "docker inspect shows the id: {everything}"
        );
        ensure!(everything.contains(&hash), "labelled by hash");
    }

    // Someone who lists containers learns hashes, proofs and tags: none of them attaches.
    let (id, _) = &ids[0];
    let parsed = server::ids::SessionId::parse(id).ok_or_else(|| anyhow!("not an id"))?;
    let proof = parsed.owner_proof([127, 0, 0, 1].into());
    for presented in [parsed.hash(), parsed.tag().to_string(), proof] {
        let mut term = server.connect(&presented).await?;
        match term.next_event(Duration::from_secs(10)).await? {
            Event::Error(ErrorCode::UnknownSession, _) => {}
            other => bail!("{presented} attached: {other:?}"),
        }
    }
    // The id travels in the first frame, never in the URL a proxy logs; a socket whose first
    // frame is anything else is refused.
    let mut term = common::Term::connect_raw(&server.socket_url()).await?;
    term.type_text("ls\r").await?;
    match term.next_event(Duration::from_secs(10)).await? {
        Event::Error(ErrorCode::BadMessage, message) => {
            ensure!(message.contains("first message"), "{message}")
        }
        other => bail!("input before attaching was taken: {other:?}"),
    }
    let silent = common::Term::connect_raw(&server.socket_url()).await?;
    let started = Instant::now();
    let mut silent = silent;
    match silent.next_event(Duration::from_secs(20)).await? {
        Event::Closed(_) => {}
        other => bail!("a silent socket got {other:?}"),
    }
    let waited = started.elapsed();
    drop(ids);
    server.server.shutdown().await;
    println!("ATTACK | session id on the engine / in URLs | - | defended: containers named and labelled by hash (+ owner proof), no id in docker inspect; tag, hash and proof attach to nothing; first frame must attach (silent socket closed after {waited:.1?})");
    Ok(())
}

/// Collects everything the server logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::ErrorKind::Other)?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn session_ids_never_reach_the_log() -> Result<()> {
    let logs = Captured::default();
    let writer = logs.clone();
    // Everything the server's own code logs, at every level; libraries at the default level.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,server=trace"))
        .with_writer(move || writer.clone())
        .try_init()
        .map_err(|e| anyhow!("{e}"))?;
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.run("echo hi").await?;
    term.type_text("exit\r").await?;
    let _ = term.next_event(Duration::from_secs(10)).await?;
    common::wait_removed(&id, Duration::from_secs(15)).await?;
    server.server.shutdown().await;
    let text =
        String::from_utf8_lossy(&logs.0.lock().map_err(|_| anyhow!("poisoned"))?).into_owned();
    let uuid = uuid::Uuid::parse_str(&id)?;
    let tag = server::ids::SessionId::parse(&id)
        .ok_or_else(|| anyhow!("not an id"))?
        .tag()
        .to_string();
    ensure!(
        text.contains("session started") && text.contains(&tag),
        "nothing logged: {text}"
    );
    ensure!(
        !text.contains(&id) && !text.contains(&uuid.simple().to_string()),
        "the id was logged: {text}"
    );
    println!("ATTACK | session id in logs | - | defended: logs name {tag} only");
    Ok(())
}

#[tokio::test]
async fn slowloris_is_cut_off_and_others_are_served() -> Result<()> {
    let mut config = test_config();
    config.security.header_read_timeout_secs = 2;
    let server = TestServer::start(config).await?;
    let mut slow = TcpStream::connect(server.server.addr()).await?;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await?;
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let cut = loop {
        if started.elapsed() > Duration::from_secs(15) {
            bail!("a slowloris header kept its connection for 15 s");
        }
        // One header line every half second: never finishing the request.
        if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break started.elapsed();
        }
        match tokio::time::timeout(Duration::from_millis(500), slow.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => break started.elapsed(),
            Err(_) => {}
        }
        let page = http_get(&format!("http://{}/", server.server.addr())).await?;
        ensure!(
            page.starts_with("HTTP/1.1 200"),
            "others not served meanwhile"
        );
    };
    ensure!(cut < Duration::from_secs(6), "cut only after {cut:?}");
    server.server.shutdown().await;
    println!("ATTACK | slowloris headers | - | defended: connection cut after {cut:?}, pages served meanwhile");
    Ok(())
}

#[tokio::test]
async fn connection_and_socket_floods_hit_per_client_caps() -> Result<()> {
    let mut config = test_config();
    config.security.max_connections_per_address = 8;
    config.security.max_sockets_per_client = 2;
    let server = TestServer::start(config).await?;

    // 50 idle connections from one address: all but 8 are closed at once.
    let mut flood = Vec::new();
    for _ in 0..50 {
        flood.push(TcpStream::connect(server.server.addr()).await?);
    }
    let mut closed = 0;
    for stream in &mut flood {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    ensure!(closed >= 42, "only {closed} of 50 connections were refused");
    drop(flood);
    // The server notices the closed connections as it reads them: it serves again within moments.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let page = http_get(&format!("http://{}/", server.server.addr())).await;
        if page.as_deref().is_ok_and(|p| p.starts_with("HTTP/1.1 200")) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "not serving after the flood: {page:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Terminal sockets: two per client, the third is refused with a reason.
    let mut ids = Vec::new();
    let mut terms = Vec::new();
    for _ in 0..3 {
        ids.push(server.create_session().await?);
    }
    for id in &ids[..2] {
        let mut term = server.connect(id).await?;
        term.started().await?;
        terms.push(term);
    }
    match server.connect_with(&ids[2], &[]).await? {
        Err((429, body)) => ensure!(body.contains("too many terminal connections"), "{body}"),
        other => bail!(
            "a third socket was not refused: {:?}",
            other.map(|_| "connected")
        ),
    }
    drop(terms.pop());
    // A closed socket gives its slot back when its handler ends, moments later.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut third = loop {
        match server.connect_with(&ids[2], &[]).await? {
            Ok(term) => break term,
            Err((429, _)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(refused) => bail!("the freed slot was not given back: {refused:?}"),
        }
    };
    third.started().await?;
    server.server.shutdown().await;
    for id in &ids {
        ensure!(common::labelled(Some(id)).await?.is_empty());
    }
    println!("ATTACK | connection flood / socket flood | - | defended: {closed}/50 connections refused, 3rd socket 429, served after");
    Ok(())
}

/// The body of a raw HTTP/1.1 response, chunked or not.
fn body_of(raw: &str) -> String {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_owned();
    }
    let (mut out, mut rest) = (String::new(), body);
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(len) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if len == 0 || tail.len() < len {
            break;
        }
        out.push_str(&tail[..len]);
        rest = tail[len..].trim_start_matches("\r\n");
    }
    out
}

#[tokio::test]
async fn pages_carry_security_headers_and_every_inline_script_is_allowed() -> Result<()> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let server = TestServer::start(test_config()).await?;
    let raw = http_get(&format!("http://{}/", server.server.addr())).await?;
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_owned)
    };
    ensure!(header("x-content-type-options").as_deref() == Some("nosniff"));
    ensure!(header("referrer-policy").is_some() && header("x-frame-options").is_some());
    ensure!(
        header("x-rootresume-csp-nonce").is_none(),
        "internal header leaked"
    );
    // The CSP as sent (nonce case intact).
    let csp = raw
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .ok_or_else(|| anyhow!("no CSP: {head}"))?
        .to_owned();
    ensure!(
        csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
        "{csp}"
    );
    let scripts = csp
        .split(';')
        .find(|d| d.trim_start().starts_with("script-src"))
        .unwrap_or("");
    ensure!(
        !scripts.contains("unsafe-inline") && !scripts.contains("'unsafe-eval'"),
        "{csp}"
    );
    let body = body_of(&raw);
    let mut inline = 0;
    for piece in body.split("<script").skip(1) {
        let (attrs, rest) = piece
            .split_once('>')
            .ok_or_else(|| anyhow!("bad script tag"))?;
        if attrs.contains("src=") {
            continue;
        }
        inline += 1;
        let text = rest.split("</script>").next().unwrap_or("");
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text));
        let by_nonce = attrs
            .split("nonce=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
            .is_some_and(|n| csp.contains(&format!("'nonce-{n}'")));
        ensure!(
            by_nonce || csp.contains(&format!("'sha256-{digest}'")),
            "inline script <script{attrs}> is not allowed by the CSP {csp}"
        );
    }
    ensure!(
        inline >= 3,
        "expected the import map, theme and hydration scripts, found {inline}"
    );
    server.server.shutdown().await;
    println!("ATTACK | injected inline script | - | defended: CSP allows only the page's {inline} own inline scripts (hash or nonce)");
    Ok(())
}

#[tokio::test]
async fn forged_proxy_headers_from_an_untrusted_peer_change_nothing() -> Result<()> {
    // The proxy is 127.0.0.1; 127.0.0.2 is a visitor reaching the port directly, forging
    // X-Forwarded-For with a new address on every request to dodge the per-client cap.
    let mut config = test_config();
    config.sessions.trusted_proxy_header = "x-forwarded-for".into();
    config.security.trusted_proxies = vec!["127.0.0.1".into()];
    config.sessions.max_per_client = 2;
    let server = TestServer::start(config).await?;
    let url = format!("http://{}/api/create_session", server.server.addr());
    let attacker = Some(std::net::Ipv4Addr::new(127, 0, 0, 2));
    let mut statuses = Vec::new();
    for n in 0..4 {
        let forged = format!("198.51.100.{n}");
        let (status, _) =
            common::http_post_from(attacker, &url, &[("X-Forwarded-For", &forged)]).await?;
        statuses.push(status);
    }
    ensure!(
        statuses == [200, 200, 429, 429],
        "forged headers bought more sessions: {statuses:?}"
    );
    // The trusted proxy's word still counts.
    let (status, _) = server.try_create_as("203.0.113.77").await?;
    ensure!(
        status == 200,
        "the trusted proxy's client was refused: {status}"
    );
    server.server.shutdown().await;
    println!("ATTACK | forged X-Forwarded-For from an untrusted peer | - | defended: per-client cap held (2 of 4), the proxy's header still counts");
    Ok(())
}
