//! The Docker sandbox against the real engine: every limit set and observable from inside.

mod common;

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use futures_util::StreamExt;
use server::sandbox::docker::DockerSandbox;
use server::sandbox::{ContainerSpec, Sandbox, SandboxError, SandboxLimits, Shell, TermSize};
use server::sessions::ContainerGuard;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

const ENGINE: &str = "unix:///var/run/docker.sock";

fn sandbox() -> DockerSandbox {
    DockerSandbox::new(ENGINE, &SandboxLimits::default().image).expect("client")
}

fn spec() -> ContainerSpec {
    let hash = server::ids::SessionId::random().hash();
    ContainerSpec::new(&hash, Duration::from_secs(600), SandboxLimits::default())
}

/// Runs `command` in a raw shell and returns its output between markers.
async fn run(shell: &mut Shell, screen: &mut Vec<u8>, command: &str) -> Result<String> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let line = format!("printf '%s\\n' B{tag}E; {command}; printf '%s\\n' D{tag}E\r");
    shell.input.write_all(line.as_bytes()).await?;
    shell.input.flush().await?;
    let start = screen.len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = String::from_utf8_lossy(&screen[start..]).replace('\r', "");
        // The echoed command line has `B{tag}E;`, the printed marker ends the line.
        if let (Some(b), Some(d)) = (
            seen.find(&format!("B{tag}E\n")),
            seen.rfind(&format!("D{tag}E\n")),
        ) {
            if d > b {
                return Ok(seen[b + tag.len() + 3..d].trim().to_owned());
            }
        }
        let chunk = tokio::time::timeout_at(deadline, shell.output.next())
            .await
            .map_err(|_| anyhow!("timed out running {command:?}: {seen}"))?;
        match chunk {
            Some(Ok(bytes)) => screen.extend_from_slice(&bytes),
            Some(Err(e)) => bail!("output failed: {e}"),
            None => bail!("shell ended while running {command:?}: {seen}"),
        }
    }
}

#[tokio::test]
async fn container_has_every_limit_and_they_hold_inside() -> Result<()> {
    let sandbox = Arc::new(sandbox());
    let spec = spec();
    let container = sandbox.create(&spec).await?;
    let guard = ContainerGuard::new(sandbox.clone(), container.clone());

    let inspect = common::docker()
        .await?
        .inspect_container(&container.0, None)
        .await?;
    let host = inspect
        .host_config
        .clone()
        .ok_or_else(|| anyhow!("no host config"))?;
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.memory, Some(128 * 1024 * 1024));
    assert_eq!(
        host.memory_swap,
        Some(128 * 1024 * 1024),
        "no swap: memory+swap == memory"
    );
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.pids_limit, Some(128));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges".to_string()])
    );
    assert_eq!(host.init, Some(true));
    assert_eq!(host.log_config.and_then(|l| l.typ).as_deref(), Some("none"));
    let ulimits = host.ulimits.unwrap_or_default();
    assert!(ulimits
        .iter()
        .any(|u| u.name.as_deref() == Some("nofile") && u.hard == Some(1024)));
    let tmpfs = host.tmpfs.unwrap_or_default();
    assert!(tmpfs["/tmp"].contains("size=50m") && tmpfs["/tmp"].contains("nosuid"));
    assert!(tmpfs["/home/visitor"].contains("size=50m"));
    let config = inspect.config.ok_or_else(|| anyhow!("no config"))?;
    let labels = config.labels.unwrap_or_default();
    assert_eq!(labels.get("rootresume.session"), Some(&spec.session));
    assert!(labels.contains_key("rootresume.expires") && labels.contains_key("rootresume.created"));
    assert_eq!(config.user.as_deref(), Some("visitor"));

    let mut shell = sandbox
        .open_shell(&container, TermSize { cols: 80, rows: 24 })
        .await?;
    let mut screen = Vec::new();
    assert_eq!(run(&mut shell, &mut screen, "id -u").await?, "1000");
    assert_eq!(
        run(&mut shell, &mut screen, "/bin/ls /sys/class/net").await?,
        "lo"
    );
    let touch = run(&mut shell, &mut screen, "touch /etc/x 2>&1; echo rc=$?").await?;
    assert!(
        touch.contains("Read-only file system") && touch.ends_with("rc=1"),
        "{touch}"
    );
    let tmp = run(
        &mut shell,
        &mut screen,
        "df -k /tmp | tail -1 | awk '{print $2}'",
    )
    .await?;
    assert_eq!(tmp, "51200", "/tmp is a 50 MiB tmpfs");
    let home = run(
        &mut shell,
        &mut screen,
        "df -k . | tail -1 | awk '{print $2}'; /bin/ls",
    )
    .await?;
    assert!(
        home.starts_with("51200") && home.contains("about.md"),
        "{home}"
    );
    let caps = run(
        &mut shell,
        &mut screen,
        "command grep -E 'CapEff|NoNewPrivs' /proc/self/status",
    )
    .await?;
    assert!(
        caps.contains("0000000000000000") && caps.contains("NoNewPrivs:\t1"),
        "{caps}"
    );
    assert_eq!(run(&mut shell, &mut screen, "stty size").await?, "24 80");
    sandbox
        .resize_shell(
            &shell.id,
            TermSize {
                cols: 132,
                rows: 41,
            },
        )
        .await?;
    assert_eq!(run(&mut shell, &mut screen, "stty size").await?, "41 132");
    // cgroup v2 and v1 name the limit files differently.
    let memory = "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
    assert_eq!(
        run(&mut shell, &mut screen, memory).await?,
        "134217728",
        "128 MiB seen from inside"
    );
    let pids = "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";
    assert_eq!(run(&mut shell, &mut screen, pids).await?, "128");
    assert_eq!(run(&mut shell, &mut screen, "ulimit -n").await?, "1024");
    let init = run(
        &mut shell,
        &mut screen,
        "cat /proc/1/cmdline | tr '\\0' ' '",
    )
    .await?;
    assert!(
        init.contains("init"),
        "pid 1 is an init that reaps zombies: {init}"
    );

    guard.shutdown().await?;
    assert!(common::labelled(Some(&spec.session)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn dropped_guard_removes_its_container() -> Result<()> {
    let sandbox = Arc::new(sandbox());
    let spec = spec();
    let container = sandbox.create(&spec).await?;
    assert_eq!(common::labelled(Some(&spec.session)).await?.len(), 1);
    drop(ContainerGuard::new(sandbox.clone(), container));
    common::wait_removed(&spec.session, Duration::from_secs(20)).await?;
    Ok(())
}

#[tokio::test]
async fn removing_twice_is_fine_and_list_sees_ours() -> Result<()> {
    let sandbox = sandbox();
    let spec = spec();
    let container = sandbox.create(&spec).await?;
    let listed = sandbox.list().await?;
    let created = listed.iter().find(|c| c.id == container);
    assert!(
        created.is_some_and(|c| !c.running),
        "created, not started until attached"
    );
    // Attaching starts it; the shell lives as long as the container.
    let _shell = sandbox.open_shell(&container, TermSize::default()).await?;
    let listed = sandbox.list().await?;
    let ours = listed
        .iter()
        .find(|c| c.id == container)
        .ok_or_else(|| anyhow!("not listed"))?;
    assert_eq!(ours.session, spec.session);
    assert!(ours.running);
    assert!(ours.expires_at.is_some());
    sandbox.remove(&container).await?;
    sandbox.remove(&container).await?;
    assert!(common::labelled(Some(&spec.session)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn unreachable_engine_names_the_endpoint() {
    let sandbox = DockerSandbox::new("unix:///nonexistent/docker.sock", "x").expect("client");
    let error = sandbox.check().await.expect_err("no engine there");
    assert!(
        matches!(error, SandboxError::EngineUnreachable { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("cannot reach the container engine at unix:///nonexistent/docker.sock"),
        "{error}"
    );
}

#[tokio::test]
async fn missing_image_names_the_image_and_the_fix() -> Result<()> {
    let limits = SandboxLimits {
        image: "rootresume-missing:none".into(),
        ..Default::default()
    };
    let sandbox = DockerSandbox::new(ENGINE, &limits.image)?;
    let error = sandbox.check().await.expect_err("image is missing");
    let text = error.to_string();
    assert!(
        text.contains("rootresume-missing:none") && text.contains("build-sandbox-image"),
        "{text}"
    );
    let id = server::ids::SessionId::random().expose();
    let spec = ContainerSpec::new(&common::label_of(&id)?, Duration::from_secs(60), limits);
    let error = sandbox
        .create(&spec)
        .await
        .expect_err("cannot create from a missing image");
    assert!(
        matches!(error, SandboxError::ImageMissing { .. }),
        "{error:?}"
    );
    assert!(common::labelled(Some(&id)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_container_that_dies_is_reported_with_its_session() -> Result<()> {
    // An instance of its own: the other tests' removals are not this test's events.
    let instance = format!("test-{}", uuid::Uuid::new_v4().simple());
    let sandbox = Arc::new(sandbox().with_instance(&instance));
    let mut stopped = sandbox.stopped().await?;
    let spec = spec();
    let container = sandbox.create(&spec).await?;
    let guard = ContainerGuard::new(sandbox.clone(), container.clone());
    let _shell = sandbox.open_shell(&container, TermSize::default()).await?;

    // Killed behind the server's back, as an out-of-memory kill or a crashed gVisor would.
    common::docker()
        .await?
        .kill_container(
            &container.0,
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await?;
    let reported = tokio::time::timeout(Duration::from_secs(10), stopped.next())
        .await
        .map_err(|_| anyhow!("no report within 10 s of the kill"))?
        .ok_or_else(|| anyhow!("the engine closed the event stream"))??;
    assert_eq!(reported.id, container);
    assert_eq!(reported.session, spec.session);

    guard.shutdown().await?;
    assert!(common::labelled(Some(&spec.session)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_shell_outlives_its_attach_and_a_second_attach_finds_it() -> Result<()> {
    let sandbox = Arc::new(sandbox());
    let spec = spec();
    let container = sandbox.create(&spec).await?;
    let guard = ContainerGuard::new(sandbox.clone(), container.clone());
    let mut first = sandbox.open_shell(&container, TermSize::default()).await?;
    let mut screen = Vec::new();
    run(&mut first, &mut screen, "sleep 1000 & echo x > kept.txt").await?;
    let pid = run(&mut first, &mut screen, "echo $$").await?;
    // The attach closes, as when the replica streaming it dies: the shell must live on.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = sandbox.open_shell(&container, TermSize::default()).await?;
    let mut screen = Vec::new();
    assert_eq!(
        run(&mut second, &mut screen, "echo $$").await?,
        pid,
        "a new shell"
    );
    assert_eq!(run(&mut second, &mut screen, "cat kept.txt").await?, "x");
    assert_eq!(
        run(&mut second, &mut screen, "pgrep -c -f 'sleep 1000'").await?,
        "1"
    );
    guard.shutdown().await?;
    Ok(())
}
