//! The shell of a sandbox pod over the attach WebSocket, against a local server on 127.0.0.1
//! that speaks the Kubernetes channel protocol (v5.channel.k8s.io, and v4): channel 0 stdin,
//! 1 stdout, 3 the status at exit, 4 resize, and v5's close frame (255) for the end of stdin.

#[path = "common/kube_api.rs"]
mod kube_api;

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use futures_util::StreamExt;
use kube_api::{pod_json, running, settings};
use server::sandbox::kubernetes::KubernetesSandbox;
use server::sandbox::{ContainerId, Sandbox, SandboxError, Shell, TermSize};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// What the fake API server saw: the attach query, then every frame the client sent.
enum Seen {
    Attach(HashMap<String, String>),
    Frame(Vec<u8>),
}

/// What the fake server sends once the attach is open: frames, then a close.
#[derive(Clone)]
struct Script {
    protocol: &'static str,
    /// Frames sent before anything is read (the prompt).
    greeting: Vec<Vec<u8>>,
}

/// A local API server: GET pod answers "running", attach upgrades to the channel protocol.
/// Returns the client sandbox, what the server sees, and a sender of frames for it to send
/// (an empty frame closes the socket).
async fn fake_api(
    script: Script,
) -> (
    KubernetesSandbox,
    mpsc::UnboundedReceiver<Seen>,
    mpsc::UnboundedSender<Vec<u8>>,
) {
    let (seen_tx, seen_rx) = mpsc::unbounded_channel();
    let (send_tx, send_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let send_rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(send_rx)));
    let app = Router::new()
        .route(
            "/api/v1/namespaces/sandboxes/pods/{name}",
            get(|Path(name): Path<String>| async move { Json(pod_json(&name, "s", running())) }),
        )
        .route(
            "/api/v1/namespaces/sandboxes/pods/{name}/attach",
            get(
                move |upgrade: WebSocketUpgrade, Query(query): Query<HashMap<String, String>>| {
                    let seen = seen_tx.clone();
                    let script = script.clone();
                    let send_rx = send_rx.clone();
                    async move {
                        let _ = seen.send(Seen::Attach(query));
                        let sends = send_rx.lock().await.take();
                        upgrade
                            .protocols([script.protocol])
                            .on_upgrade(move |socket| async move {
                                if let Some(sends) = sends {
                                    speak(socket, script, seen, sends).await;
                                }
                            })
                            .into_response()
                    }
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    config.default_namespace = "sandboxes".into();
    let client = kube::Client::try_from(config).unwrap();
    (
        KubernetesSandbox::with_client(settings(), client),
        seen_rx,
        send_tx,
    )
}

/// The server's side of one attach: greet, then relay frames both ways until told to close.
async fn speak(
    mut socket: WebSocket,
    script: Script,
    seen: mpsc::UnboundedSender<Seen>,
    mut sends: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    for frame in script.greeting {
        let _ = socket.send(Message::Binary(Bytes::from(frame))).await;
    }
    loop {
        tokio::select! {
            received = socket.recv() => match received {
                Some(Ok(Message::Binary(frame))) => { let _ = seen.send(Seen::Frame(frame.to_vec())); }
                Some(Ok(_)) => {}
                _ => return,
            },
            to_send = sends.recv() => match to_send {
                Some(frame) if !frame.is_empty() => {
                    let _ = socket.send(Message::Binary(Bytes::from(frame))).await;
                }
                _ => {
                    // Read on until the client hangs up: closing with its frames unread
                    // would reset the connection and could lose the status frame in flight.
                    let _ = socket.send(Message::Close(None)).await;
                    while let Some(Ok(received)) = socket.recv().await {
                        if let Message::Binary(frame) = received {
                            let _ = seen.send(Seen::Frame(frame.to_vec()));
                        }
                    }
                    return;
                }
            },
        }
    }
}

fn frame(channel: u8, data: &[u8]) -> Vec<u8> {
    [&[channel], data].concat()
}

/// The next frame the client sent, within 5 s.
async fn next_frame(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Vec<u8> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), seen.recv());
        match next
            .await
            .expect("no frame within 5 s")
            .expect("server gone")
        {
            Seen::Frame(frame) => return frame,
            Seen::Attach(_) => {}
        }
    }
}

/// Output up to its end (or 5 s): the bytes, and the error it ended with, if any.
async fn drain(shell: &mut Shell) -> (Vec<u8>, Option<SandboxError>) {
    let mut bytes = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), shell.output.next());
        match next
            .await
            .expect("output neither ended nor moved within 5 s")
        {
            Some(Ok(chunk)) => bytes.extend_from_slice(&chunk),
            Some(Err(error)) => return (bytes, Some(error)),
            None => return (bytes, None),
        }
    }
}

#[tokio::test]
async fn shell_streams_both_ways_resizes_and_ends_on_the_exit_status() {
    let script = Script {
        protocol: "v5.channel.k8s.io",
        greeting: vec![frame(1, b"visitor@rr:~$ ")],
    };
    let (sandbox, mut seen, send) = fake_api(script).await;
    let pod = ContainerId("rootresume-a".into());
    let size = TermSize {
        cols: 100,
        rows: 30,
    };
    let mut shell = sandbox.open_shell(&pod, size).await.unwrap();

    let Some(Seen::Attach(query)) = seen.recv().await else {
        panic!("no attach request");
    };
    for (key, value) in [
        ("container", "shell"),
        ("stdin", "true"),
        ("stdout", "true"),
        ("tty", "true"),
    ] {
        assert_eq!(query.get(key).map(String::as_str), Some(value), "{query:?}");
    }
    assert_ne!(query.get("stderr").map(String::as_str), Some("true"));
    // The first size goes down the resize channel (4) as soon as the shell is open.
    assert_eq!(
        next_frame(&mut seen).await,
        frame(4, br#"{"Width":100,"Height":30}"#)
    );
    let prompt = shell.output.next().await.unwrap().unwrap();
    assert_eq!(&prompt[..], b"visitor@rr:~$ ");

    shell.input.write_all(b"echo hi\r").await.unwrap();
    assert_eq!(next_frame(&mut seen).await, frame(0, b"echo hi\r"));
    sandbox
        .resize_shell(
            &shell.id,
            TermSize {
                cols: 120,
                rows: 40,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        next_frame(&mut seen).await,
        frame(4, br#"{"Width":120,"Height":40}"#)
    );

    // The shell prints, exits, and the server sends the status (3) and closes.
    send.send(frame(1, b"hi\r\n")).unwrap();
    send.send(frame(3, br#"{"metadata":{},"status":"Success"}"#))
        .unwrap();
    send.send(Vec::new()).unwrap();
    let (rest, error) = drain(&mut shell).await;
    assert_eq!(rest, b"hi\r\n");
    assert!(error.is_none(), "{error:?}");

    // The attach is over: resizing it says so.
    let id = shell.id.clone();
    drop(shell);
    let resized = sandbox.resize_shell(&id, TermSize::default()).await;
    assert!(
        matches!(resized, Err(SandboxError::ContainerGone { .. })),
        "{resized:?}"
    );
}

#[tokio::test]
async fn closing_stdin_sends_the_v5_close_frame() {
    let script = Script {
        protocol: "v5.channel.k8s.io",
        greeting: vec![],
    };
    let (sandbox, mut seen, _send) = fake_api(script).await;
    let shell = sandbox
        .open_shell(&ContainerId("rootresume-b".into()), TermSize::default())
        .await
        .unwrap();
    assert_eq!(
        next_frame(&mut seen).await,
        frame(4, br#"{"Width":80,"Height":24}"#)
    );
    let Shell { input, output, .. } = shell;
    drop(input);
    assert_eq!(next_frame(&mut seen).await, vec![255, 0]);
    drop(output);
}

#[tokio::test]
async fn a_failure_status_over_v4_ends_the_output_with_an_error() {
    let script = Script {
        protocol: "v4.channel.k8s.io",
        greeting: vec![frame(1, b"$ ")],
    };
    let (sandbox, _seen, send) = fake_api(script).await;
    let mut shell = sandbox
        .open_shell(&ContainerId("rootresume-c".into()), TermSize::default())
        .await
        .unwrap();
    let status = br#"{"metadata":{},"status":"Failure","reason":"InternalError","message":"container shell not found"}"#;
    send.send(frame(3, status)).unwrap();
    send.send(Vec::new()).unwrap();
    let (bytes, error) = drain(&mut shell).await;
    assert_eq!(bytes, b"$ ");
    let Some(SandboxError::ContainerGone { detail }) = error else {
        panic!("expected ContainerGone, got {error:?}");
    };
    assert!(detail.contains("container shell not found"), "{detail}");
}

#[tokio::test]
async fn the_shells_own_exit_code_is_no_error() {
    let script = Script {
        protocol: "v4.channel.k8s.io",
        greeting: vec![],
    };
    let (sandbox, _seen, send) = fake_api(script).await;
    let mut shell = sandbox
        .open_shell(&ContainerId("rootresume-d".into()), TermSize::default())
        .await
        .unwrap();
    let status = br#"{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","message":"command terminated with non-zero exit code","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
    send.send(frame(3, status)).unwrap();
    send.send(Vec::new()).unwrap();
    let (bytes, error) = drain(&mut shell).await;
    assert!(bytes.is_empty());
    assert!(error.is_none(), "{error:?}");
}
