//! What content becomes once parsed: the types pages receive, on the server and in the browser.

use serde::{Deserialize, Serialize};

/// The person the site is about, from `content/profile.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Full name, e.g. "Ada Quill".
    pub name: String,
    /// Role in lower case, as it reads after the name: "systems engineer".
    pub role: String,
    /// What the role is about, e.g. "containers, storage engines, Rust".
    pub focus: String,
    /// Where the site is deployed, without a trailing slash.
    pub site_url: String,
    /// Where the person is.
    pub location: String,
    /// Contact address.
    pub email: String,
    /// A short paragraph: who and what.
    pub summary: String,
    /// Elsewhere on the web.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Skills, grouped by area.
    #[serde(default)]
    pub skills: Vec<SkillGroup>,
    /// Jobs, newest first.
    #[serde(default)]
    pub experience: Vec<Job>,
    /// Things built, in the order to show them.
    #[serde(default)]
    pub projects: Vec<Project>,
}

/// A labelled link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// What the link is, e.g. "GitHub".
    pub label: String,
    /// Where it goes.
    pub url: String,
}

/// Skills in one area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillGroup {
    /// The area, e.g. "Languages".
    pub area: String,
    /// The skills.
    pub items: Vec<String>,
}

/// One job on the resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Job title.
    pub role: String,
    /// Employer.
    pub company: String,
    /// When, as free text: "2019 – 2023".
    pub period: String,
    /// One sentence.
    pub summary: String,
    /// What was achieved.
    #[serde(default)]
    pub highlights: Vec<String>,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// File name in the sandbox (`projects/<slug>.md`) and anchor on the Projects page.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// One line.
    pub summary: String,
    /// A paragraph.
    pub description: String,
    /// Source or home page.
    pub url: String,
    /// Topics.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A calendar date from a post's front matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

impl Date {
    /// `2026-11-20`, for `<time datetime>` and sitemaps.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `20 November 2026`, for people.
    pub fn human(&self) -> String {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let month = MONTHS
            .get(usize::from(self.month.saturating_sub(1)))
            .copied()
            .unwrap_or("?");
        format!("{} {month} {}", self.day, self.year)
    }
}

/// What lists and headers show about a post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostMeta {
    /// The file name without `.md`; the post lives at `/blog/<slug>`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Publication date.
    pub date: Date,
    /// Lower-case tags.
    pub tags: Vec<String>,
    /// One or two sentences, also the meta description.
    pub summary: String,
    /// Minutes to read, at least 1.
    pub reading_minutes: u32,
}

/// A post, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Title, date, tags…
    pub meta: PostMeta,
    /// The body as HTML, rendered from Markdown on the server.
    pub html: String,
    /// Whether a code block in it has a Run button.
    #[serde(default)]
    pub runnable: bool,
}

/// A tag and how many published posts carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCount {
    /// The tag.
    pub tag: String,
    /// Published posts with it.
    pub count: usize,
}

/// What every page needs to know about the site: for the header, titles and canonical URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteInfo {
    /// The person's name.
    pub name: String,
    /// Their role, lower case.
    pub role: String,
    /// Absolute base URL, no trailing slash.
    pub site_url: String,
}
