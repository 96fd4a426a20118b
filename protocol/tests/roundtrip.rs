//! Every message survives encode → decode, and decoding arbitrary bytes never panics.

use proptest::prelude::*;
use rootresume_protocol::{
    ClientMessage, DecodeError, Disk, EndReason, ErrorCode, MeterReading, RunLang, RunRequest,
    ServerMessage, SessionNotice, Sharing, MAX_FRAME_LEN, PROTOCOL_VERSION,
};

fn every_client_message() -> Vec<ClientMessage> {
    vec![
        ClientMessage::Input(Vec::new()),
        ClientMessage::Input(b"ls -la\r".to_vec()),
        ClientMessage::Input(vec![0xe2, 0x82]), // half of a UTF-8 sequence stays raw
        ClientMessage::Input(vec![0x03, 0x04, 0x1b, b'[', b'A', 0x00, 0xff]),
        ClientMessage::Resize { cols: 80, rows: 24 },
        ClientMessage::Resize {
            cols: u16::MAX,
            rows: 0,
        },
        ClientMessage::Ping(0),
        ClientMessage::Ping(u64::MAX),
        ClientMessage::Attach {
            session: "2b1f0c8e-9d1a-4c5e-8f00-123456789abc".into(),
        },
        ClientMessage::Attach {
            session: "x".repeat(64),
        },
        ClientMessage::Run(RunRequest {
            lang: RunLang::C,
            file: "hello.c".into(),
            code: b"int main(void) { puts(\"$(id) </script>\x1b[31m\"); }\n".to_vec(),
        }),
        ClientMessage::Run(RunRequest {
            lang: RunLang::Shell,
            file: "x".repeat(61) + ".sh",
            code: Vec::new(),
        }),
        ClientMessage::Run(RunRequest {
            lang: RunLang::Python,
            file: String::new(),
            code: vec![0xff, 0x00, 0x1b],
        }),
        ClientMessage::Check {
            challenge: "hello-name".into(),
        },
        ClientMessage::AttachTerminal {
            session: "2b1f0c8e-9d1a-4c5e-8f00-123456789abc".into(),
            terminal: 0,
        },
        ClientMessage::AttachTerminal {
            session: "x".repeat(64),
            terminal: u8::MAX,
        },
        ClientMessage::OpenTerminal,
        ClientMessage::CloseTerminal(3),
        ClientMessage::Watch {
            link: "0123456789abcdef0123456789abcdef".into(),
        },
        ClientMessage::Watch {
            link: "x".repeat(64),
        },
        ClientMessage::Share {
            terminal: 0,
            pair: false,
        },
        ClientMessage::Share {
            terminal: 7,
            pair: true,
        },
        ClientMessage::StopSharing,
        ClientMessage::Meter(true),
        ClientMessage::Meter(false),
    ]
}

fn every_server_message() -> Vec<ServerMessage> {
    let mut all = vec![
        ServerMessage::Output(Vec::new()),
        ServerMessage::Output("héllo → wörld\r\n".as_bytes().to_vec()),
        ServerMessage::Output(vec![0x00, 0xff, 0xc3]),
        ServerMessage::Pong(7),
        ServerMessage::Notice(SessionNotice::Started {
            session: "2b1f0c8e-9d1a-4c5e-8f00-123456789abc".into(),
            resumed: false,
            seconds_left: 3600,
        }),
        ServerMessage::Notice(SessionNotice::Started {
            session: String::new(),
            resumed: true,
            seconds_left: 0,
        }),
        ServerMessage::Notice(SessionNotice::Expiring { seconds_left: 300 }),
        ServerMessage::Checked {
            challenge: "hello-name".into(),
            passed: true,
            message: "passed: ~/hello says “Ada”".into(),
        },
        ServerMessage::Checked {
            challenge: String::new(),
            passed: false,
            message: String::new(),
        },
        ServerMessage::Terminals(vec![0]),
        ServerMessage::Terminals(vec![0, 2, 5]),
        ServerMessage::Sharing(Sharing::default()),
        ServerMessage::Sharing(Sharing {
            terminal: 2,
            watch: "0123456789abcdef0123456789abcdef".into(),
            pair: "fedcba9876543210fedcba9876543210".into(),
            viewers: u16::MAX,
        }),
        ServerMessage::Watching {
            cols: 80,
            rows: 24,
            typing: false,
        },
        ServerMessage::Watching {
            cols: u16::MAX,
            rows: 0,
            typing: true,
        },
        ServerMessage::Meter(MeterReading::default()),
        ServerMessage::Meter(MeterReading {
            cpu_percent: Some(113),
            memory: 34 << 20,
            memory_limit: 128 << 20,
            disk: Some(Disk {
                home_used: 1,
                home_size: 50 << 20,
                tmp_used: u64::MAX - 1,
                tmp_size: 50 << 20,
            }),
            processes: 7,
            processes_limit: u32::MAX,
        }),
    ];
    for reason in [
        EndReason::ShellExited,
        EndReason::Expired,
        EndReason::Idle,
        EndReason::ServerShutdown,
        EndReason::ContainerGone,
        EndReason::Abandoned,
    ] {
        all.push(ServerMessage::Notice(SessionNotice::Ended { reason }));
    }
    for code in [
        ErrorCode::SandboxUnavailable,
        ErrorCode::ImageMissing,
        ErrorCode::UnknownSession,
        ErrorCode::BadMessage,
        ErrorCode::AtCapacity,
        ErrorCode::Internal,
        ErrorCode::RunRefused,
        ErrorCode::TerminalRefused,
        ErrorCode::LinkInvalid,
        ErrorCode::ShareRefused,
    ] {
        all.push(ServerMessage::Error {
            code,
            message: format!("{code:?}: ünïcode message"),
        });
    }
    all
}

#[test]
fn every_client_message_round_trips() {
    for message in every_client_message() {
        let frame = message.encode();
        assert_eq!(frame[0], PROTOCOL_VERSION);
        assert_eq!(ClientMessage::decode(&frame), Ok(message));
    }
}

#[test]
fn every_server_message_round_trips() {
    for message in every_server_message() {
        let frame = message.encode();
        assert_eq!(frame[0], PROTOCOL_VERSION);
        assert_eq!(ServerMessage::decode(&frame), Ok(message));
    }
}

#[test]
fn input_framing_costs_two_bytes() {
    assert_eq!(
        ClientMessage::Input(b"a".to_vec()).encode(),
        vec![PROTOCOL_VERSION, 0x01, b'a']
    );
}

#[test]
fn directions_do_not_accept_each_other() {
    let from_server = ServerMessage::Output(b"x".to_vec()).encode();
    assert_eq!(
        ClientMessage::decode(&from_server),
        Err(DecodeError::UnknownKind { kind: 0x81 })
    );
    let from_client = ClientMessage::Input(b"x".to_vec()).encode();
    assert_eq!(
        ServerMessage::decode(&from_client),
        Err(DecodeError::UnknownKind { kind: 0x01 })
    );
}

#[test]
fn malformed_frames_give_specific_errors() {
    assert_eq!(ClientMessage::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        ClientMessage::decode(&[PROTOCOL_VERSION]),
        Err(DecodeError::MissingKind)
    );
    assert_eq!(
        ClientMessage::decode(&[9, 1, b'a']),
        Err(DecodeError::UnsupportedVersion { found: 9 })
    );
    assert_eq!(
        ClientMessage::decode(&[PROTOCOL_VERSION, 0x02, 0, 80, 0]),
        Err(DecodeError::BadLength {
            message: "resize",
            expected: "4",
            found: 3
        })
    );
    assert_eq!(
        ClientMessage::decode(&[PROTOCOL_VERSION, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        Err(DecodeError::BadLength {
            message: "ping",
            expected: "8",
            found: 9
        })
    );
    assert_eq!(
        ClientMessage::decode(&[PROTOCOL_VERSION, 0x04]),
        Err(DecodeError::BadLength {
            message: "attach",
            expected: "1 to 64",
            found: 0
        })
    );
    let mut long_attach = vec![PROTOCOL_VERSION, 0x04];
    long_attach.extend_from_slice(&[b'a'; 65]);
    assert_eq!(
        ClientMessage::decode(&long_attach),
        Err(DecodeError::BadLength {
            message: "attach",
            expected: "1 to 64",
            found: 65
        })
    );
    assert_eq!(
        ClientMessage::decode(&[PROTOCOL_VERSION, 0x04, 0xff]),
        Err(DecodeError::InvalidText {
            field: "session id"
        })
    );
    assert_eq!(
        ServerMessage::decode(&[PROTOCOL_VERSION, 0x83, 0x63]),
        Err(DecodeError::UnknownCode {
            field: "error code",
            value: 0x63
        })
    );
    assert_eq!(
        ServerMessage::decode(&[PROTOCOL_VERSION, 0x83, 1, 0xff, 0xfe]),
        Err(DecodeError::InvalidText {
            field: "error message"
        })
    );
    assert_eq!(
        ServerMessage::decode(&[PROTOCOL_VERSION, 0x82, 0x03, 0x2a]),
        Err(DecodeError::UnknownCode {
            field: "end reason",
            value: 0x2a
        })
    );
    assert_eq!(
        ServerMessage::decode(&[PROTOCOL_VERSION, 0x82, 0x01, 2]),
        Err(DecodeError::UnknownCode {
            field: "resumed flag",
            value: 2
        })
    );
    assert_eq!(
        ServerMessage::decode(&[PROTOCOL_VERSION, 0x82, 0x01, 1, 0, 0]),
        Err(DecodeError::BadLength {
            message: "started notice",
            expected: "at least 5",
            found: 3
        })
    );
    let oversized = vec![1u8; MAX_FRAME_LEN + 1];
    assert_eq!(
        ClientMessage::decode(&oversized),
        Err(DecodeError::TooLarge {
            found: MAX_FRAME_LEN + 1,
            max: MAX_FRAME_LEN
        })
    );
}

#[test]
fn errors_read_as_sentences() {
    let text = DecodeError::UnsupportedVersion { found: 2 }.to_string();
    assert!(text.contains("version 2"), "{text}");
    assert!(text.contains("reload"), "{text}");
}

fn arb_client() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512).prop_map(ClientMessage::Input),
        (any::<u16>(), any::<u16>()).prop_map(|(cols, rows)| ClientMessage::Resize { cols, rows }),
        any::<u64>().prop_map(ClientMessage::Ping),
        (
            prop_oneof![
                Just(RunLang::Shell),
                Just(RunLang::C),
                Just(RunLang::Python)
            ],
            "[a-z._-]{0,64}",
            proptest::collection::vec(any::<u8>(), 0..512),
        )
            .prop_map(|(lang, file, code)| ClientMessage::Run(RunRequest {
                lang,
                file,
                code
            })),
    ]
}

fn arb_server() -> impl Strategy<Value = ServerMessage> {
    let reason = prop_oneof![
        Just(EndReason::ShellExited),
        Just(EndReason::Expired),
        Just(EndReason::Idle),
        Just(EndReason::ServerShutdown),
        Just(EndReason::ContainerGone),
        Just(EndReason::Abandoned),
    ];
    let code = prop_oneof![
        Just(ErrorCode::SandboxUnavailable),
        Just(ErrorCode::ImageMissing),
        Just(ErrorCode::UnknownSession),
        Just(ErrorCode::BadMessage),
        Just(ErrorCode::AtCapacity),
        Just(ErrorCode::Internal),
        Just(ErrorCode::RunRefused),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512).prop_map(ServerMessage::Output),
        any::<u64>().prop_map(ServerMessage::Pong),
        (".{0,40}", any::<bool>(), any::<u32>()).prop_map(|(session, resumed, seconds_left)| {
            ServerMessage::Notice(SessionNotice::Started {
                session,
                resumed,
                seconds_left,
            })
        }),
        any::<u32>().prop_map(|seconds_left| {
            ServerMessage::Notice(SessionNotice::Expiring { seconds_left })
        }),
        reason.prop_map(|reason| ServerMessage::Notice(SessionNotice::Ended { reason })),
        (code, ".{0,80}").prop_map(|(code, message)| ServerMessage::Error { code, message }),
        (".{0,60}", any::<bool>(), ".{0,80}").prop_map(|(challenge, passed, message)| {
            ServerMessage::Checked {
                challenge,
                passed,
                message,
            }
        }),
    ]
}

proptest! {
    #[test]
    fn client_messages_round_trip(message in arb_client()) {
        prop_assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
    }

    #[test]
    fn server_messages_round_trip(message in arb_server()) {
        prop_assert_eq!(ServerMessage::decode(&message.encode()), Ok(message));
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = ClientMessage::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
    }

    #[test]
    fn decoding_valid_headers_with_random_payloads_never_panics(
        kind in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let mut frame = vec![PROTOCOL_VERSION, kind];
        frame.extend(payload);
        let _ = ClientMessage::decode(&frame);
        let _ = ServerMessage::decode(&frame);
    }
}
