//! `cvm-trunk`: trunk blobs from pretrained weights.
//!
//! ```text
//! cvm-trunk convert --pth FILE --out FILE [--size 224] [--classifier [--imagenet-concepts FILE]] [--dtype f16|f32|i8]
//! cvm-trunk imagenet --blob FILE --photos DIR      # top-1 on labelled ImageNet photos (needs --classifier)
//! ```

use std::path::Path;

use anyhow::{Context, Result, bail};
use cvm::burn::tensor::Device;
use cvm::trunk::{Trunk, write_trunk_blob};
use cvm::{BlobDtype, ImageView, PixelFormat, Preprocessor};
use serde_json::Value;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn read(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("convert") => {
            let pth = value(&args, "--pth").context("--pth FILE is required")?;
            let out = value(&args, "--out").context("--out FILE is required")?;
            let size = value(&args, "--size").map_or(Ok(224), str::parse).context("--size takes a number")?;
            let classifier = args.iter().any(|a| a == "--classifier");
            let dtype: BlobDtype = value(&args, "--dtype").unwrap_or("f16").parse().map_err(anyhow::Error::msg)?;
            let params = cvm_trunk::convert(Path::new(pth), classifier)?;
            let mut metadata = cvm::blob::Metadata::new();
            for flag in ["--source", "--source-sha256"] {
                if let Some(v) = value(&args, flag) {
                    metadata.insert(flag.trim_start_matches("--").replace('-', "_"), Value::from(v));
                }
            }
            metadata.insert("batchnorm".into(), Value::from("folded into the convolutions (eps 1e-3)"));
            let names = value(&args, "--imagenet-concepts")
                .map(|path| cvm_trunk::imagenet_concepts(&String::from_utf8(read(path)?)?))
                .transpose()?;
            let bytes = write_trunk_blob(&params, size, classifier, dtype, names.as_deref(), metadata)?;
            std::fs::write(out, &bytes).with_context(|| format!("cannot write {out}"))?;
            println!("{} tensors → {out}: {:.2} MB", params.len(), bytes.len() as f64 / 1e6);
            Ok(())
        }
        Some("imagenet") => {
            let blob = std::fs::read(value(&args, "--blob").context("--blob FILE is required")?)?;
            let trunk = Trunk::from_bytes(&blob, &Device::flex())?;
            let photos =
                cvm_trunk::labelled_photos(Path::new(value(&args, "--photos").context("--photos DIR is required")?))?;
            let mut pre = Preprocessor::new(trunk.input())?;
            let mut correct = 0;
            for (path, label) in &photos {
                let rgb = image::open(path).with_context(|| format!("{}", path.display()))?.to_rgb8();
                let view =
                    ImageView::new(rgb.width() as usize, rgb.height() as usize, PixelFormat::Rgb8, rgb.as_raw())?;
                let probabilities = pollster::block_on(trunk.imagenet(&pre.to_vec(view)?, 1))?;
                let top =
                    probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
                correct += usize::from(top == *label);
                println!(
                    "{}: label {label}, top-1 {top} ({:.2})",
                    path.file_name().unwrap().to_string_lossy(),
                    probabilities[top]
                );
            }
            println!("top-1: {correct}/{}", photos.len());
            Ok(())
        }
        _ => bail!("usage: cvm-trunk <convert | imagenet> (see the crate docs)"),
    }
}
