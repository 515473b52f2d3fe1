//! The browser side: the npm package (`cargo xtask pkg`), the headless browser tests and the npm consumer test.
//!
//! wasm-pack runs with `--release` for both the package and the browser tests, so the wasm build of burn is
//! compiled once and shared; wasm-opt is off (see `crates/cvm-wasm/Cargo.toml`).

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use crate::{Ctx, Result, assets, run};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn pkg_dir(ctx: &Ctx) -> PathBuf {
    ctx.root.join("pkg")
}

/// `wasm-pack build` of the façade into `out`, with cargo's `extra` arguments.
fn wasm_pack_build(ctx: &Ctx, out: &std::path::Path, extra: &[&str]) -> Result {
    run(Command::new("wasm-pack")
        .current_dir(ctx.root.join("crates/cvm-wasm"))
        .args(["build", "--release", "--target", "web", "--out-dir"])
        .arg(out)
        .args(["--out-name", "cvm_wasm", "--"])
        .args(extra))
}

/// The package built without its WebGPU backend (in the target directory): what the page loads first.
fn cpu_pkg_dir(ctx: &Ctx) -> PathBuf {
    ctx.target_dir().join("pkg-cpu")
}

/// Builds the npm package into `pkg/`.
pub fn pkg(ctx: &Ctx) -> Result {
    wasm_pack_build(ctx, &pkg_dir(ctx), &[])?;
    let wasm = pkg_dir(ctx).join("cvm_wasm_bg.wasm");
    let raw = fs::metadata(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))?.len();
    println!(
        "pkg: {} — {:.2} MB raw (`cargo xtask bench sizes`: every shipped file, gzip and brotli)",
        wasm.display(),
        raw as f64 / 1e6
    );
    Ok(())
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

/// `wasm-pack test` of the façade in headless Chromium, on WebGPU (SwiftShader) and on the CPU, with the
/// trunk's ImageNet check compiled in, and tier 1's reference losses and trunk features to compare against.
pub fn browser_tests(ctx: &Ctx, golden_losses: &str, golden_features: &str) -> Result {
    run(Command::new("wasm-pack")
        .current_dir(ctx.root.join("crates/cvm-wasm"))
        .args(["test", "--headless", "--chrome", "--release", "--", "--features", "imagenet-test"])
        .env("CVM_ASSETS", assets::assets_dir(ctx))
        .env("CVM_PHOTOS", ctx.data().join("foolbox"))
        .env("CHROMEDRIVER", CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "1800")
        .env("CVM_GOLDEN_LOSSES", golden_losses)
        .env("CVM_GOLDEN_FEATURES", golden_features))
}

fn npm(dir: &std::path::Path, args: &[&str]) -> Result {
    run(Command::new("npm").current_dir(dir).args(args).args(["--no-audit", "--no-fund", "--loglevel=error"]))
}

fn copy(from: &std::path::Path, to: &std::path::Path) -> Result {
    fs::create_dir_all(to.parent().expect("has a parent")).map_err(|e| e.to_string())?;
    fs::copy(from, to).map(|_| ()).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
}

/// Fills `www/generated/` (ignored by git) with what the page loads besides its own files: the wasm package
/// from `pkg/` (the very build the npm package ships) and the package built for the CPU only (`pkg-cpu/`, what
/// the page loads first), the default concept and student blobs, and idb-keyval.
pub fn prepare_page(ctx: &Ctx) -> Result {
    let www = ctx.root.join("www");
    let generated = www.join("generated");
    npm(&www, &["ci"])?;
    wasm_pack_build(ctx, &cpu_pkg_dir(ctx), &["--no-default-features"])?;
    for (from, to) in [(pkg_dir(ctx), "pkg"), (cpu_pkg_dir(ctx), "pkg-cpu")] {
        for file in ["cvm_wasm.js", "cvm_wasm_bg.wasm"] {
            copy(&from.join(file), &generated.join(to).join(file))?;
        }
    }
    copy(&assets::concept_blob(ctx, "smollm2"), &generated.join("concepts.safetensors"))?;
    copy(&assets::student_blob(ctx, false), &generated.join("student.safetensors"))?;
    copy(&www.join("node_modules/idb-keyval/dist/index.js"), &generated.join("idb-keyval.js"))
}

/// `cargo xtask bench sizes`: builds the package and the page, then prints the size of every file the page ships.
pub fn sizes(ctx: &Ctx) -> Result {
    pkg(ctx)?;
    prepare_page(ctx)?;
    let www = ctx.root.join("www");
    let shipped: Vec<(String, PathBuf)> =
        ["index.html", "style.css", "app.js", "worker.js", "sw.js", "manifest.webmanifest", "icon.svg"]
            .iter()
            .map(|f| (f.to_string(), www.join(f)))
            .chain(
                [
                    "pkg-cpu/cvm_wasm.js",
                    "pkg-cpu/cvm_wasm_bg.wasm",
                    "pkg/cvm_wasm.js",
                    "pkg/cvm_wasm_bg.wasm",
                    "idb-keyval.js",
                    "concepts.safetensors",
                    "student.safetensors",
                ]
                .iter()
                .map(|f| (f.to_string(), www.join("generated").join(f))),
            )
            .collect();
    print_sizes(
        "What the page ships (a visitor on the CPU downloads all of it but pkg/; one on WebGPU, all of it):",
        &shipped,
    )
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

/// The browser benchmarks of `crates/cvm-bench/browser` (`mode`: `train` or `webcam`) against a fresh `pkg/`.
pub fn browser_bench(ctx: &Ctx, mode: &str, out: Option<&str>) -> Result {
    pkg(ctx)?;
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
    if let Some(out) = out {
        // Relative to the workspace root, like the native benchmarks' outputs (cargo runs them there).
        cmd.arg("--out").arg(ctx.root.join(out));
    }
    run(&mut cmd)
}

/// Builds the page with Trunk into `dist/` and serves it on loopback.
pub fn demo(ctx: &Ctx, port: u16) -> Result {
    prepare_page(ctx)?;
    println!("serving the demo on http://127.0.0.1:{port}/ (Ctrl-C stops)");
    run(Command::new("trunk").current_dir(&ctx.root).args([
        "serve",
        "--config",
        "Trunk.toml",
        "--address",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--no-autoreload",
    ]))
}
