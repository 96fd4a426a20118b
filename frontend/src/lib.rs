//! The WebAssembly entry point: brings the page's islands (the terminal) to life.

// Linked for its islands: each is a function this module exports, called by the page's loader.
pub use app;

/// Called once by the page's loader (`app::TERMINAL_LOADER`) before it hydrates each island.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
