//! The server's settings: one typed struct with documented defaults, read from a TOML file, then
//! `ROOTRESUME_*` environment variables, then `--section.key=value` flags (later wins), and
//! validated before the server starts.
//!
//! Leptos' own settings (listen address, site root) stay in `[[workspace.metadata.leptos]]` and
//! `LEPTOS_*` variables, where cargo-leptos expects them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sandbox::kubernetes::KubernetesSettings;
use crate::sandbox::{check_range, SandboxLimits};
use crate::security::SecuritySettings;

mod operate;

pub use operate::{parse_address, LogFormat, MetricsSettings, ShutdownMode};

/// The file read when no `--config` flag or `ROOTRESUME_CONFIG` variable names one.
pub const DEFAULT_CONFIG_FILE: &str = "rootresume.toml";
const ENV_PREFIX: &str = "ROOTRESUME_";
const SECTIONS: [&str; 7] = [
    "sessions",
    "sandbox",
    "reaper",
    "metrics",
    "security",
    "store",
    "kubernetes",
];

/// Everything the server can be told.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name of this deployment, written on its containers: the reaper and the start-up
    /// reconcile touch only containers of the same instance. Default: `default`.
    pub instance: String,
    /// Docker engine endpoint. Default: `$DOCKER_HOST`, else `unix:///var/run/docker.sock`.
    pub docker_host: String,
    /// Several Docker engines to spread sandboxes over (`[[engines]]`: name, endpoint,
    /// capacity); empty uses `docker_host` alone. Default: empty.
    pub engines: Vec<crate::sandbox::engines::EngineSettings>,
    /// Folder holding npm's `@xterm/xterm` and `@xterm/addon-fit` packages. Default: `node_modules`.
    pub vendor_dir: PathBuf,
    /// Address to serve the site on, e.g. `0.0.0.0:3000`; empty keeps Leptos' `site-addr`
    /// (`LEPTOS_SITE_ADDR`, default `127.0.0.1:3000`). Default: empty.
    pub listen: String,
    /// Log lines as `text` or `json`. Default: `text`.
    pub log_format: LogFormat,
    /// On SIGTERM/SIGINT, `remove` the containers of live sessions or `keep` them for the next
    /// process to re-adopt. Default: `remove`.
    pub on_shutdown: ShutdownMode,
    /// Seconds to wait for sessions to end on shutdown. Default: 10.
    pub shutdown_timeout_secs: u64,
    /// Session lifetimes and caps.
    pub sessions: SessionSettings,
    /// The sandbox image and container limits.
    pub sandbox: SandboxLimits,
    /// Which engine runs the sandboxes. Written `sandbox.backend` beside the limits (it is read
    /// out of that table before the limits are, see [`Config::load`]). Default: `docker`.
    #[serde(skip)]
    pub backend: Backend,
    /// Where and how sandbox pods run when `sandbox.backend = "kubernetes"`.
    pub kubernetes: KubernetesSettings,
    /// Removal of containers no session owns.
    pub reaper: ReaperSettings,
    /// Where Prometheus metrics are served.
    pub metrics: MetricsSettings,
    /// Web-side defences: allowed origins, per-client caps, header deadline.
    pub security: SecuritySettings,
    /// Where sessions are recorded: this process's memory, or Redis shared by replicas.
    pub store: StoreSettings,
}

/// The engine that runs sandboxes (`sandbox.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Containers on the Docker engine at `docker_host`.
    #[default]
    Docker,
    /// One pod per session on the Kubernetes cluster of the `[kubernetes]` settings.
    Kubernetes,
}

/// Where sessions are recorded, so that several replicas can serve the same tabs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `redis://host:port/db` of the Redis shared by every replica; empty keeps sessions in this
    /// process's memory (one server, no other service). Default: empty.
    pub redis_url: String,
    /// This replica's name in the shared store and its logs (letters, digits, '-', '_', '.');
    /// each process adds a random part, so a replica restarted under the same name does not
    /// pass for the one that died. Default: empty (`replica`).
    pub replica: String,
}

/// Session lifetimes and caps.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// How long a session may wait for its tab to come back before its container is removed.
    /// Default: 30 s.
    #[serde(rename = "grace_secs", with = "seconds")]
    pub grace_period: Duration,
    /// The longest a session lives. Default: 60 min.
    #[serde(rename = "max_lifetime_secs", with = "seconds")]
    pub max_lifetime: Duration,
    /// How long a session may go without input before it ends. Default: 15 min.
    #[serde(rename = "idle_timeout_secs", with = "seconds")]
    pub idle_timeout: Duration,
    /// The most sessions alive at once. Default: 200.
    pub max_sessions: usize,
    /// The most sessions one client address may have at once. Default: 5.
    pub max_per_client: usize,
    /// Sessions a client may create at once before the rate applies. Default: 5.
    pub rate_burst: u32,
    /// Sessions a client may create per minute on average. Default: 10.
    pub rate_per_minute: u32,
    /// When the server is full, end a session idle at least this long to admit a new visitor.
    /// Default: 300 s; 0 disables reclaiming.
    #[serde(rename = "reclaim_idle_after_secs", with = "optional_seconds")]
    pub reclaim_idle_after: Option<Duration>,
    /// Header carrying the client address, set by a trusted reverse proxy (e.g.
    /// `x-forwarded-for`); empty uses the socket's peer address. Default: empty.
    pub trusted_proxy_header: String,
    /// Sandboxes kept started and ready to hand out, so a visitor's prompt appears at once.
    /// They count toward `max_sessions`. Default: 4; 0 disables the pool.
    pub pool_size: usize,
    /// How far the pool grows while visitors arrive faster than it refills: by one for each
    /// visitor in the last 10 s who found no ready sandbox, to at most this many (a minute after
    /// they slow down it is back at `pool_size`). Default: 16; `pool_size` holds the pool fixed.
    pub pool_max: usize,
    /// How many pooled sandboxes may be starting at once. A container start is mostly the
    /// engine's CPU: starts beyond what the machine runs side by side make every one of them
    /// later, so a pool that grows would hand out none ready until all are. Default: 2.
    pub pool_starts: usize,
    /// How long a pooled sandbox may wait before it is replaced by a fresh one. Default: 600 s.
    #[serde(rename = "pool_ttl_secs", with = "seconds")]
    pub pool_ttl: Duration,
    /// Recent output kept for replay when a tab reattaches, in bytes (per terminal). Default:
    /// 64 KiB.
    pub output_buffer_bytes: usize,
    /// The most terminals (shells) one session may have open at once, the first included.
    /// Default: 4.
    pub max_terminals: usize,
    /// The largest recording of a session's first terminal (asciicast v3), in bytes: past it
    /// the recording stops, and says so. Default: 5 MiB; 0 records nothing.
    pub recording_max_bytes: usize,
    /// The most spectators watching one session's share links at once. Default: 20.
    pub max_viewers: usize,
    /// The most share links one client address may watch at once (all sessions together).
    /// Default: 8.
    pub max_watching_per_client: usize,
    /// What counts as abuse and is stopped (`[sessions.abuse]`).
    pub abuse: AbuseSettings,
}

/// The abuse watchdog: processes that look like cryptocurrency miners, or that hold the CPU at
/// the sandbox's quota with no one typing, are stopped (see `sessions/watchdog.rs`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbuseSettings {
    /// How often each sandbox is looked at, in seconds: its CPU from the engine's stats, and its
    /// processes when it is busy. Default: 10; 0 turns the watchdog off.
    pub check_every_secs: u64,
    /// CPU use, in percent of the quota, above which a sandbox counts as busy. Default: 90.
    pub busy_percent: u32,
    /// How long a sandbox may stay busy with no terminal input before its busiest process is
    /// stopped, in seconds. Default: 300.
    pub busy_secs: u64,
    /// Program names of known miners, matched against each process's name and the words of
    /// its command line (case-insensitive).
    pub miner_names: Vec<String>,
    /// Text that marks a mining pool's address in a command line (case-insensitive).
    pub pool_markers: Vec<String>,
}

impl Default for AbuseSettings {
    fn default() -> Self {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
        Self {
            check_every_secs: 10,
            busy_percent: 90,
            busy_secs: 300,
            miner_names: words(&[
                "xmrig",
                "xmr-stak",
                "xmr-stak-rx",
                "cpuminer",
                "cpuminer-multi",
                "minerd",
                "cgminer",
                "bfgminer",
                "ethminer",
                "ccminer",
                "nbminer",
                "t-rex",
                "lolminer",
                "phoenixminer",
                "nanominer",
                "srbminer",
                "srbminer-multi",
                "teamredminer",
                "gminer",
                "kawpowminer",
                "nheqminer",
                "xmrig-notls",
                "cryptonight",
            ]),
            pool_markers: words(&[
                "stratum+tcp://",
                "stratum+ssl://",
                "stratum+tls://",
                "stratum2+tcp://",
            ]),
        }
    }
}

/// Removal of containers no session owns.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaperSettings {
    /// Seconds between sweeps. Default: 60.
    pub interval_secs: u64,
    /// Reconcile containers left by an earlier run before serving. Default: true.
    /// Turn off when several servers share one engine.
    pub reconcile_on_start: bool,
    /// When reconciling, take over the containers whose sessions can still be resumed (their
    /// tabs reattach with files intact) instead of removing them. Default: true.
    pub adopt_on_start: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            instance: "default".into(),
            docker_host: std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".into()),
            engines: Vec::new(),
            vendor_dir: PathBuf::from("node_modules"),
            listen: String::new(),
            log_format: LogFormat::default(),
            on_shutdown: ShutdownMode::default(),
            shutdown_timeout_secs: 10,
            sessions: SessionSettings::default(),
            sandbox: SandboxLimits::default(),
            backend: Backend::default(),
            kubernetes: KubernetesSettings::default(),
            reaper: ReaperSettings::default(),
            metrics: MetricsSettings::default(),
            security: SecuritySettings::default(),
            store: StoreSettings::default(),
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(60 * 60),
            idle_timeout: Duration::from_secs(15 * 60),
            max_sessions: 200,
            max_per_client: 5,
            rate_burst: 5,
            rate_per_minute: 10,
            reclaim_idle_after: Some(Duration::from_secs(300)),
            trusted_proxy_header: String::new(),
            pool_size: 4,
            pool_max: 16,
            pool_starts: 2,
            pool_ttl: Duration::from_secs(600),
            output_buffer_bytes: 64 * 1024,
            max_terminals: 4,
            recording_max_bytes: 5 * 1024 * 1024,
            max_viewers: 20,
            max_watching_per_client: 8,
            abuse: AbuseSettings::default(),
        }
    }
}

impl Default for ReaperSettings {
    fn default() -> Self {
        Self {
            interval_secs: 60,
            reconcile_on_start: true,
            adopt_on_start: true,
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file, a variable or a flag is not valid TOML or names an unknown key.
    #[error("invalid configuration ({origin}): {message}")]
    Parse {
        /// Where the bad setting came from.
        origin: String,
        /// What was wrong.
        message: String,
    },
    /// A setting is out of its allowed range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads the configuration from the process's flags and environment.
    pub fn from_process() -> Result<Self, ConfigError> {
        Self::load(std::env::args().skip(1), std::env::vars())
    }

    /// Loads defaults, then the file, then `env`, then `args`, and validates the result.
    pub fn load(
        args: impl IntoIterator<Item = String>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut flags = Vec::new();
        let mut file = env
            .iter()
            .find(|(k, _)| k == "ROOTRESUME_CONFIG")
            .map(|(_, v)| (PathBuf::from(v), true));
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--config" {
                let path = args.next().ok_or_else(|| ConfigError::Parse {
                    origin: "flags".into(),
                    message: "--config needs a file path".into(),
                })?;
                file = Some((PathBuf::from(path), true));
            } else if let Some(setting) = arg.strip_prefix("--") {
                let (key, value) = setting.split_once('=').ok_or_else(|| ConfigError::Parse {
                    origin: format!("flag --{setting}"),
                    message: "expected --section.key=value (see README for every key)".into(),
                })?;
                flags.push((key.to_owned(), value.to_owned(), format!("flag --{key}")));
            } else {
                return Err(ConfigError::Parse {
                    origin: format!("argument {arg:?}"),
                    message: "expected --config FILE or --section.key=value".into(),
                });
            }
        }

        let (path, required) = file.unwrap_or_else(|| (PathBuf::from(DEFAULT_CONFIG_FILE), false));
        let mut table = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse {
                    origin: path.display().to_string(),
                    message: e.to_string(),
                })?,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };

        for (name, value) in &env {
            if let Some(key) = env_key(name) {
                set(&mut table, &key, value, name)?;
            }
        }
        for (key, value, origin) in &flags {
            set(&mut table, key, value, origin)?;
        }
        let backend = take_backend(&mut table)?;
        // Through text, so a bad value's error quotes the line it is on, key included.
        let merged = toml::to_string(&table).map_err(|e| ConfigError::Parse {
            origin: "merged settings".into(),
            message: e.to_string(),
        })?;
        let mut config: Config = toml::from_str(&merged).map_err(|e: toml::de::Error| {
            let before = &merged[..e.span().map_or(0, |span| span.start)];
            let key = before.lines().last().unwrap_or_default();
            let key = key.trim_end().trim_end_matches('=').trim();
            let section = before.lines().rev().find(|l| l.starts_with('['));
            let section = section.map(|l| l.trim_matches(|c| c == '[' || c == ']'));
            let setting = match (section, key.is_empty()) {
                (_, true) => String::new(),
                (Some(section), false) => format!("{section}.{key}: "),
                (None, false) => format!("{key}: "),
            };
            ConfigError::Parse {
                origin: "merged settings".into(),
                message: format!("{setting}{}", e.message()),
            }
        })?;
        config.backend = backend;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting is in its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.sessions;
        let usize_setting = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let ranges = [
            ("sessions.grace_secs", s.grace_period.as_secs(), 1, 3600),
            (
                "sessions.max_lifetime_secs",
                s.max_lifetime.as_secs(),
                5,
                86_400,
            ),
            (
                "sessions.idle_timeout_secs",
                s.idle_timeout.as_secs(),
                5,
                86_400,
            ),
            (
                "sessions.max_sessions",
                usize_setting(s.max_sessions),
                1,
                100_000,
            ),
            (
                "sessions.max_per_client",
                usize_setting(s.max_per_client),
                1,
                1000,
            ),
            ("sessions.pool_ttl_secs", s.pool_ttl.as_secs(), 10, 86_400),
            (
                "sessions.recording_max_bytes",
                usize_setting(s.recording_max_bytes),
                0,
                64 << 20,
            ),
            (
                "sessions.max_terminals",
                usize_setting(s.max_terminals),
                1,
                16,
            ),
            (
                "sessions.max_viewers",
                usize_setting(s.max_viewers),
                0,
                1000,
            ),
            (
                "sessions.abuse.check_every_secs",
                s.abuse.check_every_secs,
                0,
                3600,
            ),
            (
                "sessions.abuse.busy_percent",
                u64::from(s.abuse.busy_percent),
                10,
                1000,
            ),
            ("sessions.abuse.busy_secs", s.abuse.busy_secs, 1, 86_400),
            (
                "sessions.max_watching_per_client",
                usize_setting(s.max_watching_per_client),
                1,
                1000,
            ),
            (
                "sessions.output_buffer_bytes",
                usize_setting(s.output_buffer_bytes),
                4096,
                16 << 20,
            ),
            ("reaper.interval_secs", self.reaper.interval_secs, 1, 86_400),
        ];
        for (key, value, min, max) in ranges {
            check_range(key, value, min, max).map_err(ConfigError::Invalid)?;
        }
        if s.pool_size > s.max_sessions {
            return Err(ConfigError::Invalid(format!(
                "sessions.pool_size = {} must not exceed sessions.max_sessions = {}",
                s.pool_size, s.max_sessions
            )));
        }
        if s.pool_max < s.pool_size {
            return Err(ConfigError::Invalid(format!(
                "sessions.pool_max = {} must be at least sessions.pool_size = {} (set it to the \
                 pool size to keep the pool from growing)",
                s.pool_max, s.pool_size
            )));
        }
        if s.pool_starts == 0 {
            return Err(ConfigError::Invalid(
                "sessions.pool_starts must be at least 1 (set sessions.pool_size = 0 to turn the \
                 pool off)"
                    .into(),
            ));
        }
        if s.rate_burst == 0 || s.rate_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "sessions.rate_burst and sessions.rate_per_minute must be at least 1".into(),
            ));
        }
        let valid_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
        if self.instance.is_empty()
            || self.instance.len() > 63
            || !self.instance.chars().all(valid_name)
        {
            return Err(ConfigError::Invalid(format!(
                "instance = {:?} must be 1 to 63 letters, digits, '-', '_' or '.'",
                self.instance
            )));
        }
        if !self.store.replica.is_empty()
            && (self.store.replica.len() > 63 || !self.store.replica.chars().all(valid_name))
        {
            return Err(ConfigError::Invalid(format!(
                "store.replica = {:?} must be 1 to 63 letters, digits, '-', '_' or '.'",
                self.store.replica
            )));
        }
        let redis = &self.store.redis_url;
        let supported = ["redis://", "rediss://"];
        if !redis.is_empty() && !supported.iter().any(|scheme| redis.starts_with(scheme)) {
            return Err(ConfigError::Invalid(format!(
                "store.redis_url = {redis:?} must start with redis:// or rediss:// (or be empty for the in-memory store)"
            )));
        }
        let mut names = std::collections::HashSet::new();
        for engine in &self.engines {
            engine.validate().map_err(ConfigError::Invalid)?;
            if !names.insert(&engine.name) {
                return Err(ConfigError::Invalid(format!(
                    "engines: the name {:?} is used twice",
                    engine.name
                )));
            }
        }
        parse_address("listen", &self.listen).map_err(ConfigError::Invalid)?;
        self.metrics.validate().map_err(ConfigError::Invalid)?;
        self.security.validate().map_err(ConfigError::Invalid)?;
        if self.backend == Backend::Kubernetes {
            self.kubernetes.validate().map_err(ConfigError::Invalid)?;
        }
        self.sandbox.validate().map_err(ConfigError::Invalid)
    }

    /// Whose word on the client's address counts: `sessions.trusted_proxy_header` from the
    /// peers of `security.trusted_proxies`.
    pub fn proxy_policy(&self) -> crate::client::ProxyPolicy {
        crate::client::ProxyPolicy::new(
            &self.sessions.trusted_proxy_header,
            &self.security.trusted_proxies,
        )
    }

    /// Every setting with its value, as the TOML a config file would hold (for `--help`).
    pub fn to_toml(&self) -> String {
        let listed = toml::Table::try_from(self).and_then(|mut table| {
            if let Some(toml::Value::Table(sandbox)) = table.get_mut("sandbox") {
                sandbox.insert("backend".into(), toml::Value::try_from(self.backend)?);
            }
            toml::to_string(&table)
        });
        listed.unwrap_or_else(|error| format!("# cannot list settings: {error}"))
    }
}

/// Top-level keys an environment variable may set.
const TOP_LEVEL_KEYS: [&str; 8] = [
    "instance",
    "docker_host",
    "engines",
    "vendor_dir",
    "listen",
    "log_format",
    "on_shutdown",
    "shutdown_timeout_secs",
];

/// Maps `ROOTRESUME_SANDBOX_MEMORY_MIB` to `sandbox.memory_mib`, `ROOTRESUME_DOCKER_HOST` to
/// `docker_host`. Variables naming no section or top-level key are not settings (scripts and
/// test tools use the prefix too) and are left alone; a bad key inside a section is still an
/// error.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(key) = rest.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return Some(format!("{section}.{key}"));
        }
    }
    TOP_LEVEL_KEYS.contains(&rest.as_str()).then_some(rest)
}

/// Sets `dotted.key` in the table; the value is read as TOML (numbers, booleans) or else text.
fn set(table: &mut toml::Table, key: &str, raw: &str, origin: &str) -> Result<(), ConfigError> {
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop().filter(|k| !k.is_empty());
    let Some(leaf) = leaf else {
        return Err(ConfigError::Parse {
            origin: origin.into(),
            message: format!("{key:?} is not a setting name"),
        });
    };
    let mut node = table;
    for part in parts {
        let entry = node
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| ConfigError::Parse {
            origin: origin.into(),
            message: format!("{part} is a value, not a section"),
        })?;
    }
    node.insert(leaf.to_owned(), value);
    Ok(())
}

/// Removes `sandbox.backend` from the settings and reads it: it sits in the `[sandbox]` table
/// for the operator, but is no container limit, so [`SandboxLimits`] does not hold it.
fn take_backend(table: &mut toml::Table) -> Result<Backend, ConfigError> {
    let value = match table.get_mut("sandbox") {
        Some(toml::Value::Table(sandbox)) => sandbox.remove("backend"),
        _ => None,
    };
    value.map_or(Ok(Backend::default()), |value| {
        value.try_into().map_err(|_| ConfigError::Parse {
            origin: "sandbox.backend".into(),
            message: "must be \"docker\" or \"kubernetes\"".into(),
        })
    })
}

/// Durations written as whole seconds, where 0 means "never".
mod optional_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.map_or(0, |d| d.as_secs()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        u64::deserialize(d).map(|secs| (secs > 0).then(|| Duration::from_secs(secs)))
    }
}

/// Durations written as whole seconds.
mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(value.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads from literal flags and variables (no process state); shared with submodules' tests.
    pub(super) fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(
            args.iter().map(|s| s.to_string()),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn engines_come_from_a_flag_or_a_variable_and_are_checked() {
        let list = r#"[{name="one",endpoint="unix:///run/a.sock",capacity=4},{name="two",endpoint="tcp://127.0.0.1:2375",capacity=2}]"#;
        let config = load(&[], &[("ROOTRESUME_ENGINES", list)]).unwrap();
        assert_eq!(config.engines.len(), 2);
        assert_eq!(config.engines[1].endpoint, "tcp://127.0.0.1:2375");
        let flag = format!("--engines={list}");
        assert_eq!(load(&[&flag], &[]).unwrap().engines, config.engines);
        assert!(load(&[], &[]).unwrap().engines.is_empty());
        for (bad, says) in [
            (
                r#"[{name="a",endpoint="unix:///x",capacity=1},{name="a",endpoint="unix:///y",capacity=1}]"#,
                "used twice",
            ),
            (
                r#"[{name="a",endpoint="http://x",capacity=1}]"#,
                "must start with unix:// or tcp://",
            ),
            (
                r#"[{name="a b",endpoint="unix:///x",capacity=1}]"#,
                "letters, digits",
            ),
            (
                r#"[{name="a",endpoint="unix:///x",capacity=0}]"#,
                "at least 1",
            ),
            (
                r#"[{name="a",endpoint="unix:///x",capacity=1,tls={ca="c",cert="d",key="k"}}]"#,
                "tls needs a tcp:// endpoint",
            ),
            (
                r#"[{name="a",endpoint="tcp://h:1",capacity=1,tls={ca="c"}}]"#,
                "missing field",
            ),
        ] {
            let error = load(&[], &[("ROOTRESUME_ENGINES", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn defaults_load_and_validate() {
        let config = load(&[], &[]).unwrap();
        assert_eq!(config.sessions.grace_period, Duration::from_secs(30));
        assert_eq!(config.sandbox.memory_mib, 128);
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = std::env::temp_dir().join(format!("rr-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[sandbox]\nmemory_mib = 200\npids = 100\n[sessions]\ngrace_secs = 7\n",
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let config = load(
            &["--config", file, "--sandbox.pids=90"],
            &[
                ("ROOTRESUME_SANDBOX_PIDS", "99"),
                ("ROOTRESUME_SESSIONS_GRACE_SECS", "9"),
            ],
        )
        .unwrap();
        assert_eq!(config.sandbox.memory_mib, 200, "from the file");
        assert_eq!(
            config.sessions.grace_period,
            Duration::from_secs(9),
            "env beats file"
        );
        assert_eq!(config.sandbox.pids, 90, "flag beats env");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unknown_key_is_named() {
        let error = load(&["--sandbox.memroy_mib=5"], &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("memroy_mib"), "{error}");
    }

    #[test]
    fn out_of_range_value_names_key_and_range() {
        let error = load(&[], &[("ROOTRESUME_SESSIONS_GRACE_SECS", "0")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid configuration: sessions.grace_secs = 0 is outside 1..=3600"
        );
    }

    #[test]
    fn a_pool_that_may_start_nothing_is_refused_with_the_way_to_turn_it_off() {
        let error = load(&["--sessions.pool_starts=0"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("sessions.pool_starts must be at least 1"),
            "{error}"
        );
        assert!(error.contains("sessions.pool_size = 0"), "{error}");
        let config = load(&[], &[("ROOTRESUME_SESSIONS_POOL_STARTS", "3")]).unwrap();
        assert_eq!(config.sessions.pool_starts, 3);
    }

    #[test]
    fn unrelated_prefixed_variables_are_ignored_but_section_typos_are_not() {
        assert!(load(
            &[],
            &[
                ("ROOTRESUME_BASE_URL", "http://x"),
                ("ROOTRESUME_CONFIG_X", "1")
            ]
        )
        .is_ok());
        let error = load(&[], &[("ROOTRESUME_SANDBOX_MEMROY_MIB", "5")]).unwrap_err();
        assert!(error.to_string().contains("memroy_mib"), "{error}");
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let error = load(&["--config", "/nonexistent/rr.toml"], &[]).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/rr.toml"),
            "{error}"
        );
    }

    #[test]
    fn backend_is_read_from_the_sandbox_table() {
        assert_eq!(load(&[], &[]).unwrap().backend, Backend::Docker);
        let config = load(
            &["--kubernetes.namespace=sandboxes"],
            &[("ROOTRESUME_SANDBOX_BACKEND", "kubernetes")],
        )
        .unwrap();
        assert_eq!(config.backend, Backend::Kubernetes);
        assert_eq!(config.kubernetes.namespace, "sandboxes");
        assert!(config.to_toml().contains("backend = \"kubernetes\""));
        let error = load(&["--sandbox.backend=podman"], &[]).unwrap_err();
        assert!(error.to_string().contains("sandbox.backend"), "{error}");
        let error = load(
            &["--sandbox.backend=kubernetes", "--kubernetes.namespace=No"],
            &[],
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("kubernetes.namespace"),
            "{error}"
        );
    }

    #[test]
    fn wrong_type_is_reported() {
        let error = load(&["--sandbox.memory_mib=lots"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("memory_mib") || error.contains("invalid type"),
            "{error}"
        );
    }
}
