//! The Atom feed, `sitemap.xml` and `robots.txt`, built from the same content as the pages.
//!
//! Building this router is also where the server first parses `content/`: a broken post or
//! profile stops the server at startup with the file and line, instead of serving blank pages.

use app::content::model::{Date, SiteInfo};
use app::content::{escape, site, Site};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Routes for `/feed.xml`, `/sitemap.xml` and `/robots.txt`.
///
/// Exits the process with a message naming the file and line when the content cannot be parsed:
/// it runs while the server starts, and serving without content would only hide the mistake.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    if let Err(error) = site() {
        tracing::error!(%error, "the content cannot be used; fix it and start again");
        eprintln!("error: {error}");
        std::process::exit(1);
    }
    Router::new()
        .route("/feed.xml", get(feed))
        .route("/sitemap.xml", get(sitemap))
        .route("/robots.txt", get(robots))
}

/// The parsed content and its base URL, or a 500 that says why (unreachable after startup).
fn content() -> Result<(&'static Site, SiteInfo), (axum::http::StatusCode, String)> {
    site().map(|site| (site, site.info())).map_err(|error| {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            error.to_string(),
        )
    })
}

/// Midnight UTC on a post's date, the precision front matter gives.
fn timestamp(date: &Date) -> String {
    format!("{}T00:00:00Z", date.iso())
}

/// Builds the Atom document for the published posts, newest first.
pub fn atom(site: &Site, info: &SiteInfo) -> String {
    let base = &info.site_url;
    let name = escape(&info.name);
    let updated = site.published().next().map_or_else(
        || "1970-01-01T00:00:00Z".to_string(),
        |post| timestamp(&post.meta.date),
    );
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>{name}</title>\n<subtitle>{} — writing</subtitle>\n\
         <link href=\"{base}/feed.xml\" rel=\"self\"/>\n<link href=\"{base}/blog\"/>\n\
         <id>{base}/blog</id>\n<updated>{updated}</updated>\n<author><name>{name}</name></author>\n",
        escape(&info.role)
    );
    for post in site.published() {
        let meta = &post.meta;
        let url = format!("{base}/blog/{}", meta.slug);
        xml.push_str(&format!(
            "<entry>\n<title>{}</title>\n<link href=\"{url}\"/>\n<id>{url}</id>\n\
             <published>{when}</published>\n<updated>{when}</updated>\n<summary>{}</summary>\n",
            escape(&meta.title),
            escape(&meta.summary),
            when = timestamp(&meta.date),
        ));
        for tag in &meta.tags {
            xml.push_str(&format!("<category term=\"{}\"/>\n", escape(tag)));
        }
        xml.push_str(&format!(
            "<content type=\"html\">{}</content>\n</entry>\n",
            escape(&post.html)
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// Builds the sitemap: the fixed pages, every published post and every tag page.
pub fn sitemap_xml(site: &Site, info: &SiteInfo) -> String {
    let base = &info.site_url;
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in ["/", "/about", "/projects", "/blog", "/terminal"] {
        xml.push_str(&format!("<url><loc>{base}{path}</loc></url>\n"));
    }
    for post in site.published() {
        xml.push_str(&format!(
            "<url><loc>{base}/blog/{}</loc><lastmod>{}</lastmod></url>\n",
            escape(&post.meta.slug),
            post.meta.date.iso()
        ));
    }
    for tag in site.tags() {
        xml.push_str(&format!(
            "<url><loc>{base}/tags/{}</loc></url>\n",
            escape(&tag.tag)
        ));
    }
    xml.push_str("</urlset>\n");
    xml
}

async fn feed() -> impl IntoResponse {
    content().map(|(site, info)| {
        (
            [(CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            atom(site, &info),
        )
    })
}

async fn sitemap() -> impl IntoResponse {
    content().map(|(site, info)| {
        (
            [(CONTENT_TYPE, "application/xml; charset=utf-8")],
            sitemap_xml(site, &info),
        )
    })
}

async fn robots() -> impl IntoResponse {
    content().map(|(_, info)| {
        let body = format!(
            "User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /ws/\n\nSitemap: {}/sitemap.xml\n",
            info.site_url
        );
        ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body)
    })
}
