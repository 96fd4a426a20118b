//! Plain HTTP to the balancer and the replicas: create a session the page's way, read a
//! replica's metrics and health, and ask scripts/cluster.sh about and for its parts.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rootresume_protocol::WS_PATH;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::options::{loopback, Replica};
use crate::server::dechunk;

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
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
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

/// Creates a session the way the page does; returns its id and the replica that made it (when
/// a balancer says).
pub async fn create_session(addr: SocketAddr) -> Result<(String, Option<String>)> {
    let response = request(addr, "POST", "/api/create_session").await?;
    if response.status != 200 {
        bail!(
            "create_session answered {}: {}",
            response.status,
            response.body.trim()
        );
    }
    let id = response.body.trim().trim_matches('"').to_owned();
    Ok((id, response.replica))
}

/// The terminal socket of a session, at `addr`.
pub fn socket_url(addr: SocketAddr, session: &str) -> String {
    format!("ws://{addr}{WS_PATH}?session={session}")
}

/// The value of an unlabelled series of a replica's `/metrics` (answered to loopback clients).
pub async fn metric(addr: SocketAddr, name: &str) -> Result<f64> {
    let response = request(addr, "GET", "/metrics").await?;
    if response.status != 200 {
        bail!("/metrics of {addr} answered {}", response.status);
    }
    response
        .body
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            rest.starts_with(' ')
                .then(|| rest.trim().parse::<f64>().ok())
                .flatten()
        })
        .with_context(|| format!("no {name} in the metrics of {addr}"))
}

/// Whether `/healthz` answers 200.
pub async fn healthy(addr: SocketAddr) -> bool {
    let check = request(addr, "GET", "/healthz");
    matches!(
        tokio::time::timeout(Duration::from_secs(2), check).await,
        Ok(Ok(Response { status: 200, .. }))
    )
}

/// Waits until every replica answers `/healthz` and streams no session (the previous round's
/// have ended), for at most `timeout`.
pub async fn wait_quiet(replicas: &[Replica], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut state = Vec::new();
        for replica in replicas {
            let live = if healthy(replica.addr).await {
                metric(replica.addr, "rootresume_sessions_live").await.ok()
            } else {
                None
            };
            state.push((replica.name.as_str(), live));
        }
        if state.iter().all(|(_, live)| *live == Some(0.0)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("replicas not all up with no live session after {timeout:?}: {state:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs `scripts/cluster.sh ARGS…` and returns its standard output.
pub async fn cluster_sh(script: &Path, args: &[&str]) -> Result<String> {
    let mut command = Command::new(script);
    command.args(args);
    let what = format!("{} {}", script.display(), args.join(" "));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The balancer's address and the replicas', as scripts/cluster.sh knows them.
pub async fn from_cluster_sh(script: &Path) -> Result<(SocketAddr, Vec<Replica>)> {
    let lb = loopback(&cluster_sh(script, &["addr", "haproxy"]).await?)?;
    let mut replicas = Vec::new();
    for name in cluster_sh(script, &["replicas"]).await?.lines() {
        let addr = loopback(&cluster_sh(script, &["addr", name]).await?)?;
        replicas.push(Replica {
            name: name.to_owned(),
            addr,
        });
    }
    if replicas.is_empty() {
        bail!("scripts/cluster.sh lists no replica");
    }
    Ok((lb, replicas))
}

/// Sends SIGKILL to `pid`.
pub fn kill9(pid: u32) -> Result<()> {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -KILL {pid} failed ({status})");
    }
    Ok(())
}
