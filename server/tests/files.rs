//! Files out of a sandbox through `POST /api/files/download`, against a real server and engine:
//! only the session's own client gets them, bad requests say why.

mod common;

use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use base64::Engine as _;
use common::{test_config, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Posts `body` as JSON from the loopback address `source`; returns the status and the body.
async fn post_json(url: &str, source: [u8; 4], body: &str) -> Result<(u16, Vec<u8>)> {
    let head = "Content-Type: application/json\r\n";
    post(
        url,
        rootresume_protocol::DOWNLOAD_PATH,
        source,
        head,
        body.as_bytes(),
    )
    .await
}

/// Uploads `bytes` as `name` to session `id`, from `source`.
async fn upload(
    url: &str,
    source: [u8; 4],
    id: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(u16, String)> {
    let head = format!("X-RootResume-Session: {id}\r\nX-RootResume-Name: {name}\r\n");
    let (status, body) = post(url, server::files::UPLOAD_PATH, source, &head, bytes).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A POST of `body` to `path` with the extra `head` lines; returns the status and the body.
async fn post(
    url: &str,
    path: &str,
    source: [u8; 4],
    head: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("not http"))?;
    let (host, _) = rest.split_once('/').unwrap_or((rest, ""));
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((source, 0)))?;
    let mut stream = socket.connect(host.parse()?).await?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    // The server may answer (a refusal) before it has read it all.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw)).await??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no head in {}", String::from_utf8_lossy(&raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head}"))?;
    Ok((status, raw[split + 4..].to_vec()))
}

#[tokio::test]
async fn a_file_goes_only_to_its_sessions_client() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.run("printf 'line one\\nline two\\n' > notes.txt")
        .await?;
    let url = server.socket_url().replace("ws://", "http://");
    let path = base64::engine::general_purpose::STANDARD.encode("/home/visitor/notes.txt");
    let me = [127, 0, 0, 1];

    let (status, body) = post_json(
        &url,
        me,
        &format!(r#"{{"session":"{id}","path":"{path}"}}"#),
    )
    .await?;
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"line one\nline two\n"[..])
    );

    // Someone else's address, a forged id, a folder, a missing file, nonsense: refused, saying why.
    let cases = [
        (
            [127, 0, 0, 9],
            format!(r#"{{"session":"{id}","path":"{path}"}}"#),
            404,
            "unknown or has ended",
        ),
        (
            me,
            format!(
                r#"{{"session":"{}","path":"{path}"}}"#,
                uuid::Uuid::new_v4()
            ),
            404,
            "unknown or has ended",
        ),
        (
            me,
            format!(
                r#"{{"session":"{id}","path":"{}"}}"#,
                base64::engine::general_purpose::STANDARD.encode("/tmp")
            ),
            404,
            "not a file",
        ),
        (
            me,
            format!(
                r#"{{"session":"{id}","path":"{}"}}"#,
                base64::engine::general_purpose::STANDARD.encode("/nope")
            ),
            404,
            "not a file",
        ),
        (
            me,
            format!(r#"{{"session":"{id}","path":"relative"}}"#),
            400,
            "absolute path",
        ),
        (me, format!(r#"{{"session":"{id}"}}"#), 400, "which file"),
        (me, "not json".to_owned(), 400, ""),
    ];
    for (source, body, want, says) in cases {
        let (status, answer) = post_json(&url, source, &body).await?;
        let answer = String::from_utf8_lossy(&answer);
        assert_eq!(status, want, "{body}: {answer}");
        assert!(answer.contains(says), "{body}: {answer}");
    }

    // The home, whole.
    let (status, archive) =
        post_json(&url, me, &format!(r#"{{"session":"{id}","home":true}}"#)).await?;
    assert_eq!(status, 200);
    assert_eq!(&archive[..2], b"\x1f\x8b", "not gzip");
    server.server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_upload_lands_in_the_home_whole_and_refusals_say_why() -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.run("true").await?;
    let url = server.socket_url().replace("ws://", "http://");
    let me = [127, 0, 0, 1];
    let data: Vec<u8> = (0..1024 * 1024_u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();

    let started = std::time::Instant::now();
    let (status, placed) = upload(&url, me, &id, "..%2Frandom%20data.bin", &data).await?;
    println!("1 MiB upload: {:?}", started.elapsed());
    assert_eq!((status, placed.as_str()), (200, "random_data.bin"));
    let path = base64::engine::general_purpose::STANDARD.encode("/home/visitor/random_data.bin");
    let (status, back) = post_json(
        &url,
        me,
        &format!(r#"{{"session":"{id}","path":"{path}"}}"#),
    )
    .await?;
    assert_eq!(status, 200);
    assert!(back == data, "the file came back different");

    // A taken name is not overwritten; an empty file is a file.
    assert_eq!(
        upload(&url, me, &id, "random_data.bin", b"x").await?,
        (200, "random_data.bin.1".into())
    );
    assert_eq!(
        upload(&url, me, &id, "empty", b"").await?,
        (200, "empty".into())
    );
    assert_eq!(
        term.run("wc -c < empty; wc -c < random_data.bin.1").await?,
        "0\n1"
    );

    // Too big, someone else's session, no name, a full home: refused, and no part file stays.
    let (status, why) = upload(&url, me, &id, "big", &vec![0; 10 * 1024 * 1024 + 1]).await?;
    assert!(status == 413 && why.contains("10 MiB"), "{status} {why}");
    let (status, _) = upload(&url, [127, 0, 0, 9], &id, "x", b"x").await?;
    assert_eq!(status, 404);
    term.run("head -c 49M /dev/zero > fill").await?;
    let (status, why) = upload(&url, me, &id, "more", &data[..]).await?;
    let (status2, why2) = upload(&url, me, &id, "more2", &data[..]).await?;
    assert!(
        [status, status2].contains(&507)
            && (why.contains("home is full") || why2.contains("home is full")),
        "{status} {why} / {status2} {why2}"
    );
    assert_eq!(
        term.run("ls -a ~ | grep -c rootresume-upload || true")
            .await?,
        "0"
    );
    server.server.shutdown().await;
    Ok(())
}

/// A .tar.gz made by the host's GNU tar in a scratch folder, with `prepare` run there first.
fn host_archive(prepare: &str, tar_args: &str) -> Result<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("rr-archive-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let script = format!(
        "cd {} && {prepare} && tar czf archive.tgz {tar_args} 2>/dev/null; cat archive.tgz",
        dir.display()
    );
    let output = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()?;
    std::fs::remove_dir_all(&dir)?;
    anyhow::ensure!(!output.stdout.is_empty(), "tar made nothing for {tar_args}");
    Ok(output.stdout)
}

#[tokio::test]
async fn a_home_archive_restores_into_a_fresh_sandbox_and_hostile_ones_are_refused_whole(
) -> Result<()> {
    let server = TestServer::start(test_config()).await?;
    let url = server.socket_url().replace("ws://", "http://");
    let me = [127, 0, 0, 1];
    let restore = |id: String, bytes: Vec<u8>| {
        let url = url.clone();
        async move {
            let head = format!("X-RootResume-Session: {id}\r\n");
            let (status, body) = post(&url, server::files::RESTORE_PATH, me, &head, &bytes).await?;
            anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
        }
    };

    let first = server.create_session().await?;
    let mut term = server.connect(&first).await?;
    term.started().await?;
    term.run("mkdir -p work && echo kept-42 > work/notes.txt && ln -s work/notes.txt latest")
        .await?;
    let (status, archive) =
        post_json(&url, me, &format!(r#"{{"session":"{first}","home":true}}"#)).await?;
    assert_eq!(status, 200);

    let second = server.create_session().await?;
    let mut fresh = server.connect(&second).await?;
    fresh.started().await?;
    assert_eq!(
        fresh.run("ls work 2>&1 | head -1").await?,
        "ls: cannot access 'work': No such file or directory"
    );
    let (status, said) = restore(second.clone(), archive).await?;
    assert_eq!(status, 200, "{said}");
    assert_eq!(fresh.run("cat latest").await?, "kept-42");

    let hostile = [
        (host_archive("true", "-P /etc/hostname")?, "absolute path"),
        (host_archive("ln -s /etc escape", "escape")?, "link leaving"),
        (host_archive("mkfifo null", "null")?, "special file"),
        (
            host_archive("mkdir a && echo x > a/f", "--transform s,^a,../a, a/f")?,
            "'..'",
        ),
        (
            host_archive("head -c 60M /dev/zero > zeros", "zeros")?,
            "more than the 50 MiB",
        ),
        (b"not an archive".to_vec(), "not a .tar.gz"),
    ];
    for (bytes, says) in hostile {
        let (status, why) = restore(second.clone(), bytes).await?;
        assert_eq!(status, 422, "{why}");
        assert!(why.contains(says), "{why} should say {says:?}");
    }
    // Refused whole: nothing of them landed, nothing was left in /tmp.
    assert_eq!(
        fresh
            .run("ls -A /tmp | grep -c rootresume-restore || true")
            .await?,
        "0"
    );
    assert_eq!(
        fresh
            .run("ls ~ | grep -c -e zeros -e escape -e null || true")
            .await?,
        "0"
    );
    let (status, _) = restore(uuid::Uuid::new_v4().to_string(), b"x".to_vec()).await?;
    assert_eq!(status, 404);
    server.server.shutdown().await;
    Ok(())
}

/// Parses an asciicast v3 recording: its header and its events.
fn parse_cast(text: &str) -> Result<(serde_json::Value, Vec<serde_json::Value>)> {
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap_or_default())?;
    let events = lines
        .map(serde_json::from_str)
        .collect::<Result<Vec<serde_json::Value>, _>>()?;
    Ok((header, events))
}

#[tokio::test]
async fn the_recording_has_output_and_resizes_never_input_and_stops_at_its_size() -> Result<()> {
    let mut config = test_config();
    config.sessions.recording_max_bytes = 16 * 1024;
    let server = TestServer::start(config).await?;
    let url = server.socket_url().replace("ws://", "http://");
    let me = [127, 0, 0, 1];
    let id = server.create_session().await?;
    let mut term = server.connect(&id).await?;
    term.started().await?;
    term.wait_for(0, "$ ", Duration::from_secs(30)).await?;
    term.send(rootresume_protocol::ClientMessage::Resize {
        cols: 100,
        rows: 30,
    })
    .await?;
    term.run("echo recorded-$((6*7))").await?;
    // Typed but never echoed: input is not recorded.
    term.type_text("read -s secret\r").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    term.type_text("hunter2-typed\r").await?;
    term.run("echo after").await?;

    let ask = |session: &str| format!(r#"{{"session":"{session}"}}"#);
    let head = "Content-Type: application/json\r\n";
    let path = server::files::RECORDING_PATH;
    let (status, body) = post(&url, path, me, head, ask(&id).as_bytes()).await?;
    ensure!(
        status == 200,
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let text = String::from_utf8(body)?;
    let (header, events) = parse_cast(&text)?;
    ensure!(header["version"] == 3, "{header}");
    ensure!(header["term"]["cols"].as_u64() > Some(0), "{header}");
    let output: String = events
        .iter()
        .filter(|e| e[1] == "o")
        .filter_map(|e| e[2].as_str())
        .collect();
    ensure!(output.contains("recorded-42"), "{output}");
    ensure!(!text.contains("hunter2-typed"), "input was recorded");
    ensure!(
        events.iter().any(|e| e[1] == "r" && e[2] == "100x30"),
        "no resize to 100x30 in {events:?}"
    );
    ensure!(
        events
            .iter()
            .all(|e| e[0].as_f64().is_some_and(|t| t >= 0.0)),
        "an event without its interval"
    );

    // Someone else's client, or an unknown session: nothing.
    let (status, _) = post(&url, path, [127, 0, 0, 2], head, ask(&id).as_bytes()).await?;
    ensure!(status == 404, "another client got {status}");
    let other = "00000000-0000-4000-8000-000000000000";
    let (status, _) = post(&url, path, me, head, ask(other).as_bytes()).await?;
    ensure!(status == 404, "an unknown session got {status}");

    // Past its size it stops, and says so.
    term.run("head -c 40000 /dev/zero | tr '\\0' x; echo")
        .await?;
    let (_, body) = post(&url, path, me, head, ask(&id).as_bytes()).await?;
    let text = String::from_utf8(body)?;
    ensure!(text.len() <= 16 * 1024, "{} bytes", text.len());
    let (_, events) = parse_cast(&text)?;
    let last = events.last().cloned().unwrap_or_default();
    ensure!(
        last[1] == "m"
            && last[2]
                .as_str()
                .unwrap_or_default()
                .contains("recording stopped"),
        "the last event: {last}"
    );
    term.exit_at_prompt().await?;
    server.server.shutdown().await;
    Ok(())
}
