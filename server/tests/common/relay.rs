//! A stand-in for the Docker engine's socket, to make the engine go away and come back.

use std::path::{Path, PathBuf};

use anyhow::Result;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

/// A stand-in for the engine's socket that relays to the real one and can be pulled.
pub struct Relay {
    path: PathBuf,
    connections: JoinSet<()>,
}

impl Relay {
    /// Listens at `path` and relays every connection to the real engine.
    pub fn start(path: &Path) -> Result<Self> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        let mut connections = JoinSet::new();
        connections.spawn(async move {
            let mut relays = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                relays.spawn(async move {
                    if let Ok(mut engine) = UnixStream::connect("/var/run/docker.sock").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        });
        Ok(Self {
            path: path.to_owned(),
            connections,
        })
    }

    /// The engine "goes away": the socket and every open connection through it.
    pub fn stop(mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every relayed connection.
        self.connections.abort_all();
        let _ = std::fs::remove_file(&self.path);
    }
}
