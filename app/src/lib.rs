//! The site's pages and components, rendered on the server (`ssr`) and hydrated in the browser
//! (`hydrate`).

#![recursion_limit = "256"]

pub mod api;
pub mod content;
mod pages;
pub mod terminal;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::{path, SsrMode};

use content::model::SiteInfo;

/// Where the browser finds xterm.js: bare module names mapped to the npm packages' ES modules,
/// which the server serves under `/vendor/`. Public so the server's CSP can allow it by hash.
pub const IMPORT_MAP: &str = r#"{"imports":{"xterm":"/vendor/xterm/lib/xterm.mjs","xterm-addon-fit":"/vendor/addon-fit/lib/addon-fit.mjs"}}"#;

/// Applies the saved theme before the first paint (no flash of the wrong theme), marks the page
/// as scripted so the theme button shows, and handles that button by delegation, so it works on
/// pages that load no WASM and survives hydration. Public so the server's CSP can allow it by
/// hash.
pub const THEME_SCRIPT: &str = r#"(function(){var d=document.documentElement;d.classList.add("js");try{var t=localStorage.getItem("theme");if(t==="light"||t==="dark")d.dataset.theme=t}catch(e){}document.addEventListener("click",function(e){var b=e.target.closest&&e.target.closest("[data-theme-toggle]");if(!b)return;var dark=d.dataset.theme?d.dataset.theme==="dark":matchMedia("(prefers-color-scheme: dark)").matches;var n=dark?"light":"dark";d.dataset.theme=n;try{localStorage.setItem("theme",n)}catch(e){}})})();"#;

/// Loads the terminal — xterm.js's stylesheet, then the WASM bundle, which hydrates the page's
/// islands (the terminal panel, nothing else) — when it is wanted: at once where the page is the
/// terminal (`data-start="load"`) or this tab already has a session (a reload gets its shell
/// back), else when the visitor reaches for it: presses or focuses the terminal panel, or follows
/// a link to `#shell`. A reading page with a shell further down thus stays a small HTML page, and
/// no container is made for a visitor who only reads.
///
/// The session comes first. On `/terminal` the page may come with one (`data-granted`, and the
/// shell's output so far in `data-screen`: see `server::page_session`), which a tab with no
/// session yet takes, and one that has a session gives back (the `release_session` server
/// function). Otherwise, for a tab with no session yet, the loader asks the `create_session`
/// server function for it at once. The id goes where the terminal looks for it
/// (`sessionStorage`), and `window.__rrSession` is the promise of it (or of `null` when refused),
/// which the terminal's client awaits if it starts first. Where the terminal starts at once or
/// on request, the first screen ([`FIRST_SCREEN`]) shows the shell from that session (from the
/// screen the page came with, before its socket is open), and only
/// once it has (or 300 ms passed) does the loader ask for the bundle: what it will surely need
/// side by side, not one after another — xterm.js's stylesheet, the bundle's script, xterm.js
/// and its add-on (module preloads), the WASM (a preload the bundle's own fetch then takes) —
/// and it runs the bundle when the script and the stylesheet are in. Fetching and compiling
/// those 600 KB while the page paints first made the prompt wait for them: the same page with
/// them asked for after the first screen's paint shows its prompt about 50 ms sooner (p50 of
/// 40 fresh tabs on two cores, `docs/benchmarks/page-to-prompt.md`).
///
/// A Run button on a code block (`data-run`, see `content::markdown`) or a challenge's Check
/// button (`data-check`) is a press too: it opens the page's terminal dock if it has one, starts
/// the terminal, and queues its block in `window.__rrRuns` (the block's element), announcing it
/// with an `rr-run` event the terminal's client answers; a block the opened dock would cover is
/// scrolled up above it. A dock's `data-dock-close` button hides it. On a post
/// (`data-start="run"`) only those buttons start the terminal, unless the tab left its dock open
/// on a page before (`sessionStorage`): a reload then finds its terminal (and its challenges'
/// verdicts) where it was. Reading stays script-free until then. A share link's page
/// (`data-start="watch"`) loads at once and asks for no session: it shows someone else's.
///
/// If the files cannot be fetched, a note after the panel says so (outside the island, which
/// must stay as the server rendered it until it hydrates) and the next press tries again: with
/// the script already imported, only its WASM is fetched again (a second copy of the script would
/// not be the one its parts loaded on first use link to); a script that failed to load is asked
/// for under a new URL, since a browser remembers a module that failed. The file names come
/// from the element's data attributes so the text stays fixed; public so the server's CSP can
/// allow it by hash.
pub const TERMINAL_LOADER: &str = r#"(function(s){var d=s.dataset,started=false,tries=0,css=null,mod=null;function sid(){try{return sessionStorage.getItem("rootresume.session")}catch(e){return null}}function has(){return!!sid()}function link(rel,href,as){var l=document.createElement("link");l.rel=rel;l.href=href;if(as){l.as=as;l.crossOrigin="anonymous"}document.head.appendChild(l)}function assets(){if(!css){css=new Promise(function(r){var l=document.createElement("link");l.rel="stylesheet";l.href=d.css;l.onload=l.onerror=r;document.head.appendChild(l)});d.preload.split(" ").forEach(function(u){link("modulepreload",u)});link("preload",d.wasm,"fetch")}return css}function go(){if(started)return;started=true;var screen=null,g=d.granted;if(g)delete d.granted;if(g&&has())fetch(d.release,{method:"POST",headers:{"Content-Type":"application/x-www-form-urlencoded"},body:"id="+encodeURIComponent(g)}).catch(function(){});if(d.start!=="watch"&&!has()&&!window.__rrSession){if(g){try{sessionStorage.setItem("rootresume.session",g)}catch(e){}window.__rrSession=Promise.resolve(g);screen=d.screen}else window.__rrSession=fetch(d.session,{method:"POST",headers:{Accept:"application/json"}}).then(function(r){return r.ok?r.json():null}).then(function(id){if(typeof id!=="string")return null;try{sessionStorage.setItem("rootresume.session",id)}catch(e){}return id},function(){return null})}var first=(d.start==="load"||d.start==="request")&&window.__rrFirst?__rrFirst.start(window.__rrSession||sid(),screen):null;var js=d.js+(tries++?"?retry="+tries:"");Promise.resolve(first).then(function(){return Promise.all([assets(),mod||import(js)])}).then(function(a){var m=mod=a[1];return m.default({module_or_path:d.wasm}).then(function(){m.hydrate();document.querySelectorAll("leptos-island").forEach(function(el){var f=m[el.dataset.component];if(f)f(el)})})}).then(function(){var e=document.getElementById("terminal-load-error");if(e)e.remove()},function(){started=false;var e=document.getElementById("terminal-load-error"),i=document.querySelector("leptos-island");if(!e&&i){e=document.createElement("p");e.id="terminal-load-error";e.className="terminal-load-error";e.setAttribute("role","alert");e.textContent="The terminal could not load. Check your connection, then press Start or the shell to try again.";i.after(e)}})}function dock(open){var k=document.querySelector("[data-terminal-dock]");if(!k)return false;k.hidden=!open;try{sessionStorage.setItem("rootresume.dock",open?"open":"")}catch(e){}return true}function reveal(el){var k=document.querySelector("[data-terminal-dock]");if(!k||k.hidden||!el)return;var top=k.getBoundingClientRect().top,r=el.getBoundingClientRect();if(r.bottom>top)scrollBy(0,Math.min(r.bottom-top+16,r.top-8))}function docked(){try{return sessionStorage.getItem("rootresume.dock")==="open"}catch(e){return false}}function wanted(e){var t=e.target,b,k;if(!t||!t.closest)return;b=t.closest("[data-run],[data-check]");if(b){if(e.type==="focusin")return;dock(true);if(e.type==="click"){k=b.closest("[data-run-lang],[data-challenge]");(window.__rrRuns=window.__rrRuns||[]).push(k);go();dispatchEvent(new Event("rr-run"));reveal(k)}else go();return}if(t.closest("[data-dock-close]")){if(e.type==="click")dock(false);return}if(t.closest("[data-terminal-panel],a[href='#shell']"))go()}["pointerdown","focusin","click"].forEach(function(k){addEventListener(k,wanted,true)});if(d.start==="load"||d.start==="watch"||(d.start==="request"&&has()))go();else if(d.start==="run"&&has()&&docked())addEventListener("DOMContentLoaded",function(){if(dock(true))go()})})(document.currentScript);"#;

/// When a page's terminal starts, for the pages that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalStart {
    /// At once: the page is the terminal.
    Load,
    /// When the visitor reaches for it, or at once in a tab that has a session (the home page).
    Request,
    /// Only when a Run button is pressed (a post with runnable blocks).
    Run,
    /// At once, with no session of its own: a share link's page shows someone else's terminal.
    Watch,
}

impl TerminalStart {
    /// The loader's `data-start` value.
    fn as_str(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Request => "request",
            Self::Run => "run",
            Self::Watch => "watch",
        }
    }
}

/// Whether, and when, the page at `path` starts a terminal: only these pages load the WASM
/// bundle and xterm.js, and only when [`TerminalStart`] says. Reading pages are complete as
/// server-rendered HTML, so they ship no script beyond the theme toggle and stay small and fast.
pub fn terminal_start(path: &str) -> Option<TerminalStart> {
    match path.trim_end_matches('/') {
        "/terminal" => Some(TerminalStart::Load),
        "" => Some(TerminalStart::Request),
        other if other.starts_with("/watch/") => Some(TerminalStart::Watch),
        other => {
            let slug = other.strip_prefix("/blog/")?;
            post_is_runnable(slug).then_some(TerminalStart::Run)
        }
    }
}

/// Whether the post `slug` has a Run button (answered from the content on the server).
fn post_is_runnable(slug: &str) -> bool {
    #[cfg(feature = "ssr")]
    if let Ok(site) = content::site() {
        return site.post(slug).is_some_and(|post| post.runnable);
    }
    let _ = slug;
    false
}

/// The first screen: the sandbox's shell shown, and typed into, before the WASM bundle and
/// xterm.js are ready. On a page whose terminal starts at once or on request, the loader
/// ([`TERMINAL_LOADER`]) calls `__rrFirst.start` with the session (its id, or the promise of
/// it) at the moment it asks for the bundle: the socket opens beside the session request, the
/// first frame attaches as soon as the id is known, and the shell's output is drawn as plain text
/// (no colours; the escape sequences readline uses to edit a line are followed) in a `<pre>` over
/// the terminal's place, which takes keys and pastes. The screen a page came with (see
/// [`TERMINAL_LOADER`]) is drawn as soon as the page is parsed, so the page's first paint shows
/// the prompt; the socket's replay of the shell's output, from its start, then draws it again
/// in place. When the bundle's client starts it calls
/// `__rrFirst.adopt(id)`, which hands it the socket and every frame received so far (or `null`
/// if there is none for that id); the client replays those into xterm.js and calls
/// `__rrFirst.done()`, which removes the `<pre>` in the frame xterm.js draws. One socket per tab,
/// so nothing typed is lost at the handover. The loader fetches and runs the bundle only once
/// the first screen has painted the shell (or 300 ms passed): the bundle's start holds the
/// page's main thread for a few hundred milliseconds on a slow machine, in which the socket's
/// events and the paint would wait. Public so the server's CSP can allow it by hash.
pub const FIRST_SCREEN: &str = include_str!("terminal/first_screen.js");

/// The file, beside the bundle's script, that loads the bundle's parts fetched on first use
/// (`terminal/lazy.rs`); the bundle's script imports it. Its name is the one Leptos' split
/// points use (`bindgen/` writes it).
pub const SPLIT_LOADER: &str = "__wasm_split.______________________.js";

/// The script that loads the WASM bundle and xterm.js's stylesheet (see [`TERMINAL_LOADER`]),
/// in place of Leptos' `HydrationScripts`: the same files, but loaded on demand instead of
/// preloaded on every page that has a terminal.
#[component]
fn TerminalScripts(options: LeptosOptions, start: TerminalStart) -> impl IntoView {
    let pkg = format!("/{}", options.site_pkg_dir);
    let js = format!("{pkg}/{}.js", options.output_name);
    // scripts/build-site.sh (like cargo-leptos) names the bundle after the output name alone.
    let wasm = format!("{pkg}/{}.wasm", options.output_name);
    let preload = format!(
        "/vendor/xterm/lib/xterm.mjs /vendor/addon-fit/lib/addon-fit.mjs {pkg}/{SPLIT_LOADER}"
    );
    let session = <api::CreateSession as leptos::server_fn::ServerFn>::PATH;
    let release = <api::ReleaseSession as leptos::server_fn::ServerFn>::PATH;
    let first_screen = matches!(start, TerminalStart::Load | TerminalStart::Request)
        .then(|| view! { <script inner_html=FIRST_SCREEN></script> });
    let (granted, screen) = granted_session().unzip();
    view! {
        {first_screen}
        <script
            data-js=js
            data-wasm=wasm
            data-css="/vendor/xterm/css/xterm.css"
            // What the bundle imports (see IMPORT_MAP, and the loader of its parts loaded on
            // first use: terminal/lazy.rs), fetched beside it.
            data-preload=preload
            data-session=session
            data-start=start.as_str()
            // A session handed out with the page, and its screen so far (see `granted_session`).
            data-granted=granted
            data-release=release
            data-screen=screen
            inner_html=TERMINAL_LOADER
        ></script>
    }
}

/// The session the server handed out with this page (its id, and its screen so far as base64),
/// if it did: the server does so for a browser's navigation to `/terminal`, so that the page's
/// first paint already shows the shell's prompt and no request for a session follows.
fn granted_session() -> Option<(String, String)> {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<http::request::Parts>() {
        return parts
            .extensions
            .get::<api::launcher::Granted>()
            .map(|g| (g.id.clone(), g.screen.clone()));
    }
    None
}

/// The request's path while rendering on the server; `/` in the browser, which never renders
/// the shell.
fn request_path() -> String {
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<http::request::Parts>() {
        return parts.uri.path().to_string();
    }
    String::from("/")
}

/// `public/favicon.svg` as a `data:` URI (the CSP allows `data:` images).
fn favicon_data_uri() -> String {
    let svg = include_str!("../../public/favicon.svg").trim();
    let mut uri = String::from("data:image/svg+xml,");
    for c in svg.chars() {
        match c {
            '"' => uri.push('\''),
            '#' => uri.push_str("%23"),
            '<' => uri.push_str("%3C"),
            '>' => uri.push_str("%3E"),
            '%' => uri.push_str("%25"),
            '\n' | '\r' => {}
            c => uri.push(c),
        }
    }
    uri
}

/// The site's stylesheet (`/pkg/rootresume.css`, as built), which the server provides as context
/// while it renders a page so the page carries it in a `<style>` element instead of linking it.
/// A linked stylesheet blocks the first paint, and the scripts after it, on one more request:
/// inline, a fresh tab paints its first screen (and on `/terminal` its prompt) sooner
/// (`docs/benchmarks/page-to-prompt.md`). The page grows by the stylesheet, about 3 KB as sent.
/// Without it (a page rendered with no such context, as the 404 page is) the page links the file.
#[derive(Clone, Debug)]
pub struct PageStyle(pub std::sync::Arc<str>);

/// The inline stylesheet, where the server provided one (see [`PageStyle`]).
fn page_style() -> Option<PageStyle> {
    use_context::<PageStyle>()
}

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let path = request_path();
    let start = terminal_start(&path);
    let style = page_style().map(|style| view! { <style id="leptos" inner_html=style.0></style> });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // The import map must come before any module script.
                <script type="importmap" inner_html=IMPORT_MAP></script>
                <script inner_html=THEME_SCRIPT></script>
                // Inline: a request of its own cost more in headers than the icon weighs.
                <link rel="icon" href=favicon_data_uri() type="image/svg+xml" />
                <link rel="alternate" type="application/atom+xml" title="Blog feed" href="/feed.xml" />
                {style}
                {start
                    .map(|start| {
                        view! {
                            <AutoReload options=options.clone() />
                            <TerminalScripts options start />
                        }
                    })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The site's name and base URL: computed on the server, carried to the browser in the page.
fn provide_site_info() {
    let info = SharedValue::new(|| {
        #[cfg(feature = "ssr")]
        if let Ok(site) = content::site() {
            return site.info();
        }
        SiteInfo {
            name: String::new(),
            role: String::new(),
            site_url: String::new(),
        }
    })
    .into_inner();
    provide_context(info);
}

/// Site navigation, with the current section marked.
#[component]
fn SiteHeader() -> impl IntoView {
    let name = pages::site_info().name;
    let location = use_location();
    let current = move |section: &'static str| {
        move || {
            let path = location.pathname.get();
            let here = if section == "/" {
                path == "/"
            } else {
                path == section
                    || path.starts_with(&format!("{section}/"))
                    || (section == "/blog" && path.starts_with("/tags/"))
            };
            here.then_some("page")
        }
    };
    view! {
        <a class="skip" href="#content">"Skip to content"</a>
        <header class="site-header">
            <a class="brand" href="/">{name}</a>
            <nav aria-label="Site">
                <ul>
                    <li><a href="/about" aria-current=current("/about")>"About"</a></li>
                    <li><a href="/projects" aria-current=current("/projects")>"Projects"</a></li>
                    <li><a href="/blog" aria-current=current("/blog")>"Blog"</a></li>
                    <li><a href="/terminal" aria-current=current("/terminal")>"Terminal"</a></li>
                </ul>
            </nav>
            <button type="button" class="theme-toggle" data-theme-toggle="" aria-label="Switch between light and dark theme">
                <span aria-hidden="true">"◐"</span>
            </button>
        </header>
    }
}

/// The application: routes and shared page chrome.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_site_info();
    // Linked only where the server did not put it in the page (see `PageStyle`).
    let stylesheet = page_style()
        .is_none()
        .then(|| view! { <Stylesheet id="leptos" href="/pkg/rootresume.css" /> });
    view! {
        {stylesheet}
        <Router>
            <SiteHeader />
            <main id="content">
                // Async: pages wait for their content on the server, so they arrive whole (for
                // readers without JavaScript and for crawlers) with the right status and head.
                <Routes fallback=pages::NotFound>
                    <Route path=path!("") view=pages::Home ssr=SsrMode::Async />
                    <Route path=path!("about") view=pages::About ssr=SsrMode::Async />
                    <Route path=path!("projects") view=pages::Projects ssr=SsrMode::Async />
                    <Route path=path!("blog") view=pages::Blog ssr=SsrMode::Async />
                    <Route path=path!("blog/:slug") view=pages::PostView ssr=SsrMode::Async />
                    <Route path=path!("tags/:tag") view=pages::Tag ssr=SsrMode::Async />
                    <Route path=path!("terminal") view=pages::TerminalPage />
                    <Route path=path!("watch/:token") view=pages::WatchPage />
                </Routes>
            </main>
            <footer class="site-footer">
                <p>
                    <a href="/feed.xml">"Atom feed"</a>" · "<a href="/sitemap.xml">"Sitemap"</a>
                    " · Rendered on the server; the shell is the only part that needs JavaScript."
                </p>
            </footer>
        </Router>
    }
}

#[cfg(test)]
mod tests {
    use super::{favicon_data_uri, FIRST_SCREEN};
    use rootresume_protocol::{ClientMessage, ServerMessage, WS_PATH};

    #[test]
    fn the_first_screen_speaks_the_protocol() {
        // The first screen is plain JavaScript: its frame headers must be the protocol's.
        let header = |frame: Vec<u8>| (frame[0], frame[1]);
        let attach_frame = ClientMessage::AttachTerminal {
            session: "x".into(),
            terminal: 0,
        }
        .encode();
        let (version, attach) = header(attach_frame.clone());
        assert_eq!(
            attach_frame[2..],
            [0, b'x'],
            "the terminal's number, then the id"
        );
        assert!(FIRST_SCREEN.contains(r#"frame(ATTACH, "\0" + id)"#));
        let (_, input) = header(ClientMessage::Input(vec![b'x']).encode());
        let (_, output) = header(ServerMessage::Output(vec![b'x']).encode());
        let constants = format!(
            "var V = {version}, ATTACH = {attach}, INPUT = {input}, OUTPUT = {output}, WS = \"{WS_PATH}\";"
        );
        assert!(FIRST_SCREEN.contains(&constants), "expected {constants}");
    }

    #[test]
    fn the_favicon_is_a_data_uri_an_attribute_can_hold() {
        let uri = favicon_data_uri();
        assert!(uri.starts_with("data:image/svg+xml,%3Csvg "), "{uri}");
        assert!(!uri.contains(['"', '<', '>', '#', '\n']), "{uri}");
        assert!(uri.contains("fill='%230f1419'"), "{uri}");
    }
}
