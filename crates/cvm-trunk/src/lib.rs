//! Trunk blobs from pretrained weights: EfficientNet-Lite0 (`.pth`, efficientnet_pytorch names) → BatchNorm
//! folded into the convolutions → a `cvm-trunk` safetensors blob; and the ImageNet check of such a blob.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use cvm::efficientnet::{FEATURES, IMAGENET_CLASSES, block_shapes};
use cvm::params::HostParam;
use pytorch_reader::PytorchReader;

/// BatchNorm epsilon the weights were trained with (TensorFlow's default).
const BN_EPS: f32 = 1e-3;

struct Weights(HashMap<String, (Vec<usize>, Vec<f32>)>);

impl Weights {
    fn read(path: &Path) -> Result<Self> {
        let reader = PytorchReader::new(path)
            .with_context(|| format!("{} is not a readable PyTorch checkpoint", path.display()))?;
        let mut out = HashMap::new();
        for (name, tensor) in reader.tensors() {
            if name.ends_with("num_batches_tracked") {
                continue;
            }
            let bytes = tensor.read().with_context(|| format!("tensor `{name}` cannot be read (truncated file?)"))?;
            let values: Vec<f32> = match tensor.dtype() {
                pytorch_reader::DType::F32 => {
                    bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
                }
                other => bail!("tensor `{name}` has dtype {other:?}; expected F32"),
            };
            out.insert(name.clone(), (tensor.shape().to_vec(), values));
        }
        Ok(Self(out))
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let (s, v) = self
            .0
            .get(name)
            .with_context(|| format!("tensor `{name}` is missing: not an EfficientNet-Lite0 checkpoint"))?;
        ensure!(
            s == shape,
            "tensor `{name}` has shape {s:?}, expected {shape:?}: not an EfficientNet-Lite0 checkpoint"
        );
        Ok(v)
    }

    /// A convolution `conv` followed by BatchNorm `bn`, folded into one convolution with a bias.
    fn folded(&self, conv: &str, bn: &str, path: &str, shape: [usize; 4]) -> Result<[HostParam; 2]> {
        let w = self.get(&format!("{conv}.weight"), &shape)?;
        let n = shape[0];
        let gamma = self.get(&format!("{bn}.weight"), &[n])?;
        let beta = self.get(&format!("{bn}.bias"), &[n])?;
        let mean = self.get(&format!("{bn}.running_mean"), &[n])?;
        let var = self.get(&format!("{bn}.running_var"), &[n])?;
        let per = w.len() / n;
        let scale: Vec<f32> = (0..n).map(|c| gamma[c] / (var[c] + BN_EPS).sqrt()).collect();
        let weight = w.iter().enumerate().map(|(i, v)| v * scale[i / per]).collect();
        let bias = (0..n).map(|c| beta[c] - mean[c] * scale[c]).collect();
        Ok([
            HostParam { path: format!("{path}.weight"), shape: shape.to_vec(), values: weight },
            HostParam { path: format!("{path}.bias"), shape: vec![n], values: bias },
        ])
    }
}

/// Reads an EfficientNet-Lite0 checkpoint and returns the trunk's parameters with BatchNorm folded in, under the
/// core's paths; with `classifier`, also the ImageNet head (transposed to burn's `[in, out]`).
pub fn convert(pth: &Path, classifier: bool) -> Result<Vec<HostParam>> {
    let w = Weights::read(pth)?;
    let mut params = Vec::new();
    params.extend(w.folded("_conv_stem", "_bn0", "stem", [32, 3, 3, 3])?);
    for (i, (e, k, _, input, output)) in block_shapes().into_iter().enumerate() {
        let hidden = input * e;
        let b = format!("_blocks.{i}");
        if e != 1 {
            params.extend(w.folded(
                &format!("{b}._expand_conv"),
                &format!("{b}._bn0"),
                &format!("blocks.{i}.expand"),
                [hidden, input, 1, 1],
            )?);
        }
        params.extend(w.folded(
            &format!("{b}._depthwise_conv"),
            &format!("{b}._bn1"),
            &format!("blocks.{i}.depthwise"),
            [hidden, 1, k, k],
        )?);
        params.extend(w.folded(
            &format!("{b}._project_conv"),
            &format!("{b}._bn2"),
            &format!("blocks.{i}.project"),
            [output, hidden, 1, 1],
        )?);
    }
    params.extend(w.folded("_conv_head", "_bn1", "head", [FEATURES, 320, 1, 1])?);
    if classifier {
        let fc = w.get("_fc.weight", &[IMAGENET_CLASSES, FEATURES])?;
        let transposed = (0..FEATURES).flat_map(|i| (0..IMAGENET_CLASSES).map(move |o| fc[o * FEATURES + i])).collect();
        params.push(HostParam {
            path: "classifier.weight".into(),
            shape: vec![FEATURES, IMAGENET_CLASSES],
            values: transposed,
        });
        params.push(HostParam {
            path: "classifier.bias".into(),
            shape: vec![IMAGENET_CLASSES],
            values: w.get("_fc.bias", &[IMAGENET_CLASSES])?.to_vec(),
        });
    }
    Ok(params)
}

/// ImageNet photos named `imagenet_NN_LABEL.jpg` (foolbox's samples): `(file, label)` pairs, sorted.
pub fn labelled_photos(dir: &Path) -> Result<Vec<(std::path::PathBuf, usize)>> {
    let mut photos = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if let Some(rest) = name.strip_prefix("imagenet_") {
            let label =
                rest.rsplit('_').next().and_then(|l| l.parse().ok()).with_context(|| format!("no label in {name}"))?;
            photos.push((path, label));
        }
    }
    photos.sort();
    Ok(photos)
}

/// Reads the ImageNet class → concept mapping (`crates/cvm-concepts/data/imagenet.tsv`, written by
/// `cvm-concepts vocab`: `label<TAB>WordNet id<TAB>name` rows after `#` comments): the vocabulary name of each of
/// the 1000 labels, in label order.
pub fn imagenet_concepts(text: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [label, _, name] = fields[..] else {
            bail!("ImageNet mapping line `{line}` is not label<TAB>wnid<TAB>name")
        };
        ensure!(
            label.parse::<usize>().ok() == Some(names.len()),
            "ImageNet mapping: label {label} out of order (expected {})",
            names.len()
        );
        names.push(name.to_string());
    }
    ensure!(
        names.len() == IMAGENET_CLASSES,
        "ImageNet mapping: expected {IMAGENET_CLASSES} classes, found {}",
        names.len()
    );
    Ok(names)
}
