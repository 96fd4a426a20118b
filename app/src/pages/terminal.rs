//! The Terminal page: the shell, and what it can and cannot do.

use leptos::prelude::*;

use super::PageMeta;
use crate::terminal::Terminal;

/// A full page for the shell, with its limits explained.
#[component]
pub fn TerminalPage() -> impl IntoView {
    view! {
        <PageMeta
            title="Your own Linux shell"
            description="A real bash in a container made for this browser tab alone: GCC, Python, vi. No network, one hour at most, and nothing is kept."
            path="/terminal"
        />
        <header class="page-header">
            <h1>"Your own Linux shell"</h1>
            <p class="lede">
                "A real bash in a container made for this tab alone. Start with "
                <code>"cat README"</code>"."
            </p>
        </header>
        <Terminal />
        <section class="limits" aria-labelledby="limits">
            <h2 id="limits">"The limits"</h2>
            <ul>
                <li><strong>"No network."</strong>" Nothing in the container can reach the internet or this server."</li>
                <li><strong>"60 minutes at most."</strong>" You get a warning five minutes and one minute before the end."</li>
                <li><strong>"Files vanish."</strong>" Your home is in memory; closing the tab removes the container after 30 seconds (a reload within that keeps it)."</li>
                <li><strong>"Small."</strong>" 128 MiB of memory, half a CPU, 128 processes, 50 MiB of disk in your home and in /tmp."</li>
            </ul>
        </section>
    }
}
