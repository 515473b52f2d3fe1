//! The pretrained trunk: converted weights classify ImageNet photos; damaged blobs are refused by name.

use std::path::PathBuf;

use cvm::burn::tensor::Device;
use cvm::trunk::{Trunk, write_trunk_blob};
use cvm::{BlobDtype, ImageView, PixelFormat, Preprocessor};

fn data() -> PathBuf {
    std::env::var_os("CVM_DATA").map(Into::into).expect("CVM_DATA is unset: run through `cargo xtask test`")
}

fn pth() -> PathBuf {
    data().join("efficientnet/efficientnet-lite0-57934424.pth")
}

#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn imagenet_top1_on_sample_photos() {
    let params = cvm_trunk::convert(&pth(), true).unwrap();
    for dtype in [BlobDtype::F32, BlobDtype::F16, BlobDtype::I8] {
        let trunk = Trunk::from_bytes(
            &write_trunk_blob(&params, 224, true, dtype, None, Default::default()).unwrap(),
            &Device::flex(),
        )
        .unwrap();
        let mut pre = Preprocessor::new(trunk.input()).unwrap();
        let photos = cvm_trunk::labelled_photos(&data().join("foolbox")).unwrap();
        assert_eq!(photos.len(), 20);
        let mut correct = 0;
        for (path, label) in &photos {
            let rgb = image::open(path).unwrap().to_rgb8();
            let view =
                ImageView::new(rgb.width() as usize, rgb.height() as usize, PixelFormat::Rgb8, rgb.as_raw()).unwrap();
            let p = pollster::block_on(trunk.imagenet(&pre.to_vec(view).unwrap(), 1)).unwrap();
            let top = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            correct += usize::from(top == *label);
        }
        println!("ImageNet top-1 ({dtype:?}): {correct}/20");
        assert!(correct >= 17, "top-1 {correct}/20");
    }
}

/// The trunk's features of a reference frame, natively; recorded (when `CVM_GOLDEN_FEATURES` names a file) for the
/// browser tests, which compute them again in wasm and compare.
#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn trunk_features_of_the_reference_frame_are_recorded() {
    let trunk = Trunk::from_bytes(&asset("efficientnet-lite0-imagenet.safetensors"), &Device::flex()).unwrap();
    let frame = cvm::synthetic::colour_frame(224);
    let pixels = Preprocessor::new(trunk.input())
        .unwrap()
        .to_vec(ImageView::new(224, 224, PixelFormat::Rgba8, &frame).unwrap())
        .unwrap();
    let features = trunk.features(&pixels, 1).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(features.len(), cvm::efficientnet::FEATURES);
    assert!(features.iter().all(|v| v.is_finite() && *v >= 0.0 && *v <= 6.0), "pooled ReLU6 outputs lie in [0, 6]");
    assert!(features.iter().filter(|v| **v > 0.0).count() > 100, "most features are alive");
    if let Some(path) = std::env::var_os("CVM_GOLDEN_FEATURES") {
        std::fs::write(path, serde_json::to_string(&features).unwrap()).unwrap();
    }
}

#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn wrong_blobs_and_checkpoints_are_refused_by_name() {
    let mut params = cvm_trunk::convert(&pth(), false).unwrap();
    let good = write_trunk_blob(&params, 224, false, BlobDtype::F16, None, Default::default()).unwrap();
    assert!(Trunk::from_bytes(&good, &Device::flex()).is_ok());
    let err = |bytes: &[u8]| Trunk::from_bytes(bytes, &Device::flex()).unwrap_err().to_string();

    // Claiming a classifier it does not have.
    let e = err(&write_trunk_blob(&params, 224, true, BlobDtype::F16, None, Default::default()).unwrap());
    assert!(e.contains("tensor `classifier.weight` is missing"), "{e}");
    // A tensor of the wrong shape.
    let i = params.iter().position(|p| p.path == "blocks.2.depthwise.weight").unwrap();
    params[i].shape = vec![144, 1, 5, 5];
    params[i].values.resize(144 * 25, 0.0);
    let e = err(&write_trunk_blob(&params, 224, false, BlobDtype::F16, None, Default::default()).unwrap());
    assert!(e.contains("tensor `blocks.2.depthwise.weight` has shape [144, 1, 5, 5], expected [144, 1, 3, 3]"), "{e}");
    // A tensor this architecture does not have.
    params.truncate(4);
    let e = err(&write_trunk_blob(&params, 224, false, BlobDtype::F16, None, Default::default()).unwrap());
    assert!(e.contains("is missing"), "{e}");
    // Truncated.
    let e = err(&good[..good.len() - 100]);
    assert!(e.contains("trunk blob"), "{e}");
    // A concept blob is not a trunk blob.
    let e = err(&cvm::synthetic::concept_blob());
    assert!(e.contains("expected \"cvm-student\""), "{e}");

    // A truncated checkpoint.
    let bytes = std::fs::read(pth()).unwrap();
    let cut = std::env::temp_dir().join("cvm-truncated.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = format!("{:#}", cvm_trunk::convert(&cut, false).unwrap_err());
    std::fs::remove_file(&cut).unwrap();
    assert!(e.contains("not a readable PyTorch checkpoint") || e.contains("cannot be read"), "{e}");
}

/// The adapter student on the pretrained trunk learns three photos from a few crops each, and its snapshot
/// needs the same trunk back.
#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn adapter_learns_from_few_examples_and_restores_with_its_trunk() {
    use cvm::{Learner, LearnerConfig, StudentConfig};
    let blob = write_trunk_blob(
        &cvm_trunk::convert(&pth(), false).unwrap(),
        224,
        false,
        BlobDtype::F16,
        None,
        Default::default(),
    )
    .unwrap();
    let device = Device::flex().autodiff();
    let trunk = Trunk::from_bytes(&blob, &device).unwrap();
    // The synthetic concept space names none of ImageNet's classes: no prior here (see the zero-shot test).
    let config = LearnerConfig {
        memory: 100,
        concept_prior: false,
        ..LearnerConfig::new(StudentConfig::adapter(trunk.input(), cvm::efficientnet::FEATURES))
    };
    let concepts = cvm::synthetic::concepts();
    let mut learner = Learner::with_trunk(config, concepts.clone(), trunk.clone(), device.clone()).unwrap();
    let photos = cvm_trunk::labelled_photos(&data().join("foolbox")).unwrap();
    // Crops of a photo at offset (dx, dy), 400 px square.
    let crops = |index: usize, offsets: &[(usize, usize)]| -> Vec<Vec<u8>> {
        let rgb = image::open(&photos[index].0).unwrap().to_rgb8();
        offsets
            .iter()
            .map(|&(dx, dy)| image::imageops::crop_imm(&rgb, dx as u32, dy as u32, 400, 400).to_image().into_raw())
            .collect()
    };
    let train = [(0, 0), (100, 0), (0, 100), (100, 100), (50, 50)];
    let held_out = [(25, 75), (75, 25), (60, 90)];
    for (c, name) in cvm::synthetic::NAMES[..3].iter().enumerate() {
        let class = learner.add_class(name).unwrap();
        let images = crops(c * 5, &train);
        let views: Vec<ImageView> =
            images.iter().map(|p| ImageView::new(400, 400, PixelFormat::Rgb8, p).unwrap()).collect();
        pollster::block_on(learner.add_examples(class, &views)).unwrap();
        pollster::block_on(learner.train(30)).unwrap();
    }
    let mut correct = 0;
    for c in 0..3 {
        for pixels in crops(c * 5, &held_out) {
            let p = pollster::block_on(learner.predict(ImageView::new(400, 400, PixelFormat::Rgb8, &pixels).unwrap()))
                .unwrap();
            correct += usize::from(p.top() == Some(c));
        }
    }
    assert!(correct >= 8, "{correct}/9 held-out crops recognised");

    let bytes = pollster::block_on(learner.snapshot()).unwrap();
    // Adapter, its frozen copy from the last experience (distillation) and 15 stored feature vectors: about 5.4 MB.
    assert!(bytes.len() < 8_000_000, "the snapshot should not copy the 18 MB trunk ({} bytes)", bytes.len());
    let err = Learner::restore(&bytes, concepts.clone(), None, device.clone()).unwrap_err().to_string();
    assert!(err.contains("load the same trunk blob"), "{err}");
    let restored = Learner::restore(&bytes, concepts, Some(trunk), device).unwrap();
    assert_eq!(restored.classes(), learner.classes());
}

fn committed(file: &str) -> String {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    std::fs::read_to_string(PathBuf::from(dir).join("../cvm-concepts/data").join(file)).unwrap()
}

#[test]
fn every_imagenet_class_maps_to_one_vocabulary_entry() {
    let names = cvm_trunk::imagenet_concepts(&committed("imagenet.tsv")).unwrap();
    let vocabulary: std::collections::HashSet<String> = committed("vocabulary.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| cvm::concept_key(l.split('\t').next().unwrap()))
        .collect();
    assert_eq!(names.len(), 1000);
    let missing: Vec<&String> = names.iter().filter(|n| !vocabulary.contains(&cvm::concept_key(n))).collect();
    assert!(missing.is_empty(), "not in the vocabulary: {missing:?}");
    // Distinct synsets rarely share a first lemma (the bird and the machine are both "crane").
    let distinct: std::collections::HashSet<&String> = names.iter().collect();
    assert!(distinct.len() >= 995, "only {} distinct entries", distinct.len());
    assert_eq!((names[0].as_str(), names[949].as_str()), ("tench", "strawberry"));
    assert!(cvm_trunk::imagenet_concepts("# header\n1\tn0\tx\n").unwrap_err().to_string().contains("out of order"));
}

fn asset(name: &str) -> Vec<u8> {
    let dir =
        std::env::var_os("CVM_ASSETS").map(PathBuf::from).expect("CVM_ASSETS is unset: run through `cargo xtask test`");
    std::fs::read(dir.join(name)).unwrap()
}

/// The product's blobs (built by `cargo xtask assets`): the student's trunk on flex, and the SmolLM2 concept space.
fn product_blobs() -> (Device, Trunk, std::sync::Arc<cvm::ConceptSpace>) {
    let device = Device::flex().autodiff();
    let trunk = Trunk::from_bytes(&asset("trunk-efficientnet-lite0.safetensors"), &device).unwrap();
    let concepts = std::sync::Arc::new(cvm::ConceptSpace::from_bytes(&asset("concepts-smollm2.safetensors")).unwrap());
    (device, trunk, concepts)
}

/// The grounded prior ranks the true concept of foolbox's ImageNet photos among every vocabulary name before any
/// example is taught (measured 18/20 in the top 5 with the SmolLM2 blob); without it, the adapter's ranking is
/// noise.
#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn the_prior_names_photos_it_was_never_taught() {
    use cvm::{Learner, LearnerConfig, StudentConfig};
    let (device, trunk, concepts) = product_blobs();
    let names = trunk.imagenet_concepts().unwrap().to_vec();
    let photos = cvm_trunk::labelled_photos(&data().join("foolbox")).unwrap();
    let top5 = |prior: bool| {
        let config = LearnerConfig {
            concept_prior: prior,
            ..LearnerConfig::new(StudentConfig::adapter(trunk.input(), cvm::efficientnet::FEATURES))
        };
        let mut learner = Learner::with_trunk(config, concepts.clone(), trunk.clone(), device.clone()).unwrap();
        photos
            .iter()
            .filter(|(path, label)| {
                let rgb = image::open(path).unwrap().to_rgb8();
                let view = ImageView::new(rgb.width() as usize, rgb.height() as usize, PixelFormat::Rgb8, rgb.as_raw())
                    .unwrap();
                let ranked = pollster::block_on(learner.rank_vocabulary(view, 5)).unwrap();
                ranked.iter().any(|(i, _)| *i == concepts.lookup(&names[*label]).unwrap())
            })
            .count()
    };
    let (with, without) = (top5(true), top5(false));
    println!("zero-shot top-5 on foolbox's ImageNet photos: {with}/20 with the prior, {without}/20 without");
    assert!(with >= 12, "top-5 {with}/20 with the prior");
    assert!(without <= 2, "top-5 {without}/20 without the prior: the test cannot tell");
}

#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn mislabelled_imagenet_classes_are_refused_by_name() {
    let params = cvm_trunk::convert(&pth(), true).unwrap();
    let names = cvm_trunk::imagenet_concepts(&committed("imagenet.tsv")).unwrap();
    let good = write_trunk_blob(&params, 224, true, BlobDtype::F16, Some(&names), Default::default()).unwrap();
    assert_eq!(Trunk::from_bytes(&good, &Device::flex()).unwrap().imagenet_concepts().unwrap()[949], "strawberry");
    // Names for a classifier the blob does not keep, or not one per class.
    assert!(
        write_trunk_blob(
            &cvm_trunk::convert(&pth(), false).unwrap(),
            224,
            false,
            BlobDtype::F16,
            Some(&names),
            Default::default()
        )
        .is_err()
    );
    let mut metadata = cvm::blob::Metadata::new();
    metadata.insert("imagenet_concepts".into(), serde_json::Value::from(names[..999].to_vec()));
    let e = Trunk::from_bytes(
        &write_trunk_blob(&params, 224, true, BlobDtype::F16, None, metadata).unwrap(),
        &Device::flex(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("imagenet_concepts must name the classifier's 1000 classes"), "{e}");
    // Names with no concept-prior recipe, or with one this version does not compute.
    for recipe in [None, Some("conse-0")] {
        let mut metadata = cvm::blob::Metadata::new();
        metadata.insert("imagenet_concepts".into(), serde_json::Value::from(names.clone()));
        if let Some(recipe) = recipe {
            metadata.insert("concept_prior".into(), serde_json::json!({ "recipe": recipe }));
        }
        let e = Trunk::from_bytes(
            &write_trunk_blob(&params, 224, true, BlobDtype::F16, None, metadata).unwrap(),
            &Device::flex(),
        )
        .unwrap_err()
        .to_string();
        let expected = recipe.map_or("recipe is not recorded".to_string(), |r| format!("recipe is \"{r}\""));
        assert!(e.contains(&expected) && e.contains(cvm::prior::PRIOR_RECIPE), "{e}");
    }
    // A learner asked for the prior of a blob that names no classes says what to do.
    let bare = Trunk::from_bytes(
        &write_trunk_blob(&params, 224, true, BlobDtype::F16, None, Default::default()).unwrap(),
        &Device::flex(),
    )
    .unwrap();
    let config = cvm::LearnerConfig::new(cvm::StudentConfig::adapter(bare.input(), cvm::efficientnet::FEATURES));
    let e = cvm::Learner::with_trunk(config, cvm::synthetic::concepts(), bare, Device::flex().autodiff())
        .unwrap_err()
        .to_string();
    assert!(e.contains("concept prior needs a trunk blob"), "{e}");
}

/// With the grounded prior, training reads each example's prior vector from a cache filled once per example (a
/// restored learner fills it afresh): a learner restored between two classes trains exactly as one that never
/// stopped.
#[test]
#[ignore = "needs the model cache: run through `cargo xtask test`"]
fn with_the_prior_a_restored_learner_continues_exactly_as_one_that_never_stopped() {
    use cvm::{Learner, LearnerConfig, StudentConfig};
    let (device, trunk, concepts) = product_blobs();
    let config = LearnerConfig {
        batch_size: 8,
        ..LearnerConfig::new(StudentConfig::adapter(trunk.input(), cvm::efficientnet::FEATURES))
    };
    assert!(config.concept_prior);
    let photos = cvm_trunk::labelled_photos(&data().join("foolbox")).unwrap();
    let names = trunk.imagenet_concepts().unwrap().to_vec();
    // Four 160-px crops of a photo, as encoded samples.
    let samples = |learner: &mut Learner, index: usize| {
        let rgb = image::open(&photos[index].0).unwrap().to_rgb8();
        let crops: Vec<Vec<u8>> = [(0, 0), (40, 0), (0, 40), (40, 40)]
            .iter()
            .map(|&(x, y)| image::imageops::crop_imm(&rgb, x, y, 160, 160).to_image().into_raw())
            .collect();
        let views: Vec<ImageView> =
            crops.iter().map(|p| ImageView::new(160, 160, PixelFormat::Rgb8, p).unwrap()).collect();
        pollster::block_on(learner.encode(&views)).unwrap()
    };
    let teach = |learner: &mut Learner, index: usize| {
        let class = learner.add_class(&names[photos[index].1]).unwrap();
        let x = samples(learner, index);
        learner.add_samples(class, &x).unwrap();
        pollster::block_on(learner.train(6)).unwrap().losses
    };
    let mut straight = Learner::with_trunk(config, concepts.clone(), trunk.clone(), device.clone()).unwrap();
    teach(&mut straight, 0);
    teach(&mut straight, 1);
    let mut resumed =
        Learner::restore(&pollster::block_on(straight.snapshot()).unwrap(), concepts, Some(trunk), device).unwrap();
    let (a, b) = (teach(&mut straight, 2), teach(&mut resumed, 2));
    assert!(a.iter().all(|l| l.is_finite()));
    assert_eq!(a, b, "training after a restore differs");
}
