//! Settings for running the server: logs, metrics, and what shutdown does with live sandboxes.

use serde::{Deserialize, Serialize};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event, for a terminal. The default.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// What SIGTERM/SIGINT does with the sandboxes of live sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownMode {
    /// End every session and remove its container; tabs are told the sandbox ended. The
    /// default: nothing is left on the engine.
    #[default]
    Remove,
    /// Leave the containers running and tell tabs the server is restarting; the next process
    /// re-adopts them at start (needs `reaper.adopt_on_start`), and the tabs reattach with
    /// their files. For upgrades.
    Keep,
}

/// Where Prometheus metrics are served, and who may read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// A separate address (e.g. `127.0.0.1:9100`) serving only `/metrics`, `/healthz` and
    /// `/readyz`; empty serves them on the site's own address. Default: empty.
    pub listen: String,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`. When empty, `/metrics` on
    /// the site's address answers only loopback clients (a separate `listen` address answers
    /// everyone who can reach it). Default: empty.
    pub token: String,
}

impl MetricsSettings {
    /// Checks the address parses.
    pub fn validate(&self) -> Result<(), String> {
        parse_address("metrics.listen", &self.listen).map(|_| ())
    }
}

/// Reads an optional `host:port` setting; empty means "not set".
pub fn parse_address(key: &str, value: &str) -> Result<Option<std::net::SocketAddr>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        format!("{key} = {value:?} is not an address; write it as IP:PORT, e.g. 127.0.0.1:9100")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        crate::config::tests::load(args, env).map_err(|e| e.to_string())
    }

    #[test]
    fn operating_settings_follow_env_then_flags() {
        let config = load(
            &["--on_shutdown=keep", "--metrics.token=t"],
            &[
                ("ROOTRESUME_LOG_FORMAT", "json"),
                ("ROOTRESUME_ON_SHUTDOWN", "remove"),
                ("ROOTRESUME_METRICS_LISTEN", "127.0.0.1:9100"),
                ("ROOTRESUME_LISTEN", "0.0.0.0:8080"),
            ],
        )
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.on_shutdown, ShutdownMode::Keep, "the flag wins");
        assert_eq!(config.metrics.listen, "127.0.0.1:9100");
        assert_eq!(config.metrics.token, "t");
        assert_eq!(config.listen, "0.0.0.0:8080");
    }

    #[test]
    fn bad_operating_settings_name_the_key() {
        let error = load(&[], &[("ROOTRESUME_LOG_FORMAT", "yaml")]).unwrap_err();
        assert!(
            error.contains("ROOTRESUME_LOG_FORMAT") || error.contains("log_format"),
            "{error}"
        );
        assert!(error.contains("text") && error.contains("json"), "{error}");
        let error = load(&["--metrics.listen=localhost"], &[]).unwrap_err();
        assert!(error.contains("metrics.listen"), "{error}");
        let error = load(&["--listen=:3000"], &[]).unwrap_err();
        assert!(
            error.contains("listen") && error.contains("IP:PORT"),
            "{error}"
        );
        let error = load(&["--metrics.tokn=x"], &[]).unwrap_err();
        assert!(error.contains("tokn"), "{error}");
    }

    #[test]
    fn addresses_are_optional_but_must_parse() {
        assert_eq!(parse_address("listen", ""), Ok(None));
        assert!(parse_address("listen", "0.0.0.0:8080").unwrap().is_some());
        let error = parse_address("metrics.listen", "localhost").unwrap_err();
        assert!(
            error.contains("metrics.listen") && error.contains("IP:PORT"),
            "{error}"
        );
    }
}
