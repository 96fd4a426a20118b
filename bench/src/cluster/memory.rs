//! The server's resident memory per idle session, sessions in Redis against in the process's
//! own memory: the same binary started once with `store.redis_url` (a redis-server of its own on
//! a free loopback port) and once without, N idle sessions opened with their sockets attached,
//! (RSS after − RSS before) / N.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::server::{ServerProcess, ServerSetup};
use crate::term::{Shell, Term};

/// One store's figure.
#[derive(Debug, Clone)]
pub struct StoreMemory {
    pub store: &'static str,
    pub n: usize,
    pub rss_before: u64,
    pub rss_after: u64,
    /// Keys left in Redis once the server stopped (Redis store only).
    pub keys_left: Option<u64>,
}

impl StoreMemory {
    /// Bytes per session.
    pub fn per_session(&self) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / self.n.max(1) as f64
    }
}

/// The in-memory store, then Redis.
pub async fn measure(
    setup: &ServerSetup,
    redis_server: &Path,
    n: usize,
) -> Vec<Result<StoreMemory>> {
    let mut results = vec![one(setup, None, n).await];
    let redis = RedisProcess::start(redis_server, &setup.scratch).await;
    results.push(match redis {
        Ok(redis) => {
            let measured = one(setup, Some(&redis), n).await;
            let keys = redis.dbsize().await;
            redis.stop();
            measured.map(|mut m| {
                m.keys_left = keys.ok();
                m
            })
        }
        Err(error) => Err(error.context("starting redis-server")),
    });
    results
}

async fn one(setup: &ServerSetup, redis: Option<&RedisProcess>, n: usize) -> Result<StoreMemory> {
    let (store, settings) = match redis {
        Some(redis) => (
            "redis",
            vec![
                ("ROOTRESUME_STORE_REDIS_URL", redis.url()),
                ("ROOTRESUME_STORE_REPLICA", "bench".to_owned()),
            ],
        ),
        None => ("memory", Vec::new()),
    };
    let server = ServerProcess::start_with(setup, 0, &format!("store-{store}"), &settings).await?;
    let measured = idle(&server, n).await;
    // Stopping removes the sessions' containers, whatever the measurement did.
    let stopped = server.stop().await;
    let (rss_before, rss_after) = measured?;
    stopped?;
    let result = StoreMemory {
        store,
        n,
        rss_before,
        rss_after,
        keys_left: None,
    };
    println!(
        "  {store:<6} store: RSS {:.1} → {:.1} MiB over {n} idle sessions: {:.1} KiB per session",
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        result.per_session() / 1024.0
    );
    Ok(result)
}

/// RSS before and with `n` idle sessions attached. One session is opened and ended first, so
/// what the first session initialises once (connections, buffers) is in both readings.
async fn idle(server: &ServerProcess, n: usize) -> Result<(u64, u64)> {
    let mut first = server.open().await?;
    first.send_input(b"exit\r").await?;
    let _ = first.drain_for(Duration::from_secs(5)).await;
    first.close().await;
    let before = settled_rss(server).await?;
    let terms: Vec<Term> = futures_util::stream::iter(0..n)
        .map(|_| server.open())
        .buffer_unordered(crate::OPEN_CONCURRENCY)
        .try_collect()
        .await?;
    let after = settled_rss(server).await?;
    futures_util::future::join_all(terms.into_iter().map(Term::close)).await;
    Ok((before, after))
}

/// The median of five RSS readings a second apart, after three quiet seconds.
async fn settled_rss(server: &ServerProcess) -> Result<u64> {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut readings = Vec::new();
    for _ in 0..5 {
        readings.push(server.rss()?);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    readings.sort_unstable();
    Ok(readings[readings.len() / 2])
}

/// A redis-server of the bench's own on a free 127.0.0.1 port, without persistence; killed
/// when dropped.
struct RedisProcess {
    child: Child,
    port: u16,
}

impl RedisProcess {
    async fn start(binary: &Path, scratch: &Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(scratch.join("redis.log"))?;
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(scratch)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut redis = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.command("PING").await.ok().as_deref() != Some("+PONG") {
            if let Some(status) = redis.child.try_wait()? {
                bail!("redis-server exited at start ({status})");
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Sends a one-word command; returns the first line of the answer.
    async fn command(&self, word: &str) -> Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let request = format!("*1\r\n${}\r\n{word}\r\n", word.len());
        stream.write_all(request.as_bytes()).await?;
        let mut buffer = vec![0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await??;
        let text = String::from_utf8_lossy(&buffer[..read]);
        Ok(text.lines().next().unwrap_or("").to_owned())
    }

    /// How many keys the database holds.
    async fn dbsize(&self) -> Result<u64> {
        let answer = self.command("DBSIZE").await?;
        answer
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("DBSIZE answered {answer:?}"))
    }

    fn stop(self) {
        // Drop kills it.
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
