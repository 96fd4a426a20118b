//! `site-bindgen INPUT.wasm OUT_DIR NAME`: what `wasm-bindgen --target web --no-typescript
//! --out-name NAME --out-dir OUT_DIR INPUT.wasm` does, run by `scripts/build-site.sh`. Writes
//! `NAME.js` (the glue the page imports) and `NAME_bg.wasm`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, name] = args.as_slice() else {
        bail!("usage: site-bindgen INPUT.wasm OUT_DIR NAME");
    };
    let input = PathBuf::from(input);
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .web(true)?
        .typescript(false)
        // As the CLI: the glue finds NAME_bg.wasm beside itself when not told where.
        .omit_default_module_path(false)
        .out_name(name)
        .generate(out_dir)
        .with_context(|| format!("generating the JS glue of {}", input.display()))
}
