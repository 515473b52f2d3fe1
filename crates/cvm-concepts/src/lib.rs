//! Concept-space blobs from a real language model, built offline.
//!
//! `names → prompt → language model → raw vector → centre over the vocabulary → optional PCA → unit length`,
//! written as a `cvm-concepts` safetensors blob with its provenance (see [`cvm::concepts`]).

pub mod minilm;
pub mod smollm2;
pub mod vocab;

use std::time::Instant;

use anyhow::{Result, ensure};
use cvm::blob::Metadata;
use cvm::{BlobDtype, ConceptBlob};
use nalgebra::{DMatrix, SymmetricEigen};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Bumped whenever the same inputs would give a different blob.
pub const RECIPE_VERSION: u32 = 1;

/// The default SmolLM2 prompt; `{name}` is replaced by the concept name.
pub const SMOLLM2_TEMPLATE: &str = "This word: \"{name}\" means in one word: \"";

/// Which language model embeds the names.
pub enum LanguageModel {
    SmolLm2(smollm2::SmolLm),
    MiniLm(minilm::MiniLm),
}

impl LanguageModel {
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        match self {
            Self::SmolLm2(m) => m.embed(texts),
            Self::MiniLm(m) => m.embed(texts),
        }
    }
}

/// Options of one build, recorded in the blob.
pub struct BuildOptions {
    pub template: String,
    pub dims: Option<usize>,
    pub dtype: BlobDtype,
    /// Provenance written as metadata (model id, source package, its sha256, pooling, ...).
    pub provenance: Metadata,
}

/// Centred (and optionally PCA-reduced) unit vectors, with the mean and projection that produced them.
pub struct Projected {
    pub rows: Vec<f32>,
    pub dim: usize,
    pub mean: Vec<f32>,
    pub projection: Option<Vec<f32>>,
}

/// Centres `raw` (`n` rows of `width`) over its rows, optionally projects onto the top `dims` principal axes
/// (signs fixed so each axis's largest component is positive, for determinism), and L2-normalises.
pub fn project(raw: &[Vec<f32>], dims: Option<usize>) -> Result<Projected> {
    let n = raw.len();
    ensure!(n >= 2, "need at least two names to centre a vocabulary");
    let width = raw[0].len();
    ensure!(raw.iter().all(|r| r.len() == width), "embeddings differ in width");
    ensure!(raw.iter().flatten().all(|v| v.is_finite()), "the model produced non-finite values");
    let mut mean = vec![0f64; width];
    raw.iter().for_each(|r| r.iter().zip(&mut mean).for_each(|(v, m)| *m += *v as f64 / n as f64));
    let centred = DMatrix::from_fn(n, width, |i, j| raw[i][j] as f64 - mean[j]);
    let (matrix, projection) = match dims {
        None => (centred, None),
        Some(d) => {
            ensure!(d >= 2 && d <= width.min(n), "--dims must be in 2..={}", width.min(n));
            let cov = centred.transpose() * &centred / (n as f64 - 1.0);
            let eig = SymmetricEigen::new(cov);
            let mut order: Vec<usize> = (0..width).collect();
            order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]).then(a.cmp(&b)));
            let mut p = DMatrix::zeros(width, d);
            for (k, &axis) in order[..d].iter().enumerate() {
                let mut column = eig.eigenvectors.column(axis).into_owned();
                let peak = column.iter().copied().fold(0.0f64, |acc, v| if v.abs() > acc.abs() { v } else { acc });
                if peak < 0.0 {
                    column = -column;
                }
                p.set_column(k, &column);
            }
            let projected = &centred * &p;
            (
                projected,
                Some((0..width).flat_map(|i| (0..d).map(move |k| (i, k))).map(|(i, k)| p[(i, k)] as f32).collect()),
            )
        }
    };
    let dim = matrix.ncols();
    let mut rows = Vec::with_capacity(n * dim);
    for i in 0..n {
        let row = matrix.row(i);
        let norm = row.norm();
        ensure!(norm > 1e-9, "name {i} embeds at the vocabulary mean: it cannot be told apart");
        rows.extend(row.iter().map(|v| (v / norm) as f32));
    }
    Ok(Projected { rows, dim, mean: mean.into_iter().map(|v| v as f32).collect(), projection })
}

/// Embeds `names` and writes the blob bytes; returns them with the throughput in concepts per second.
pub fn build(model: &mut LanguageModel, names: &[String], options: &BuildOptions) -> Result<(Vec<u8>, f64)> {
    let started = Instant::now();
    let prompts: Vec<String> = names.iter().map(|n| options.template.replace("{name}", n)).collect();
    let raw = model.embed(&prompts)?;
    let per_second = names.len() as f64 / started.elapsed().as_secs_f64();
    let projected = project(&raw, options.dims)?;

    let vocab_sha: String = Sha256::digest(names.join("\n").as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let mut metadata = options.provenance.clone();
    metadata.insert("template".into(), Value::from(options.template.clone()));
    metadata.insert("centering".into(), Value::from("mean over the vocabulary, stored as `mean`"));
    metadata.insert("pca".into(), options.dims.map_or(Value::from("none"), Value::from));
    metadata.insert("n".into(), Value::from(names.len()));
    metadata.insert("d".into(), Value::from(projected.dim));
    metadata.insert("raw_dim".into(), Value::from(projected.mean.len()));
    metadata.insert("vocabulary_sha256".into(), Value::from(vocab_sha));
    metadata.insert("recipe_version".into(), Value::from(RECIPE_VERSION));
    let blob = ConceptBlob {
        names: names.to_vec(),
        embeddings: projected.rows,
        dim: projected.dim,
        mean: Some(projected.mean),
        projection: projected.projection,
        metadata,
    };
    Ok((blob.to_bytes(options.dtype)?, per_second))
}

/// Share of `(a, b, c)` triples where `a` is closer to `b` than to `c` in `space`; triples naming a concept
/// outside the vocabulary are errors.
pub fn triple_accuracy(space: &cvm::ConceptSpace, triples: &[(String, String, String)]) -> Result<(usize, usize)> {
    let cos = |x: usize, y: usize| space.embedding(x).iter().zip(space.embedding(y)).map(|(a, b)| a * b).sum::<f32>();
    let mut held = 0;
    for (a, b, c) in triples {
        let (a, b, c) = (space.lookup(a)?, space.lookup(b)?, space.lookup(c)?);
        held += usize::from(cos(a, b) > cos(a, c));
    }
    Ok((held, triples.len()))
}

/// Reads a tab-separated triples file (`a\tb\tc` per line, `#` comments).
pub fn read_triples(text: &str) -> Result<Vec<(String, String, String)>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split('\t').map(str::trim).collect::<Vec<_>>()[..] {
            [a, b, c] => Ok((a.to_string(), b.to_string(), c.to_string())),
            _ => anyhow::bail!("triples line is not `a<TAB>b<TAB>c`: {l}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_centres_reduces_and_normalises() {
        let raw: Vec<Vec<f32>> =
            (0..20).map(|i| (0..6).map(|j| ((i * 7 + j * 3) % 11) as f32 + 100.0).collect()).collect();
        let full = project(&raw, None).unwrap();
        assert_eq!(full.dim, 6);
        assert!((full.mean[0] - raw.iter().map(|r| r[0]).sum::<f32>() / 20.0).abs() < 1e-4);
        let pca = project(&raw, Some(3)).unwrap();
        assert_eq!((pca.dim, pca.projection.as_ref().unwrap().len()), (3, 18));
        for rows in [&full.rows, &pca.rows] {
            let d = rows.len() / 20;
            assert!(rows.chunks(d).all(|r| (r.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-4));
        }
        assert_eq!(project(&raw, Some(3)).unwrap().rows, pca.rows, "PCA is deterministic");
        assert!(project(&raw, Some(7)).is_err());
        assert!(project(&raw[..1], None).is_err());
    }

    #[test]
    fn triples_parse() {
        assert_eq!(read_triples("# c\ncat\tdog\ttruck\n").unwrap().len(), 1);
        assert!(read_triples("cat dog truck").is_err());
    }
}
