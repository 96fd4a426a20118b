//! The HTTP surface: Leptos pages and server functions, the terminal socket, xterm.js assets.

use std::sync::Arc;

use app::api::launcher::{ClientInfo, Launch, Launcher, Refused, SessionLauncher};
use app::{shell, App};
use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use rootresume_protocol::WS_PATH;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::assets::Assets;
use crate::client::{client_address, ProxyPolicy};
use crate::config::Config;
use crate::sessions::{SessionError, SessionManager};
use crate::ws;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' settings (site root, addresses).
    pub leptos_options: LeptosOptions,
    /// The sessions.
    pub sessions: Arc<SessionManager>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Arc<SessionManager> {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}

/// Lets the `create_session` server function start sessions.
struct ManagerLauncher {
    sessions: Arc<SessionManager>,
    proxies: ProxyPolicy,
}

impl SessionLauncher for ManagerLauncher {
    fn launch(&self, client: ClientInfo) -> Launch<'_> {
        let address = client_address(client.peer, &client.headers, &self.proxies);
        Box::pin(async move {
            let created = self.sessions.create(address).await;
            // A session this replica creates always carries its id, to hand out here once.
            let token = |session: Arc<crate::sessions::Session>| {
                session.token().map(|id| id.expose()).ok_or(Refused {
                    status: 503,
                    retry_after_secs: Some(1),
                    message: "the session could not be handed out; please try again".into(),
                })
            };
            created
                .map_err(|error| {
                    let (status, retry_after) = match &error {
                        SessionError::AtCapacity {
                            position: Some(_), ..
                        } => (503, Some(2)),
                        SessionError::AtCapacity { .. } => (503, Some(60)),
                        SessionError::ShuttingDown => (503, Some(5)),
                        SessionError::StoreUnavailable(_) => (503, Some(5)),
                        SessionError::TooManyForClient { .. } => (429, None),
                        SessionError::RateLimited { retry_after } => {
                            (429, Some(retry_after.as_secs().max(1)))
                        }
                    };
                    Refused {
                        status,
                        retry_after_secs: retry_after,
                        message: error.to_string(),
                    }
                })
                .and_then(token)
        })
    }

    fn release(&self, id: &str, client: ClientInfo) {
        let address = client_address(client.peer, &client.headers, &self.proxies);
        self.sessions.release_unattached(id, address);
    }
}

/// Builds the whole router.
pub fn router(
    config: &Config,
    leptos_options: LeptosOptions,
    sessions: Arc<SessionManager>,
) -> Router {
    let launcher = Launcher(Arc::new(ManagerLauncher {
        sessions: sessions.clone(),
        proxies: config.proxy_policy(),
    }));
    let sessions_for_ops = sessions.clone();
    let state = AppState {
        leptos_options,
        sessions,
    };
    let pages = crate::page_session::PageSessions {
        launcher: launcher.clone(),
        sessions: state.sessions.clone(),
    };
    let options = &state.leptos_options;
    let pkg = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let pkg = Assets::new(pkg);
    let css = std::path::PathBuf::from(format!("{}.css", options.output_name));
    let context = {
        let pkg = pkg.clone();
        move || {
            provide_context(launcher.clone());
            crate::security::page_context();
            // Every page carries the stylesheet (see `app::PageStyle`); a build without one
            // links it instead.
            if let Some(css) = pkg.text(&css) {
                provide_context(app::PageStyle(css));
            }
        }
    };
    let routes = generate_route_list(App);
    let xterm = config.vendor_dir.join("@xterm/xterm");
    let fit = config.vendor_dir.join("@xterm/addon-fit");
    // The static files every terminal needs, compressed once (see `assets`).
    let router = Router::new()
        .nest("/vendor/xterm/lib", Assets::new(xterm.join("lib")).router())
        .nest("/vendor/xterm/css", Assets::new(xterm.join("css")).router())
        .nest(
            "/vendor/addon-fit/lib",
            Assets::new(fit.join("lib")).router(),
        )
        .nest(&format!("/{}", options.site_pkg_dir), pkg.router())
        .merge(crate::feeds::router())
        .leptos_routes_with_context(&state, routes, context, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // The terminal page comes with its session (see `page_session`).
        .layer(axum::middleware::from_fn_with_state(
            pages,
            crate::page_session::grant,
        ))
        // Pages go out compressed (the static files come compressed already, see `assets`):
        // Brotli at a quality fast enough for each request, else gzip. The socket route below
        // is added after the layer so upgrades are left alone.
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .quality(CompressionLevel::Precise(5)),
        )
        .route(WS_PATH, get(ws::terminal_socket))
        // Files out of a sandbox: bodies already compressed (an archive) or not worth it.
        .route(crate::files::DOWNLOAD_PATH, post(crate::files::download))
        .route(crate::files::UPLOAD_PATH, post(crate::files::upload))
        .route(crate::files::RESTORE_PATH, post(crate::files::restore))
        .route(crate::files::RECORDING_PATH, post(crate::files::recording))
        .with_state(state)
        .merge(if config.metrics.listen.is_empty() {
            crate::health::router(sessions_for_ops, &config.metrics.token, true)
        } else {
            Router::new()
        });
    crate::security::harden(router, &config.security, &config.proxy_policy())
}
