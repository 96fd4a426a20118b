//! A real `redis-server` on a free loopback port, for the shared-store tests; killed on drop,
//! and the test's keys checked and removed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A private redis-server process.
pub struct TestRedis {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl TestRedis {
    /// Starts redis-server on a free port and waits until it answers.
    pub async fn start() -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Self::start_on(port).await
    }

    /// Starts redis-server on `port` (again, after [`TestRedis::stop`]).
    pub async fn start_on(port: u16) -> Result<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .context("starting redis-server (apt-get install redis-server)")?;
        let redis = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.connection().await.is_err() {
            if Instant::now() > deadline {
                bail!("redis-server did not answer on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(redis)
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain connection for the test's own checks.
    pub async fn connection(&self) -> Result<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url())?;
        Ok(client.get_multiplexed_async_connection().await?)
    }

    /// The keys under `rr:<instance>:`.
    pub async fn keys(&self, instance: &str) -> Result<Vec<String>> {
        let mut connection = self.connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("rr:{instance}:*"))
            .query_async(&mut connection)
            .await?;
        Ok(keys)
    }

    /// The session keys (records, leases, screens, slots) left under `rr:<instance>:`; the
    /// heartbeats, rate buckets and queue, which lapse by themselves, are not counted.
    pub async fn session_keys(&self, instance: &str) -> Result<Vec<String>> {
        let keys = self.keys(instance).await?;
        Ok(keys
            .into_iter()
            .filter(|k| {
                !["{r:", ":r:", "{s:", ":queue"]
                    .iter()
                    .any(|lapsing| k.contains(lapsing))
            })
            .collect())
    }

    /// Removes every key of `instance`, so no test leaves one behind.
    pub async fn clean(&self, instance: &str) -> Result<()> {
        let keys = self.keys(instance).await?;
        if !keys.is_empty() {
            let mut connection = self.connection().await?;
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut connection)
                .await?;
        }
        Ok(())
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes every container of a test's instance when dropped, so a test that fails half-way
/// (and never reaches its own checks and shutdown) still leaves nothing on the engine.
pub struct InstanceCleanup(pub String);

impl Drop for InstanceCleanup {
    fn drop(&mut self) {
        let filter = format!("label=rootresume.instance={}", self.0);
        let listed = Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output();
        if let Ok(listed) = listed {
            let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if !ids.is_empty() {
                let _ = Command::new("docker")
                    .args(["rm", "-f"])
                    .args(&ids)
                    .stdout(Stdio::null())
                    .status();
            }
        }
    }
}
