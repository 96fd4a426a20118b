//! Plain HTTP to the balancer and the replicas: create a session the page's way, read a
//! replica's metrics and health, and ask scripts/cluster.sh about and for its parts.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rootresume_protocol::WS_PATH;
use tokio::time::Instant;

use super::options::{loopback, Replica};

pub use crate::server::{request, Response};

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

/// The terminal socket at `addr` (the session is named in the first frame).
pub fn socket_url(addr: SocketAddr) -> String {
    format!("ws://{addr}{WS_PATH}")
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
