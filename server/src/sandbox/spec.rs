//! What a sandbox container looks like: the image, the user and every limit.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The label every container the project creates carries; its value is the session's hash
/// ([`crate::ids::SessionId::hash`]), never the id.
pub const SESSION_LABEL: &str = "rootresume.session";
/// How every container's name starts; the session's hash follows, then, once a visitor has it,
/// `-` and the owner proof ([`crate::ids::SessionId::owner_proof`]).
pub const NAME_PREFIX: &str = "rootresume-";
/// Label naming the engine (of `[[engines]]`) the container was placed on.
pub const ENGINE_LABEL: &str = "rootresume.engine";
/// Label naming the deployment (config `instance`) that owns the container.
pub const INSTANCE_LABEL: &str = "rootresume.instance";
/// Label holding the creation time (seconds since the Unix epoch).
pub const CREATED_LABEL: &str = "rootresume.created";
/// Label holding the expiry time (seconds since the Unix epoch).
pub const EXPIRES_LABEL: &str = "rootresume.expires";

/// Limits applied to every sandbox container. The defaults are the production settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxLimits {
    /// Image the shells run in.
    pub image: String,
    /// User the shell runs as; never root.
    pub user: String,
    /// The user's home: a size-capped tmpfs seeded with the portfolio files.
    pub home_dir: String,
    /// Size of the home tmpfs, in MiB.
    pub home_mib: u32,
    /// Size of the `/tmp` tmpfs, in MiB.
    pub tmp_mib: u32,
    /// Memory limit in MiB; swap is disabled by setting memory+swap to the same value.
    pub memory_mib: u32,
    /// CPU time the container may use, in thousandths of a core.
    pub cpu_millis: u32,
    /// Relative CPU weight against other containers (Docker's default is 1024).
    pub cpu_shares: u32,
    /// Most processes and threads the container may have at once.
    pub pids: u32,
    /// Most open files per process.
    pub nofile: u32,
    /// Container runtime, e.g. `runc` or `runsc`; empty uses the engine's default.
    pub runtime: String,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            image: "rootresume-sandbox:latest".into(),
            user: "visitor".into(),
            home_dir: "/home/visitor".into(),
            home_mib: 50,
            tmp_mib: 50,
            memory_mib: 128,
            cpu_millis: 500,
            cpu_shares: 512,
            pids: 128,
            nofile: 1024,
            runtime: String::new(),
        }
    }
}

impl SandboxLimits {
    /// Checks every limit is in a range that makes a usable and safe sandbox.
    pub fn validate(&self) -> Result<(), String> {
        let in_range = |key: &str, value: u32, min: u32, max: u32| {
            check_range(
                &format!("sandbox.{key}"),
                value.into(),
                min.into(),
                max.into(),
            )
        };
        in_range("home_mib", self.home_mib, 1, 4096)?;
        in_range("tmp_mib", self.tmp_mib, 1, 4096)?;
        in_range("memory_mib", self.memory_mib, 16, 65536)?;
        in_range("cpu_millis", self.cpu_millis, 10, 64000)?;
        in_range("cpu_shares", self.cpu_shares, 2, 262144)?;
        in_range("pids", self.pids, 16, 65536)?;
        in_range("nofile", self.nofile, 64, 1 << 20)?;
        if self.image.trim().is_empty() {
            return Err("sandbox.image must name an image".into());
        }
        if self.user.is_empty() || self.user == "root" || self.user == "0" {
            return Err(format!(
                "sandbox.user = {:?} must be a non-root user",
                self.user
            ));
        }
        if !self.home_dir.starts_with('/') {
            return Err(format!(
                "sandbox.home_dir = {:?} must be an absolute path",
                self.home_dir
            ));
        }
        Ok(())
    }
}

/// Checks a setting lies in `min..=max`; the error names the key, the value and the range.
pub fn check_range(key: &str, value: u64, min: u64, max: u64) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("{key} = {value} is outside {min}..={max}"))
    }
}

/// Everything needed to create one session's container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// The hash of the session the container belongs to; becomes the [`SESSION_LABEL`] value.
    pub session: String,
    /// Proof of the session's owner, when a visitor has it already (not for the warm pool).
    pub owner: Option<String>,
    /// Hostname inside the container.
    pub hostname: String,
    /// When the container was made.
    pub created_at: SystemTime,
    /// When the container must be gone at the latest.
    pub expires_at: SystemTime,
    /// Image and limits.
    pub limits: SandboxLimits,
}

impl ContainerSpec {
    /// A spec for the session stored under `hash` that lives for `lifetime` from now.
    pub fn new(hash: &str, lifetime: Duration, limits: SandboxLimits) -> Self {
        let created_at = SystemTime::now();
        Self {
            session: hash.to_owned(),
            owner: None,
            hostname: crate::ids::SessionTag::of_hash(hash).to_string(),
            created_at,
            expires_at: created_at + lifetime,
            limits,
        }
    }

    /// The spec with the owner's proof, for a session a visitor has from the start.
    pub fn owned_by(mut self, proof: Option<String>) -> Self {
        self.owner = proof;
        self
    }

    /// The container's name: [`container_name`] of the session's hash and owner proof.
    pub fn name(&self) -> String {
        container_name(&self.session, self.owner.as_deref())
    }

    /// The labels the container carries, so any process can find every container we made.
    pub fn labels(&self) -> Vec<(&'static str, String)> {
        vec![
            (SESSION_LABEL, self.session.clone()),
            (CREATED_LABEL, epoch_seconds(self.created_at).to_string()),
            (EXPIRES_LABEL, epoch_seconds(self.expires_at).to_string()),
        ]
    }
}

/// A container's name: [`NAME_PREFIX`], the session's hash and, when known, `-` and the owner
/// proof. Engines keep names unique, so two creations for one session cannot both succeed; and
/// a name, unlike a label, can be changed when a pooled container gets its visitor.
pub fn container_name(hash: &str, owner: Option<&str>) -> String {
    match owner {
        Some(proof) => format!("{NAME_PREFIX}{hash}-{proof}"),
        None => format!("{NAME_PREFIX}{hash}"),
    }
}

/// The owner proof in a container's name, if it has one and the name is one of ours. Engines
/// may report names with a leading `/`.
pub fn owner_in_name(name: &str) -> Option<String> {
    let rest = name.trim_start_matches('/').strip_prefix(NAME_PREFIX)?;
    let (hash, proof) = rest.split_once('-')?;
    (crate::ids::is_hash(hash) && crate::ids::is_hash(proof)).then(|| proof.to_owned())
}

/// Seconds since the Unix epoch; times before it count as zero.
pub fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(SandboxLimits::default().validate(), Ok(()));
    }

    #[test]
    fn root_user_is_refused() {
        let limits = SandboxLimits {
            user: "root".into(),
            ..Default::default()
        };
        assert!(limits.validate().unwrap_err().contains("non-root"));
    }

    #[test]
    fn out_of_range_limit_names_the_key() {
        let limits = SandboxLimits {
            memory_mib: 1,
            ..Default::default()
        };
        assert_eq!(
            limits.validate().unwrap_err(),
            "sandbox.memory_mib = 1 is outside 16..=65536"
        );
    }

    #[test]
    fn labels_carry_session_hash_and_times() {
        let hash = "abcdef12".repeat(4);
        let spec = ContainerSpec::new(&hash, Duration::from_secs(3600), SandboxLimits::default());
        let labels = spec.labels();
        assert_eq!(labels[0], (SESSION_LABEL, hash.clone()));
        let created: u64 = labels[1].1.parse().unwrap();
        let expires: u64 = labels[2].1.parse().unwrap();
        assert_eq!(expires - created, 3600);
        assert_eq!(spec.hostname, "rr-abcdef12");
        assert_eq!(spec.name(), format!("rootresume-{hash}"));
    }

    #[test]
    fn names_carry_the_owner_proof_when_known() {
        let hash = "0123456789abcdef".repeat(2);
        let proof = "fedcba9876543210".repeat(2);
        let spec = ContainerSpec::new(&hash, Duration::from_secs(60), SandboxLimits::default())
            .owned_by(Some(proof.clone()));
        assert_eq!(spec.name(), format!("rootresume-{hash}-{proof}"));
        assert_eq!(owner_in_name(&format!("/{}", spec.name())), Some(proof));
        assert_eq!(owner_in_name(&container_name(&hash, None)), None);
        assert_eq!(owner_in_name("rootresume-server-image-test"), None);
        assert_eq!(owner_in_name(&format!("other-{hash}-{hash}")), None);
    }
}
