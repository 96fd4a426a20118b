//! The portfolio files in every visitor's sandbox home (`about.md`, `README`, `projects/*.md`),
//! generated from the profile so the shell and the About page never disagree.
//!
//! `sandbox/home/` holds the committed result; a test fails when it drifts from the profile.
//! Regenerate it with `cargo test -p app --features ssr -- --ignored regenerate_sandbox_home`.

use std::fmt::Write as _;

use super::model::Profile;

/// Width that reads well in the terminal without wrapping on a phone-sized panel.
const WIDTH: usize = 78;

/// Joins words into lines at most [`WIDTH`] wide (a longer word gets a line of its own).
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

/// A bullet whose continuation lines are indented under its text.
fn bullet(text: &str) -> String {
    let wrapped = wrap(text, "  ");
    format!("-{}", wrapped.strip_prefix(' ').unwrap_or(&wrapped))
}

fn about(profile: &Profile) -> String {
    let mut out = format!("# {} — {}\n\n", profile.name, profile.role);
    out.push_str(&wrap(&profile.summary, ""));
    out.push('\n');
    out.push_str(&bullet(&format!("Based in {}.", profile.location)));
    out.push_str(&bullet(&format!("Focus: {}.", profile.focus)));
    out.push_str("\n## Experience\n\n");
    for job in &profile.experience {
        out.push_str(&bullet(&format!(
            "{}, {} ({}): {}",
            job.role, job.company, job.period, job.summary
        )));
    }
    out.push_str("\n## Skills\n\n");
    for group in &profile.skills {
        out.push_str(&bullet(&format!(
            "{}: {}",
            group.area,
            group.items.join(", ")
        )));
    }
    out.push_str("\n## Contact\n\n");
    out.push_str(&bullet(&format!("Email: {}", profile.email)));
    for link in profile
        .links
        .iter()
        .filter(|l| !l.url.starts_with("mailto:"))
    {
        out.push_str(&bullet(&format!("{}: {}", link.label, link.url)));
    }
    out.push_str("\nTry `cat README` for things to do in this shell.\n");
    out
}

fn readme(profile: &Profile) -> String {
    let mut out = String::from(
        "Welcome to your own sandbox. It is a real Linux container made for this browser tab alone.\n\n\
         Things to try:\n  cat about.md                 who I am\n  ls projects/                 what I have built\n",
    );
    for project in &profile.projects {
        let command = format!("cat projects/{}.md", project.slug);
        let _ = writeln!(out, "  {command:<28} {}", project.name);
    }
    out.push_str(
        "  python3 -c 'print(6*7)'      Python 3 is installed\n  vi hello.c                   write some C, then:\n  gcc hello.c -o hello && ./hello\n\n",
    );
    out.push_str(&wrap(
        "Limits: no network, 128 MiB of memory, 50 MiB of disk in your home and in /tmp, and the \
         container is removed when you close the tab or after an hour. Nothing you do here is kept.",
        "",
    ));
    out
}

fn project(project: &super::model::Project) -> String {
    let mut out = format!("# {}\n\n", project.name);
    out.push_str(&wrap(&project.description, ""));
    if !project.tags.is_empty() {
        let _ = write!(out, "\nTopics: {}\n", project.tags.join(", "));
    }
    let _ = writeln!(out, "Source: {}", project.url);
    out
}

/// Every generated file: (path under the home directory, contents).
pub fn home_files(profile: &Profile) -> Vec<(String, String)> {
    let mut files = vec![
        ("about.md".to_string(), about(profile)),
        ("README".to_string(), readme(profile)),
    ];
    for item in &profile.projects {
        files.push((format!("projects/{}.md", item.slug), project(item)));
    }
    files
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::content::site;

    fn sandbox_home() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandbox/home")
    }

    fn generated() -> Vec<(String, String)> {
        home_files(&site().expect("content/ is valid").profile)
    }

    /// Project files present in `sandbox/home/projects` but no longer in the profile.
    fn stale_projects(files: &[(String, String)]) -> Vec<PathBuf> {
        let dir = sandbox_home().join("projects");
        let entries =
            std::fs::read_dir(&dir).map(|e| e.flatten().map(|e| e.path()).collect::<Vec<_>>());
        entries
            .unwrap_or_default()
            .into_iter()
            .filter(|path| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                !files
                    .iter()
                    .any(|(file, _)| *file == format!("projects/{name}"))
            })
            .collect()
    }

    #[test]
    fn committed_sandbox_home_matches_the_profile() {
        let files = generated();
        for (path, expected) in &files {
            let actual = std::fs::read_to_string(sandbox_home().join(path)).unwrap_or_default();
            assert!(
                actual == *expected,
                "sandbox/home/{path} differs from what content/profile.toml generates; run \
                 `cargo test -p app --features ssr -- --ignored regenerate_sandbox_home`\n--- expected:\n{expected}\n--- found:\n{actual}"
            );
        }
        assert_eq!(
            stale_projects(&files),
            Vec::<PathBuf>::new(),
            "remove these or regenerate"
        );
    }

    #[test]
    fn about_keeps_what_the_shell_tests_read() {
        let about = &generated()[0].1;
        assert!(
            about.starts_with("# Ada Quill — systems engineer\n"),
            "{about}"
        );
        assert!(about.contains("\nTry `cat README` for things to do in this shell.\n"));
        assert!(
            about.lines().all(|line| line.chars().count() <= WIDTH),
            "{about}"
        );
    }

    #[test]
    fn wrap_keeps_lines_short_and_words_whole() {
        let text = "word ".repeat(40);
        let wrapped = wrap(&text, "  ");
        assert!(wrapped
            .lines()
            .all(|l| l.len() <= WIDTH && l.starts_with("  ")));
        assert_eq!(wrapped.split_whitespace().count(), 40);
    }

    /// Writes `sandbox/home/` from the profile. Run on purpose, after editing the profile.
    #[test]
    #[ignore = "writes sandbox/home; run with --ignored after editing content/profile.toml"]
    fn regenerate_sandbox_home() {
        let files = generated();
        for stale in stale_projects(&files) {
            std::fs::remove_file(&stale).expect("remove a stale project file");
        }
        for (path, text) in files {
            let target = sandbox_home().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).expect("create sandbox/home folders");
            }
            std::fs::write(&target, text).expect("write a sandbox/home file");
        }
    }
}
