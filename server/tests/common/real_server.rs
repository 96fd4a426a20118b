//! The real server binary as a child process, for tests that kill, restart or measure it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::Term;

/// The real server binary, started as a child process on a given address.
pub struct RealServer {
    child: Child,
    addr: String,
    log: std::path::PathBuf,
}

impl RealServer {
    /// Starts the binary as deployment `instance` with extra environment settings, and waits
    /// until it serves pages.
    pub async fn start(addr: &str, instance: &str, env: &[(&str, &str)]) -> Result<Self> {
        let log = std::env::temp_dir().join(format!("rr-server-{instance}.log"));
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("ROOTRESUME_INSTANCE", instance)
            .env("LEPTOS_SITE_ADDR", addr)
            .env("LEPTOS_OUTPUT_NAME", "rootresume")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .spawn()
            .context("starting the server binary")?;
        let server = Self {
            child,
            addr: addr.to_owned(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        // The port accepts connections as soon as it is bound; pages are served only after the
        // start-up reconcile, so wait for a page.
        while !super::http_get(&format!("http://{addr}/"))
            .await
            .is_ok_and(|r| r.starts_with("HTTP/1.1 200"))
        {
            if Instant::now() > deadline {
                bail!("server did not listen on {addr}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// Creates a session through the server function.
    pub async fn session(&self) -> Result<String> {
        let (status, body) =
            super::http_post(&format!("http://{}/api/create_session", self.addr)).await?;
        anyhow::ensure!(status == 200, "create_session answered {status}: {body}");
        Ok(body.trim().trim_matches('"').to_owned())
    }

    /// Opens the terminal socket of session `id`.
    pub async fn connect(&self, id: &str) -> Result<Term> {
        Term::connect(&format!("ws://{}/ws/terminal", self.addr), id).await
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill_hard(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, then waits for the exit; returns how long it took.
    pub fn terminate(&mut self) -> Result<Duration> {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = self.child.wait()?;
        anyhow::ensure!(exit.success(), "server exited with {exit}");
        Ok(started.elapsed())
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        // A failed assertion must not leave a server running (its reaper would go on working)
        // nor its containers: ask for a graceful shutdown first, which removes them.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A free local port, as `127.0.0.1:port`.
pub fn free_addr() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

impl RealServer {
    /// The server process's resident memory, from `/proc/<pid>/status`, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS line in /proc/<pid>/status")
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> Result<String> {
        Ok(std::fs::read_to_string(&self.log)?)
    }
}
