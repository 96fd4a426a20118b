//! Content from `content/`: the profile and the Markdown posts.
//!
//! The model types travel to the browser; parsing, rendering and the sandbox home files are
//! server-only, so pulldown-cmark and toml never reach the WASM bundle.

pub mod model;
pub mod query;

#[cfg(feature = "ssr")]
mod front_matter;
#[cfg(feature = "ssr")]
mod highlight;
#[cfg(feature = "ssr")]
pub mod home;
#[cfg(feature = "ssr")]
mod markdown;
#[cfg(feature = "ssr")]
mod site;

#[cfg(feature = "ssr")]
pub use highlight::escape;
#[cfg(feature = "ssr")]
pub use site::{is_slug, site, ContentError, Site, SITE_URL_VAR};
