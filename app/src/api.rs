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
    launcher.launch().map_err(|refused| {
        let response = expect_context::<leptos_axum::ResponseOptions>();
        response.set_status(
            http::StatusCode::from_u16(refused.status)
                .unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE),
        );
        ServerFnError::new(refused.message)
    })
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
    }

    /// Starts sessions. Implemented by the server's session manager.
    pub trait SessionLauncher: Send + Sync + 'static {
        /// Registers a new session and returns its id.
        fn launch(&self) -> Result<String, Refused>;
    }

    /// The launcher, as provided in the Leptos context.
    #[derive(Clone)]
    pub struct Launcher(pub Arc<dyn SessionLauncher>);
}
