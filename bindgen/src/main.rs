//! `site-bindgen INPUT.wasm OUT_DIR NAME`: what `wasm-bindgen --target web --no-typescript
//! --out-name NAME --out-dir OUT_DIR INPUT.wasm` does, run by `scripts/build-site.sh`. Writes
//! `NAME.js` (the glue the page imports) and `NAME_bg.wasm`.
//!
//! A bundle with split points (Leptos' `#[lazy]`) is split first, as cargo-leptos' `--split`
//! does: the parts loaded on first use go to `OUT_DIR` as `*.wasm` beside their loader
//! (`__wasm_split.*.js`, which the main part imports), and the main part goes through
//! wasm-bindgen with the linker's exports kept, since the parts call into it by those names.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// The module the split points import their loaders from once split (the name Leptos'
/// `#[lazy]` uses), written beside the glue.
const LINK_NAME: &str = "./__wasm_split.______________________.js";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, name] = args.as_slice() else {
        bail!("usage: site-bindgen INPUT.wasm OUT_DIR NAME");
    };
    let input = PathBuf::from(input);
    let out_dir = Path::new(out_dir);
    let wasm = std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
    let split = has_split_points(&wasm);
    let main_part = if split {
        split_off_lazy_parts(&wasm, out_dir, name)?
    } else {
        input.clone()
    };
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&main_part)
        .web(true)?
        .typescript(false)
        .keep_lld_exports(split)
        .demangle(!split)
        // As the CLI: the glue finds NAME_bg.wasm beside itself when not told where.
        .omit_default_module_path(false)
        .out_name(name)
        .generate(out_dir)
        .with_context(|| format!("generating the JS glue of {}", input.display()))?;
    if split {
        std::fs::remove_file(&main_part)?;
    }
    Ok(())
}

/// Whether the bundle has split points: their macro leaves a custom section of this name.
fn has_split_points(wasm: &[u8]) -> bool {
    let needle = b"__wasm_split_unstable";
    wasm.windows(needle.len()).any(|window| window == needle)
}

/// Splits the lazily loaded parts off into `out_dir`; returns the main part's path.
fn split_off_lazy_parts(wasm: &[u8], out_dir: &Path, name: &str) -> Result<PathBuf> {
    let main_part = out_dir.join(format!("{name}_split.wasm"));
    let main_module = format!("./{name}.js");
    let mut options = wasm_split_cli_support::Options::new(wasm);
    options.output_dir = out_dir;
    options.main_out_path = &main_part;
    options.main_module = &main_module;
    options.link_name = LINK_NAME;
    let split = wasm_split_cli_support::transform(options)
        .map_err(|error| anyhow!("splitting the bundle's lazily loaded parts: {error:#}"))?;
    let names: Vec<String> = split
        .split_modules
        .iter()
        .filter_map(|part| part.file_name())
        .map(|file| file.to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "site-bindgen: {} parts loaded on first use: {}",
        names.len(),
        names.join(" ")
    );
    Ok(main_part)
}
