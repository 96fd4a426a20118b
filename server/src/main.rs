//! The server binary: loads the configuration, serves until SIGINT/SIGTERM, shuts down cleanly.

use anyhow::Context;
use leptos::config::get_configuration;
use server::config::{Config, LogFormat};
use server::Server;
use tracing_subscriber::EnvFilter;

const HELP: &str = "\
rootresume server

USAGE: server [--config FILE] [--section.key=value ...]
       server --print-pod-spec [--config FILE] [--section.key=value ...]
         prints the Pod the Kubernetes backend would create for a session (YAML), then exits

Settings come from rootresume.toml (or --config FILE / $ROOTRESUME_CONFIG), then ROOTRESUME_*
environment variables (e.g. ROOTRESUME_SANDBOX_MEMORY_MIB=256), then flags
(e.g. --sandbox.memory_mib=256). The README explains each one.
The listen address comes from Leptos (LEPTOS_SITE_ADDR, default 127.0.0.1:3000) unless the
`listen` setting names one. Logs: RUST_LOG filters them (default info).

Every setting, with its default (or the value the environment and flags give it):
";

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(run());
    // The start-up compression of the static files (assets.rs) may still be running on a
    // blocking thread (tens of seconds for a debug build's bundle): once the server has
    // stopped nothing needs it, so the process does not wait for it.
    runtime.shutdown_background();
    result
}

async fn run() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        let args = std::env::args()
            .skip(1)
            .filter(|a| a != "--help" && a != "-h");
        let config = Config::load(args, std::env::vars()).unwrap_or_default();
        println!("{HELP}\n{}", config.to_toml());
        return Ok(());
    }
    if std::env::args().any(|a| a == "--print-pod-spec") {
        print_pod_spec();
    }
    let config = match Config::from_process() {
        Ok(config) => config,
        Err(error) => {
            // One line that names the setting, not a backtrace: this is the operator's typo.
            eprintln!(
                "rootresume: {error}\n(see `server --help` and the README for every setting)"
            );
            std::process::exit(2);
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    let mut leptos = get_configuration(None).context("reading the Leptos configuration")?;
    if let Ok(Some(addr)) = server::config::parse_address("listen", &config.listen) {
        leptos.leptos_options.site_addr = addr;
    }
    let addr = leptos.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let server = Server::start(config, leptos.leptos_options, listener).await?;

    shutdown_signal().await;
    tracing::info!("shutting down: ending sessions and removing their containers");
    server.shutdown().await;
    Ok(())
}

/// `--print-pod-spec`: prints the Pod the Kubernetes backend would create for a session under
/// the configuration the other flags and the environment give, then exits. Needs no cluster.
fn print_pod_spec() -> ! {
    let args = std::env::args().skip(1).filter(|a| a != "--print-pod-spec");
    let printed = Config::load(args, std::env::vars())
        .map_err(|e| e.to_string())
        .and_then(|config| {
            server::sandbox::kubernetes::example_pod_yaml(&config).map_err(|e| e.to_string())
        });
    match printed {
        Ok(yaml) => {
            print!("{yaml}");
            std::process::exit(0)
        }
        Err(error) => {
            eprintln!("rootresume: {error}");
            std::process::exit(2)
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
}
