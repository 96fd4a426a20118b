//! The site's pages and components, rendered on the server (`ssr`) and hydrated in the browser
//! (`hydrate`).

#![recursion_limit = "256"]

pub mod api;
mod pages;
pub mod terminal;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// Where the browser finds xterm.js: bare module names mapped to the npm packages' ES modules,
/// which the server serves under `/vendor/`.
const IMPORT_MAP: &str = r#"{"imports":{"xterm":"/vendor/xterm/lib/xterm.mjs","xterm-addon-fit":"/vendor/addon-fit/lib/addon-fit.mjs"}}"#;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // The import map must come before any module script.
                <script type="importmap" inner_html=IMPORT_MAP></script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href="/vendor/xterm/css/xterm.css" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes and shared page chrome.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/rootresume.css" />
        <Title text="Ada Quill — systems engineer" />
        <Router>
            <main>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("") view=pages::Home />
                </Routes>
            </main>
        </Router>
    }
}
