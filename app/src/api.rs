//! Server functions the page calls, and the interface the server implements for them.

use leptos::prelude::*;

/// Creates a sandbox session for this tab and returns its id. The container starts in the
/// background; the terminal socket waits for it.
#[server(endpoint = "create_session")]
pub async fn create_session() -> Result<String, ServerFnError> {
    use launcher::Launcher;
    let Some(Launcher(launcher)) = use_context::<Launcher>() else {
        return Err(ServerFnError::new(
            "the session service is not configured on this server",
        ));
    };
    launcher.launch(client().await).await.map_err(|refused| {
        let response = expect_context::<leptos_axum::ResponseOptions>();
        response.set_status(
            http::StatusCode::from_u16(refused.status)
                .unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE),
        );
        if let Some(secs) = refused.retry_after_secs {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        ServerFnError::new(refused.message)
    })
}

/// Who is calling the server function: the socket's peer and the request's headers.
#[cfg(feature = "ssr")]
async fn client() -> launcher::ClientInfo {
    let peer = leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|info| info.0.ip());
    let headers = leptos_axum::extract::<http::HeaderMap>()
        .await
        .unwrap_or_default();
    launcher::ClientInfo { peer, headers }
}

/// Gives back the session the page came with (see `launcher::Granted`) when its tab has one
/// already (a page come back to, whose tab keeps its shell): the server ends it at once,
/// instead of after the grace period, if no tab has attached to it. Answers the same whatever
/// the id, so it tells nothing about other sessions.
#[server(endpoint = "release_session")]
pub async fn release_session(id: String) -> Result<(), ServerFnError> {
    use launcher::Launcher;
    if let Some(Launcher(launcher)) = use_context::<Launcher>() {
        launcher.release(&id, client().await);
    }
    Ok(())
}

/// What the server provides so pages can start sessions, without `app` depending on the server.
#[cfg(feature = "ssr")]
pub mod launcher {
    use std::sync::Arc;

    /// A refused session: the HTTP status to answer with and a sentence for the visitor.
    #[derive(Debug, Clone)]
    pub struct Refused {
        /// 429 or 503.
        pub status: u16,
        /// Why, and what to do.
        pub message: String,
        /// Seconds after which trying again may work, for the `Retry-After` header.
        pub retry_after_secs: Option<u64>,
    }

    /// Who is asking for a session: the socket's peer and the request headers (a trusted proxy
    /// may name the real client in one of them).
    #[derive(Debug, Clone)]
    pub struct ClientInfo {
        /// The address of the socket's peer.
        pub peer: Option<std::net::IpAddr>,
        /// The request headers.
        pub headers: http::HeaderMap,
    }

    /// What [`SessionLauncher::launch`] returns: the new session's id, once admitted (which may
    /// ask a shared store, so it is asynchronous).
    pub type Launch<'a> =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, Refused>> + Send + 'a>>;

    /// Starts sessions. Implemented by the server's session manager.
    pub trait SessionLauncher: Send + Sync + 'static {
        /// Registers a new session and returns its id.
        fn launch(&self, client: ClientInfo) -> Launch<'_>;

        /// Ends `client`'s session `id` if no tab has attached to it yet; anything else is
        /// left alone.
        fn release(&self, id: &str, client: ClientInfo);
    }

    /// The launcher, as provided in the Leptos context.
    #[derive(Clone)]
    pub struct Launcher(pub Arc<dyn SessionLauncher>);

    /// A session the server handed out with the page itself (see `TerminalScripts`), put in the
    /// request's extensions before the page renders: the page's loader then asks for none.
    #[derive(Debug, Clone)]
    pub struct Granted {
        /// The session's id (its secret: the page must not be cached).
        pub id: String,
        /// What the shell has printed so far (its prompt, for a sandbox from the warm pool),
        /// base64-encoded; empty while it is still starting.
        pub screen: String,
    }
}
