//! Per-page `<title>`, description, OpenGraph and Twitter tags, and the canonical URL.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};

use super::site_info;

/// The head tags every page sets. `path` is the page's canonical path, starting with `/`.
#[component]
pub fn PageMeta(
    /// The page's own title; the site's name is appended except on the home page.
    #[prop(into)]
    title: String,
    /// One or two sentences for search results and link previews.
    #[prop(into)]
    description: String,
    /// Canonical path, e.g. `/blog/some-post`.
    #[prop(into)]
    path: String,
    /// OpenGraph type `article` instead of `website`.
    #[prop(optional)]
    article: bool,
) -> impl IntoView {
    let site = site_info();
    let url = format!("{}{}", site.site_url, path);
    let title = if path == "/" || site.name.is_empty() {
        title
    } else {
        format!("{title} — {}", site.name)
    };
    let kind = if article { "article" } else { "website" };
    view! {
        <Title text=title.clone() />
        <Meta name="description" content=description.clone() />
        <Link rel="canonical" href=url.clone() />
        <Meta property="og:type" content=kind />
        <Meta property="og:site_name" content=site.name />
        <Meta property="og:title" content=title.clone() />
        <Meta property="og:description" content=description.clone() />
        <Meta property="og:url" content=url />
        <Meta name="twitter:card" content="summary" />
        <Meta name="twitter:title" content=title />
        <Meta name="twitter:description" content=description />
    }
}
