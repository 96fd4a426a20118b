//! The landing page: who, what, the live shell, and the latest writing.

use leptos::prelude::*;

use super::{LoadError, Loading, PageMeta, PostCards};
use crate::content::query::get_home;
use crate::terminal::TerminalOnRequest;

/// Who and what, a call to use the shell (right here), recent posts and selected projects.
#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match get_home().await {
                    Ok(data) => {
                        let profile = data.profile;
                        let title = format!("{} — {}", profile.name, profile.role);
                        view! {
                            <PageMeta title description=profile.summary.clone() path="/" />
                            <header class="hero">
                                <h1>{profile.name.clone()}</h1>
                                <p class="role">{format!("{} — {}", capitalise(&profile.role), profile.focus)}</p>
                                <p class="summary">{profile.summary.clone()}</p>
                                <p class="summary">
                                    "Below is a real Linux shell, in a container made for this tab alone when you start it: "
                                    <code>"cat about.md"</code>", compile some C, run Python."
                                </p>
                                <p class="actions">
                                    <a class="button primary" href="#shell">"Try the shell"</a>
                                    <a class="button" href="/about">"Read the resume"</a>
                                    <a class="button" href="/blog">"Read the blog"</a>
                                </p>
                            </header>
                            <div class="home-block">
                                <p>"Or press Run: these lines are typed in your shell below."</p>
                                <div inner_html=data.block_html></div>
                            </div>
                            // Starts when asked for: a reader who never scrolls to it costs no
                            // container, and the page stays a small HTML page until then.
                            <div id="shell">
                                <TerminalOnRequest />
                            </div>
                            <p class="terminal-note">
                                "No network, an hour at most, and your files vanish when you leave: "
                                <a href="/terminal">"what this shell can do"</a>"."
                            </p>
                            <section class="home-section" aria-labelledby="latest">
                                <h2 id="latest">"Latest writing"</h2>
                                <PostCards posts=data.latest />
                                <p><a href="/blog">"All posts"</a></p>
                            </section>
                            <section class="home-section" aria-labelledby="built">
                                <h2 id="built">"Things I have built"</h2>
                                <ul class="project-grid">
                                    {profile
                                        .projects
                                        .into_iter()
                                        .map(|project| {
                                            let href = format!("/projects#{}", project.slug);
                                            view! {
                                                <li>
                                                    <a href=href>{project.name}</a>
                                                    <span>{project.summary}</span>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            </section>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// "systems engineer" → "Systems engineer", for the start of a line.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
