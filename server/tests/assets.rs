//! The page's static files over real HTTP: compressed once (Brotli for browsers that take it,
//! gzip meanwhile and for the rest), revalidated by ETag, never served from outside their folder.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::{test_config, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A GET with extra headers; returns the status, the head's lines and the raw body.
async fn get(addr: &str, path: &str, headers: &[&str]) -> Result<(u16, Vec<String>, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of head")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let lines: Vec<String> = head.lines().map(str::to_owned).collect();
    let status = lines
        .first()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    Ok((status, lines, raw[split + 4..].to_vec()))
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn xterm_goes_out_compressed_once_and_revalidates() -> Result<()> {
    let mut config = test_config();
    config.vendor_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules").into();
    let on_disk = std::fs::read(config.vendor_dir.join("@xterm/xterm/lib/xterm.mjs"))
        .context("xterm.js is installed by npm ci (scripts/setup.sh)")?;
    let server = TestServer::start(config).await?;
    let addr = server.server.addr().to_string();
    let path = "/vendor/xterm/lib/xterm.mjs";

    let (status, head, body) = get(&addr, path, &["Accept-Encoding: gzip"]).await?;
    ensure!(status == 200, "{head:?}");
    ensure!(
        header(&head, "content-encoding") == Some("gzip"),
        "{head:?}"
    );
    ensure!(
        header(&head, "content-type") == Some("text/javascript"),
        "{head:?}"
    );
    // A script is never a document: it keeps `nosniff` and none of the document policies.
    ensure!(
        header(&head, "x-content-type-options") == Some("nosniff"),
        "{head:?}"
    );
    ensure!(
        header(&head, "content-security-policy").is_none(),
        "{head:?}"
    );
    let gzip_len = body.len();
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)?;
    ensure!(unzipped == on_disk, "gzip body differs from the file");

    // Brotli is made in the background at start-up: a browser that takes it gets it soon.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (head, body) = loop {
        let (_, head, body) = get(&addr, path, &["Accept-Encoding: gzip, deflate, br"]).await?;
        if header(&head, "content-encoding") == Some("br") {
            break (head, body);
        }
        if Instant::now() > deadline {
            bail!("no Brotli within a minute: {head:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut unbrotlied = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut unbrotlied)?;
    ensure!(unbrotlied == on_disk, "Brotli body differs from the file");
    ensure!(body.len() < gzip_len, "Brotli is the smaller");
    println!(
        "xterm.mjs: {} bytes, gzip {gzip_len} bytes, Brotli {} bytes",
        on_disk.len(),
        body.len()
    );

    let etag = header(&head, "etag").context("no ETag")?.to_owned();
    let (status, _, body) = get(&addr, path, &[&format!("If-None-Match: {etag}")]).await?;
    ensure!(
        status == 304 && body.is_empty(),
        "a matching ETag gets 304, got {status}"
    );
    let (status, _, body) = get(&addr, path, &[]).await?;
    ensure!(
        status == 200 && body == on_disk,
        "no Accept-Encoding: the file as it is"
    );

    for outside in [
        "/vendor/xterm/lib/../../package.json",
        "/vendor/xterm/lib/..%2f..%2fpackage.json",
        "/vendor/xterm/lib/missing.js",
    ] {
        let (status, head, _) = get(&addr, outside, &[]).await?;
        ensure!(status == 404, "{outside}: {head:?}");
    }
    server.server.shutdown().await;
    Ok(())
}
