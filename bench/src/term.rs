//! One terminal client for both servers under test, so every figure of the comparison comes
//! from the same client logic: RootResume's binary protocol, or terminado's JSON messages.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use rootresume_protocol::{ClientMessage, ErrorCode, ServerMessage, SessionNotice};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The text every prompt of the sandbox image contains (see sandbox/bashrc).
pub const PROMPT: &[u8] = b"visitor@";

/// Which wire protocol a terminal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// RootResume: binary `[version][kind][payload]` frames.
    RootResume,
    /// terminado: text frames holding JSON arrays like `["stdin", "ls\r"]`.
    Terminado,
}

/// A connected terminal.
pub struct Term {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    flavour: Flavour,
    /// Resource meter readings received (skipped like other notices).
    meters: u64,
}

impl Term {
    /// Opens the WebSocket at `url` (Nagle off, as a browser's socket would be for small frames).
    pub async fn connect(url: &str, flavour: Flavour) -> Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .with_context(|| format!("opening {url}"))?;
        Ok(Self {
            socket,
            flavour,
            meters: 0,
        })
    }

    /// Opens a RootResume terminal socket and attaches to `session` (the first frame).
    pub async fn connect_session(url: &str, session: &str) -> Result<Self> {
        Ok(Self::connect_named(url, session).await?.0)
    }

    /// [`Term::connect_session`] over a connection to `addr` from the local address `from` (a
    /// loopback address of its own stands for another visitor).
    pub async fn connect_session_from(
        url: &str,
        from: IpAddr,
        addr: SocketAddr,
        session: &str,
    ) -> Result<Self> {
        let stream = crate::server::connect_from(Some(from), addr).await?;
        stream.set_nodelay(true)?;
        let (socket, _) =
            tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(stream), None)
                .await
                .with_context(|| format!("opening {url} from {from}"))?;
        let mut term = Self {
            socket,
            flavour: Flavour::RootResume,
            meters: 0,
        };
        term.attach(session).await?;
        Ok(term)
    }

    async fn attach(&mut self, session: &str) -> Result<()> {
        let attach = ClientMessage::Attach {
            session: session.to_owned(),
        };
        self.socket
            .send(Message::Binary(attach.encode().into()))
            .await
            .context("sending the attach frame")
    }

    /// Opens a RootResume terminal socket, attaches to `session`, and returns, beside it, the
    /// replica that answered the upgrade when a balancer names it (`x-rootresume-lb-server`,
    /// added by scripts/cluster.sh's HAProxy).
    pub async fn connect_named(url: &str, session: &str) -> Result<(Self, Option<String>)> {
        let (socket, response) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .with_context(|| format!("opening {url}"))?;
        let replica = response
            .headers()
            .get("x-rootresume-lb-server")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut term = Self {
            socket,
            flavour: Flavour::RootResume,
            meters: 0,
        };
        term.attach(session).await?;
        Ok((term, replica))
    }

    /// Waits for the server to attach this socket to its session (the `Started` notice), as the
    /// page does before it reports "connected" or "reattached". RootResume only.
    pub async fn attached(&mut self, timeout: Duration) -> Result<Attach> {
        let deadline = Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .map_err(|_| anyhow!("no Started notice within {timeout:?}"))?;
            let bytes = match frame {
                None => return Ok(Attach::Refused("socket closed".into())),
                Some(Err(error)) => return Ok(Attach::Refused(format!("socket failed: {error}"))),
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame.map_or_else(String::new, |f| f.reason.to_string());
                    return Ok(Attach::Refused(format!("closed: {reason}")));
                }
                Some(Ok(Message::Binary(bytes))) => bytes,
                Some(Ok(_)) => continue,
            };
            match ServerMessage::decode(&bytes)? {
                ServerMessage::Notice(SessionNotice::Started { resumed, .. }) => {
                    return Ok(Attach::Started { resumed })
                }
                ServerMessage::Notice(SessionNotice::Ended { reason }) => {
                    return Ok(Attach::Lost(format!("session ended: {reason:?}")))
                }
                ServerMessage::Error {
                    code: ErrorCode::UnknownSession,
                    message,
                } => return Ok(Attach::Lost(message)),
                ServerMessage::Error { message, .. } => return Ok(Attach::Refused(message)),
                _ => {}
            }
        }
    }

    /// Sends one protocol message (RootResume only).
    pub async fn send(&mut self, message: &ClientMessage) -> Result<()> {
        self.socket
            .send(Message::Binary(message.encode().into()))
            .await
            .context("sending a message")
    }

    /// How many resource meter readings arrived so far.
    pub fn meter_readings(&self) -> u64 {
        self.meters
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

impl Shell for Term {
    async fn send_input(&mut self, bytes: &[u8]) -> Result<()> {
        let message = match self.flavour {
            Flavour::RootResume => {
                Message::Binary(ClientMessage::Input(bytes.to_vec()).encode().into())
            }
            Flavour::Terminado => {
                let text = std::str::from_utf8(bytes).context("terminado takes text input")?;
                Message::Text(serde_json::json!(["stdin", text]).to_string().into())
            }
        };
        self.socket.send(message).await?;
        Ok(())
    }

    // Notices, pongs and terminado's `setup` are skipped; an error from the server is an error.
    async fn next_output(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            let Some(frame) = self.socket.next().await else {
                return Ok(None);
            };
            match (self.flavour, frame?) {
                (_, Message::Close(_)) => return Ok(None),
                (Flavour::RootResume, Message::Binary(bytes)) => {
                    match ServerMessage::decode(&bytes)? {
                        ServerMessage::Output(out) => return Ok(Some(out)),
                        ServerMessage::Error { message, .. } => bail!("server error: {message}"),
                        ServerMessage::Notice(SessionNotice::Ended { reason }) => {
                            bail!("session ended: {reason:?}")
                        }
                        ServerMessage::Notice(_)
                        | ServerMessage::Pong(_)
                        | ServerMessage::Terminals(_)
                        | ServerMessage::Sharing(_)
                        | ServerMessage::Watching { .. }
                        | ServerMessage::Checked { .. } => {}
                        ServerMessage::Meter(_) => self.meters += 1,
                    }
                }
                (Flavour::Terminado, Message::Text(text)) => {
                    let value: serde_json::Value = serde_json::from_str(&text)?;
                    match (value.get(0).and_then(|v| v.as_str()), value.get(1)) {
                        (Some("stdout"), Some(serde_json::Value::String(out))) => {
                            return Ok(Some(out.clone().into_bytes()))
                        }
                        (Some("disconnect"), _) => return Ok(None),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
}

/// How an attempt to attach a socket to its session went.
#[derive(Debug)]
pub enum Attach {
    /// Attached; `resumed` when the shell was already running.
    Started {
        /// Whether the server resumed a running shell.
        resumed: bool,
    },
    /// The server closed the socket or answered an error a tab retries after (a takeover still
    /// waiting, a replica going away), with its reason.
    Refused(String),
    /// The session is gone: unknown to the server, or ended.
    Lost(String),
}

/// A shell seen from a client: keys go in, output comes out. Implemented by the WebSocket
/// clients and by a bare engine exec, so every figure uses the same reading logic.
pub(crate) trait Shell: Send {
    /// Sends keystrokes or a command line to the shell.
    fn send_input(&mut self, bytes: &[u8]) -> impl Future<Output = Result<()>> + Send;

    /// The next piece of shell output; `None` once the shell's stream ended.
    fn next_output(&mut self) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;

    /// Reads output until `needle` has appeared, and returns how many bytes were read.
    fn read_until(
        &mut self,
        needle: &[u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<u64>> + Send {
        async move {
            let deadline = Instant::now() + timeout;
            let mut finder = Finder::new(needle);
            let mut total = 0u64;
            loop {
                let chunk = tokio::time::timeout_at(deadline, self.next_output())
                    .await
                    .map_err(|_| anyhow!("no {:?} within {timeout:?}", lossy(needle)))??
                    .ok_or_else(|| anyhow!("socket closed before {:?}", lossy(needle)))?;
                total += chunk.len() as u64;
                if finder.feed(&chunk) {
                    return Ok(total);
                }
            }
        }
    }

    /// Reads and discards output for `period`; fails if the socket closes.
    fn drain_for(&mut self, period: Duration) -> impl Future<Output = Result<()>> + Send {
        async move {
            let until = Instant::now() + period;
            while let Ok(output) = tokio::time::timeout_at(until, self.next_output()).await {
                if output?.is_none() {
                    bail!("socket closed");
                }
            }
            Ok(())
        }
    }
}

/// Finds a needle in a stream of chunks, across chunk boundaries, keeping only a needle-sized
/// tail: constant memory however much output comes before the needle.
pub struct Finder<'a> {
    needle: &'a [u8],
    tail: Vec<u8>,
}

impl<'a> Finder<'a> {
    /// A finder for `needle`.
    pub fn new(needle: &'a [u8]) -> Self {
        Self {
            needle,
            tail: Vec::new(),
        }
    }

    /// Looks at the next chunk; true once the needle has appeared.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        self.tail.extend_from_slice(chunk);
        if self
            .tail
            .windows(self.needle.len())
            .any(|w| w == self.needle)
        {
            return true;
        }
        let keep = self.tail.len().saturating_sub(self.needle.len());
        self.tail.drain(..keep);
        false
    }
}

/// Bytes as text, for error messages.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finder_sees_a_needle_split_across_chunks() {
        let mut finder = Finder::new(b"DONE");
        assert!(!finder.feed(b"xxxxDO"));
        assert!(finder.feed(b"NEyy"));
    }
}
