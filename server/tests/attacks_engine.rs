//! Attacks on the engine by a compromised server, through the bundled socket proxy
//! (`deploy/docker-proxy/haproxy.cfg`): what the proxy refuses, and that the server's own calls
//! pass. Runs when `ROOTRESUME_DOCKER_HOST` names the proxy over TCP (CI sets it and runs the
//! whole suite through the proxy); skipped with a printed line otherwise.

mod common;

use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use server::sandbox::docker::container_body;
use server::sandbox::{ContainerSpec, SandboxLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The proxy's `host:port`, when the suite runs through one.
fn proxy() -> Option<String> {
    let host = std::env::var("ROOTRESUME_DOCKER_HOST").ok()?;
    host.strip_prefix("tcp://").map(str::to_owned)
}

/// Sends one raw request and returns the status code and the body.
async fn request(proxy: &str, head: &str, body: &[u8]) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(proxy).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .context("the proxy did not answer")??;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow!("no status in {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

async fn create(proxy: &str, body: &str) -> Result<(u16, String)> {
    let head = format!(
        "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    request(proxy, &head, body.as_bytes()).await
}

/// The body the server sends for a sandbox, with `host_config` (a JSON object's members) merged
/// into its `HostConfig` by text, as an attacker writing raw JSON would.
fn sandbox_body_with(host_config: &str) -> Result<String> {
    let spec = ContainerSpec::new(
        &server::ids::SessionId::random().hash(),
        Duration::from_secs(60),
        SandboxLimits::default(),
    );
    let body = serde_json::to_string(&container_body(&spec))?;
    if host_config.is_empty() {
        return Ok(body);
    }
    let marker = "\"HostConfig\":{";
    ensure!(body.contains(marker), "no HostConfig in {body}");
    Ok(body.replacen(marker, &format!("{marker}{host_config},"), 1))
}

#[tokio::test]
async fn the_socket_proxy_refuses_what_a_sandbox_does_not_need() -> Result<()> {
    let Some(proxy) = proxy() else {
        println!("SKIPPED: ROOTRESUME_DOCKER_HOST names no tcp:// socket proxy; scripts/test.sh runs this through deploy/docker-proxy/haproxy.cfg");
        return Ok(());
    };
    // Calls outside the allow-list.
    let id = "0".repeat(64);
    for head in [
        "GET /info HTTP/1.1\r\n".to_owned(),
        format!("GET /containers/{id}/json HTTP/1.1\r\n"),
        "POST /containers/rootresume-x/exec HTTP/1.1\r\n".to_owned(),
        "POST /build HTTP/1.1\r\n".to_owned(),
        "GET /volumes HTTP/1.1\r\n".to_owned(),
        "POST /containers/rootresume-x/start HTTP/1.1\r\n".to_owned(),
    ] {
        let head = format!("{head}Host: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let (status, _) = request(&proxy, &head, b"").await?;
        ensure!(
            status == 403,
            "{} answered {status}",
            head.lines().next().unwrap_or_default()
        );
    }

    // Commands as another user (root) or privileged, written the ways the engine would read.
    for body in [
        r#"{"Cmd":["id"],"User":"root"}"#,
        r#"{"Cmd":["id"],"user" : "0"}"#,
        r#"{"Cmd":["id"],"User":"checker:0"}"#,
        r#"{"Cmd":["id"],"User":"checker","USER":"0"}"#,
        r#"{"Cmd":["id"],"User":"0","User":"checker"}"#,
        r#"{"Cmd":["id"],"\u0055ser":"0"}"#,
        r#"{"Cmd":["id"],"Privileged":true}"#,
        &format!(r#"{{"Cmd":["true","{}"]}}"#, "x".repeat(300 * 1024)),
    ] {
        let head = format!(
            "POST /containers/{id}/exec HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (status, answer) = request(&proxy, &head, body.as_bytes()).await?;
        ensure!(
            status == 403,
            "an exec with {body} answered {status}: {answer}"
        );
    }

    // Creations that ask for more than a sandbox, written the ways the engine would still read.
    let escalations = [
        r#""Privileged":true"#,
        r#""privileged" : true"#,
        r#""\u0050rivileged":true"#,
        r#""Binds":["/:/host"]"#,
        "\"Bind\u{017f}\":[\"/:/host\"]",
        r#""Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]"#,
        r#""Devices":[{"PathOnHost":"/dev/mem"}]"#,
        r#""CapAdd":["SYS_ADMIN"]"#,
        r#""PidMode":"host""#,
        r#""NetworkMode":"host""#,
        r#""IpcMode":"container:other""#,
        r#""SecurityOpt":["seccomp=unconfined"]"#,
        r#""MaskedPaths":[]"#,
        r#""CgroupParent":"/""#,
    ];
    for extra in escalations {
        let (status, body) = create(&proxy, &sandbox_body_with(extra)?).await?;
        ensure!(
            status == 403,
            "a create with {extra} answered {status}: {body}"
        );
    }
    let padded = sandbox_body_with(&format!(r#""Comment":"{}""#, "x".repeat(20_000)))?;
    let (status, _) = create(&proxy, &padded).await?;
    ensure!(status == 403, "an oversized create answered {status}");
    let body = sandbox_body_with(r#""Privileged":true"#)?;
    let chunked = format!(
        "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let (status, _) = request(&proxy, &chunked, b"").await?;
    ensure!(status == 403, "a chunked create answered {status}");

    // The server's own creation passes; the test removes what it made.
    let (status, body) = create(&proxy, &sandbox_body_with("")?).await?;
    ensure!(
        status == 201,
        "the sandbox's own create answered {status}: {body}"
    );
    let created: serde_json::Value = serde_json::from_str(&body)?;
    let container = created["Id"]
        .as_str()
        .ok_or_else(|| anyhow!("no Id in {body}"))?;
    common::docker()
        .await?
        .remove_container(
            container,
            None::<bollard::query_parameters::RemoveContainerOptions>,
        )
        .await?;
    println!(
        "ATTACK | compromised server asks the engine for more | - | defended by the socket proxy: 6 calls off the allow-list and {} escalating creates (escaped, case-folded, oversized, chunked included) refused with 403; the sandbox's own create passes",
        escalations.len() + 2
    );
    Ok(())
}

/// The one request the proxy passes through whole, an attached exec start in its exact form,
/// cannot carry a second request past the rules: after a start that fails, the engine closes
/// the connection; any other form of the start meets the HTTP rules, request by request.
#[tokio::test]
async fn the_passed_through_exec_start_smuggles_nothing() -> Result<()> {
    let Some(proxy) = proxy() else {
        println!("SKIPPED: ROOTRESUME_DOCKER_HOST names no tcp:// socket proxy; scripts/test.sh runs this through deploy/docker-proxy/haproxy.cfg");
        return Ok(());
    };
    let exact = |id: &str, connection: &str, tty: bool| {
        let body = format!(r#"{{"Detach":false,"Tty":{tty}}}"#);
        format!(
            "POST /exec/{id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{body}",
            body.len()
        )
    };
    let smuggled = "GET /info HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n";
    let no_exec = "0".repeat(64);
    for (first, expected) in [
        // Passed through whole (either form): the engine answers 404 and closes; /info is
        // never read.
        (exact(&no_exec, "close", true), [404, 0]),
        (exact(&no_exec, "close", false), [404, 0]),
        // Not the exact form (keep-alive): HTTP rules for each request; /info is refused.
        (exact(&no_exec, "keep-alive", true), [404, 403]),
    ] {
        let mut stream = TcpStream::connect(&proxy).await?;
        stream.write_all(first.as_bytes()).await?;
        stream.write_all(smuggled.as_bytes()).await?;
        let mut answer = Vec::new();
        // The second form leaves the connection open after its answers: read what comes.
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        let statuses: Vec<u16> = text
            .match_indices("HTTP/1.1 ")
            .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
            .collect();
        let wanted: Vec<u16> = expected.into_iter().filter(|s| *s != 0).collect();
        ensure!(
            statuses == wanted,
            "{} then GET /info answered {statuses:?}, expected {wanted:?}: {text}",
            first.lines().nth(4).unwrap_or_default()
        );
    }
    println!(
        "ATTACK | a request smuggled behind the passed-through exec start | - | defended: the engine closes after a failed start (404 only); any other form meets the HTTP rules (404, then 403 for GET /info)"
    );
    Ok(())
}
