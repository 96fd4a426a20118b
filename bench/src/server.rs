//! The RootResume server under test: the release binary run as a child process, so its memory
//! is its own and it is configured exactly as an operator would configure it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rootresume_protocol::WS_PATH;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::term::{Shell, Term, PROMPT};

/// Where the server binary and the built site are, and what to call its containers.
#[derive(Debug, Clone)]
pub struct ServerSetup {
    /// The release `server` binary.
    pub binary: PathBuf,
    /// cargo-leptos' site root (holds `pkg/`); pages are not needed for the socket figures.
    pub site_root: PathBuf,
    /// Instance label for the server's containers.
    pub instance: String,
    /// Folder for the server's log.
    pub scratch: PathBuf,
}

impl ServerSetup {
    /// The release server and site the bench scripts build, or those `RR_BENCH_SERVER` and
    /// `RR_BENCH_SITE_ROOT` name; logs in `RR_BENCH_SCRATCH`, else `scratch`.
    pub fn from_env(instance: String, scratch: &str) -> Self {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = std::env::var("CARGO_TARGET_DIR").map_or(repo.join("target"), PathBuf::from);
        let env_or =
            |name: &str, default: PathBuf| std::env::var(name).map_or(default, PathBuf::from);
        Self {
            binary: env_or("RR_BENCH_SERVER", target.join("release/server")),
            site_root: env_or("RR_BENCH_SITE_ROOT", repo.join("target/site")),
            instance,
            scratch: env_or("RR_BENCH_SCRATCH", PathBuf::from(scratch)),
        }
    }
}

/// A running server process.
pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// The instance label of its containers.
    pub instance: String,
}

impl ServerProcess {
    /// Starts the server with a warm pool of `pool_size` and waits until it answers.
    pub async fn start(setup: &ServerSetup, pool_size: usize) -> Result<Self> {
        Self::start_with(setup, pool_size, &format!("pool{pool_size}"), &[]).await
    }

    /// [`ServerProcess::start`] with more settings (`ROOTRESUME_*` variables), logging to
    /// `server-{label}.log`.
    pub async fn start_with(
        setup: &ServerSetup,
        pool_size: usize,
        label: &str,
        settings: &[(&str, String)],
    ) -> Result<Self> {
        let addr = free_port()?;
        let log = std::fs::File::create(setup.scratch.join(format!("server-{label}.log")))?;
        let child = Command::new(&setup.binary)
            .env("LEPTOS_OUTPUT_NAME", "rootresume")
            .env("LEPTOS_SITE_ROOT", &setup.site_root)
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", addr.to_string())
            .env("LEPTOS_ENV", "PROD")
            // The production default (info), whatever the caller's environment says: a quieter
            // server would flatter every figure.
            .env_remove("RUST_LOG")
            .env("ROOTRESUME_INSTANCE", &setup.instance)
            .env("ROOTRESUME_SESSIONS_POOL_SIZE", pool_size.to_string())
            // Every bench client is 127.0.0.1: lift the per-client limits and the global cap.
            .env("ROOTRESUME_SESSIONS_MAX_SESSIONS", "5000")
            .env("ROOTRESUME_SESSIONS_MAX_PER_CLIENT", "1000")
            // Every bench client is this machine: lift the per-address socket and connection caps.
            .env("ROOTRESUME_SECURITY_MAX_SOCKETS_PER_CLIENT", "10000")
            .env("ROOTRESUME_SECURITY_MAX_CONNECTIONS_PER_ADDRESS", "100000")
            .env("ROOTRESUME_SESSIONS_RATE_BURST", "1000000")
            .env("ROOTRESUME_SESSIONS_RATE_PER_MINUTE", "1000000")
            // Closed sessions give their containers back quickly, as a closed tab would.
            .env("ROOTRESUME_SESSIONS_GRACE_SECS", "1")
            // Removing hundreds of containers at the end takes a while on two cores.
            .env("ROOTRESUME_SHUTDOWN_TIMEOUT_SECS", "900")
            .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", setup.binary.display()))?;
        let mut server = Self {
            child,
            addr,
            instance: setup.instance.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).await.is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited at start ({status}); see its log in {}",
                    setup.scratch.display()
                );
            }
            if Instant::now() > deadline {
                bail!("the server did not listen within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server is at rest: its CPU time grows by less than 20 ms over 500 ms,
    /// for at most `max`. A server just started compresses the site's static files in the
    /// background (a second or two of CPU at the lowest priority); a figure taken meanwhile
    /// would measure that start-up, not the path it is about. Returns how long it waited.
    pub async fn settle(&self, max: Duration) -> Result<Duration> {
        // 20 ms of CPU, in clock ticks.
        let quiet = (clock_ticks()? / 50.0).ceil() as u64;
        let ticks = || cpu_ticks(self.pid()).context("the server is gone");
        let started = Instant::now();
        let mut before = ticks()?;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = ticks()?;
            if now.saturating_sub(before) < quiet || started.elapsed() > max {
                return Ok(started.elapsed());
            }
            before = now;
        }
    }

    /// The server's resident memory, in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss_of(self.child.id())
    }

    /// Creates a session the way the page does (the `create_session` server function).
    pub async fn create_session(&self) -> Result<String> {
        self.create_session_from(None).await
    }

    /// [`ServerProcess::create_session`] from the local address `from` (a loopback address of
    /// its own stands for another visitor).
    pub async fn create_session_from(&self, from: Option<IpAddr>) -> Result<String> {
        let response = request_from(from, self.addr, "POST", "/api/create_session").await?;
        let (status, body) = (response.status, response.body);
        if status != 200 {
            bail!("create_session answered {status}: {body}");
        }
        Ok(body.trim().trim_matches('"').to_owned())
    }

    /// A counter of the server's `/metrics` (served to loopback clients), e.g.
    /// `rootresume_pool_handouts_total`.
    pub async fn counter(&self, name: &str) -> Result<u64> {
        let response = request(self.addr, "GET", "/metrics").await?;
        if response.status != 200 {
            bail!("/metrics answered {}: {}", response.status, response.body);
        }
        response
            .body
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .map(|value| value as u64)
            .with_context(|| format!("no {name} in /metrics"))
    }

    /// The terminal socket's URL (the session is named in the first frame).
    pub fn socket_url(&self) -> String {
        format!("ws://{}{WS_PATH}", self.addr)
    }

    /// Creates a session and opens its terminal, returning once the prompt is on screen.
    pub async fn open(&self) -> Result<Term> {
        let session = self.create_session().await?;
        let mut term = Term::connect_session(&self.socket_url(), &session).await?;
        term.read_until(PROMPT, Duration::from_secs(60)).await?;
        Ok(term)
    }

    /// Stops the server (SIGTERM) and waits while it removes every container it made.
    pub async fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let status = tokio::task::spawn_blocking(move || self.child.wait()).await??;
        if !status.success() {
            bail!("the server exited with {status}");
        }
        Ok(())
    }
}

/// A free port on 127.0.0.1 (the listener is dropped; the server binds it right after).
fn free_port() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Resident memory of a process, from `/proc/PID/status`, in bytes.
pub fn rss_of(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    kib_field(&status, "VmRSS:").context("no VmRSS in /proc status")
}

/// CPU time of `pid` and its reaped children (short-lived `runc exec`s under a shim), in clock
/// ticks; `None` once it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    // After the name: state is field 3; utime, stime, cutime, cstime are fields 14 to 17.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(field(14)? + field(15)? + field(16)? + field(17)?)
}

/// Clock ticks per second.
pub fn clock_ticks() -> Result<f64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("running getconf CLK_TCK")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// A `Name:   1234 kB` field of a /proc file, in bytes.
pub fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Longest a plain request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer: its status, the replica HAProxy says served it, its body.
pub struct Response {
    pub status: u16,
    pub replica: Option<String>,
    pub body: String,
}

/// A minimal HTTP/1.1 request with an empty body.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> Result<Response> {
    request_from(None, addr, method, path).await
}

/// Connects to `addr` from the local address `from` (any port), or from wherever the system
/// picks.
pub async fn connect_from(from: Option<IpAddr>, addr: SocketAddr) -> Result<TcpStream> {
    let Some(from) = from else {
        return Ok(TcpStream::connect(addr).await?);
    };
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::new(from, 0))
        .with_context(|| format!("binding {from}"))?;
    Ok(socket.connect(addr).await?)
}

/// [`request`] from the local address `from`.
pub async fn request_from(
    from: Option<IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
) -> Result<Response> {
    let exchange = async {
        let mut stream = connect_from(from, addr).await?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .with_context(|| format!("{method} http://{addr}{path}: no answer"))??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no HTTP head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let body = match header("transfer-encoding") {
        Some(te) if te.eq_ignore_ascii_case("chunked") => dechunk(body),
        _ => body.to_owned(),
    };
    Ok(Response {
        status,
        replica: header("x-rootresume-lb-server"),
        body,
    })
}

/// The payload of a chunked HTTP body: hex size line, data, repeated until size 0.
pub(crate) fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
