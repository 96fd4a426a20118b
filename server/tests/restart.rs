//! A server killed with SIGKILL leaves its containers behind; the next start reconciles them:
//! resumable sessions are adopted (the tab reattaches, files intact), everything else is removed.
//! Alone in its own test binary: the real server's start-up reconcile touches every labelled
//! container on the engine.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::{labelled, wait_removed, Term};
use server::sandbox::docker::DockerSandbox;
use server::sandbox::{ContainerSpec, Sandbox, SandboxLimits};

struct RealServer {
    child: Child,
    addr: String,
}

impl RealServer {
    async fn start(addr: &str, instance: &str, adopt: bool) -> Result<Self> {
        let child = Command::new(env!("CARGO_BIN_EXE_server"))
            .env("ROOTRESUME_INSTANCE", instance)
            .env("LEPTOS_SITE_ADDR", addr)
            .env("LEPTOS_OUTPUT_NAME", "rootresume")
            .env("ROOTRESUME_REAPER_ADOPT_ON_START", adopt.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the server binary")?;
        let server = Self {
            child,
            addr: addr.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        // The port accepts connections as soon as it is bound; pages are served only after the
        // start-up reconcile, so wait for a page.
        while !common::http_get(&format!("http://{addr}/"))
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

    async fn session(&self) -> Result<String> {
        let (status, body) =
            common::http_post(&format!("http://{}/api/create_session", self.addr)).await?;
        anyhow::ensure!(status == 200, "create_session answered {status}: {body}");
        Ok(body.trim().trim_matches('"').to_owned())
    }

    async fn connect(&self, id: &str) -> Result<Term> {
        Term::connect(&format!("ws://{}/ws/terminal?session={id}", self.addr)).await
    }

    fn kill_hard(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn terminate(&mut self) -> Result<Duration> {
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
        // A failed assertion must not leave a server running (its reaper would go on working).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

#[tokio::test]
async fn kill_dash_nine_then_restart_adopts_or_removes_everything() -> Result<()> {
    let addr = free_addr()?;
    let instance = format!("restart-{}", uuid::Uuid::new_v4().simple());
    let mut first = RealServer::start(&addr, &instance, true).await?;
    let id = first.session().await?;
    let mut term = first.connect(&id).await?;
    term.started().await?;
    term.run("echo before-crash > kept.txt").await?;
    drop(term);
    first.kill_hard()?;
    assert_eq!(
        labelled(Some(&id)).await?.len(),
        1,
        "SIGKILL leaves the container behind"
    );

    // Also left behind: a container whose lifetime is over.
    let sandbox = DockerSandbox::new(
        "unix:///var/run/docker.sock",
        &SandboxLimits::default().image,
    )?
    .with_instance(&instance);
    let expired = uuid::Uuid::new_v4().to_string();
    let mut spec = ContainerSpec::new(&expired, Duration::from_secs(600), SandboxLimits::default());
    spec.expires_at = std::time::SystemTime::now() - Duration::from_secs(5);
    sandbox.create(&spec).await?;

    let mut second = RealServer::start(&addr, &instance, true).await?;
    assert!(
        labelled(Some(&expired)).await?.is_empty(),
        "expired container survived the restart"
    );
    let mut term = second.connect(&id).await?;
    term.started().await?;
    assert_eq!(
        term.run("cat kept.txt").await?,
        "before-crash",
        "adopted session keeps its files"
    );
    drop(term);
    second.kill_hard()?;

    // With adoption off, a restart removes what the crashed run left.
    let mut third = RealServer::start(&addr, &instance, false).await?;
    assert!(
        labelled(Some(&id)).await?.is_empty(),
        "reconcile without adoption must remove it"
    );
    let fresh = third.session().await?;
    let mut term = third.connect(&fresh).await?;
    term.started().await?;
    let took = third.terminate()?;
    println!("SIGTERM with one live session: exited in {took:?}");
    wait_removed(&fresh, Duration::from_secs(5)).await?;
    assert!(
        sandbox.list().await?.is_empty(),
        "containers of this instance left after the restarts"
    );
    Ok(())
}
