//! Concept blob validation: a good blob loads; each kind of damage gives its own error, never a panic.

use cvm::blob::{self, Metadata, OwnedTensor};
use cvm::concepts::{CONCEPTS_FORMAT, CONCEPTS_VERSION};
use cvm::{BlobDtype, ConceptBlob, ConceptSpace, CvmError};
use safetensors::Dtype;
use serde_json::Value;

fn good() -> ConceptBlob {
    ConceptBlob {
        names: vec!["cat".into(), "dog".into(), "truck".into()],
        embeddings: vec![1.0, 0.0, 0.2, 0.8, 0.6, 0.0, 0.0, 0.1, 1.0],
        dim: 3,
        mean: Some(vec![0.5, 0.5]),
        projection: Some(vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        metadata: [("model".to_string(), Value::from("test"))].into(),
    }
}

/// Writes a concept blob by hand (bypassing `ConceptBlob`'s own checks).
fn raw(names: Value, tensors: &[OwnedTensor]) -> Vec<u8> {
    let metadata: Metadata = [("names".to_string(), names)].into();
    blob::write(CONCEPTS_FORMAT, CONCEPTS_VERSION, metadata, tensors).unwrap()
}

fn names3() -> Value {
    Value::from(vec!["cat", "dog", "truck"])
}

fn err(bytes: &[u8]) -> String {
    match ConceptSpace::from_bytes(bytes) {
        Ok(_) => panic!("blob was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_blob_loads_in_every_dtype() {
    let exact = ConceptSpace::from_bytes(&good().to_bytes(BlobDtype::F32).unwrap()).unwrap();
    for dtype in [BlobDtype::F32, BlobDtype::F16, BlobDtype::I8] {
        let space = ConceptSpace::from_bytes(&good().to_bytes(dtype).unwrap()).unwrap();
        assert_eq!((space.len(), space.dim()), (3, 3));
        assert_eq!(space.lookup("Dog").unwrap(), 1);
        for row in 0..3 {
            let error =
                space.embedding(row).iter().zip(exact.embedding(row)).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            // Int8 keeps each value within half a step of its row's largest / 127.
            assert!(error < 0.5 / 127.0 + 1e-6, "{dtype:?} row {row}: {error}");
        }
    }
}

#[test]
fn int8_without_its_scales() {
    let q = || OwnedTensor { name: "embeddings".into(), dtype: Dtype::I8, shape: vec![3, 3], bytes: vec![1; 9] };
    let e = err(&raw(names3(), &[q()]));
    assert!(e.contains("int8 tensor `embeddings` has no `embeddings.scale` scales"), "{e}");
    let e = err(&raw(names3(), &[q(), OwnedTensor::f32("embeddings.scale", vec![9], &[1.0; 9])]));
    assert!(e.contains("`embeddings.scale` has shape [9], expected [3]"), "{e}");
    let e = err(&raw(names3(), &[q(), OwnedTensor::f32("embeddings.scale", vec![3], &[1.0, f32::NAN, 1.0])]));
    assert!(e.contains("non-finite value at flat index 1"), "{e}");
    // A finite scale that overflows once multiplied.
    let twos = OwnedTensor { bytes: vec![2; 9], ..q() };
    let e = err(&raw(names3(), &[twos, OwnedTensor::f32("embeddings.scale", vec![3], &[1.0, 1.0, f32::MAX])]));
    assert!(e.contains("non-finite value at flat index 6"), "{e}");
}

#[test]
fn truncated_blob() {
    let bytes = good().to_bytes(BlobDtype::F32).unwrap();
    for cut in [0, 4, 20, bytes.len() - 1] {
        let e = err(&bytes[..cut]);
        assert!(e.contains("truncated") || e.contains("not a valid safetensors"), "cut {cut}: {e}");
    }
}

#[test]
fn wrong_dtype() {
    let t = OwnedTensor { name: "embeddings".into(), dtype: Dtype::I32, shape: vec![3, 3], bytes: vec![0; 36] };
    let e = err(&raw(names3(), &[t]));
    assert!(e.contains("dtype I32"), "{e}");
}

#[test]
fn wrong_shape() {
    let e = err(&raw(names3(), &[OwnedTensor::f32("embeddings", vec![9], &[1.0; 9])]));
    assert!(e.contains("expected [n, d]"), "{e}");
    let e = err(&raw(names3(), &[OwnedTensor::f32("embeddings", vec![2, 3], &[1.0; 6])]));
    assert!(e.contains("3 names but 2 embedding rows"), "{e}");
}

#[test]
fn non_finite_values() {
    for bad in [f32::NAN, f32::INFINITY] {
        let mut values = vec![1.0; 9];
        values[4] = bad;
        let e = err(&raw(names3(), &[OwnedTensor::f32("embeddings", vec![3, 3], &values)]));
        assert!(e.contains("non-finite value at flat index 4"), "{e}");
    }
    let e = err(&raw(
        names3(),
        &[OwnedTensor::f32("embeddings", vec![3, 3], &[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])],
    ));
    assert!(e.contains("row 1 (\"dog\") is zero"), "{e}");
}

#[test]
fn duplicate_and_empty_names() {
    let e =
        err(&raw(Value::from(vec!["cat", "Dog", " dog"]), &[OwnedTensor::f32("embeddings", vec![3, 3], &[1.0; 9])]));
    assert!(e.contains("duplicate name"), "{e}");
    let e = err(&raw(Value::from(vec!["cat", "  ", "dog"]), &[OwnedTensor::f32("embeddings", vec![3, 3], &[1.0; 9])]));
    assert!(e.contains("name 1 is empty"), "{e}");
    let e = err(&raw(Value::from(vec![1, 2, 3]), &[OwnedTensor::f32("embeddings", vec![3, 3], &[1.0; 9])]));
    assert!(e.contains("\"names\" is malformed"), "{e}");
}

#[test]
fn header_larger_than_cap() {
    let mut bytes = good().to_bytes(BlobDtype::F32).unwrap();
    bytes[..8].copy_from_slice(&(64u64 << 20).to_le_bytes());
    let e = err(&bytes);
    assert!(e.contains("exceeds the") && e.contains("cap"), "{e}");
}

#[test]
fn wrong_format_or_newer_version() {
    let e = err(&blob::write("something-else", 1, Metadata::new(), &[]).unwrap());
    assert!(e.contains("expected \"cvm-concepts\""), "{e}");
    let newer =
        blob::write(CONCEPTS_FORMAT, CONCEPTS_VERSION + 1, [("names".to_string(), names3())].into(), &[]).unwrap();
    assert!(matches!(ConceptSpace::from_bytes(&newer), Err(CvmError::NewerVersion { .. })));
    let plain = safetensors::serialize(Vec::<(String, safetensors::tensor::TensorView)>::new(), None).unwrap();
    assert!(err(&plain).contains("not a cvm-concepts blob"));
    let e = err(&raw(names3(), &[]));
    assert!(e.contains("no tensor named `embeddings`"), "{e}");
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut state = 0x1234_5678u32;
    for i in 0..2000 {
        let bytes = good().to_bytes(if i % 2 == 0 { BlobDtype::F16 } else { BlobDtype::I8 }).unwrap();
        let mut damaged = bytes.clone();
        for _ in 0..1 + i % 4 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let pos = state as usize % damaged.len();
            damaged[pos] = (state >> 8) as u8;
        }
        let _ = ConceptSpace::from_bytes(&damaged);
    }
}
