//! The concept space: a fixed vocabulary of names with one unit vector each, loaded from a safetensors blob.
//!
//! Blob layout (`format = "cvm-concepts"`, `version = 2`; version 1 had no int8):
//! - tensor `embeddings`: `[n, d]`, f32, f16 or int8 with a scale per row (see [`crate::blob`]), one row per
//!   name (centred over the vocabulary, unit length);
//! - optional tensors `mean` `[D]` and `projection` `[D, d]` (f32): how a raw language-model vector becomes a
//!   row (subtract the mean, project, normalise), so names outside the vocabulary can be embedded the same way;
//! - metadata (see [`crate::blob`]) `names`: JSON array of display names (keys are their normalised forms),
//!   plus free-form provenance (`model`, `template`, `pooling`, `source`, `sha256`, ...).

use std::collections::HashMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::blob::{self, BlobDtype, Metadata, OwnedTensor};
use crate::error::{CvmError, Result};

pub const CONCEPTS_FORMAT: &str = "cvm-concepts";
pub const CONCEPTS_VERSION: u32 = 2;
/// Largest accepted safetensors header (names and metadata live there).
pub const MAX_HEADER_BYTES: u64 = 16 << 20;
/// Longest accepted concept name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// Names longer than [`MAX_NAME_CHARS`] are refused before any work is spent on them.
pub fn check_name_length(name: &str) -> Result<()> {
    if name.chars().nth(MAX_NAME_CHARS).is_some() {
        return Err(CvmError::arg(format!(
            "a name is at most {MAX_NAME_CHARS} characters, got {}",
            name.chars().count()
        )));
    }
    Ok(())
}

const WHAT: &str = "concept blob";

/// Normalised lookup key of a name: lowercase, `_` as space, single spaces, trimmed.
pub fn concept_key(name: &str) -> String {
    name.to_lowercase().replace('_', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A loaded, validated concept space.
#[derive(Debug, Clone)]
pub struct ConceptSpace {
    names: Vec<String>,
    keys: Vec<String>,
    by_key: HashMap<String, usize>,
    by_compact_key: HashMap<String, usize>,
    /// `n × dim`, rows of unit length.
    embeddings: Vec<f32>,
    dim: usize,
    metadata: Metadata,
    checksum: [u8; 32],
}

impl ConceptSpace {
    /// Loads and validates a concept blob.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let parsed = blob::parse(bytes, WHAT, CONCEPTS_FORMAT, CONCEPTS_VERSION, MAX_HEADER_BYTES)?;
        let names: Vec<String> = parsed.field("names")?;
        let (shape, mut embeddings) = parsed.floats("embeddings")?;
        let [n, dim] = shape[..] else {
            return Err(CvmError::blob(WHAT, format!("`embeddings` has shape {shape:?}; expected [n, d]")));
        };
        if n == 0 || dim < 2 {
            return Err(CvmError::blob(WHAT, format!("`embeddings` has shape [{n}, {dim}]; needs n ≥ 1 and d ≥ 2")));
        }
        if n != names.len() {
            return Err(CvmError::blob(WHAT, format!("{} names but {n} embedding rows", names.len())));
        }
        for (i, row) in embeddings.chunks_exact_mut(dim).enumerate() {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm < 1e-6 {
                return Err(CvmError::blob(WHAT, format!("embedding row {i} (\"{}\") is zero", names[i])));
            }
            row.iter_mut().for_each(|v| *v /= norm);
        }

        let mut keys = Vec::with_capacity(n);
        let mut by_key = HashMap::with_capacity(n);
        let mut by_compact_key = HashMap::with_capacity(n);
        for (i, name) in names.iter().enumerate() {
            let key = concept_key(name);
            if key.is_empty() {
                return Err(CvmError::blob(WHAT, format!("name {i} is empty")));
            }
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(CvmError::blob(WHAT, format!("name {i} is longer than {MAX_NAME_CHARS} characters")));
            }
            if let Some(prev) = by_key.insert(key.clone(), i) {
                return Err(CvmError::blob(WHAT, format!("duplicate name \"{name}\" (rows {prev} and {i})")));
            }
            by_compact_key.entry(key.replace(' ', "")).or_insert(i);
            keys.push(key);
        }

        Ok(Self {
            names,
            keys,
            by_key,
            by_compact_key,
            embeddings,
            dim,
            metadata: parsed.metadata.into_iter().filter(|(k, _)| k != "names").collect(),
            checksum: Sha256::digest(bytes).into(),
        })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Display name of concept `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// Normalised key of concept `index`.
    pub fn key(&self, index: usize) -> &str {
        &self.keys[index]
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Unit vector of concept `index`.
    pub fn embedding(&self, index: usize) -> &[f32] {
        &self.embeddings[index * self.dim..][..self.dim]
    }

    /// Provenance metadata (model, template, pooling, source, ...), without the names.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// SHA-256 of the blob this space was loaded from.
    pub fn checksum(&self) -> [u8; 32] {
        self.checksum
    }

    /// Index of `name`, ignoring case and spacing; an unknown name errs with the closest vocabulary names.
    pub fn lookup(&self, name: &str) -> Result<usize> {
        check_name_length(name)?;
        let key = concept_key(name);
        if let Some(&i) = self.by_key.get(&key).or_else(|| self.by_compact_key.get(&key.replace(' ', ""))) {
            return Ok(i);
        }
        Err(CvmError::UnknownConcept { name: name.to_string(), suggestions: self.suggest(&key, 5) })
    }

    /// Vocabulary names closest in spelling to `query` (for messages and autocomplete).
    pub fn suggest(&self, query: &str, k: usize) -> Vec<String> {
        if check_name_length(query).is_err() {
            return Vec::new(); // no name is that long: nothing is close
        }
        let key = concept_key(query);
        if key.is_empty() || k == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(f64, usize)> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, cand)| {
                let mut score = strsim::normalized_levenshtein(&key, cand);
                if cand.starts_with(&key) {
                    score += 1.0;
                } else if cand.split(' ').any(|w| w == key) || cand.contains(&key) {
                    score += 0.5;
                }
                (score, i)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).filter(|(s, _)| *s > 0.3).map(|(_, i)| self.names[i].clone()).collect()
    }

    /// The `k` concepts with the highest cosine similarity to `vector` (any length ≠ 0), best first.
    pub fn nearest(&self, vector: &[f32], k: usize) -> Result<Vec<(usize, f32)>> {
        if vector.len() != self.dim {
            return Err(CvmError::arg(format!("vector has {} dims, the concept space {}", vector.len(), self.dim)));
        }
        let norm = crate::vector::norm(vector);
        if !norm.is_finite() || norm == 0.0 {
            return Err(CvmError::arg("vector is zero or not finite"));
        }
        let mut scored: Vec<(usize, f32)> = self
            .embeddings
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(i, row)| (i, crate::vector::dot(row, vector) / norm))
            .collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(scored)
    }
}

/// Everything a concept blob holds, ready to be written.
#[derive(Debug, Clone, Default)]
pub struct ConceptBlob {
    pub names: Vec<String>,
    /// `names.len() × dim`.
    pub embeddings: Vec<f32>,
    pub dim: usize,
    /// Mean of the raw model vectors (`[D]`), subtracted before projecting.
    pub mean: Option<Vec<f32>>,
    /// Projection from raw model space, `[D, dim]` row-major (PCA); none when rows keep the raw dimension.
    pub projection: Option<Vec<f32>>,
    /// Provenance written as metadata (`format`, `version` and `names` are set by [`ConceptBlob::to_bytes`]).
    pub metadata: Metadata,
}

impl ConceptBlob {
    /// Serialises to safetensors; deterministic (sorted metadata, fixed tensor order).
    pub fn to_bytes(&self, dtype: BlobDtype) -> Result<Vec<u8>> {
        let n = self.names.len();
        if self.dim == 0 || self.embeddings.len() != n * self.dim {
            return Err(CvmError::arg(format!(
                "{n} names × {} dims does not match {} values",
                self.dim,
                self.embeddings.len()
            )));
        }
        let mut metadata = self.metadata.clone();
        metadata.insert("names".into(), Value::from(self.names.clone()));
        let shape = vec![n, self.dim];
        let mut tensors = OwnedTensor::float("embeddings", shape, &self.embeddings, dtype);
        if let Some(mean) = &self.mean {
            tensors.push(OwnedTensor::f32("mean", vec![mean.len()], mean));
        }
        if let Some(projection) = &self.projection {
            let raw = self.mean.as_ref().map_or(0, Vec::len);
            if raw == 0 || projection.len() != raw * self.dim {
                return Err(CvmError::arg("projection must be [mean.len(), dim] and needs a mean"));
            }
            tensors.push(OwnedTensor::f32("projection", vec![raw, self.dim], projection));
        }
        blob::write(CONCEPTS_FORMAT, dtype.version(CONCEPTS_VERSION), metadata, &tensors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small valid blob: 4 names in 3 dims.
    fn sample_blob() -> ConceptBlob {
        ConceptBlob {
            names: vec!["cat".into(), "dog".into(), "truck".into(), "Coffee Mug".into()],
            embeddings: vec![1.0, 0.1, 0.0, 0.9, 0.3, 0.0, -0.5, 0.0, 1.0, 0.0, 1.0, 0.2],
            dim: 3,
            metadata: [("model".to_string(), Value::from("test"))].into(),
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        for dtype in [BlobDtype::F32, BlobDtype::F16, BlobDtype::I8] {
            let bytes = sample_blob().to_bytes(dtype).unwrap();
            let space = ConceptSpace::from_bytes(&bytes).unwrap();
            assert_eq!(space.len(), 4);
            assert_eq!(space.dim(), 3);
            assert_eq!(space.lookup("  COFFEE   mug ").unwrap(), 3);
            assert_eq!(space.lookup("coffee_mug").unwrap(), 3);
            assert_eq!(space.lookup("coffeemug").unwrap(), 3);
            assert_eq!(space.metadata()["model"], "test");
            let row = space.embedding(0);
            assert!((row.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-3);
            let near = space.nearest(&[1.0, 0.1, 0.0], 2).unwrap();
            assert_eq!(near[0].0, 0);
            assert_eq!(near[1].0, 1);
        }
    }

    #[test]
    fn unknown_name_suggests() {
        let space = ConceptSpace::from_bytes(&sample_blob().to_bytes(BlobDtype::F32).unwrap()).unwrap();
        match space.lookup("dogg") {
            Err(CvmError::UnknownConcept { suggestions, .. }) => {
                assert_eq!(suggestions.first().map(String::as_str), Some("dog"))
            }
            other => panic!("expected UnknownConcept, got {other:?}"),
        }
        let msg = space.lookup("mug").unwrap_err().to_string();
        assert!(msg.contains("Coffee Mug"), "{msg}");
    }

    #[test]
    fn writing_is_deterministic() {
        let a = sample_blob().to_bytes(BlobDtype::F16).unwrap();
        let b = sample_blob().to_bytes(BlobDtype::F16).unwrap();
        assert_eq!(a, b);
    }
}
