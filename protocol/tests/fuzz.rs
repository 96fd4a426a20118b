//! A time-bounded fuzz run of both decoders, run by CI with every `cargo test`: frames made by
//! mutating valid encodings (bit flips, truncation, splices, random tails) and plain random
//! bytes. Decoding must never panic, must refuse oversized frames, and whatever decodes must
//! survive encode → decode unchanged. `ROOTRESUME_FUZZ_SECS` sets the budget (default 5 s).

use std::time::{Duration, Instant};

use rootresume_protocol::{
    ClientMessage, EndReason, ErrorCode, RunLang, RunRequest, ServerMessage, SessionNotice,
    MAX_FRAME_LEN,
};

/// xorshift64*: deterministic from its seed, so a failure prints a seed that replays it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = [
        ClientMessage::Input(b"ls\r".to_vec()),
        ClientMessage::Resize { cols: 80, rows: 24 },
        ClientMessage::Ping(7),
        ClientMessage::Attach {
            session: "2b1f0c8e-9d1a-4c5e-8f00-123456789abc".into(),
        },
        ClientMessage::Run(RunRequest {
            lang: RunLang::C,
            file: "hello.c".into(),
            code: b"int main(void) { return 0; }\n".to_vec(),
        }),
    ]
    .iter()
    .map(ClientMessage::encode)
    .collect();
    let server = [
        ServerMessage::Output(b"hi\r\n".to_vec()),
        ServerMessage::Notice(SessionNotice::Started {
            session: "id".into(),
            resumed: true,
            seconds_left: 3600,
        }),
        ServerMessage::Notice(SessionNotice::Expiring { seconds_left: 60 }),
        ServerMessage::Notice(SessionNotice::Ended {
            reason: EndReason::Idle,
        }),
        ServerMessage::Error {
            code: ErrorCode::BadMessage,
            message: "no".into(),
        },
        ServerMessage::Pong(9),
    ];
    seeds.extend(server.iter().map(ServerMessage::encode));
    seeds
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut frame = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !frame.is_empty() => {
                let at = rng.below(frame.len());
                frame[at] ^= 1 << rng.below(8);
            }
            1 => frame.truncate(rng.below(frame.len() + 1)),
            2 => {
                let len = rng.below(64);
                frame.extend(rng.bytes(len));
            }
            3 if !frame.is_empty() => {
                let at = rng.below(frame.len());
                frame[at] = rng.next() as u8;
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                frame.extend_from_slice(&other[rng.below(other.len())..]);
            }
            _ => {
                let len = rng.below(300);
                frame = rng.bytes(len);
            }
        }
    }
    frame
}

fn check(frame: &[u8]) {
    if let Ok(message) = ClientMessage::decode(frame) {
        assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
    }
    if let Ok(message) = ServerMessage::decode(frame) {
        assert_eq!(ServerMessage::decode(&message.encode()), Ok(message));
    }
}

#[test]
fn decoders_survive_a_bounded_fuzz_run() {
    let budget = std::env::var("ROOTRESUME_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("fuzz seed {seed} (replay: set it in Rng), budget {budget} s");
    let mut rng = Rng(seed);
    let seeds = seeds();
    let deadline = Instant::now() + Duration::from_secs(budget);
    let mut runs = 0u64;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            let frame = mutate(&mut rng, &seeds);
            let outcome = std::panic::catch_unwind(|| check(&frame));
            assert!(outcome.is_ok(), "seed {seed}: frame {frame:?} panicked");
            runs += 1;
        }
    }
    // Oversized frames of any content are refused before they are parsed.
    for _ in 0..20 {
        let extra = rng.below(1000);
        let mut big = rng.bytes(MAX_FRAME_LEN + 1 + extra);
        big[0] = 1;
        assert!(ClientMessage::decode(&big).is_err());
        assert!(ServerMessage::decode(&big).is_err());
    }
    println!("fuzzed {runs} frames in {budget} s without a panic");
    assert!(runs > 10_000, "the fuzz run did too little: {runs} frames");
}
