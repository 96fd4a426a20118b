//! Projects: everything from the profile's `[[projects]]`, with anchors the Home page links to.

use leptos::prelude::*;

use super::{LoadError, Loading, PageMeta};
use crate::content::query::get_profile;

/// One card per project.
#[component]
pub fn Projects() -> impl IntoView {
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match get_profile().await {
                    Ok(profile) => {
                        let description = format!("Things {} has built.", profile.name);
                        view! {
                            <PageMeta title="Projects" description path="/projects" />
                            <header class="page-header">
                                <h1>"Projects"</h1>
                                <p class="lede">
                                    "Each is also a file in the shell: "<code>"ls projects/"</code>"."
                                </p>
                            </header>
                            <ul class="project-cards">
                                {profile
                                    .projects
                                    .into_iter()
                                    .map(|project| {
                                        view! {
                                            <li class="project-card" id=project.slug.clone()>
                                                <h2>{project.name.clone()}</h2>
                                                <p class="muted">{project.summary}</p>
                                                <p>{project.description}</p>
                                                <p class="project-tags">{project.tags.join(" · ")}</p>
                                                <p>
                                                    <a href=project.url>{format!("Source of {}", project.name)}</a>
                                                </p>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <LoadError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
