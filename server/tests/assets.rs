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

/// A page's body, asked for as a browser's navigation would (no compression, to read it).
async fn page(addr: &str, path: &str) -> Result<String> {
    let (status, head, body) = get(addr, path, &["Accept: text/html"]).await?;
    ensure!(status == 200, "{path}: {head:?}");
    Ok(String::from_utf8(body)?)
}

#[tokio::test]
async fn pages_carry_the_stylesheet_as_built() -> Result<()> {
    // A site folder of its own, with no stylesheet built yet.
    let site = std::env::temp_dir().join(format!("rootresume-site-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(site.join("pkg"))?;
    let options = leptos::config::LeptosOptions::builder()
        .output_name("rootresume")
        .site_root(site.to_string_lossy().into_owned())
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    // Only pages are asked for: nothing here needs an engine.
    let sandbox = std::sync::Arc::new(common::fake::FakeSandbox::default());
    let server = server::Server::start_with(test_config(), options, listener, sandbox).await?;
    let addr = server.addr().to_string();
    let result = async {
        let link = r#"href="/pkg/rootresume.css""#;
        let about = page(&addr, "/about").await?;
        ensure!(
            about.contains(link) && !about.contains("<style"),
            "no stylesheet built: the page links it\n{about}"
        );

        // A child combinator (`>`) must reach the browser as it is: a style element's text is
        // not HTML-escaped.
        let css = site.join("pkg/rootresume.css");
        std::fs::write(&css, "main>p{color:#123456}")?;
        let about = page(&addr, "/about").await?;
        ensure!(
            about.contains(r#"<style id="leptos">main>p{color:#123456}</style>"#),
            "the stylesheet in the page\n{about}"
        );
        ensure!(!about.contains("/pkg/rootresume.css"), "and not linked too");
        let head_end = about.find("</head>").context("no </head>")?;
        ensure!(
            about.find("<style").is_some_and(|at| at < head_end),
            "in the head"
        );

        // A new build (scripts/build-site.sh replaces the file) is in the next page.
        std::fs::write(&css, "main>p{color:#654321;margin:0}")?;
        let terminal = page(&addr, "/terminal").await?;
        ensure!(
            terminal.contains("main>p{color:#654321;margin:0}</style>"),
            "the new build's stylesheet\n{terminal}"
        );
        Ok(())
    }
    .await;
    server.shutdown().await;
    std::fs::remove_dir_all(&site)?;
    result
}
