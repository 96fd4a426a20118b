//! Attaches to a container's TTY and hands back its raw byte stream.
//!
//! bollard's exec stream guesses the framing from the first byte of every read: 0, 1 or 2 is
//! taken for a multiplexing header and the next 7 bytes for its length. A TTY stream has no
//! headers, so a visitor printing `\001\0\0\0\177\377\377\377` (or `cat`ing any binary that puts
//! such a byte at a read boundary) froze their terminal while bollard buffered up to 2 GiB of
//! their output in the server. This module speaks the one request itself (`POST
//! /containers/{id}/attach` with `Upgrade: tcp`) and passes every byte through unchanged.
//!
//! Connecting and reading the response head are bounded by [`HEAD_TIMEOUT`]: an engine that
//! accepts the connection and then says nothing must not leave a session starting forever.

use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::tls::TlsClient;

/// A connection to the engine, over a Unix socket or TCP.
trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

/// The largest response head the engine may send before the raw stream begins.
const MAX_HEAD: usize = 16 * 1024;
/// How long connecting and reading the engine's response head may take together.
pub const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Why the attach failed.
#[derive(Debug, thiserror::Error)]
pub enum HijackError {
    /// The engine could not be reached.
    #[error("{0}")]
    Connect(#[from] io::Error),
    /// The engine answered with an error status.
    #[error("{status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
}

/// The shell's output (raw bytes, in chunks of at most `chunk`) and its input.
pub type Hijacked = (
    BoxStream<'static, io::Result<Bytes>>,
    Pin<Box<dyn AsyncWrite + Send>>,
);

async fn connect(endpoint: &str, tls: Option<&TlsClient>) -> io::Result<Box<dyn Connection>> {
    if let Some(address) = endpoint
        .strip_prefix("tcp://")
        .or_else(|| endpoint.strip_prefix("http://"))
    {
        let address = address.trim_end_matches('/');
        let stream = tokio::net::TcpStream::connect(address).await?;
        if let Some(tls) = tls {
            let stream = tls
                .connector
                .connect(tls.server_name.clone(), stream)
                .await?;
            return Ok(Box::new(stream));
        }
        return Ok(Box::new(stream));
    }
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
}

/// Attaches to the TTY of container `container` on the engine at `endpoint`: its output and
/// its input. The container may be created and not yet started (so nothing it prints is missed)
/// or running (a takeover); closing the input does not close the container's stdin.
pub async fn attach(
    endpoint: &str,
    tls: Option<&TlsClient>,
    container: &str,
    chunk: usize,
) -> Result<Hijacked, HijackError> {
    let path = format!("/containers/{container}/attach?stream=1&stdin=1&stdout=1&stderr=1");
    hijacked(upgrade_with(endpoint, tls, &path, ""), chunk).await
}

/// Starts exec `exec` (created with a TTY) on the engine at `endpoint`, attached: its output
/// and its input, like [`attach`]. Unlike a container's own process, an exec'd shell gets
/// end-of-file and exits when this connection closes.
///
/// No upgrade is asked for (the engine hijacks the connection all the same, answering `200`),
/// and the request is always exactly the same bytes but for the exec's id: the socket proxy
/// (deploy/docker-proxy/haproxy.cfg) passes this one request through whole in exactly this
/// form, since HAProxy cannot carry an upgrade with a request body. `Connection: close` makes
/// the engine close the connection if the start fails, instead of reading another request.
pub async fn start_exec(
    endpoint: &str,
    tls: Option<&TlsClient>,
    exec: &str,
    chunk: usize,
) -> Result<Hijacked, HijackError> {
    let path = format!("/exec/{exec}/start");
    let body = r#"{"Detach":false,"Tty":true}"#;
    let starting = post_streaming(endpoint, tls, &path, body, "Connection: close\r\n");
    hijacked(starting, chunk).await
}

/// Starts exec `exec` (created without a TTY, with stdout and stderr attached, and stdin when
/// there is `input`), writes `input` to its standard input and closes it, and returns what it
/// prints, stdout and (with `keep_stderr`) stderr interleaved in order, until it ends or `max`
/// bytes (the rest is read and dropped). No upgrade is asked for: the engine hijacks the
/// connection all the same. The request is one exact form the socket proxy passes through
/// whole (see [`start_exec`]).
pub async fn run_exec(
    endpoint: &str,
    tls: Option<&TlsClient>,
    exec: &str,
    input: Option<&[u8]>,
    max: usize,
    keep_stderr: bool,
) -> Result<Vec<u8>, HijackError> {
    let path = format!("/exec/{exec}/start");
    let body = r#"{"Detach":false,"Tty":false}"#;
    let starting = post_streaming(endpoint, tls, &path, body, "Connection: close\r\n");
    let mut connection = match tokio::time::timeout(HEAD_TIMEOUT, starting).await {
        Ok(connection) => connection?,
        Err(_) => return Err(HijackError::Connect(io::ErrorKind::TimedOut.into())),
    };
    if let Some(input) = input {
        // Written while nothing is read: the command's output is kept small (a name, an
        // error), so the engine's buffers hold it until the input is all in.
        connection.write_all(input).await?;
        // End of input: the engine closes the command's standard input.
        connection.shutdown().await?;
    }
    let mut output = Vec::new();
    let mut header = [0_u8; 8];
    loop {
        // The stream is multiplexed: an 8-byte header (stream, 3 zero bytes, length) per frame.
        match connection.read_exact(&mut header).await {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(output),
            Err(error) => return Err(error.into()),
        }
        let [stream, _, _, _, l0, l1, l2, l3] = header;
        let keep = stream != 2 || keep_stderr;
        let mut left = u64::from(u32::from_be_bytes([l0, l1, l2, l3]));
        let mut buffer = [0_u8; 8192];
        while left > 0 {
            let want = usize::try_from(left).map_or(buffer.len(), |left| left.min(buffer.len()));
            let read = connection.read(&mut buffer[..want]).await?;
            if read == 0 {
                return Ok(output);
            }
            if keep {
                let room = max.saturating_sub(output.len());
                output.extend_from_slice(&buffer[..read.min(room)]);
            }
            left -= read as u64;
        }
    }
}

/// The raw stream of an upgrade, within [`HEAD_TIMEOUT`].
async fn hijacked(
    upgrading: impl std::future::Future<Output = Result<Box<dyn Connection>, HijackError>>,
    chunk: usize,
) -> Result<Hijacked, HijackError> {
    match tokio::time::timeout(HEAD_TIMEOUT, upgrading).await {
        Ok(result) => {
            let (read, write) = tokio::io::split(result?);
            let output = ReaderStream::with_capacity(read, chunk).boxed();
            Ok((output, Box::pin(write)))
        }
        Err(_) => Err(HijackError::Connect(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the engine did not answer within {} s",
                HEAD_TIMEOUT.as_secs()
            ),
        ))),
    }
}

/// Sends `POST path` with a JSON `body` (or none) asking to upgrade the connection, and returns
/// it once upgraded.
async fn upgrade_with(
    endpoint: &str,
    tls: Option<&TlsClient>,
    path: &str,
    body: &str,
) -> Result<Box<dyn Connection>, HijackError> {
    post_streaming(
        endpoint,
        tls,
        path,
        body,
        "Connection: Upgrade\r\nUpgrade: tcp\r\n",
    )
    .await
}

/// The request [`post_streaming`] sends. The host is always `docker`: the engine does not read
/// it, and the socket proxy recognises an attached exec start by its exact bytes.
fn request_bytes(path: &str, body: &str, headers: &str) -> String {
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\n{content_type}Content-Length: {}\r\n\
         {headers}\r\n{body}",
        body.len()
    )
}

/// Sends `POST path` with a JSON `body` (or none) and `headers`, and returns the connection
/// once the engine's response head (status 101 or 200) is read.
async fn post_streaming(
    endpoint: &str,
    tls: Option<&TlsClient>,
    path: &str,
    body: &str,
    headers: &str,
) -> Result<Box<dyn Connection>, HijackError> {
    let mut connection = connect(endpoint, tls).await?;
    connection
        .write_all(request_bytes(path, body, headers).as_bytes())
        .await?;
    // Byte by byte so nothing of the raw stream after the head is consumed here.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(
                io::Error::new(io::ErrorKind::InvalidData, "response head too long").into(),
            );
        }
        head.push(connection.read_u8().await?);
    }
    let head = String::from_utf8_lossy(&head);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status != 101 && status != 200 {
        let mut message = vec![0; 1024];
        let n = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            connection.read(&mut message),
        )
        .await
        .unwrap_or(Ok(0))
        .unwrap_or(0);
        let message = String::from_utf8_lossy(&message[..n]);
        return Err(HijackError::Refused {
            status,
            message: message.trim().to_owned(),
        });
    }
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::request_bytes;

    /// The exact forms deploy/docker-proxy/haproxy.cfg lets through whole (`exec_attached`,
    /// `exec_attached_plain`): the proxy's rules and these must change together.
    #[test]
    fn an_attached_exec_start_has_the_form_the_proxy_expects() {
        let id = "0123456789abcdef".repeat(4);
        let request = request_bytes(
            &format!("/exec/{id}/start"),
            r#"{"Detach":false,"Tty":true}"#,
            "Connection: close\r\n",
        );
        let expected = format!(
            "POST /exec/{id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n\
             Content-Length: 27\r\nConnection: close\r\n\r\n{{\"Detach\":false,\"Tty\":true}}"
        );
        assert_eq!(request, expected);
        assert_eq!(request.len(), 206, "the proxy reads the first 206 bytes");
        let plain = request_bytes(
            &format!("/exec/{id}/start"),
            r#"{"Detach":false,"Tty":false}"#,
            "Connection: close\r\n",
        );
        assert_eq!(plain.len(), 207, "the proxy reads the first 207 bytes");
        let config = include_str!("../../../deploy/docker-proxy/haproxy.cfg");
        assert!(config.contains("req.payload(0,206)") && config.contains("Content-Length: 27"));
        assert!(config.contains("req.payload(0,207)") && config.contains("Content-Length: 28"));
    }
}
