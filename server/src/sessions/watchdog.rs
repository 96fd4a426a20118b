//! The abuse watchdog: every public sandbox meets cryptocurrency miners. Each session's
//! sandbox is looked at every `sessions.abuse.check_every_secs`: its CPU from the engine's stats
//! (one call); when it is busy, its processes too (`ps`, one exec). A process whose name or
//! command line looks like a miner's is killed at once; one that held the CPU at the quota for
//! `busy_secs` while no one typed is stopped too. The visitor is told why in the terminal, the
//! log says so with the session's tag, and `rootresume_abuse_stopped_total{reason}` counts it.
//!
//! What it does not catch (SECURITY.md): a miner renamed to something harmless, given its pool
//! in a file rather than its command line, and kept under the busy threshold, or throttled to
//! look like a build. The sandbox's limits (half a CPU, no network) are what bound that.

use std::convert::Infallible;
use std::time::Duration;

use tokio::time::Instant;

use super::session::Session;
use crate::config::AbuseSettings;
use crate::metrics::{AbuseLabel, AbuseLabels, Metrics};
use crate::sandbox::{Command, ContainerId, Sandbox, SandboxError, Usage};

/// CPU use, in percent of the quota, from which the processes are looked at for miners.
const LOOK_FROM_PERCENT: u32 = 40;
/// How long `ps` and `kill` may take.
const COMMAND_DEADLINE: Duration = Duration::from_secs(5);

/// One process in the sandbox, as `ps` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Its pid in the sandbox.
    pub pid: u32,
    /// Its CPU share over its life, in percent of one core.
    pub cpu: f32,
    /// Its program's name.
    pub name: String,
    /// Its command line.
    pub args: String,
}

/// Reads `ps -eo pid=,pcpu=,comm=,args=`.
pub fn parse_ps(text: &str) -> Vec<Process> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let pid = words.next()?.parse().ok()?;
            let cpu = words.next()?.parse().ok()?;
            let name = words.next()?.to_owned();
            let args = words.collect::<Vec<_>>().join(" ");
            Some(Process {
                pid,
                cpu,
                name,
                args,
            })
        })
        .collect()
}

/// Whether `process` looks like a miner under `settings`: its name, or a word of its command
/// line (a path's last part), is a known miner's, or its command line names a mining pool.
pub fn looks_like_a_miner(process: &Process, settings: &AbuseSettings) -> bool {
    let args = process.args.to_lowercase();
    let name = process.name.to_lowercase();
    let named = |word: &str| {
        settings
            .miner_names
            .iter()
            .any(|miner| !miner.is_empty() && word == miner.to_lowercase())
    };
    named(&name)
        || args
            .split_whitespace()
            .map(|word| word.rsplit('/').next().unwrap_or(word))
            .any(named)
        || settings
            .pool_markers
            .iter()
            .any(|marker| !marker.is_empty() && args.contains(&marker.to_lowercase()))
}

/// Watches `session`'s sandbox until the session ends (the supervisor drops this future,
/// which never completes by itself).
pub(super) async fn watch(
    sandbox: &dyn Sandbox,
    session: &Session,
    container: &ContainerId,
    settings: &AbuseSettings,
    cpu_millis: u32,
    metrics: &Metrics,
) -> Infallible {
    if settings.check_every_secs == 0 {
        return std::future::pending().await;
    }
    let every = Duration::from_secs(settings.check_every_secs);
    let mut last: Option<(Instant, Usage)> = None;
    // Since when the sandbox has been busy with no one typing.
    let mut busy_since: Option<Instant> = None;
    loop {
        tokio::time::sleep(every).await;
        let usage = match sandbox.usage(container).await {
            Ok(usage) => usage,
            Err(SandboxError::Unsupported { .. }) => return std::future::pending().await,
            Err(error) => {
                tracing::debug!(%error, "the abuse watchdog could not read the sandbox");
                continue;
            }
        };
        let now = Instant::now();
        let cpu = last.map_or(0, |(then, earlier)| {
            let elapsed = u64::try_from((now - then).as_nanos()).unwrap_or(u64::MAX);
            usage.cpu_percent_since(&earlier, elapsed, cpu_millis)
        });
        last = Some((now, usage));
        if cpu < LOOK_FROM_PERCENT {
            busy_since = None;
            continue;
        }
        let processes = match list(sandbox, container).await {
            Ok(processes) => processes,
            Err(error) => {
                tracing::debug!(%error, "the abuse watchdog could not list processes");
                continue;
            }
        };
        let miners: Vec<&Process> = processes
            .iter()
            .filter(|process| looks_like_a_miner(process, settings))
            .collect();
        if !miners.is_empty() {
            for miner in miners {
                stop(
                    sandbox,
                    session,
                    container,
                    miner,
                    AbuseLabel::miner,
                    metrics,
                )
                .await;
            }
            busy_since = None;
            continue;
        }
        if cpu < settings.busy_percent {
            busy_since = None;
            continue;
        }
        // Typing since the sandbox got busy means someone is there: start counting again.
        let since = match busy_since {
            Some(since) if session.idle_for() < now - since => now,
            Some(since) => since,
            None => now,
        };
        busy_since = Some(since);
        if now - since < Duration::from_secs(settings.busy_secs) {
            continue;
        }
        let busiest = processes
            .iter()
            .filter(|process| process.pid != 1)
            .max_by(|a, b| a.cpu.total_cmp(&b.cpu));
        if let Some(busiest) = busiest {
            stop(
                sandbox,
                session,
                container,
                busiest,
                AbuseLabel::cpu,
                metrics,
            )
            .await;
        }
        busy_since = None;
    }
}

/// The sandbox's processes.
async fn list(
    sandbox: &dyn Sandbox,
    container: &ContainerId,
) -> Result<Vec<Process>, SandboxError> {
    let argv = ["ps", "-eo", "pid=,pcpu=,comm=,args="];
    let mut command = Command::new(argv.map(String::from).to_vec(), COMMAND_DEADLINE);
    command.keep_stderr = false;
    command.max_output = 64 * 1024;
    let output = sandbox.run_command(container, &command).await?;
    Ok(parse_ps(&String::from_utf8_lossy(&output.output)))
}

/// Stops `process`, tells the visitor why in the terminal, logs and counts it. The login
/// shell itself (a busy loop typed at the prompt) is interrupted as Ctrl-C would, not killed.
async fn stop(
    sandbox: &dyn Sandbox,
    session: &Session,
    container: &ContainerId,
    process: &Process,
    reason: AbuseLabel,
    metrics: &Metrics,
) {
    let shell = process.args.starts_with("bash --login") || process.args == "-bash";
    let signal = if shell { "-INT" } else { "-KILL" };
    let argv = vec!["kill".into(), signal.into(), process.pid.to_string()];
    if let Err(error) = sandbox
        .run_command(container, &Command::new(argv, COMMAND_DEADLINE))
        .await
    {
        tracing::warn!(%error, pid = process.pid, "the abuse watchdog could not stop a process");
        return;
    }
    let why = match reason {
        AbuseLabel::miner => "it looks like a cryptocurrency miner, which this sandbox does not run".to_owned(),
        AbuseLabel::cpu => "it held the CPU at this sandbox's limit with no one typing; this sandbox is shared, run long jobs elsewhere".to_owned(),
    };
    let name: String = process
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect();
    tracing::warn!(
        reason = ?reason,
        pid = process.pid,
        program = %name,
        "abuse: a process was stopped"
    );
    metrics
        .abuse_stopped
        .get_or_create(&AbuseLabels { reason })
        .inc();
    let notice = format!(
        "\r\n\x1b[1;31m[stopped {name} (pid {}): {why}]\x1b[0m\r\n",
        process.pid
    );
    session.main().push(notice.as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(name: &str, args: &str) -> Process {
        Process {
            pid: 9,
            cpu: 50.0,
            name: name.into(),
            args: args.into(),
        }
    }

    #[test]
    fn reads_ps() {
        let text = "    1  0.0 tini            /sbin/tini -- rootresume-shell\n   42 49.5 xmrig           ./xmrig -o pool:3333\n";
        let listed = parse_ps(text);
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[1],
            Process {
                pid: 42,
                cpu: 49.5,
                name: "xmrig".into(),
                args: "./xmrig -o pool:3333".into()
            }
        );
        assert!(parse_ps("garbage\n").is_empty());
    }

    #[test]
    fn miners_by_name_path_or_pool_and_not_builds_or_scripts() {
        let settings = AbuseSettings::default();
        let miner = |name: &str, args: &str| looks_like_a_miner(&process(name, args), &settings);
        assert!(miner("xmrig", "./xmrig"));
        assert!(miner("XMRig", "XMRig --donate-level 1"));
        assert!(miner("python3", "python3 /tmp/x/minerd -a sha256d"));
        assert!(miner(
            "helper",
            "./helper -o Stratum+TCP://pool.example:3333 -u w"
        ));
        assert!(!miner(
            "cc1",
            "/usr/lib/gcc/x86_64-linux-gnu/12/cc1 -O2 prog.c"
        ));
        assert!(!miner("python3", "python3 loop.py"));
        assert!(!miner("yes", "yes"));
        assert!(!miner("bash", "vim xmrig-notes.txt"));
    }
}
