//! The cluster mode's command line.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::takeover::Schedule;

pub const USAGE: &str = "\
rootresume-bench --cluster: figures of a local cluster (scripts/cluster.sh: replicas sharing
sessions through Redis behind HAProxy) — takeover time after kill -9, page → prompt and echo
through the balancer beside a replica reached directly — and the server's memory per idle
session with the Redis store beside the in-memory one (a server and a redis-server of its own).

USAGE: rootresume-bench --cluster [OPTIONS]   (scripts/bench-cluster.sh brings a cluster up,
                                               runs this, and always brings it down)

  --phases A,B,..      of echo, prompt, takeover, memory (default: all four, in that order)
  --lb URL             the balancer (default: scripts/cluster.sh addr haproxy)
  --replicas URL,..    each replica's own address, in the order r1, r2, … (a NAME=URL entry
                       names one; default: scripts/cluster.sh replicas and addr)
  --direct NAME        the replica reached directly for page → prompt (default: the first)
  --cluster-script P   default: scripts/cluster.sh (gives pids, restarts a killed replica; the
                       RR_CLUSTER_* variables of this environment select the cluster)
  --rounds N           takeover rounds per schedule (default 10)
  --reconnect A,..     browser (the page's schedule: 500 ms after the drop, then doubling up to
                       10 s) and/or eager (at once, then every 100 ms); default browser
  --prompt-samples N   page → prompt samples per target (default 20)
  --label TEXT         names the page → prompt series in the report (default: pool on)
  --keystrokes N       echo round trips per path (default 200)
  --memory-sessions N  idle sessions per store for the memory figure (default 50)
  --server PATH        server binary for the memory figure (default: $CARGO_TARGET_DIR or
                       target, /release/server)
  --site-root PATH     its site root (default: target/site)
  --redis-server PATH  default: redis-server
  --instance NAME      instance label of the memory figure's server (default: bench-cluster-PID)
  --scratch DIR        logs (default: /var/tmp/rootresume-bench-cluster)
Every address must be 127.0.0.1. Run from the repository root.";

/// One measurement of the cluster mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Keystroke round trip through the balancer and directly.
    Echo,
    /// Session request to first prompt, through the balancer and directly.
    Prompt,
    /// Kill -9 the replica holding a tab; time until the same shell answers again.
    Takeover,
    /// Server RSS per idle session, Redis store against in-memory.
    Memory,
}

/// A replica: its name in scripts/cluster.sh (r1, r2, …) and its own address.
#[derive(Debug, Clone)]
pub struct Replica {
    /// Its name, also HAProxy's name for it.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub phases: Vec<Phase>,
    pub lb: Option<SocketAddr>,
    pub replicas: Option<Vec<Replica>>,
    pub direct: Option<String>,
    pub cluster_script: PathBuf,
    pub rounds: usize,
    pub schedules: Vec<Schedule>,
    pub prompt_samples: usize,
    pub label: String,
    pub keystrokes: usize,
    pub memory_sessions: usize,
    pub server: PathBuf,
    pub site_root: PathBuf,
    pub redis_server: PathBuf,
    pub instance: String,
    pub scratch: PathBuf,
}

impl ClusterOptions {
    /// Reads the options from `args` (without the program name; `--cluster` is skipped).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self> {
        let repo = std::env::current_dir()?;
        let mut values: Vec<(String, String)> = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--cluster" => {}
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                flag if flag.starts_with("--") => {
                    let value = args
                        .next()
                        .with_context(|| format!("{flag} needs a value"))?;
                    values.push((flag.to_owned(), value));
                }
                other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
            }
        }
        let known = [
            "--phases",
            "--lb",
            "--replicas",
            "--direct",
            "--cluster-script",
            "--rounds",
            "--reconnect",
            "--prompt-samples",
            "--label",
            "--keystrokes",
            "--memory-sessions",
            "--server",
            "--site-root",
            "--redis-server",
            "--instance",
            "--scratch",
        ];
        if let Some((unknown, _)) = values.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            bail!("unknown option {unknown}\n\n{USAGE}");
        }
        let take = |name: &str| {
            values
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let number = |name: &str, default: usize| -> Result<usize> {
            take(name).map_or(Ok(default), |v| {
                v.parse().with_context(|| format!("{name} {v}"))
            })
        };
        let list = |name: &str, default: &str| -> Vec<String> {
            take(name)
                .unwrap_or_else(|| default.to_owned())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let phases = list("--phases", "echo,prompt,takeover,memory")
            .iter()
            .map(|p| match p.as_str() {
                "echo" => Ok(Phase::Echo),
                "prompt" => Ok(Phase::Prompt),
                "takeover" => Ok(Phase::Takeover),
                "memory" => Ok(Phase::Memory),
                other => bail!("--phases: no phase {other:?} (echo, prompt, takeover, memory)"),
            })
            .collect::<Result<Vec<_>>>()?;
        let schedules = list("--reconnect", "browser")
            .iter()
            .map(|s| match s.as_str() {
                "browser" => Ok(Schedule::Browser),
                "eager" => Ok(Schedule::Eager),
                other => bail!("--reconnect: no schedule {other:?} (browser, eager)"),
            })
            .collect::<Result<Vec<_>>>()?;
        let replicas = take("--replicas")
            .map(|v| {
                v.split(',')
                    .enumerate()
                    .map(|(i, entry)| {
                        let (name, url) = match entry.split_once('=') {
                            Some((name, url)) => (name.trim().to_owned(), url),
                            None => (format!("r{}", i + 1), entry),
                        };
                        Ok(Replica {
                            name,
                            addr: loopback(url)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or(repo.join("target"), PathBuf::from);
        Ok(Self {
            phases,
            lb: take("--lb").map(|v| loopback(&v)).transpose()?,
            replicas,
            direct: take("--direct"),
            cluster_script: take("--cluster-script")
                .map_or(repo.join("scripts/cluster.sh"), PathBuf::from),
            rounds: number("--rounds", 10)?,
            schedules,
            prompt_samples: number("--prompt-samples", 20)?,
            label: take("--label").unwrap_or_else(|| "pool on".to_owned()),
            keystrokes: number("--keystrokes", 200)?,
            memory_sessions: number("--memory-sessions", 50)?.max(1),
            server: take("--server").map_or(target.join("release/server"), PathBuf::from),
            site_root: take("--site-root").map_or(repo.join("target/site"), PathBuf::from),
            redis_server: take("--redis-server").map_or("redis-server".into(), PathBuf::from),
            instance: take("--instance")
                .unwrap_or_else(|| format!("bench-cluster-{}", std::process::id())),
            scratch: take("--scratch").map_or(
                PathBuf::from("/var/tmp/rootresume-bench-cluster"),
                PathBuf::from,
            ),
        })
    }
}

/// `http://127.0.0.1:PORT/`, `ws://…` or `127.0.0.1:PORT` as an address; anything but
/// 127.0.0.1 is refused, so the bench never aims at another machine.
pub fn loopback(url: &str) -> Result<SocketAddr> {
    let bare = url
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    let addr: SocketAddr = bare
        .parse()
        .with_context(|| format!("{url:?} is not 127.0.0.1:PORT"))?;
    if addr.ip() != Ipv4Addr::LOCALHOST {
        bail!("{url:?}: only 127.0.0.1 may be measured");
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses() {
        assert_eq!(loopback("http://127.0.0.1:8080/").unwrap().port(), 8080);
        assert!(loopback("127.0.0.1:3001").is_ok());
        assert!(loopback("http://10.0.0.1:8080").is_err());
        assert!(loopback("http://localhost:8080").is_err());
    }
}
