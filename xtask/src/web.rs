//! The browser side: the npm package (`cargo xtask pkg`), the headless browser tests and the npm consumer test.
//!
//! wasm-pack runs with `--release` for both the package and the browser tests, so the wasm build of burn is
//! compiled once and shared; wasm-opt is off (see `crates/cvm-wasm/Cargo.toml`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Ctx, Result, assets, run, setup};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn pkg_dir(ctx: &Ctx) -> PathBuf {
    ctx.root.join("pkg")
}

/// `wasm-pack build` of the façade into `out`; cargo's arguments follow.
fn wasm_pack_build(ctx: &Ctx, out: &Path) -> Command {
    let mut cmd = Command::new("wasm-pack");
    cmd.current_dir(ctx.root.join("crates/cvm-wasm"))
        .args(["build", "--release", "--target", "web", "--out-dir"])
        .arg(out)
        .args(["--out-name", "cvm_wasm", "--"]);
    cmd
}

/// The package's two builds of the façade: (directory in `pkg/`, cargo arguments).
pub const BUILDS: [(&str, &[&str]); 2] = [("cpu", &["--no-default-features"]), ("webgpu", &[])];

/// Builds the npm package into `pkg/`: the CPU-only build (`cpu/`, no WebGPU backend) and the whole one
/// (`webgpu/`) behind one module, `index.js` (`crates/cvm-wasm/js/`), which loads the second only when a learner
/// needs WebGPU. Both builds must declare the same API.
pub fn pkg(ctx: &Ctx) -> Result {
    let pkg = pkg_dir(ctx);
    if pkg.exists() {
        fs::remove_dir_all(&pkg).map_err(|e| format!("{}: {e}", pkg.display()))?;
    }
    for (dir, extra) in BUILDS {
        run(wasm_pack_build(ctx, &pkg.join(dir)).args(extra))?;
    }
    let read = |path: PathBuf| fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
    // The API is what comes before wasm-bindgen's own start-up declarations (which list each build's internals).
    let api = |dir: &str| {
        read(pkg.join(dir).join("cvm_wasm.d.ts")).map(|d| d.split("export type InitInput").next().map(String::from))
    };
    if api("cpu")? != api("webgpu")? {
        return Err("the CPU-only and the whole build declare different APIs (pkg/*/cvm_wasm.d.ts)".into());
    }
    // wasm-pack's manifest (name, version, description, licence from Cargo.toml), pointed at the wrapper.
    let mut manifest: serde_json::Value =
        serde_json::from_str(&read(pkg.join("webgpu/package.json"))?).map_err(|e| e.to_string())?;
    let files = ["index.js", "index.d.ts"].into_iter().map(String::from).chain(BUILDS.iter().flat_map(|(dir, _)| {
        ["cvm_wasm.js", "cvm_wasm.d.ts", "cvm_wasm_bg.wasm", "cvm_wasm_bg.wasm.d.ts"].map(|f| format!("{dir}/{f}"))
    }));
    manifest["files"] = files.collect();
    manifest["main"] = "index.js".into();
    manifest["types"] = "index.d.ts".into();
    manifest["sideEffects"] = BUILDS.iter().map(|(dir, _)| format!("./{dir}/snippets/*")).collect();
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n";
    fs::write(pkg.join("package.json"), text).map_err(|e| e.to_string())?;
    for (dir, _) in BUILDS {
        for leftover in ["package.json", "README.md", ".gitignore"] {
            let _ = fs::remove_file(pkg.join(dir).join(leftover));
        }
    }
    let js = ctx.root.join("crates/cvm-wasm");
    for (from, to) in [("js/index.js", "index.js"), ("js/index.d.ts", "index.d.ts"), ("README.md", "README.md")] {
        copy(&js.join(from), &pkg.join(to))?;
    }
    // Shipped without function names; the named wasm (readable panic traces) is kept in the target directory.
    for (dir, _) in BUILDS {
        let wasm = pkg.join(dir).join("cvm_wasm_bg.wasm");
        let named = fs::read(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))?;
        let stripped = without_names(&named).map_err(|e| format!("{}: {e}", wasm.display()))?;
        let keep = named_wasm_dir(ctx).join(dir).join("cvm_wasm_bg.wasm");
        fs::create_dir_all(keep.parent().expect("has a parent")).map_err(|e| e.to_string())?;
        fs::write(&keep, &named).and_then(|()| fs::write(&wasm, &stripped)).map_err(|e| e.to_string())?;
        println!(
            "pkg: {} — {:.2} MB raw ({:.2} MB with names: {})",
            wasm.display(),
            mb(&stripped),
            mb(&named),
            keep.display()
        );
    }
    println!("(`cargo xtask bench sizes`: every shipped file, gzip and brotli)");
    Ok(())
}

fn mb(bytes: &[u8]) -> f64 {
    bytes.len() as f64 / 1e6
}

/// Where `pkg` keeps each build's wasm with its function names: put one in place of the shipped file for panic
/// traces that name Rust functions.
fn named_wasm_dir(ctx: &Ctx) -> PathBuf {
    ctx.target_dir().join("wasm-with-names")
}

/// `wasm` without its `name` custom section (function names, for stack traces only); every other section as is.
fn without_names(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut module = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| e.to_string())?;
        if matches!(&payload, wasmparser::Payload::CustomSection(c) if c.name() == "name") {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            module.section(&wasm_encoder::RawSection { id, data: &wasm[range] });
        }
    }
    Ok(module.finish())
}

/// Prints, as a Markdown table, the size of each file raw, gzip (best) and brotli (quality 11): what a visitor's
/// browser downloads with each encoding.
fn print_sizes(title: &str, files: &[(String, PathBuf)]) -> Result {
    let kb = |n: usize| format!("{:.0}", (n as f64 / 1e3).ceil());
    println!("{title}\n\n| file | raw (kB) | gzip (kB) | brotli (kB) |\n|---|---|---|---|");
    let mut total = [0; 3];
    for (name, file) in files {
        let raw = fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&raw).map_err(|e| e.to_string())?;
        let gzip = gz.finish().map_err(|e| e.to_string())?.len();
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 24, ..Default::default() };
        brotli::BrotliCompress(&mut raw.as_slice(), &mut br, &params).map_err(|e| e.to_string())?;
        println!("| {name} | {} | {} | {} |", kb(raw.len()), kb(gzip), kb(br.len()));
        for (t, n) in total.iter_mut().zip([raw.len(), gzip, br.len()]) {
            *t += n;
        }
    }
    println!("| all | {} | {} | {} |\n", kb(total[0]), kb(total[1]), kb(total[2]));
    Ok(())
}

/// `wasm-pack test` of the façade in headless Chromium, with the trunk's ImageNet check compiled in and tier 1's
/// reference losses and trunk features to compare against: each build of the package (see [`BUILDS`]), the whole
/// one on WebGPU (SwiftShader) and on the CPU, the CPU-only one on the CPU.
pub fn browser_tests(ctx: &Ctx, golden_losses: &str, golden_features: &str) -> Result {
    for (_, extra) in BUILDS.iter().rev() {
        run(Command::new("wasm-pack")
            .current_dir(ctx.root.join("crates/cvm-wasm"))
            .args(["test", "--headless", "--chrome", "--release", "--"])
            .args(*extra)
            .args(["--features", "imagenet-test"])
            .env("CVM_ASSETS", assets::assets_dir(ctx))
            .env("CVM_PHOTOS", ctx.data().join("foolbox"))
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "1800")
            .env("CVM_GOLDEN_LOSSES", golden_losses)
            .env("CVM_GOLDEN_FEATURES", golden_features))?;
    }
    Ok(())
}

fn npm(dir: &std::path::Path, args: &[&str]) -> Result {
    run(Command::new("npm").current_dir(dir).args(args).args(["--no-audit", "--no-fund", "--loglevel=error"]))
}

fn copy(from: &std::path::Path, to: &std::path::Path) -> Result {
    fs::create_dir_all(to.parent().expect("has a parent")).map_err(|e| e.to_string())?;
    fs::copy(from, to).map(|_| ()).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
}

/// Fills `www/generated/` (ignored by git) with what the page loads besides its own files: the npm package from
/// `pkg/` as built (its `index.js` and both builds), the default concept and trunk blobs, and idb-keyval.
pub fn prepare_page(ctx: &Ctx) -> Result {
    let www = ctx.root.join("www");
    let generated = www.join("generated");
    npm(&www, &["ci"])?;
    for earlier in ["pkg", "pkg-cpu"] {
        let _ = fs::remove_dir_all(generated.join(earlier)); // so no file of an earlier build is left beside these
    }
    copy(&pkg_dir(ctx).join("index.js"), &generated.join("pkg/index.js"))?;
    for (dir, _) in BUILDS {
        for file in ["cvm_wasm.js", "cvm_wasm_bg.wasm"] {
            copy(&pkg_dir(ctx).join(dir).join(file), &generated.join("pkg").join(dir).join(file))?;
        }
    }
    copy(&assets::concept_blob(ctx, "smollm2"), &generated.join("concepts.safetensors"))?;
    copy(&assets::trunk_blob(ctx, false), &generated.join("trunk.safetensors"))?;
    copy(&www.join("node_modules/idb-keyval/dist/index.js"), &generated.join("idb-keyval.js"))
}

/// `cargo xtask bench sizes`: builds the package and the page, then prints the size of every file the page ships.
pub fn sizes(ctx: &Ctx) -> Result {
    pkg(ctx)?;
    prepare_page(ctx)?;
    let www = ctx.root.join("www");
    let shipped: Vec<(String, PathBuf)> = page_files(&www)?
        .into_iter()
        .map(|f| {
            let path = www.join(&f);
            (f, path)
        })
        .chain(
            [
                "pkg/index.js",
                "pkg/cpu/cvm_wasm.js",
                "pkg/cpu/cvm_wasm_bg.wasm",
                "pkg/webgpu/cvm_wasm.js",
                "pkg/webgpu/cvm_wasm_bg.wasm",
                "idb-keyval.js",
                "concepts.safetensors",
                "trunk.safetensors",
            ]
            .iter()
            .map(|f| (f.to_string(), www.join("generated").join(f))),
        )
        .collect();
    print_sizes(
        "What the page ships (a visitor on the CPU downloads all of it but pkg/webgpu/; one on WebGPU, all of it):",
        &shipped,
    )
}

/// The page's own files, as a visitor's browser fetches them: those at the top of `www/` (not its npm manifest or
/// the store screenshot) and its modules in `page/`, by name.
fn page_files(www: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in ["", "page"] {
        for entry in fs::read_dir(www.join(dir)).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if path.is_file() && !name.starts_with("package") && name != "screenshot.png" {
                files.push(if dir.is_empty() { name } else { format!("{dir}/{name}") });
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Node-driven browser tests under `tests/` (npm consumer, demo page end to end), after installing their packages.
pub fn node_tests(ctx: &Ctx) -> Result {
    let tests = ctx.root.join("tests");
    npm(&tests, &["ci"])?;
    npm(&tests.join("npm-consumer"), &["install", "--no-package-lock"])?;
    let artifacts = ctx.target_dir().join("artifacts");
    fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
    run(Command::new("node")
        .current_dir(&tests)
        .args(["--test", "--test-concurrency=1"])
        .env("CVM_ASSETS", assets::assets_dir(ctx))
        .env("CVM_PHOTOS", ctx.data().join("foolbox"))
        .env("CVM_ARTIFACTS", &artifacts))?;
    println!("screenshots: {}", artifacts.display());
    Ok(())
}

/// A Node benchmark script of `tests/` against a fresh package (and the page built as `cargo xtask test` builds
/// it): `bench-release.mjs` (release of Record → the new thing recognised), `bench-soak.mjs` (memory over a
/// long session) or `bench-start.mjs` (a visitor's cold start and repeat visit).
pub fn node_bench(ctx: &Ctx, script: &str, args: &[String]) -> Result {
    pkg(ctx)?;
    prepare_page(ctx)?;
    let tests = ctx.root.join("tests");
    npm(&tests, &["ci"])?;
    // The script runs in tests/: an output file named relative to here must stay where it was meant.
    let here = std::env::current_dir().map_err(|e| e.to_string())?;
    let args: Vec<String> = args
        .iter()
        .enumerate()
        .map(|(i, a)| if i > 0 && args[i - 1] == "--out" { here.join(a).display().to_string() } else { a.clone() })
        .collect();
    run(Command::new("node")
        .current_dir(&tests)
        .arg(script)
        .args(&args)
        .env("CVM_PHOTOS", ctx.data().join("foolbox"))
        .env("CVM_ASSETS", assets::assets_dir(ctx)))
}

/// Rust flags of the threads build, in place of `.cargo/config.toml`'s for wasm (SIMD kept): atomics, and a shared,
/// imported memory (up to 4 GiB) with the thread-local set-up exported, which this rustc links only when asked
/// (without them the memory is not shared and cannot be handed to the helper workers).
const THREADS_RUSTFLAGS: &str = "-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals \
    -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
    -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size -C link-arg=--export=__tls_align \
    -C link-arg=--export=__tls_base";

/// The façade's threads build (`initThreadPool`; the trunk's convolutions on every core of a cross-origin-isolated
/// page), for the trunk benchmark only: [`setup::NIGHTLY`] rebuilds the standard library with atomics, in a target
/// directory of its own (the stable builds' cache stays as it is). Returns the package's directory.
pub fn threads_pkg(ctx: &Ctx) -> Result<PathBuf> {
    setup::nightly()?;
    let out = ctx.target_dir().join("pkg-threads");
    run(wasm_pack_build(ctx, &out)
        .env("RUSTUP_TOOLCHAIN", setup::NIGHTLY)
        .env("CARGO_TARGET_DIR", ctx.target_dir().join("threads"))
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", THREADS_RUSTFLAGS)
        .args(["--no-default-features", "--features", "threads", "-Z", "build-std=panic_abort,std"]))?;
    Ok(out)
}

/// The browser benchmarks of `crates/cvm-bench/browser` (`mode`: `train`, `trunk` or `webcam`) against a fresh
/// `pkg/` (and, for `trunk`, the threads build).
pub fn browser_bench(ctx: &Ctx, mode: &str, out: Option<&str>) -> Result {
    pkg(ctx)?;
    let threads = if mode == "trunk" { Some(threads_pkg(ctx)?) } else { None };
    let bench = ctx.root.join("crates/cvm-bench/browser");
    // run.mjs shares the tests' browser plumbing (and its playwright-core); install it only when missing, so a
    // benchmark never swaps packages under a running test.
    let tests = ctx.root.join("tests");
    if !tests.join("node_modules/playwright-core").is_dir() {
        npm(&tests, &["ci"])?;
    }
    npm(&bench, &["ci"])?;
    let mut cmd = Command::new("node");
    cmd.current_dir(&bench).args(["run.mjs", mode]).env("CVM_ASSETS", assets::assets_dir(ctx));
    if let Some(threads) = threads {
        cmd.env("CVM_THREADS_PKG", threads);
    }
    if let Some(out) = out {
        // Relative to the workspace root, like the native benchmarks' outputs (cargo runs them there).
        cmd.arg("--out").arg(ctx.root.join(out));
    }
    run(&mut cmd)
}

/// Builds the page with Trunk into `dist/` and serves it on loopback, compressed.
pub fn demo(ctx: &Ctx, port: u16) -> Result {
    prepare_page(ctx)?;
    run(Command::new("trunk").current_dir(&ctx.root).args(["build", "--release", "--config", "Trunk.toml"]))?;
    // Served as a static host would, compressed (Trunk's own server sends every file raw: 14 MB on a first visit).
    run(Command::new("node").current_dir(&ctx.root).args(["tests/lib/serve.mjs", "dist", "--port", &port.to_string()]))
}
