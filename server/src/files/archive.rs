//! The home archive a visitor restores, read whole on the server before any of it lands: an
//! archive that could write outside the home or hold more than it has room for is refused
//! whole, with the reason, never unpacked in part.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Why an archive is refused, for the visitor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// Not a gzip-compressed tar archive (or a damaged one).
    #[error("this is not a .tar.gz archive (or it is damaged): {0}")]
    Unreadable(String),
    /// A member with an absolute path.
    #[error("{0} has an absolute path: a home archive holds paths inside the home only")]
    Absolute(String),
    /// A member whose path climbs out with `..`.
    #[error("{0} climbs out of the home with '..'")]
    ClimbsOut(String),
    /// A link pointing outside the home, or a hard link.
    #[error("{0} is a link leaving the home (or a hard link): links must point inside the home")]
    LinkLeaves(String),
    /// A device, pipe or other special file.
    #[error("{0} is a device or special file: a home archive holds files, folders and links")]
    Special(String),
    /// More unpacked than the home can hold.
    #[error("it unpacks to {unpacked} MiB, more than the {max} MiB of a home")]
    TooBig {
        /// MiB it would unpack to (at least).
        unpacked: u64,
        /// MiB a home holds.
        max: u64,
    },
    /// Too many members.
    #[error("it holds more than {0} files")]
    TooMany(usize),
}

/// What an acceptable archive holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    /// Members (files, folders, links).
    pub entries: usize,
    /// Bytes of file contents unpacked.
    pub bytes: u64,
}

/// The most members an archive may have.
const MAX_ENTRIES: usize = 20_000;

/// Reads the whole `.tar.gz` in `bytes` and accepts it only if every member stays inside the
/// home and it unpacks to at most `max_bytes`.
pub fn check(bytes: &[u8], max_bytes: u64) -> Result<Contents, ArchiveError> {
    let unreadable = |error: std::io::Error| ArchiveError::Unreadable(error.to_string());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut contents = Contents {
        entries: 0,
        bytes: 0,
    };
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        contents.entries += 1;
        if contents.entries > MAX_ENTRIES {
            return Err(ArchiveError::TooMany(MAX_ENTRIES));
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = inside(&raw, &shown)?;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {}
            tar::EntryType::Directory => {}
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let parent = path.parent().unwrap_or(Path::new(""));
                if !link_stays(parent, &target) {
                    return Err(ArchiveError::LinkLeaves(shown));
                }
            }
            tar::EntryType::Link => return Err(ArchiveError::LinkLeaves(shown)),
            // Extended headers describe the next member; tar reads them itself.
            tar::EntryType::XHeader
            | tar::EntryType::XGlobalHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => {}
            _ => return Err(ArchiveError::Special(shown)),
        }
        // Count what is really there, not what the header claims.
        let read = std::io::copy(&mut (&mut entry).take(max_bytes + 1), &mut std::io::sink())
            .map_err(unreadable)?;
        contents.bytes += read;
        if contents.bytes > max_bytes {
            return Err(ArchiveError::TooBig {
                unpacked: contents.bytes.div_ceil(1 << 20),
                max: max_bytes >> 20,
            });
        }
    }
    Ok(contents)
}

/// The member's path, if it stays inside the home: relative, no `..`.
fn inside(raw: &[u8], shown: &str) -> Result<PathBuf, ArchiveError> {
    let path = Path::new(std::str::from_utf8(raw).unwrap_or(shown));
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => {
                return Err(ArchiveError::Absolute(shown.to_owned()))
            }
            Component::ParentDir => return Err(ArchiveError::ClimbsOut(shown.to_owned())),
            Component::CurDir => {}
            Component::Normal(part) => clean.push(part),
        }
    }
    Ok(clean)
}

/// Whether a link in folder `parent` (inside the home) to `target` points inside the home.
fn link_stays(parent: &Path, target: &[u8]) -> bool {
    let Ok(target) = std::str::from_utf8(target) else {
        return false;
    };
    if target.is_empty() || target.starts_with('/') {
        return false;
    }
    let mut depth = parent
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    for component in Path::new(target).components() {
        match component {
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member: name as raw bytes, type, link target, contents.
    type Member<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

    /// A .tar.gz of `members`.
    fn archive(members: &[Member<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, kind, link, data) in members {
            let mut header = tar::Header::new_gnu();
            // Written raw: the builder's own setters refuse what a hostile archive holds.
            header.as_old_mut().name[..name.len()].copy_from_slice(name);
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    const FILE: tar::EntryType = tar::EntryType::Regular;

    #[test]
    fn a_home_archive_passes() {
        let good = archive(&[
            (b"./", tar::EntryType::Directory, b"", b""),
            (b"./notes.txt", FILE, b"", b"hello\n"),
            (b"./src/", tar::EntryType::Directory, b"", b""),
            (b"./src/link", tar::EntryType::Symlink, b"../notes.txt", b""),
        ]);
        assert_eq!(
            check(&good, 1 << 20),
            Ok(Contents {
                entries: 4,
                bytes: 6
            })
        );
    }

    #[test]
    fn hostile_archives_are_refused_with_the_reason() {
        let cases: [(&[u8], tar::EntryType, &[u8], &str); 7] = [
            (b"/etc/passwd", FILE, b"", "absolute path"),
            (b"../outside", FILE, b"", "'..'"),
            (b"./a/../../outside", FILE, b"", "'..'"),
            (
                b"./escape",
                tar::EntryType::Symlink,
                b"/etc",
                "link leaving",
            ),
            (
                b"./a/up",
                tar::EntryType::Symlink,
                b"../../x",
                "link leaving",
            ),
            (b"./hard", tar::EntryType::Link, b"notes.txt", "hard link"),
            (b"./null", tar::EntryType::Char, b"", "device"),
        ];
        for (name, kind, link, says) in cases {
            let why = check(&archive(&[(name, kind, link, b"")]), 1 << 20)
                .unwrap_err()
                .to_string();
            assert!(
                why.contains(says),
                "{}: {why}",
                String::from_utf8_lossy(name)
            );
        }
        let big = archive(&[(b"./zeros", FILE, b"", &vec![0; 2 << 20])]);
        assert!(check(&big, 1 << 20)
            .unwrap_err()
            .to_string()
            .contains("more than the 1 MiB"));
        assert!(matches!(
            check(b"not an archive", 1 << 20),
            Err(ArchiveError::Unreadable(_))
        ));
    }
}
