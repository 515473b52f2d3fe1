//! Snapshots: a learner's whole state as one versioned, checksummed byte blob.
//!
//! Layout: `b"CVMSNAP\0"`, the SHA-256 of the payload (32 bytes), then the payload: safetensors with
//! `format = "cvm-snapshot"`, the config, classes, RNG positions and the checksums of the concept blob and
//! (for the adapter student) the trunk blob as metadata, and tensors `student.*` (the trainable part),
//! `head.*` (linear head only), `previous.*` (the frozen copy the distillation compares against, with
//! `previous_classes` in the metadata), `memory.{data,labels,ids}` (a memory row is the sample, then its stored
//! scores when score replay is on) and `pending.{data,labels,ids}`. The frozen trunk is not copied: restoring
//! needs the same trunk blob. No optimiser state exists between two `train` calls, so none is stored.
//! Version 1 (before example ids) still loads: its examples are numbered in order. The config and classes are
//! stored through types of their own ([`saved`]), so the live types can change without changing the format.

mod saved;

use std::collections::HashMap;
use std::sync::Arc;

use burn::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::blob::{self, Metadata, OwnedTensor};
use crate::concepts::ConceptSpace;
use crate::error::{CvmError, Result};
use crate::learner::{Class, Held, Learner, Network, anchor_head};
use crate::memory::{ReplayMemory, Samples};
use crate::objective::{Head, HeadKind, LinearHead};
use crate::params::{self, HostParam};
use crate::student::Student;
use crate::trunk::Trunk;
use saved::{SavedClass, SavedConfig};

pub const SNAPSHOT_MAGIC: &[u8; 8] = b"CVMSNAP\0";
pub const SNAPSHOT_FORMAT: &str = "cvm-snapshot";
pub const SNAPSHOT_VERSION: u32 = 2;
const WHAT: &str = "snapshot";
const HEADER_CAP: u64 = 4 << 20;

/// No parameter, stored input or stored score of a working learner comes near this (weights stay within tens,
/// inputs are normalised pixels or trunk features ≤ 6, scores are scaled cosines or logits); finite values beyond
/// it would overflow the first forward pass into NaN.
const LARGEST_VALUE: f32 = 1e4;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn param_tensors(prefix: &str, params: Vec<HostParam>) -> impl Iterator<Item = OwnedTensor> + '_ {
    params.into_iter().map(move |p| OwnedTensor::f32(format!("{prefix}.{}", p.path), p.shape, &p.values))
}

impl Learner {
    /// Serialises the learner (parameters gathered with one async readback).
    pub async fn snapshot(&self) -> Result<Vec<u8>> {
        let network = &self.network;
        let mut tensors: Vec<OwnedTensor> = param_tensors("student", params::export(&network.student).await?).collect();
        if let Head::Linear(head) = &network.head {
            tensors.extend(param_tensors("head", params::export(head).await?));
        }
        if let Some((previous, _)) = &self.previous {
            tensors.extend(param_tensors("previous", params::export(previous).await?));
        }
        let (seed, events, stored, seen) = self.memory.parts();
        for (prefix, samples, len) in
            [("memory", stored, self.config.stored_len()), ("pending", &self.pending, self.config.student.sample_len())]
        {
            let n = samples.len();
            tensors.push(OwnedTensor::f32(format!("{prefix}.data"), vec![n, len], &samples.data));
            tensors.push(OwnedTensor::u32(format!("{prefix}.labels"), vec![n], &samples.labels));
            tensors.push(OwnedTensor::u32(format!("{prefix}.ids"), vec![n], &samples.ids));
        }

        let mut metadata = Metadata::new();
        let classes: Vec<SavedClass> = self.classes.iter().map(Into::into).collect();
        metadata
            .insert("config".into(), serde_json::to_value(SavedConfig::from(&self.config)).expect("config serialises"));
        metadata.insert("classes".into(), serde_json::to_value(classes).expect("classes serialise"));
        metadata.insert("concepts_sha256".into(), Value::from(hex(&self.concepts.checksum())));
        if let Some(trunk) = &self.trunk {
            metadata.insert("student_sha256".into(), Value::from(hex(&trunk.checksum())));
        }
        metadata.insert("memory_seed".into(), Value::from(seed));
        metadata.insert("memory_events".into(), Value::from(events));
        metadata.insert("memory_seen".into(), Value::from(seen.to_vec()));
        metadata.insert("train_events".into(), Value::from(self.train_events));
        metadata.insert("next_example".into(), Value::from(self.next_example));
        if let Some((_, classes)) = &self.previous {
            metadata.insert("previous_classes".into(), Value::from(*classes));
        }
        let payload = blob::write(SNAPSHOT_FORMAT, SNAPSHOT_VERSION, metadata, &tensors)?;

        let mut out = Vec::with_capacity(payload.len() + 40);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Rebuilds a learner from [`Learner::snapshot`] bytes, with the same concept blob (and, for the adapter
    /// student, the same trunk) it was made with.
    /// The payload of sealed snapshot bytes: an error if they are not a snapshot or fail their checksum. Cheap
    /// enough to run before loading the blobs a restore needs, so a wrong file is refused at once.
    pub fn unseal(bytes: &[u8]) -> Result<&[u8]> {
        if bytes.len() < 40 || &bytes[..8] != SNAPSHOT_MAGIC {
            return Err(CvmError::blob(WHAT, "not a snapshot (missing CVMSNAP header)"));
        }
        let payload = &bytes[40..];
        if Sha256::digest(payload).as_slice() != &bytes[8..40] {
            return Err(CvmError::blob(WHAT, "checksum mismatch: the data is corrupt or truncated"));
        }
        Ok(payload)
    }

    pub fn restore(bytes: &[u8], concepts: Arc<ConceptSpace>, trunk: Option<Trunk>, device: Device) -> Result<Self> {
        let payload = Self::unseal(bytes)?;
        let parsed = blob::parse(payload, WHAT, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, HEADER_CAP)?;
        for (name, view) in parsed.tensors.tensors() {
            if view.dtype() == safetensors::Dtype::F32 {
                let largest = blob::read_f32(&view, WHAT, &name)?.into_iter().fold(0.0f32, |m, v| m.max(v.abs()));
                if largest > LARGEST_VALUE {
                    return Err(CvmError::blob(
                        WHAT,
                        format!(
                            "tensor `{name}` holds a value of {largest:e}, beyond what training or a frame gives (±{LARGEST_VALUE:e}): the data is damaged"
                        ),
                    ));
                }
            }
        }
        let config = crate::LearnerConfig::from(parsed.field::<SavedConfig>("config")?);
        config.validate()?;
        let expected = parsed.str_field("concepts_sha256")?;
        if expected != hex(&concepts.checksum()) {
            return Err(CvmError::blob(
                WHAT,
                "it was made with a different concept blob; load the same concepts it was saved with",
            ));
        }
        let expected_trunk = parsed.metadata.get("student_sha256").and_then(Value::as_str);
        match (expected_trunk, &trunk) {
            (Some(_), None) => {
                return Err(CvmError::blob(WHAT, "it was made with a pretrained student: load the same trunk blob"));
            }
            (Some(e), Some(t)) if e != hex(&t.checksum()) => {
                return Err(CvmError::blob(
                    WHAT,
                    "it was made with a different trunk blob; load the one it was saved with",
                ));
            }
            (None, Some(_)) => {
                return Err(CvmError::blob(
                    WHAT,
                    "it was made with a student trained from scratch, not a pretrained one",
                ));
            }
            _ => {}
        }
        let classes: Vec<Class> = parsed.field::<Vec<SavedClass>>("classes")?.into_iter().map(Into::into).collect();
        let mut keys = std::collections::HashSet::new();
        for class in &classes {
            if class.concept.is_some_and(|i| i >= concepts.len()) {
                return Err(CvmError::blob(WHAT, format!("class \"{}\" points outside the concept space", class.name)));
            }
            if !keys.insert(class.key.as_str()) {
                return Err(CvmError::blob(WHAT, format!("class \"{}\" appears twice", class.name)));
            }
        }

        // Parameters by prefix.
        let mut groups: HashMap<&str, params::HostParams> = HashMap::new();
        for (name, view) in parsed.tensors.tensors() {
            for prefix in ["student", "head", "previous"] {
                if let Some(path) = name.strip_prefix(prefix).and_then(|p| p.strip_prefix('.')) {
                    let values = blob::read_f32(&view, WHAT, &name)?;
                    groups.entry(prefix).or_default().insert(path.to_string(), (view.shape().to_vec(), values));
                }
            }
        }
        let dim = concepts.dim();
        let student = params::import(
            Student::new(&config.student, dim, &device),
            &groups.remove("student").unwrap_or_default(),
            WHAT,
        )?;
        // The head's shape: a linear head's capacity, as stored; an anchor head's anchors, from the classes.
        let head_for = |params: &params::HostParams, prefix: &str, classes: &[Class]| -> Result<Head> {
            match (config.head, params.get(&format!("{prefix}bias"))) {
                (HeadKind::Linear, Some((shape, _))) => Ok(Head::Linear(LinearHead::new(dim, shape[0], &device))),
                (HeadKind::Linear, None) => {
                    Err(CvmError::blob(WHAT, format!("linear-head learner without a `{prefix}bias` tensor")))
                }
                (_, Some(_)) => Err(CvmError::blob(WHAT, "anchor-head learner with unexpected `head.*` tensors")),
                (_, None) => Ok(anchor_head(&config, &concepts, classes, &device)),
            }
        };
        let head_params = groups.remove("head").unwrap_or_default();
        let head = match head_for(&head_params, "", &classes)? {
            Head::Linear(linear) => Head::Linear(params::import(linear, &head_params, WHAT)?),
            anchors => anchors,
        };
        let network = Network { student, head };

        let previous = match (groups.remove("previous"), parsed.metadata.get("previous_classes")) {
            (None, None) => None,
            (Some(params), Some(known)) => {
                let known = known
                    .as_u64()
                    .filter(|&k| k as usize <= classes.len())
                    .ok_or_else(|| CvmError::blob(WHAT, "`previous_classes` must be a class count"))?;
                let known = known as usize;
                let head = head_for(&params, "head.", &classes[..known])?;
                let network = Network { student: Student::new(&config.student, dim, &device), head };
                Some((params::import(network, &params, WHAT)?.no_grad(), known))
            }
            _ => return Err(CvmError::blob(WHAT, "`previous.*` tensors and `previous_classes` come together")),
        };

        let len = config.student.sample_len();
        let u32_vector = |name: &str| -> Result<Vec<u32>> {
            let view = parsed.tensor(name)?;
            if view.dtype() != safetensors::Dtype::U32 || view.shape().len() != 1 {
                return Err(CvmError::blob(WHAT, format!("`{name}` must be a U32 vector")));
            }
            Ok(view.data().chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
        };
        let version: u32 = parsed.field("version")?;
        // Version 1 has no example ids: number memory, then pending, from 0.
        let mut next_id = 0u32;
        let mut samples = |prefix: &str, len: usize| -> Result<Samples> {
            let labels = u32_vector(&format!("{prefix}.labels"))?;
            let data = parsed.f32_tensor(&format!("{prefix}.data"), &[labels.len(), len])?;
            if labels.iter().any(|&l| l as usize >= classes.len()) {
                return Err(CvmError::blob(WHAT, format!("`{prefix}.labels` names a class that does not exist")));
            }
            let ids = if version >= 2 {
                u32_vector(&format!("{prefix}.ids"))?
            } else {
                next_id += labels.len() as u32;
                (next_id - labels.len() as u32..next_id).collect()
            };
            if ids.len() != labels.len() {
                return Err(CvmError::blob(WHAT, format!("`{prefix}.ids` and `{prefix}.labels` differ in length")));
            }
            Ok(Samples { data, labels, ids })
        };
        let stored = samples("memory", config.stored_len())?;
        let pending = samples("pending", len)?;
        let next_example = if version >= 2 { parsed.field("next_example")? } else { next_id };
        let mut all_ids: Vec<u32> = stored.ids.iter().chain(&pending.ids).copied().collect();
        all_ids.sort_unstable();
        if all_ids.windows(2).any(|w| w[0] == w[1]) || all_ids.last().is_some_and(|&id| id >= next_example) {
            return Err(CvmError::blob(WHAT, "its example ids are repeated or out of range"));
        }
        let mut seen: Vec<u64> = parsed.field("memory_seen")?;
        seen.resize(seen.len().max(classes.len()), 0);
        let memory = ReplayMemory::from_parts(
            config.memory_slots(),
            config.stored_len(),
            parsed.field("memory_seed")?,
            parsed.field("memory_events")?,
            stored,
            seen,
        )
        .map_err(|e| CvmError::blob(WHAT, e.to_string()))?;

        let train_events = parsed.field("train_events")?;
        let held = Held { classes, memory, pending, previous, train_events, next_example };
        Learner::assemble(config, concepts, trunk, device, network, held)
    }
}
