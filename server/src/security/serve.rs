//! The accept loop. It does what `axum::serve` does, plus two limits `axum::serve` has no knob
//! for: a deadline for a request's headers, so a slowloris client that trickles a header byte by
//! byte loses its connection, and a cap on the connections one address holds open.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::SecuritySettings;
use crate::client::ProxyPolicy;

/// Open connections per address.
struct Connections {
    cap: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place in [`Connections`], given back on drop.
struct Slot(Arc<Connections>, IpAddr);

impl Connections {
    fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Slot(self.clone(), ip))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.1) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets open requests finish.
/// Requests carry `ConnectInfo<SocketAddr>` like `into_make_service_with_connect_info`.
/// A trusted proxy's connections are many visitors': the per-address cap spares it, and only
/// it (a client reaching the port directly is capped whatever headers it sends).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: &SecuritySettings,
    proxies: &ProxyPolicy,
    stop: CancellationToken,
) {
    let header_timeout = Duration::from_secs(settings.header_read_timeout_secs);
    let connections = Arc::new(Connections {
        cap: settings.max_connections_per_address,
        open: Mutex::new(HashMap::new()),
    });
    let tasks = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = if proxies.trusts(remote.ip()) {
            None
        } else {
            let Some(slot) = connections.acquire(remote.ip()) else {
                tracing::debug!(%remote, "connection refused: per-address cap reached");
                continue;
            };
            Some(slot)
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                request.map(Body::new)
            });
        let stop = stop.clone();
        tasks.spawn(async move {
            // HTTP/1.1 only: the site needs nothing more, and h2 would be more surface.
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut connection = pin!(connection);
            // An upgraded terminal socket leaves this future (and its slot) at the upgrade; the
            // socket cap counts it from then on.
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::trace!(%error, "connection ended with an error");
                    }
                }
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
    tasks.close();
    tasks.wait().await;
}
