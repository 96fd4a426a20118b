//! About / Resume: the profile in full, the same data as `about.md` in the shell.

use leptos::prelude::*;

use super::home::capitalise;
use super::{LoadError, Loading, PageMeta};
use crate::content::query::get_profile;

/// Summary, experience, skills and links.
#[component]
pub fn About() -> impl IntoView {
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match get_profile().await {
                    Ok(profile) => {
                        view! {
                            <PageMeta title="About and resume" description=profile.summary.clone() path="/about" />
                            <article class="resume">
                                <header class="page-header">
                                    <h1>{format!("About {}", profile.name)}</h1>
                                    <p class="lede">{format!("{} — {}", capitalise(&profile.role), profile.focus)}</p>
                                    <p>{profile.summary.clone()}</p>
                                    <p class="muted">{format!("Based in {}.", profile.location)}</p>
                                </header>
                                <section aria-labelledby="experience">
                                    <h2 id="experience">"Experience"</h2>
                                    <ol class="jobs">
                                        {profile
                                            .experience
                                            .into_iter()
                                            .map(|job| {
                                                view! {
                                                    <li class="job">
                                                        <h3>{format!("{}, {}", job.role, job.company)}</h3>
                                                        <p class="muted">{job.period}</p>
                                                        <p>{job.summary}</p>
                                                        <ul>
                                                            {job.highlights.into_iter().map(|h| view! { <li>{h}</li> }).collect_view()}
                                                        </ul>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ol>
                                </section>
                                <section aria-labelledby="skills">
                                    <h2 id="skills">"Skills"</h2>
                                    <dl class="skills">
                                        {profile
                                            .skills
                                            .into_iter()
                                            .map(|group| view! { <dt>{group.area}</dt><dd>{group.items.join(", ")}</dd> })
                                            .collect_view()}
                                    </dl>
                                </section>
                                <section aria-labelledby="contact">
                                    <h2 id="contact">"Contact"</h2>
                                    <ul class="links">
                                        {profile
                                            .links
                                            .into_iter()
                                            .map(|link| view! { <li><a href=link.url rel="me">{link.label}</a></li> })
                                            .collect_view()}
                                    </ul>
                                    <p class="muted">
                                        "The same text is in the shell: "<code>"cat about.md"</code>" on "
                                        <a href="/terminal">"the terminal page"</a>"."
                                    </p>
                                </section>
                            </article>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
