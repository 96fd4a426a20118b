//! The site's content, parsed once from the files embedded at build time (see `app/build.rs`).

use std::sync::OnceLock;

use super::front_matter;
use super::markdown;
use super::model::{Post, PostMeta, Profile, SiteInfo, TagCount};

/// Every file under `content/`: (path relative to it, text).
const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/content_files.rs"));

/// Overrides the profile's `site_url`, e.g. for a staging host or a local audit. Not
/// `ROOTRESUME_…`: the server refuses unknown settings under that prefix.
pub const SITE_URL_VAR: &str = "SITE_URL";

/// A content file that cannot be used. The message names the file (and line) to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// `content/profile.toml` is absent.
    #[error("content/profile.toml is missing: it holds the name, role, summary, links, skills, experience and projects")]
    NoProfile,
    /// A mistake at a known line of a file.
    #[error("content/{file}:{line}: {message}")]
    AtLine {
        /// Path under `content/`.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A mistake in a file as a whole (its name, a clash with another file).
    #[error("content/{file}: {message}")]
    InFile {
        /// Path under `content/`.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// A post with the flag that hides it.
#[derive(Debug, Clone)]
struct StoredPost {
    post: Post,
    draft: bool,
    /// The ids of its challenges, each needing a check script.
    challenges: Vec<String>,
}

/// The parsed content: the profile and every post, newest first.
#[derive(Debug, Clone)]
pub struct Site {
    /// The person.
    pub profile: Profile,
    posts: Vec<StoredPost>,
    /// Check scripts of the posts' challenges, by id (`content/challenges/<id>.sh`).
    checks: std::collections::BTreeMap<String, String>,
}

/// True for names usable in URLs and file names: lower-case letters, digits and `-`.
pub fn is_slug(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn line_of(text: &str, byte: usize) -> usize {
    text.get(..byte)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn parse_profile(file: &str, text: &str) -> Result<Profile, ContentError> {
    let mut profile: Profile = toml::from_str(text).map_err(|error| ContentError::AtLine {
        file: file.to_string(),
        line: error.span().map_or(1, |span| line_of(text, span.start)),
        message: error.message().trim().to_string(),
    })?;
    profile.site_url = profile.site_url.trim_end_matches('/').to_string();
    for project in &profile.projects {
        if !is_slug(&project.slug) {
            let line = text
                .find(&format!("\"{}\"", project.slug))
                .map_or(1, |at| line_of(text, at));
            return Err(ContentError::AtLine {
                file: file.to_string(),
                line,
                message: format!(
                    "project slug `{}` must be lower-case letters, digits and `-` (it names projects/{}.md in the shell)",
                    project.slug, project.slug
                ),
            });
        }
    }
    Ok(profile)
}

fn parse_post(file: &str, slug: &str, text: &str) -> Result<StoredPost, ContentError> {
    let parsed = front_matter::parse(text).map_err(|error| ContentError::AtLine {
        file: file.to_string(),
        line: error.line,
        message: error.message,
    })?;
    let front = parsed.front;
    let meta = PostMeta {
        slug: slug.to_string(),
        title: front.title,
        date: front.date,
        tags: front.tags,
        summary: front.summary,
        reading_minutes: markdown::reading_minutes(parsed.body),
    };
    let rendered = markdown::render(parsed.body).map_err(|message| ContentError::InFile {
        file: file.to_string(),
        message,
    })?;
    Ok(StoredPost {
        post: Post {
            meta,
            html: rendered.html,
            runnable: rendered.runnable,
        },
        draft: front.draft,
        challenges: rendered.challenges,
    })
}

impl Site {
    /// Parses content files given as (path under `content/`, text).
    pub fn from_files(files: &[(&str, &str)]) -> Result<Self, ContentError> {
        let mut profile = None;
        let mut posts: Vec<StoredPost> = Vec::new();
        let mut checks = std::collections::BTreeMap::new();
        for &(file, text) in files {
            if let Some(id) = file
                .strip_prefix("challenges/")
                .and_then(|n| n.strip_suffix(".sh"))
            {
                checks.insert(id.to_string(), text.to_string());
            } else if file == "profile.toml" {
                profile = Some(parse_profile(file, text)?);
            } else if let Some(name) = file
                .strip_prefix("posts/")
                .and_then(|n| n.strip_suffix(".md"))
            {
                if !is_slug(name) {
                    return Err(ContentError::InFile {
                        file: file.to_string(),
                        message: "a post's file name becomes its URL: use lower-case letters, digits and `-`".into(),
                    });
                }
                posts.push(parse_post(file, name, text)?);
            }
        }
        let profile = profile.ok_or(ContentError::NoProfile)?;
        for stored in &posts {
            for id in &stored.challenges {
                if !checks.contains_key(id) {
                    return Err(ContentError::InFile {
                        file: format!("posts/{}.md", stored.post.meta.slug),
                        message: format!("challenge `{id}` has no check script: write content/challenges/{id}.sh"),
                    });
                }
            }
        }
        // Newest first; the slug breaks ties so the order never depends on the file system.
        posts.sort_by(|a, b| {
            (b.post.meta.date, &a.post.meta.slug).cmp(&(a.post.meta.date, &b.post.meta.slug))
        });
        Ok(Self {
            profile,
            posts,
            checks,
        })
    }

    /// Published posts, newest first.
    pub fn published(&self) -> impl Iterator<Item = &Post> {
        self.posts.iter().filter(|p| !p.draft).map(|p| &p.post)
    }

    /// The check script of challenge `id`, if a post has that challenge.
    pub fn check_script(&self, id: &str) -> Option<&str> {
        self.checks.get(id).map(String::as_str)
    }

    /// A published post by slug; drafts are not found.
    pub fn post(&self, slug: &str) -> Option<&Post> {
        self.published().find(|post| post.meta.slug == slug)
    }

    /// Tags of published posts, most used first, then by name.
    pub fn tags(&self) -> Vec<TagCount> {
        let mut tags: Vec<TagCount> = Vec::new();
        for tag in self.published().flat_map(|post| post.meta.tags.iter()) {
            match tags.iter_mut().find(|known| &known.tag == tag) {
                Some(known) => known.count += 1,
                None => tags.push(TagCount {
                    tag: tag.clone(),
                    count: 1,
                }),
            }
        }
        tags.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
        tags
    }

    /// Name, role and base URL (`SITE_URL` wins over the profile's `site_url`).
    pub fn info(&self) -> SiteInfo {
        let site_url = std::env::var(SITE_URL_VAR)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .map(|url| url.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| self.profile.site_url.clone());
        SiteInfo {
            name: self.profile.name.clone(),
            role: self.profile.role.clone(),
            site_url,
        }
    }
}

/// The site's content, parsed on first use from the files embedded in this build. The server
/// calls this at startup so a broken file stops it there, naming the file and line.
pub fn site() -> Result<&'static Site, &'static ContentError> {
    static SITE: OnceLock<Result<Site, ContentError>> = OnceLock::new();
    SITE.get_or_init(|| Site::from_files(FILES)).as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "name = \"N\"\nrole = \"r\"\nfocus = \"f\"\nsite_url = \"https://x.example/\"\nlocation = \"l\"\nemail = \"e\"\nsummary = \"s\"\n";

    fn post(title: &str, date: &str, tags: &str, draft: bool) -> String {
        format!("---\ntitle: {title}\ndate: {date}\ntags: [{tags}]\nsummary: S\ndraft: {draft}\n---\nBody.\n")
    }

    #[test]
    fn the_committed_content_parses() {
        let site = site().expect("content/ is valid");
        assert_eq!(site.profile.name, "Ada Quill");
        assert!(site.published().count() >= 3);
        assert!(site.post("how-the-sandboxes-work").is_some());
        assert!(
            site.post("notes-on-io-uring").is_none(),
            "drafts stay hidden"
        );
    }

    #[test]
    fn posts_are_newest_first_and_drafts_hidden() {
        let (a, b, c) = (
            post("A", "2026-01-01", "x", false),
            post("B", "2026-03-01", "x, y", false),
            post("C", "2026-05-01", "z", true),
        );
        let files = [
            ("profile.toml", PROFILE),
            ("posts/a.md", a.as_str()),
            ("posts/b.md", b.as_str()),
            ("posts/c.md", c.as_str()),
        ];
        let site = Site::from_files(&files).expect("valid");
        let slugs: Vec<&str> = site.published().map(|p| p.meta.slug.as_str()).collect();
        assert_eq!(slugs, ["b", "a"]);
        let tags: Vec<(String, usize)> =
            site.tags().into_iter().map(|t| (t.tag, t.count)).collect();
        assert_eq!(tags, [("x".to_string(), 2), ("y".to_string(), 1)]);
        assert_eq!(site.profile.site_url, "https://x.example");
    }

    #[test]
    fn a_challenge_needs_its_check_script() {
        let text = post("C", "2026-01-01", "x", false)
            .replace("Body.", "```challenge id=say-hi\nSay hi.\n```");
        let missing = Site::from_files(&[("profile.toml", PROFILE), ("posts/c.md", &text)])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("content/challenges/say-hi.sh"),
            "{missing}"
        );
        let site = Site::from_files(&[
            ("profile.toml", PROFILE),
            ("posts/c.md", &text),
            ("challenges/say-hi.sh", "exit 0"),
        ])
        .unwrap();
        assert_eq!(site.check_script("say-hi"), Some("exit 0"));
        assert!(site.post("c").is_some_and(|post| post.runnable));
        assert_eq!(site.check_script("other"), None);
    }

    #[test]
    fn a_bad_post_names_file_and_line() {
        let bad = "---\ntitle: T\ndate: Nov 20, 2026\nsummary: S\n---\n";
        let err = Site::from_files(&[("profile.toml", PROFILE), ("posts/bad.md", bad)])
            .expect_err("bad date");
        let message = err.to_string();
        assert!(
            message.starts_with("content/posts/bad.md:3: unknown date format"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_profile_names_its_line() {
        let bad = format!("{PROFILE}colour = \"red\"\n");
        let err = Site::from_files(&[("profile.toml", bad.as_str())]).expect_err("unknown key");
        assert!(
            err.to_string().starts_with("content/profile.toml:8:"),
            "{err}"
        );
        assert_eq!(
            Site::from_files(&[]).expect_err("no profile"),
            ContentError::NoProfile
        );
    }

    #[test]
    fn post_file_names_must_be_slugs() {
        let good = post("A", "2026-01-01", "x", false);
        let err = Site::from_files(&[
            ("profile.toml", PROFILE),
            ("posts/Hello World.md", good.as_str()),
        ])
        .expect_err("bad name");
        assert!(err.to_string().contains("posts/Hello World.md"), "{err}");
    }
}
