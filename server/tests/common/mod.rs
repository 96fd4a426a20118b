//! Helpers shared by the integration tests: a real server on port 0, a protocol-speaking
//! WebSocket client, and a direct view of the Docker engine to check what really exists.
#![allow(dead_code)]

pub mod fake;
pub mod real_server;
pub mod redis;
pub mod relay;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;
use futures_util::{SinkExt, StreamExt};
use leptos::config::LeptosOptions;
use rootresume_protocol::{ClientMessage, ServerMessage, SessionNotice};
use server::config::Config;
use server::Server;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How many test servers of each instance are alive in this test binary.
static LIVE_INSTANCES: std::sync::Mutex<BTreeMap<String, usize>> =
    std::sync::Mutex::new(BTreeMap::new());

/// One test server's share in its instance's cleanup: the last one dropped removes what is left
/// of the instance ([`redis::InstanceCleanup`]). Counted, because the cluster tests run several
/// servers of one instance and drop one on purpose (a replica dying) while the others go on.
pub struct SharedCleanup(String);

impl SharedCleanup {
    fn new(instance: &str) -> Self {
        if let Ok(mut live) = LIVE_INSTANCES.lock() {
            *live.entry(instance.to_owned()).or_default() += 1;
        }
        Self(instance.to_owned())
    }
}

impl Drop for SharedCleanup {
    fn drop(&mut self) {
        let last = LIVE_INSTANCES
            .lock()
            .is_ok_and(|mut live| match live.get_mut(&self.0) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                _ => {
                    live.remove(&self.0);
                    true
                }
            });
        if last {
            drop(redis::InstanceCleanup(self.0.clone()));
        }
    }
}

/// Settings for tests: short grace, no reconcile (tests share the engine and run in parallel).
pub fn test_config() -> Config {
    let mut config = Config {
        // Each test server reaps only its own containers, whatever else shares the engine.
        instance: format!("test-{}", uuid::Uuid::new_v4().simple()),
        shutdown_timeout_secs: 20,
        ..Config::default()
    };
    config.sessions.grace_period = Duration::from_secs(2);
    config.reaper.reconcile_on_start = false;
    // Every test connects from 127.0.0.1: per-client limits are tested on their own.
    config.sessions.max_per_client = 100;
    config.sessions.rate_burst = 1000;
    // No warm pool unless a test is about it: parallel tests would start dozens of containers.
    config.sessions.pool_size = 0;
    // CI runs the suite through the bundled socket proxy (deploy/docker-proxy/haproxy.cfg).
    if let Ok(host) = std::env::var("ROOTRESUME_DOCKER_HOST") {
        config.docker_host = host;
    }
    config
}

/// A real server listening on a free port of 127.0.0.1.
pub struct TestServer {
    pub server: Server,
    /// Removes the instance's containers once the last test server of that instance is gone,
    /// so a test that fails half-way (returning early, before its shutdown) leaves nothing on
    /// the engine. `None` for a server on a fake sandbox.
    pub cleanup: Option<SharedCleanup>,
}

impl TestServer {
    pub async fn start(config: Config) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let options = LeptosOptions::builder().output_name("rootresume").build();
        let cleanup = SharedCleanup::new(&config.instance);
        let server = Server::start(config, options, listener).await?;
        Ok(Self {
            server,
            cleanup: Some(cleanup),
        })
    }

    /// A server on a fake sandbox: nothing of it reaches an engine.
    pub fn on_fake(server: Server) -> Self {
        Self {
            server,
            cleanup: None,
        }
    }

    /// Creates a session the way the page does (the server function) and returns its id.
    pub async fn create_session(&self) -> Result<String> {
        let url = format!("http://{}/api/create_session", self.server.addr());
        let response = http_post(&url).await?;
        let (status, body) = response;
        if status != 200 {
            bail!("create_session answered {status}: {body}");
        }
        Ok(body.trim().trim_matches('"').to_owned())
    }

    /// Asks for a session as the client `forwarded_for` (behind a trusted proxy header);
    /// returns the raw status and body.
    pub async fn try_create_as(&self, forwarded_for: &str) -> Result<(u16, String)> {
        let url = format!("http://{}/api/create_session", self.server.addr());
        http_post_with(&url, &[("X-Forwarded-For", forwarded_for)]).await
    }

    pub async fn connect(&self, session: &str) -> Result<Term> {
        Term::connect(&self.socket_url(), session).await
    }

    /// The terminal socket's URL (no session in it: that goes in the first frame).
    pub fn socket_url(&self) -> String {
        format!("ws://{}/ws/terminal", self.server.addr())
    }

    /// Opens the terminal socket with extra handshake headers (an `Origin`, the client behind
    /// the trusted proxy); `Err((status, body))` when the server refuses the upgrade.
    pub async fn connect_with(
        &self,
        session: &str,
        headers: &[(&'static str, &str)],
    ) -> Result<std::result::Result<Term, (u16, String)>> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::Error as WsError;
        let mut request = self.socket_url().into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse()?);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => {
                let mut term = Term {
                    socket,
                    screen: Vec::new(),
                    session: None,
                };
                term.attach(session).await?;
                Ok(Ok(term))
            }
            Err(WsError::Http(response)) => {
                let body = response.body().as_deref().map(String::from_utf8_lossy);
                Ok(Err((
                    response.status().as_u16(),
                    body.unwrap_or_default().into_owned(),
                )))
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// A minimal HTTP/1.1 GET; returns the whole response, head and body.
pub async fn http_get(url: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not http"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host).await?;
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// A minimal HTTP/1.0 GET with extra request headers (HTTP/1.0, so the body comes whole, not in
/// chunks); returns the whole response, head and body.
pub async fn http_get_with(url: &str, headers: &[(&str, &str)]) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not http"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host).await?;
    let mut request = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// A minimal HTTP/1.0 POST of the form `body`; returns the status.
pub async fn http_post_form(url: &str, body: &str) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not http"))?;
    let (host, path) = rest.split_once('/').ok_or_else(|| anyhow!("no path"))?;
    let mut stream = TcpStream::connect(host).await?;
    let request = format!(
        "POST /{path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let head = String::from_utf8_lossy(&raw);
    head.split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {head:.100}"))
}

/// A minimal HTTP/1.1 POST with an empty form body; returns status and body.
pub async fn http_post(url: &str) -> Result<(u16, String)> {
    http_post_with(url, &[]).await
}

/// [`http_post`] with extra request headers.
pub async fn http_post_with(url: &str, headers: &[(&str, &str)]) -> Result<(u16, String)> {
    http_post_from(None, url, headers).await
}

/// [`http_post_with`] from the loopback address `source` (e.g. 127.0.0.2: another machine as
/// far as the server can tell), or the default one.
pub async fn http_post_from(
    source: Option<std::net::Ipv4Addr>,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not http"))?;
    let (host, path) = rest.split_once('/').ok_or_else(|| anyhow!("no path"))?;
    let mut stream = match source {
        None => TcpStream::connect(host).await?,
        Some(source) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::from((source, 0)))?;
            socket.connect(host.parse()?).await?
        }
    };
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad response: {text}"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // Chunked bodies: keep the payload lines only.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body.lines()
            .filter(|l| !l.is_empty() && !l.chars().all(|c| c.is_ascii_hexdigit()))
            .collect::<Vec<_>>()
            .join("")
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// A protocol-speaking terminal client.
pub struct Term {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Everything the shell printed so far.
    pub screen: Vec<u8>,
    /// The session this socket attached to, once it sent its first frame.
    pub session: Option<String>,
}

/// A wait that ended because the session (or its socket) ended: the error [`Term::wait_for`]
/// and everything built on it give then, so an attack suite can tell whose sandbox went.
#[derive(Debug)]
pub struct SessionEnded {
    /// The session the socket was attached to.
    pub session: Option<String>,
    /// What the server said, or how the socket closed.
    pub detail: String,
}

impl std::fmt::Display for SessionEnded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the session ended: {}", self.detail)
    }
}

impl std::error::Error for SessionEnded {}

/// What the server said besides output.
#[derive(Debug)]
pub enum Event {
    Notice(SessionNotice),
    Error(rootresume_protocol::ErrorCode, String),
    Checked {
        challenge: String,
        passed: bool,
        message: String,
    },
    Closed(Option<String>),
    Pong(u64),
    /// The terminals open in the session (on a first terminal's socket attached with
    /// `AttachTerminal`).
    Terminals(Vec<u8>),
    /// The session's share links and viewers (on the first terminal's socket).
    Sharing(rootresume_protocol::Sharing),
    /// A spectator's socket was let in, or the shared terminal's size changed.
    Watching {
        cols: u16,
        rows: u16,
        typing: bool,
    },
    /// A reading of the resource meter (while the socket turned it on).
    Meter(rootresume_protocol::MeterReading),
}

impl Term {
    /// Opens the socket at `url` and attaches to `session` (the first frame).
    pub async fn connect(url: &str, session: &str) -> Result<Self> {
        let mut term = Self::connect_raw(url).await?;
        term.attach(session).await?;
        Ok(term)
    }

    /// Opens the socket at `url` from the local address `source` (another loopback address
    /// stands for another visitor) and attaches to `session`.
    pub async fn connect_from(
        url: &str,
        source: std::net::Ipv4Addr,
        session: &str,
    ) -> Result<Self> {
        let mut term = Self::connect_raw_from(url, source).await?;
        term.attach(session).await?;
        Ok(term)
    }

    /// Opens the socket at `url` from the local address `source` and sends nothing yet.
    pub async fn connect_raw_from(url: &str, source: std::net::Ipv4Addr) -> Result<Self> {
        let host = url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| anyhow!("not a ws:// URL: {url}"))?;
        let tcp = tokio::net::TcpSocket::new_v4()?;
        tcp.bind(std::net::SocketAddr::from((source, 0)))?;
        let stream = tcp.connect(host.parse()?).await?;
        let (socket, _) =
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await?;
        Ok(Self {
            socket,
            screen: Vec::new(),
            session: None,
        })
    }

    /// Opens the socket at `url` and sends nothing yet.
    pub async fn connect_raw(url: &str) -> Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Self {
            socket,
            screen: Vec::new(),
            session: None,
        })
    }

    /// Sends the first frame, naming the session.
    pub async fn attach(&mut self, session: &str) -> Result<()> {
        self.session = Some(session.to_owned());
        self.send(ClientMessage::Attach {
            session: session.to_owned(),
        })
        .await
    }

    /// Sends the first frame naming terminal `terminal` of the session (0 also asks for the
    /// list of terminals open).
    pub async fn attach_terminal(&mut self, session: &str, terminal: u8) -> Result<()> {
        self.session = Some(session.to_owned());
        self.send(ClientMessage::AttachTerminal {
            session: session.to_owned(),
            terminal,
        })
        .await
    }

    /// The [`SessionEnded`] error for this socket.
    fn ended(&self, detail: String) -> anyhow::Error {
        anyhow::Error::new(SessionEnded {
            session: self.session.clone(),
            detail,
        })
    }

    pub async fn send(&mut self, message: ClientMessage) -> Result<()> {
        self.socket
            .send(Message::Binary(message.encode().into()))
            .await?;
        Ok(())
    }

    pub async fn type_text(&mut self, text: &str) -> Result<()> {
        self.send(ClientMessage::Input(text.as_bytes().to_vec()))
            .await
    }

    /// Reads frames until a non-output event, collecting output; fails after `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.socket.next())
                .await
                .map_err(|_| anyhow!("no event within {timeout:?}; screen: {}", self.text()))?;
            match frame {
                None => return Ok(Event::Closed(None)),
                Some(Err(e)) => return Ok(Event::Closed(Some(e.to_string()))),
                Some(Ok(Message::Close(frame))) => {
                    return Ok(Event::Closed(frame.map(|f| f.reason.to_string())))
                }
                Some(Ok(Message::Binary(bytes))) => match ServerMessage::decode(&bytes)? {
                    ServerMessage::Output(out) => self.screen.extend(out),
                    ServerMessage::Notice(n) => return Ok(Event::Notice(n)),
                    ServerMessage::Error { code, message } => {
                        return Ok(Event::Error(code, message))
                    }
                    ServerMessage::Pong(nonce) => return Ok(Event::Pong(nonce)),
                    ServerMessage::Terminals(open) => return Ok(Event::Terminals(open)),
                    ServerMessage::Sharing(sharing) => return Ok(Event::Sharing(sharing)),
                    ServerMessage::Watching { cols, rows, typing } => {
                        return Ok(Event::Watching { cols, rows, typing })
                    }
                    ServerMessage::Meter(reading) => return Ok(Event::Meter(reading)),
                    ServerMessage::Checked {
                        challenge,
                        passed,
                        message,
                    } => {
                        return Ok(Event::Checked {
                            challenge,
                            passed,
                            message,
                        })
                    }
                },
                Some(Ok(_)) => {}
            }
        }
    }

    /// Waits for the Started notice; returns (session, resumed).
    pub async fn started(&mut self) -> Result<(String, bool)> {
        match self.next_event(Duration::from_secs(30)).await? {
            Event::Notice(SessionNotice::Started {
                session, resumed, ..
            }) => Ok((session, resumed)),
            other => bail!("expected Started, got {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen).into_owned()
    }

    /// Reads output until `needle` appears in what arrived after `from`.
    pub async fn wait_for(
        &mut self,
        from: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen =
                String::from_utf8_lossy(&self.screen[from.min(self.screen.len())..]).into_owned();
            if seen.contains(needle) {
                return Ok(seen);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{needle:?} did not appear within {timeout:?}; got: {seen}");
            }
            let frame = tokio::time::timeout(left, self.socket.next()).await;
            match frame {
                Err(_) => continue,
                Ok(None) => {
                    return Err(self.ended(format!(
                        "socket closed while waiting for {needle:?}; got: {seen}"
                    )))
                }
                Ok(Some(Err(e))) => {
                    return Err(
                        self.ended(format!("socket error while waiting for {needle:?}: {e}"))
                    )
                }
                Ok(Some(Ok(Message::Binary(bytes)))) => {
                    match ServerMessage::decode(&bytes)? {
                        ServerMessage::Output(out) => self.screen.extend(out),
                        // An end or an error while waiting is the answer, not noise to skip.
                        ServerMessage::Notice(notice @ SessionNotice::Ended { .. }) => {
                            return Err(self.ended(format!(
                                "{notice:?} while waiting for {needle:?}; got: {seen}"
                            )))
                        }
                        ServerMessage::Error { code, message } => {
                            return Err(self.ended(format!(
                            "error {code:?} ({message}) while waiting for {needle:?}; got: {seen}"
                        )))
                        }
                        ServerMessage::Notice(_)
                        | ServerMessage::Pong(_)
                        | ServerMessage::Terminals(_)
                        | ServerMessage::Sharing(_)
                        | ServerMessage::Watching { .. }
                        | ServerMessage::Meter(_)
                        | ServerMessage::Checked { .. } => {}
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    return Err(self.ended(format!(
                        "socket closed ({reason}) while waiting for {needle:?}; got: {seen}"
                    )));
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Waits for the prompt, types `exit` and expects the session to end because the shell
    /// exited (a visitor's whole life, once attached).
    pub async fn exit_at_prompt(&mut self) -> Result<()> {
        self.wait_for(0, "$ ", Duration::from_secs(30)).await?;
        self.type_text("exit\r").await?;
        loop {
            match self.next_event(Duration::from_secs(30)).await? {
                Event::Notice(SessionNotice::Ended {
                    reason: rootresume_protocol::EndReason::ShellExited,
                }) => return Ok(()),
                Event::Notice(SessionNotice::Expiring { .. }) => {}
                other => bail!("expected the shell to end, got {other:?}"),
            }
        }
    }

    /// Runs a command in the shell and returns what it printed between two markers.
    pub async fn run(&mut self, command: &str) -> Result<String> {
        let marked = Marked::new(command);
        let from = self.screen.len();
        self.type_text(&marked.line).await?;
        let seen = self
            .wait_for(from, &marked.end(), Duration::from_secs(30))
            .await
            .with_context(|| format!("running {command:?}"))?;
        marked
            .output(&seen)
            .ok_or_else(|| anyhow!("no start marker in {seen}"))
    }
}

/// A command line that prints a marker before and after `command`, so its output can be cut
/// from the screen whatever readline writes around the line (the echo, bracketed-paste
/// switches).
pub struct Marked {
    /// What to type, Enter included.
    pub line: String,
    marker: String,
}

impl Marked {
    pub fn new(command: &str) -> Self {
        let marker = format!("M{}K", rand_tag());
        // The markers are printed by printf from split strings, so the echoed command line
        // itself never contains them.
        let line = format!(
            "printf '%s%s\\n' '<{marker}' '>'; {command}; printf '%s%s\\n' '</{marker}' '>'\r"
        );
        Self { line, marker }
    }

    /// The end marker as it appears on the screen.
    pub fn end(&self) -> String {
        format!("</{}>", self.marker)
    }

    /// What the command printed, once both markers are on `seen`.
    pub fn output(&self, seen: &str) -> Option<String> {
        let start = seen.find(&format!("<{}>", self.marker))?;
        let body = &seen[start + self.marker.len() + 2..];
        let end = body.find(&self.end())?;
        Some(body[..end].replace('\r', "").trim().to_owned())
    }
}

fn rand_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// [`test_config`] with gVisor's runtime, when the engine has runsc registered; `None` (the
/// test is skipped, and says so) when it has not, unless CI expects it
/// (`ROOTRESUME_EXPECT_RUNTIMES`), which fails the test.
pub async fn gvisor_config() -> Result<Option<Config>> {
    let runtimes = docker().await?.info().await?.runtimes;
    let expected = std::env::var("ROOTRESUME_EXPECT_RUNTIMES").unwrap_or_default();
    if !runtimes.unwrap_or_default().contains_key("runsc") {
        if expected.contains("runsc") {
            bail!("runsc is expected (ROOTRESUME_EXPECT_RUNTIMES) but not registered");
        }
        println!("SKIPPED: runsc is not registered with the engine (scripts/setup-runsc.sh)");
        return Ok(None);
    }
    let mut config = test_config();
    config.sandbox.runtime = "runsc".into();
    Ok(Some(config))
}

/// A direct client of the engine, to check what the server really did.
pub async fn docker() -> Result<Docker> {
    Ok(Docker::connect_with_local_defaults()?
        .negotiate_version()
        .await?)
}

/// The session label's value for the session `id` (as handed out, with dashes): its hash,
/// never the id. A hash (32 hex digits, as in `ContainerSpec::session`) is its own label.
pub fn label_of(id: &str) -> Result<String> {
    if server::ids::is_hash(id) {
        return Ok(id.to_owned());
    }
    server::ids::SessionId::parse(id)
        .map(|id| id.hash())
        .ok_or_else(|| anyhow!("{id:?} is not a session id"))
}

/// Containers carrying our label, optionally only those of one session (by its id).
pub async fn labelled(session: Option<&str>) -> Result<Vec<String>> {
    let label = match session {
        Some(id) => format!("rootresume.session={}", label_of(id)?),
        None => "rootresume.session".into(),
    };
    containers_with(vec![label]).await
}

/// Ids of the containers (running or not) carrying every one of `labels`.
async fn containers_with(labels: Vec<String>) -> Result<Vec<String>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([("label".to_owned(), labels)])),
        ..Default::default()
    };
    Ok(docker()
        .await?
        .list_containers(Some(options))
        .await?
        .into_iter()
        .filter_map(|c| c.id)
        .collect())
}

/// Waits until the session's containers are gone; fails after `timeout`.
pub async fn wait_removed(session: &str, timeout: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        if labelled(Some(session)).await?.is_empty() {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            bail!("container of session {session} still exists after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Containers carrying our label that belong to deployment `instance`.
pub async fn labelled_in(instance: &str) -> Result<Vec<String>> {
    containers_with(vec![
        "rootresume.session".to_owned(),
        format!("rootresume.instance={instance}"),
    ])
    .await
}
