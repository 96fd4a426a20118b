//! The peer: terminado, a widely used web terminal (Jupyter's), serving the same login shell in
//! containers made with the server's own spec, measured with the same client as RootResume.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::term::{Flavour, Shell, Term, PROMPT};

/// A running terminado peer.
pub struct Peer {
    child: Child,
    addr: SocketAddr,
    engine: Engine,
}

impl Peer {
    /// Starts `script` with `python` (the scratch venv's) and waits until it listens.
    pub async fn start(python: &Path, script: &Path, engine: Engine, log: &Path) -> Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = std::fs::File::create(log)?;
        let child = Command::new(python)
            .arg(script)
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the peer with {}", python.display()))?;
        let mut peer = Self {
            child,
            addr,
            engine,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).await.is_err() {
            if let Some(status) = peer.child.try_wait()? {
                bail!("the peer exited at start ({status})");
            }
            if Instant::now() > deadline {
                bail!("the peer did not listen within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(peer)
    }

    /// Starts a sandbox container and opens a peer terminal in it; returns at the prompt.
    pub async fn open(&self, name: &str) -> Result<Term> {
        let container = self.engine.start_container(name).await?;
        let url = format!("ws://{}/websocket/{container}", self.addr);
        let mut term = Term::connect(&url, Flavour::Terminado).await?;
        term.read_until(PROMPT, Duration::from_secs(60)).await?;
        Ok(term)
    }

    /// Stops the peer (its shells end with it; the containers are removed by the caller).
    pub async fn stop(mut self) -> Result<()> {
        self.child.kill()?;
        tokio::task::spawn_blocking(move || self.child.wait()).await??;
        Ok(())
    }
}
