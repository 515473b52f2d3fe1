//! Shared safetensors plumbing for every blob the core reads or writes (concepts, students, snapshots).
//!
//! All metadata lives under one `__metadata__` key, `"cvm"`, as a JSON object with sorted keys: safetensors
//! stores metadata in a hash map, so a single entry is what makes written blobs byte-identical run to run.
//!
//! Float tensors are f32, f16 or bf16, or int8 with one symmetric scale per row (first dimension): tensor
//! `name` (I8) holds `round(v / scale)` and its sibling `name.scale` (F32, `[rows]`) the scales. Int8 halves
//! what a visitor downloads against f16; rows are what the readers compare (a concept, an output channel).

use std::collections::{BTreeMap, HashMap};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde_json::Value;

use crate::error::{CvmError, Result};

/// The single `__metadata__` key holding a blob's JSON metadata.
pub const METADATA_KEY: &str = "cvm";

/// Sorted JSON metadata of a blob.
pub type Metadata = BTreeMap<String, Value>;

/// Suffix of the per-row scales of an int8 tensor.
pub const SCALE_SUFFIX: &str = ".scale";

/// Storage precision of the float tensors a blob is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobDtype {
    F32,
    F16,
    /// Int8 with a scale per row; tensors of rank 1 (biases, means) stay f32.
    I8,
}

impl BlobDtype {
    /// The format version a blob of this precision is written with: `int8_since` for int8, 1 otherwise, so f32
    /// and f16 blobs stay readable (and byte-identical) for readers that predate int8.
    pub fn version(self, int8_since: u32) -> u32 {
        if self == Self::I8 { int8_since } else { 1 }
    }
}

impl std::str::FromStr for BlobDtype {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "i8" => Ok(Self::I8),
            other => Err(format!("a blob dtype is f32, f16 or i8, not {other}")),
        }
    }
}

/// A parsed blob: its tensors and metadata.
pub struct ParsedBlob<'a> {
    pub what: &'static str,
    pub tensors: SafeTensors<'a>,
    pub metadata: Metadata,
}

/// Parses a safetensors blob after checking its header size against `header_cap`, and checks that its
/// metadata names `format` at a version ≤ `supported`.
pub fn parse<'a>(
    bytes: &'a [u8],
    what: &'static str,
    format: &str,
    supported: u32,
    header_cap: u64,
) -> Result<ParsedBlob<'a>> {
    let Some(prefix) = bytes.get(..8) else {
        return Err(CvmError::blob(what, format!("only {} bytes: truncated or empty", bytes.len())));
    };
    let header = u64::from_le_bytes(prefix.try_into().expect("8 bytes"));
    if header > header_cap {
        return Err(CvmError::blob(what, format!("header of {header} bytes exceeds the {header_cap}-byte cap")));
    }
    if header + 8 > bytes.len() as u64 {
        return Err(CvmError::blob(
            what,
            format!("header claims {header} bytes but the blob has {}: truncated", bytes.len()),
        ));
    }
    let invalid = |e: safetensors::SafeTensorError| CvmError::blob(what, format!("not a valid safetensors file ({e})"));
    let (_, raw) = SafeTensors::read_metadata(bytes).map_err(invalid)?;
    let json = raw
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| CvmError::blob(what, format!("no \"{METADATA_KEY}\" metadata: not a {format} blob")))?;
    let metadata: Metadata =
        serde_json::from_str(json).map_err(|e| CvmError::blob(what, format!("metadata is not a JSON object ({e})")))?;
    match metadata.get("format").and_then(Value::as_str) {
        Some(f) if f == format => {}
        Some(f) => return Err(CvmError::blob(what, format!("format is \"{f}\", expected \"{format}\""))),
        None => return Err(CvmError::blob(what, format!("metadata has no \"format\" (expected \"{format}\")"))),
    }
    let version = metadata
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| CvmError::blob(what, "metadata has no numeric \"version\""))?;
    if version > supported as u64 {
        return Err(CvmError::NewerVersion { what, found: version.min(u32::MAX as u64) as u32, supported });
    }
    let tensors = SafeTensors::deserialize(bytes).map_err(invalid)?;
    Ok(ParsedBlob { what, tensors, metadata })
}

impl ParsedBlob<'_> {
    /// A tensor that must exist.
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>> {
        self.tensors.tensor(name).map_err(|_| CvmError::blob(self.what, format!("no tensor named `{name}`")))
    }

    /// A float tensor of any precision the blob may store as finite `f32`s, checked against `shape`.
    pub fn f32_tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (found, values) = self.floats(name)?;
        if found != shape {
            return Err(CvmError::blob(self.what, format!("tensor `{name}` has shape {found:?}, expected {shape:?}")));
        }
        Ok(values)
    }

    /// A float tensor of any precision the blob may store (see the module docs) as finite `f32`s, with its shape.
    pub fn floats(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let view = self.tensor(name)?;
        let shape = view.shape().to_vec();
        if view.dtype() != Dtype::I8 {
            return Ok((shape, read_f32(&view, self.what, name)?));
        }
        let scale_name = format!("{name}{SCALE_SUFFIX}");
        let scales = self
            .tensor(&scale_name)
            .map_err(|_| CvmError::blob(self.what, format!("int8 tensor `{name}` has no `{scale_name}` scales")))?;
        let rows = shape.first().copied().unwrap_or(1);
        if scales.shape() != [rows] {
            return Err(CvmError::blob(
                self.what,
                format!("`{scale_name}` has shape {:?}, expected [{rows}]", scales.shape()),
            ));
        }
        let scales = read_f32(&scales, self.what, &scale_name)?;
        let row_len = (view.data().len() / rows.max(1)).max(1);
        let values: Vec<f32> = view
            .data()
            .chunks(row_len)
            .zip(&scales)
            .flat_map(|(row, &scale)| row.iter().map(move |&q| f32::from(q as i8) * scale))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(CvmError::blob(self.what, format!("tensor `{name}` has a non-finite value at flat index {i}")));
        }
        Ok((shape, values))
    }

    /// Names of the blob's tensors, without the scales of its int8 tensors (read with theirs by [`Self::floats`]).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.tensors.names().into_iter().filter(|n| !n.ends_with(SCALE_SUFFIX)).map(str::to_string).collect();
        names.sort();
        names
    }

    /// A metadata string that must exist.
    pub fn str_field(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| CvmError::blob(self.what, format!("metadata has no string \"{key}\"")))
    }

    /// A metadata field deserialised into `T`.
    pub fn field<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T> {
        let value =
            self.metadata.get(key).ok_or_else(|| CvmError::blob(self.what, format!("metadata has no \"{key}\"")))?;
        serde_json::from_value(value.clone())
            .map_err(|e| CvmError::blob(self.what, format!("metadata \"{key}\" is malformed ({e})")))
    }
}

/// Reads a float tensor (f32, f16 or bf16) as `f32`, refusing non-finite values.
pub fn read_f32(view: &TensorView<'_>, what: &'static str, name: &str) -> Result<Vec<f32>> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
        Dtype::F16 => {
            data.chunks_exact(2).map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32()).collect()
        }
        Dtype::BF16 => {
            data.chunks_exact(2).map(|c| half::bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32()).collect()
        }
        other => {
            return Err(CvmError::blob(
                what,
                format!("tensor `{name}` has dtype {other:?}; expected F32, F16 or BF16"),
            ));
        }
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(CvmError::blob(what, format!("tensor `{name}` has a non-finite value at flat index {i}")));
    }
    Ok(values)
}

/// One tensor to write: name, dtype, shape, little-endian bytes.
pub struct OwnedTensor {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl OwnedTensor {
    pub fn f32(name: impl Into<String>, shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            name: name.into(),
            dtype: Dtype::F32,
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub fn f16(name: impl Into<String>, shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            name: name.into(),
            dtype: Dtype::F16,
            shape,
            bytes: values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
        }
    }

    /// `values` at `dtype`: int8 as the tensor and its per-row scales (rank-1 tensors stay f32).
    pub fn float(name: impl Into<String>, shape: Vec<usize>, values: &[f32], dtype: BlobDtype) -> Vec<Self> {
        match dtype {
            BlobDtype::F32 => vec![Self::f32(name, shape, values)],
            BlobDtype::F16 => vec![Self::f16(name, shape, values)],
            BlobDtype::I8 if shape.len() < 2 => vec![Self::f32(name, shape, values)],
            BlobDtype::I8 => {
                let name = name.into();
                let rows = shape[0];
                // Values that do not fill the shape give scales that do not either: the writer refuses both.
                let row_len = (values.len() / rows.max(1)).max(1);
                let scales: Vec<f32> =
                    values.chunks(row_len).map(|row| row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0).collect();
                let bytes = values
                    .chunks(row_len)
                    .zip(&scales)
                    .flat_map(|(row, &scale)| {
                        row.iter().map(move |v| {
                            if scale > 0.0 { (v / scale).round().clamp(-127.0, 127.0) as i8 as u8 } else { 0 }
                        })
                    })
                    .collect();
                let scale_name = format!("{name}{SCALE_SUFFIX}");
                vec![Self { name, dtype: Dtype::I8, shape, bytes }, Self::f32(scale_name, vec![rows], &scales)]
            }
        }
    }

    pub fn u32(name: impl Into<String>, shape: Vec<usize>, values: &[u32]) -> Self {
        Self {
            name: name.into(),
            dtype: Dtype::U32,
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// Serialises tensors plus metadata (with `format` and `version` set) into deterministic safetensors bytes.
pub fn write(format: &str, version: u32, mut metadata: Metadata, tensors: &[OwnedTensor]) -> Result<Vec<u8>> {
    metadata.insert("format".into(), Value::from(format));
    metadata.insert("version".into(), Value::from(version));
    let json = serde_json::to_string(&metadata).map_err(|e| CvmError::arg(e.to_string()))?;
    let views = tensors
        .iter()
        .map(|t| {
            TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| CvmError::arg(format!("tensor `{}`: {e}", t.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(HashMap::from([(METADATA_KEY.to_string(), json)])))
        .map_err(|e| CvmError::arg(e.to_string()))
}
