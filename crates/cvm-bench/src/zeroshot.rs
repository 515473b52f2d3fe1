//! `cvm-bench zeroshot`: what the grounded prior knows before the first example, and what examples add.
//!
//! - **ranking**: the true concept's rank among *all* vocabulary names for foolbox's 20 ImageNet, 20 CIFAR-10
//!   and 20 CIFAR-100 photos (whole photos, centre-cropped), by a fresh learner: top-1 and top-5 (labels from
//!   the packages; ImageNet labels name their concept through the trunk blob's class list);
//! - **shots**: ten classes taught one at a time with 0, 1, 3, 5, 10 or 20 examples each (60 steps per class,
//!   as on the page), with and without the prior; accuracy among the taught classes afterwards, on the
//!   webcam-like photo clips of the open-set benchmark (tested on later frames of the photo taught), on clips
//!   of CIFAR-10 photos (tested on *other* photos of the class taught) and on Fashion-MNIST upsampled through
//!   the trunk;
//! - **retention**: the ranking's top-5 on the ImageNet photos before and after five Fashion-MNIST classes are
//!   taught (20 examples each): does continual learning keep the grounding of classes never taught?

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Device;
use cvm::metrics::mean_std;
use cvm::trunk::Trunk;
use cvm::{ConceptSpace, ImageView, Learner, LearnerConfig, PixelFormat};
use serde::Serialize;

use crate::cl::{Encoded, Student, class_order, learner, student_config};
use crate::data;
use crate::openset::Scenario;

pub const SHOTS: [usize; 6] = [0, 1, 3, 5, 10, 20];
const STEPS: usize = 60;
const CLASSES: usize = 10;

/// CIFAR-10's classes, in label order.
const CIFAR10: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
/// CIFAR-100's fine classes, in label order.
const CIFAR100: [&str; 100] = [
    "apple",
    "aquarium fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak tree",
    "orange",
    "orchid",
    "otter",
    "palm tree",
    "pear",
    "pickup truck",
    "pine tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow tree",
    "wolf",
    "woman",
    "worm",
];

/// A labelled photo, encoded (trunk features), with its true concept's row.
pub struct Photo {
    pub set: &'static str,
    pub file: String,
    pub concept: usize,
    pub features: Vec<f32>,
}

/// foolbox's photos whose true name the vocabulary has, encoded by `learner`; the names it lacks, per set.
pub fn photos(learner: &mut Learner, dir: &Path, trunk: &Trunk) -> Result<(Vec<Photo>, Vec<String>), String> {
    let imagenet = trunk.imagenet_concepts().ok_or("the trunk blob names no ImageNet classes")?.to_vec();
    let concepts = learner.concepts().clone();
    let (mut photos, mut missing) = (Vec::new(), Vec::new());
    for (set, label, path) in data::foolbox_photos(dir)? {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let (set, name): (&'static str, &str) = match set.as_str() {
            "imagenet" => ("ImageNet", imagenet.get(label).ok_or("ImageNet label out of range")?),
            "cifar10" => ("CIFAR-10", CIFAR10.get(label).ok_or("CIFAR-10 label out of range")?),
            "cifar100" => ("CIFAR-100", CIFAR100.get(label).ok_or("CIFAR-100 label out of range")?),
            _ => continue,
        };
        let Ok(concept) = concepts.lookup(name) else {
            missing.push(format!("{set} \"{name}\""));
            continue;
        };
        let rgb = image::open(&path).map_err(|e| format!("{}: {e}", path.display()))?.to_rgb8();
        let view = ImageView::new(rgb.width() as usize, rgb.height() as usize, PixelFormat::Rgb8, rgb.as_raw())
            .map_err(|e| e.to_string())?;
        let features = pollster::block_on(learner.encode(&[view])).map_err(|e| e.to_string())?;
        photos.push(Photo { set, file: stem, concept, features });
    }
    Ok((photos, missing))
}

/// The rank (0 = first) of each photo's true concept among all vocabulary names, up to `limit` (beyond: `limit`).
pub fn ranks(learner: &mut Learner, photos: &[Photo], limit: usize) -> Result<Vec<usize>, String> {
    let features: Vec<f32> = photos.iter().flat_map(|p| p.features.clone()).collect();
    let ranked = pollster::block_on(learner.rank_samples(&features, limit)).map_err(|e| e.to_string())?;
    Ok(photos
        .iter()
        .zip(ranked)
        .map(|(photo, nearest)| nearest.iter().position(|(i, _)| *i == photo.concept).unwrap_or(limit))
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub set: String,
    pub prior: bool,
    pub photos: usize,
    pub top1: usize,
    pub top5: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShotsRun {
    pub scenario: String,
    pub prior: bool,
    pub shots: usize,
    pub seed: u64,
    pub accuracy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retention {
    pub seed: u64,
    pub top5_before: f64,
    pub top5_after: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub missing_names: Vec<String>,
    pub ranking: Vec<Ranking>,
    pub shots: Vec<ShotsRun>,
    pub retention: Vec<Retention>,
}

/// A fresh CVM learner of the adapter student, with or without the prior.
pub fn fresh(
    trunk: &Trunk,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    prior: bool,
    seed: u64,
) -> Result<Learner, String> {
    let config = LearnerConfig {
        concept_prior: prior,
        seed,
        ..LearnerConfig::new(student_config(Student::Adapter, Some(trunk))?)
    };
    learner(config, Some(trunk), concepts, device)
}

/// Top-1 and top-5 counts per photo set, with and without the prior.
pub fn ranking(
    photos: &[Photo],
    trunk: &Trunk,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    report: &mut Report,
) -> Result<(), String> {
    for prior in [true, false] {
        let ranks = ranks(&mut fresh(trunk, concepts, device, prior, 0)?, photos, 5)?;
        for set in ["ImageNet", "CIFAR-10", "CIFAR-100"] {
            let of: Vec<usize> = photos.iter().zip(&ranks).filter(|(p, _)| p.set == set).map(|(_, &r)| r).collect();
            report.ranking.push(Ranking {
                set: set.into(),
                prior,
                photos: of.len(),
                top1: of.iter().filter(|&&r| r == 0).count(),
                top5: of.iter().filter(|&&r| r < 5).count(),
            });
        }
    }
    Ok(())
}

/// Accuracy among ten classes taught one at a time with `shots` examples each.
pub fn shots(
    scenario: &Scenario,
    shots: usize,
    prior: bool,
    seed: u64,
    trunk: &Trunk,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
) -> Result<f64, String> {
    let mut learner = fresh(trunk, concepts, device, prior, seed)?;
    let len = scenario.encoded.sample_len;
    let order: Vec<usize> = class_order(seed, scenario.class_names.len()).into_iter().take(CLASSES).collect();
    for &label in &order {
        let class = learner.add_class(&scenario.class_names[label]).map_err(|e| e.to_string())?;
        let train = &scenario.encoded.train[label];
        if shots > 0 {
            learner.add_samples(class, &train[..(shots * len).min(train.len())]).map_err(|e| e.to_string())?;
            pollster::block_on(learner.train(STEPS)).map_err(|e| e.to_string())?;
        }
    }
    let (mut correct, mut total) = (0, 0);
    for (class, &label) in order.iter().enumerate() {
        let predictions =
            pollster::block_on(learner.predict_samples(&scenario.encoded.test[label])).map_err(|e| e.to_string())?;
        correct += predictions.iter().filter(|p| p.top() == Some(class)).count();
        total += predictions.len();
    }
    Ok(correct as f64 / total.max(1) as f64)
}

/// Top-5 on the ImageNet photos before and after five classes of `taught` (20 examples each) are taught.
pub fn retention(
    photos: &[Photo],
    taught: &Scenario,
    seed: u64,
    trunk: &Trunk,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
) -> Result<Retention, String> {
    let imagenet: Vec<&Photo> = photos.iter().filter(|p| p.set == "ImageNet").collect();
    let imagenet: Vec<Photo> = imagenet
        .into_iter()
        .map(|p| Photo { set: p.set, file: p.file.clone(), concept: p.concept, features: p.features.clone() })
        .collect();
    let mut learner = fresh(trunk, concepts, device, true, seed)?;
    let top5 = |learner: &mut Learner| -> Result<f64, String> {
        Ok(ranks(learner, &imagenet, 5)?.iter().filter(|&&r| r < 5).count() as f64 / imagenet.len() as f64)
    };
    let before = top5(&mut learner)?;
    let len = taught.encoded.sample_len;
    for label in class_order(seed, taught.class_names.len()).into_iter().take(5) {
        let class = learner.add_class(&taught.class_names[label]).map_err(|e| e.to_string())?;
        let train = &taught.encoded.train[label];
        learner.add_samples(class, &train[..(20 * len).min(train.len())]).map_err(|e| e.to_string())?;
        pollster::block_on(learner.train(STEPS)).map_err(|e| e.to_string())?;
    }
    Ok(Retention { seed, top5_before: before, top5_after: top5(&mut learner)? })
}

/// Markdown tables of the report.
pub fn table(report: &Report) -> String {
    let mut out = String::from(
        "\n**Zero-shot ranking among every vocabulary name (fresh learner)**\n\n| photos | prior | top-1 | top-5 |\n|---|---|---|---|\n",
    );
    for r in &report.ranking {
        out += &format!(
            "| {} ({}) | {} | {}/{} | {}/{} |\n",
            r.set,
            r.photos,
            if r.prior { "yes" } else { "no" },
            r.top1,
            r.photos,
            r.top5,
            r.photos
        );
    }
    let mut scenarios: Vec<&str> = Vec::new();
    for r in &report.shots {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    out += &format!(
        "\n**Accuracy among {CLASSES} classes taught one at a time, by examples per class (mean ± std over seeds)**\n\n| scenario | prior |"
    );
    out += &SHOTS.iter().map(|s| format!(" {s} |")).collect::<String>();
    out += &format!("\n|---|---|{}\n", "---|".repeat(SHOTS.len()));
    for scenario in scenarios {
        for prior in [true, false] {
            out += &format!("| {scenario} | {} |", if prior { "yes" } else { "no" });
            for shots in SHOTS {
                let of: Vec<f64> = report
                    .shots
                    .iter()
                    .filter(|r| r.scenario == scenario && r.prior == prior && r.shots == shots)
                    .map(|r| 100.0 * r.accuracy)
                    .collect();
                let (m, s) = mean_std(&of);
                out += &format!(" {m:.1} ± {s:.1} |");
            }
            out += "\n";
        }
    }
    if !report.retention.is_empty() {
        let before: Vec<f64> = report.retention.iter().map(|r| 100.0 * r.top5_before).collect();
        let after: Vec<f64> = report.retention.iter().map(|r| 100.0 * r.top5_after).collect();
        let drop: Vec<f64> = before.iter().zip(&after).map(|(b, a)| b - a).collect();
        let ((b, bs), (a, as_), (d, ds)) = (mean_std(&before), mean_std(&after), mean_std(&drop));
        out += &format!(
            "\n**Grounding kept: ImageNet photos' top-5 before and after 5 Fashion-MNIST classes are taught ({} seeds)**\n\n| before | after | drop (paired, points) |\n|---|---|---|\n| {b:.1} ± {bs:.1} | {a:.1} ± {as_:.1} | {d:+.1} ± {ds:.1} |\n",
            report.retention.len()
        );
    }
    out
}

/// Fashion-MNIST through the trunk with `train` examples and `test` test images per class.
pub fn fashion(learner: &mut Learner, dataset: &data::Dataset, train: usize, test: usize) -> Result<Scenario, String> {
    Ok(Scenario {
        name: "fashion-mnist-trunk",
        student: Student::Adapter,
        class_names: dataset.class_names.iter().map(|s| s.to_string()).collect(),
        encoded: Encoded::new(learner, dataset, train, test)?,
        far: Vec::new(),
        steps: STEPS,
        memory: learner.config().memory,
    })
}

/// CIFAR-10 classes of which foolbox has two photos or more, as webcam-like clips: each class taught from the
/// clip of its first photo (`train` frames from the first 2 s) and tested on clips of its *other* photos (`test`
/// frames each, from 0–6 s). A new instance of a taught thing, not another view of the same one: what the
/// language and the trunk know about the class is all that carries over.
pub fn new_instances(learner: &mut Learner, dir: &Path, train: usize, test: usize) -> Result<Scenario, String> {
    let mut by_class: Vec<Vec<PathBuf>> = vec![Vec::new(); CIFAR10.len()];
    for (_, label, path) in data::foolbox_photos(dir)?.into_iter().filter(|(set, _, _)| set == "cifar10") {
        by_class.get_mut(label).ok_or("CIFAR-10 label out of range")?.push(path);
    }
    let times = |from: f64, to: f64, n: usize| (0..n).map(move |i| from + (to - from) * i as f64 / n as f64);
    let (mut class_names, mut train_frames, mut test_frames) = (Vec::new(), Vec::new(), Vec::new());
    for (name, paths) in CIFAR10.iter().zip(&by_class) {
        let [first, others @ ..] = &paths[..] else { continue };
        if others.is_empty() || learner.concepts().lookup(name).is_err() {
            continue;
        }
        class_names.push(name.to_string());
        train_frames.push(crate::openset::encode(learner, &data::Photo::open(first)?, times(0.0, 2.0, train))?);
        let mut tested = Vec::new();
        for path in others {
            tested.extend(crate::openset::encode(learner, &data::Photo::open(path)?, times(0.0, 6.0, test))?);
        }
        test_frames.push(tested);
    }
    if class_names.len() < 2 {
        return Err(format!("{}: fewer than two CIFAR-10 classes with two photos", dir.display()));
    }
    Ok(Scenario {
        name: "cifar10-new-photo",
        student: Student::Adapter,
        class_names,
        encoded: Encoded { sample_len: learner.config().student.sample_len(), train: train_frames, test: test_frames },
        far: Vec::new(),
        steps: STEPS,
        memory: learner.config().memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CIFAR-10 classes foolbox has two photos of or more, each taught from its first photo's clip and
    /// tested on the clips of its others.
    #[test]
    #[ignore = "needs the model cache: run through `cargo xtask test`"]
    fn new_instances_teach_one_photo_and_test_the_others() {
        let assets = std::path::PathBuf::from(std::env::var_os("CVM_ASSETS").expect("CVM_ASSETS is unset"));
        let device = Device::flex().autodiff();
        let read = |name: &str| std::fs::read(assets.join(name)).unwrap();
        let trunk = Trunk::from_bytes(&read("trunk-efficientnet-lite0.safetensors"), &device).unwrap();
        let concepts = Arc::new(ConceptSpace::from_bytes(&read("concepts-smollm2.safetensors")).unwrap());
        let mut encoder = fresh(&trunk, &concepts, &device, false, 0).unwrap();
        let foolbox = data::tests::data_dir().join("foolbox");
        let scenario = new_instances(&mut encoder, &foolbox, 3, 2).unwrap();
        assert_eq!(scenario.class_names, ["airplane", "automobile", "cat", "dog", "frog", "horse", "ship", "truck"]);
        let len = scenario.encoded.sample_len;
        assert!(scenario.encoded.train.iter().all(|t| t.len() == 3 * len));
        // Frogs and ships have four photos: three tested, two frames each.
        let tested: Vec<usize> = scenario.encoded.test.iter().map(|t| t.len() / (2 * len)).collect();
        assert_eq!(tested, [1, 1, 1, 1, 3, 1, 3, 1]);
        // The photo taught is not among those tested.
        let first_frame = &scenario.encoded.train[0][..len];
        assert!(scenario.encoded.test[0].chunks(len).all(|f| f != first_frame));
    }
}
