//! The learner end to end on flex: it learns classes one after another, its state round-trips, bad input errs.

mod common;

use common::*;
use cvm::{CvmError, HeadKind, ImageView, Learner, PixelFormat};

#[test]
fn learns_three_classes_one_after_another() {
    for head in [HeadKind::Concepts, HeadKind::RandomAnchors, HeadKind::Linear] {
        let mut learner = Learner::new(config(head), concepts(), device()).unwrap();
        let reports = teach(&mut learner, 40, 60, 1);
        let first = reports[1].losses[0];
        let last = *reports[1].losses.last().unwrap();
        assert!(last < first, "{head:?}: loss did not fall ({first} → {last})");
        let acc = accuracy(&mut learner, 30, 99);
        assert!(acc >= 0.95, "{head:?}: held-out accuracy {acc:.3} < 0.95");
    }
}

/// Distillation centred on the new classes' samples (only the shape of their distances to the old anchors kept)
/// holds the old classes hard without stopping a new class from being learnt: at weight 20 every class is learnt
/// in every seed here, where the uncentred term at that weight leaves one of the three unlearnt (0.67 in the
/// first seed) and at the shipped weight 5 reaches 0.97–1.00.
#[test]
fn centred_distillation_never_stops_a_new_class_from_being_learnt() {
    for seed in 0..4 {
        let mut config = cvm::LearnerConfig { seed, ..config(HeadKind::Concepts) };
        config.objective.distill_weight = 20.0;
        config.objective.distill_new_centred = true;
        let mut learner = Learner::new(config, concepts(), device()).unwrap();
        teach(&mut learner, 40, 60, seed + 1);
        let acc = accuracy(&mut learner, 30, 99);
        assert!(acc >= 0.95, "seed {seed}: held-out accuracy {acc:.3} < 0.95");
    }
}

#[test]
fn training_is_deterministic_under_a_seed() {
    let run = |seed| {
        let mut learner =
            Learner::new(cvm::LearnerConfig { seed, ..config(HeadKind::Concepts) }, concepts(), device()).unwrap();
        teach(&mut learner, 10, 5, 3).into_iter().flat_map(|r| r.losses).collect::<Vec<f32>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn snapshot_round_trip_keeps_predictions_and_training() {
    for head in [HeadKind::Concepts, HeadKind::Linear] {
        let mut learner = Learner::new(config(head), concepts(), device()).unwrap();
        teach(&mut learner, 20, 20, 5);
        // Leave an example pending so it must survive too.
        let mut rng = rand::SeedableRng::seed_from_u64(8);
        pollster::block_on(learner.add_example(0, view(&image(0, &mut rng)))).unwrap();

        let bytes = pollster::block_on(learner.snapshot()).unwrap();
        let mut restored = Learner::restore(&bytes, concepts(), None, device()).unwrap();
        assert_eq!(restored.classes(), learner.classes());
        assert_eq!(restored.memory(), learner.memory());
        assert_eq!(restored.pending_counts(), learner.pending_counts());

        let probe: Vec<Vec<u8>> = (0..6).map(|i| image(i % 3, &mut rng)).collect();
        let views: Vec<_> = probe.iter().map(|p| view(p)).collect();
        let before = pollster::block_on(learner.predict_batch(&views)).unwrap();
        let after = pollster::block_on(restored.predict_batch(&views)).unwrap();
        assert_eq!(before, after, "{head:?}: predictions changed after restore");

        // A second snapshot of the restored learner is byte-identical.
        assert_eq!(pollster::block_on(restored.snapshot()).unwrap(), bytes);
    }
}

#[test]
fn a_restored_learner_takes_new_settings_but_not_a_new_shape() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 20, 5, 5);
    let bytes = pollster::block_on(learner.snapshot()).unwrap();
    let mut restored = Learner::restore(&bytes, concepts(), None, device()).unwrap();
    let before = restored.config().clone();
    assert_eq!(restored.memory().class_counts(), [20, 20, 20]);

    let tuned =
        cvm::LearnerConfig { learning_rate: 1e-2, batch_size: 4, memory: 30, accept_rate: 0.8, ..before.clone() };
    restored.reconfigure(tuned.clone()).unwrap();
    assert_eq!(restored.config(), &tuned);
    assert_eq!(restored.memory().class_counts(), [10, 10, 10], "a smaller memory keeps the classes balanced");
    assert_eq!(pollster::block_on(restored.train(3)).unwrap().losses.len(), 3);

    let refused = [
        cvm::LearnerConfig { student: cvm::StudentConfig::tiny_cnn(1, 2 * SIDE), ..tuned.clone() },
        cvm::LearnerConfig { head: HeadKind::Linear, ..tuned.clone() },
        cvm::LearnerConfig { learning_rate: -1.0, ..tuned.clone() },
    ];
    for config in refused {
        let err = restored.reconfigure(config).unwrap_err();
        assert!(matches!(err, CvmError::InvalidArgument(_)), "{err}");
        assert_eq!(restored.config(), &tuned, "a refused config changes nothing");
    }
}

#[test]
fn single_examples_can_be_removed_before_and_after_training() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    let mut rng = rand::SeedableRng::seed_from_u64(3);
    let cat = learner.add_class(NAMES[0]).unwrap();
    let dog = learner.add_class(NAMES[1]).unwrap();
    let cats: Vec<Vec<u8>> = (0..3).map(|_| image(0, &mut rng)).collect();
    let ids = pollster::block_on(learner.add_examples(cat, &cats.iter().map(|p| view(p)).collect::<Vec<_>>())).unwrap();
    assert_eq!(ids, vec![0, 1, 2]);
    let dogs = [
        pollster::block_on(learner.add_example(dog, view(&image(1, &mut rng)))).unwrap(),
        pollster::block_on(learner.add_example(dog, view(&image(1, &mut rng)))).unwrap(),
    ];
    assert_eq!(dogs, [3, 4]);

    // Not yet trained on: taken out of the current experience.
    assert!(learner.remove_example(1));
    assert!(!learner.remove_example(1), "already removed");
    assert!(!learner.remove_example(99), "never added");
    assert_eq!(learner.pending_counts(), vec![2, 2]);
    assert_eq!(learner.example_ids(cat), vec![0, 2]);

    // Trained on: taken out of the replay memory.
    pollster::block_on(learner.train(3)).unwrap();
    assert_eq!(learner.memory().class_counts(), vec![2, 2]);
    assert!(learner.remove_example(3));
    assert_eq!(learner.memory().class_counts(), vec![2, 1]);
    assert_eq!(learner.example_ids(dog), vec![4]);

    // Ids survive a snapshot, and new examples keep counting after it.
    let bytes = pollster::block_on(learner.snapshot()).unwrap();
    let mut restored = Learner::restore(&bytes, concepts(), None, device()).unwrap();
    assert_eq!(restored.example_ids(cat), vec![0, 2]);
    assert_eq!(pollster::block_on(restored.add_example(cat, view(&image(0, &mut rng)))).unwrap(), 5);

    // Removing a class removes its examples; the others keep their ids.
    restored.remove_class(cat).unwrap();
    assert_eq!(restored.example_ids(0), vec![4]);
    assert!(!restored.remove_example(0));
}

/// Rewrites a snapshot's payload (metadata edited by `edit`, tensors kept where `keep` holds) as format version
/// `version`, and seals it again.
fn rewritten(
    bytes: &[u8],
    version: u32,
    edit: impl FnOnce(&mut cvm::blob::Metadata),
    keep: impl Fn(&str) -> bool,
) -> Vec<u8> {
    use sha2::Digest;
    let parsed = cvm::blob::parse(&bytes[40..], "snapshot", "cvm-snapshot", 2, 1 << 22).unwrap();
    let mut metadata = parsed.metadata.clone();
    edit(&mut metadata);
    let tensors: Vec<cvm::blob::OwnedTensor> = parsed
        .tensors
        .tensors()
        .into_iter()
        .filter(|(name, _)| keep(name))
        .map(|(name, v)| cvm::blob::OwnedTensor {
            name,
            dtype: v.dtype(),
            shape: v.shape().to_vec(),
            bytes: v.data().to_vec(),
        })
        .collect();
    let payload = cvm::blob::write("cvm-snapshot", version, metadata, &tensors).unwrap();
    [&bytes[..8], sha2::Sha256::digest(&payload).as_slice(), &payload].concat()
}

/// Rewrites a snapshot in the version-1 layout (no example ids), as older releases saved it.
fn as_version_1(bytes: &[u8]) -> Vec<u8> {
    rewritten(
        bytes,
        1,
        |m| {
            m.remove("next_example");
        },
        |name| !name.ends_with(".ids"),
    )
}

#[test]
fn version_1_snapshots_still_load_with_their_examples_numbered() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 6, 2, 4);
    let mut rng = rand::SeedableRng::seed_from_u64(5);
    pollster::block_on(learner.add_example(0, view(&image(0, &mut rng)))).unwrap();
    let old = as_version_1(&pollster::block_on(learner.snapshot()).unwrap());
    let mut restored = Learner::restore(&old, concepts(), None, device()).unwrap();
    assert_eq!(restored.memory().class_counts(), learner.memory().class_counts());
    assert_eq!(restored.pending_counts(), learner.pending_counts());
    let held = restored.memory().len() + 1;
    let mut ids: Vec<u32> = (0..3).flat_map(|c| restored.example_ids(c)).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..held as u32).collect::<Vec<_>>());
    assert_eq!(pollster::block_on(restored.add_example(1, view(&image(1, &mut rng)))).unwrap(), held as u32);
    // Saved again, it is a version-2 snapshot.
    let again = pollster::block_on(restored.snapshot()).unwrap();
    assert!(Learner::restore(&again, concepts(), None, device()).is_ok());
}

#[test]
fn corrupt_or_foreign_snapshots_are_refused() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 5, 2, 5);
    let bytes = pollster::block_on(learner.snapshot()).unwrap();

    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let err = Learner::restore(&flipped, concepts(), None, device()).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");

    let err = Learner::restore(&bytes[..bytes.len() / 2], concepts(), None, device()).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");

    let err = Learner::restore(b"hello", concepts(), None, device()).unwrap_err().to_string();
    assert!(err.contains("not a snapshot"), "{err}");

    // Same learner, another concept blob.
    let other = {
        let blob = cvm::ConceptBlob {
            names: vec!["a".into(), "b".into()],
            embeddings: vec![1.0, 0.0, 0.0, 1.0],
            dim: 2,
            ..Default::default()
        };
        std::sync::Arc::new(cvm::ConceptSpace::from_bytes(&blob.to_bytes(cvm::BlobDtype::F32).unwrap()).unwrap())
    };
    let err = Learner::restore(&bytes, other, None, device()).unwrap_err().to_string();
    assert!(err.contains("different concept blob"), "{err}");
}

#[test]
fn bad_input_errs_and_leaves_the_learner_usable() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    assert!(matches!(pollster::block_on(learner.train(5)), Err(CvmError::NotReady(_))));
    match learner.add_class("dogs") {
        Err(CvmError::UnknownConcept { suggestions, .. }) => assert!(!suggestions.is_empty()),
        other => panic!("expected an unknown-concept error, got {other:?}"),
    }
    let cat = learner.add_class("Cat").unwrap();
    assert!(matches!(learner.add_class(" cat "), Err(CvmError::DuplicateClass(_))));
    assert!(matches!(learner.class_index("dog"), Err(CvmError::UnknownClass(_))));
    assert!(pollster::block_on(learner.add_example(5, view(&[0; SIDE * SIDE]))).is_err());
    assert!(ImageView::new(3, 3, PixelFormat::Rgba8, &[0; 35]).is_err());
    assert!(pollster::block_on(learner.train(1_000_000)).is_err());
    // Still works.
    let mut rng = rand::SeedableRng::seed_from_u64(1);
    pollster::block_on(learner.add_example(cat, view(&image(0, &mut rng)))).unwrap();
    let report = pollster::block_on(learner.train(2)).unwrap();
    assert_eq!(report.steps, 2);
    assert!(report.losses.iter().all(|l| l.is_finite()));
}

#[test]
fn vocabulary_ranking_and_unknown() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 30, 40, 11);
    let mut rng = rand::SeedableRng::seed_from_u64(4);
    let stripes = image(0, &mut rng);
    let ranked = pollster::block_on(learner.rank_vocabulary(view(&stripes), 2)).unwrap();
    assert_eq!(ranked.len(), 2);
    assert_eq!(learner.concepts().name(ranked[0].0), "cat", "{ranked:?}");
    assert!(ranked[0].1 >= ranked[1].1);

    let prediction = pollster::block_on(learner.predict(view(&stripes))).unwrap();
    assert_eq!(prediction.class, Some(0));
    assert!((prediction.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);

    assert!(prediction.open_set_score.is_some_and(|s| s >= 0.0), "{prediction:?}");
}

#[test]
fn never_taught_inputs_are_unknown_from_one_class_on() {
    let mut rng = rand::SeedableRng::seed_from_u64(21);
    let fresh = |c: usize, n: usize, rng: &mut rand::rngs::StdRng| (0..n).map(|_| image(c, rng)).collect::<Vec<_>>();
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    let mut known_share = Vec::new();
    for (taught, name) in NAMES[..2].iter().enumerate() {
        let class = learner.add_class(name).unwrap();
        let examples = fresh(taught, 30, &mut rng);
        pollster::block_on(learner.add_examples(class, &examples.iter().map(|p| view(p)).collect::<Vec<_>>())).unwrap();
        pollster::block_on(learner.train(40)).unwrap();
        // Fresh images of every class, taught or not: a softmax would name a taught class for all of them.
        let shares: Vec<f64> = (0..3)
            .map(|c| {
                let images = fresh(c, 20, &mut rng);
                let predictions =
                    pollster::block_on(learner.predict_batch(&images.iter().map(|p| view(p)).collect::<Vec<_>>()))
                        .unwrap();
                assert!(predictions.iter().all(|p| p.open_set_score.is_some() && p.top().is_some()));
                predictions.iter().filter(|p| p.class.is_some()).count() as f64 / 20.0
            })
            .collect();
        known_share.push(shares);
    }
    for (taught, shares) in known_share.iter().enumerate() {
        for (c, &share) in shares.iter().enumerate() {
            if c <= taught {
                assert!(share >= 0.7, "{taught_n} taught: class {c} accepted {share}", taught_n = taught + 1);
            } else {
                assert!(
                    share <= 0.3,
                    "{taught_n} taught: never-taught class {c} accepted {share}",
                    taught_n = taught + 1
                );
            }
        }
    }
    // A stricter accept rate accepts fewer; the rate is validated.
    assert!(
        learner.set_accept_rate(f32::NAN).is_err()
            && learner.set_accept_rate(0.0).is_err()
            && learner.set_accept_rate(1.5).is_err()
    );
    let images = fresh(0, 20, &mut rng);
    let views: Vec<_> = images.iter().map(|p| view(p)).collect();
    let accepted = |learner: &mut Learner| {
        pollster::block_on(learner.predict_batch(&views)).unwrap().iter().filter(|p| p.class.is_some()).count()
    };
    let lenient = accepted(&mut learner);
    learner.set_accept_rate(0.5).unwrap();
    assert!(accepted(&mut learner) < lenient);
}

#[test]
fn removing_a_class_forgets_its_examples() {
    let mut learner = Learner::new(config(HeadKind::Linear), concepts(), device()).unwrap();
    teach(&mut learner, 10, 3, 2);
    let before = learner.memory().class_counts();
    learner.remove_class(1).unwrap();
    assert_eq!(learner.classes().iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), vec!["cat", "truck"]);
    assert_eq!(learner.memory().class_counts(), vec![before[0], before[2]]);
    assert!(learner.remove_class(5).is_err());
    let report = pollster::block_on(learner.train(2)).unwrap();
    assert!(report.losses.iter().all(|l| l.is_finite()));
}

#[test]
fn training_reports_progress_and_stops_when_asked() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    let mut rng = rand::SeedableRng::seed_from_u64(3);
    let cat = learner.add_class("cat").unwrap();
    let dog = learner.add_class("dog").unwrap();
    for _ in 0..8 {
        pollster::block_on(learner.add_example(cat, view(&image(0, &mut rng)))).unwrap();
        pollster::block_on(learner.add_example(dog, view(&image(1, &mut rng)))).unwrap();
    }
    let mut calls = Vec::new();
    let report = pollster::block_on(learner.train_with_progress(10, 3, |r| {
        calls.push(r.steps);
        std::future::ready(calls.len() < 2)
    }))
    .unwrap();
    assert_eq!(calls, vec![3, 6]);
    assert_eq!((report.steps, report.losses.len()), (6, 6));
    assert_eq!(learner.pending_counts(), vec![0, 0], "the experience moved into memory");
    assert_eq!(learner.memory().len(), 16);
}

/// The cross-backend reference scenario learns, is deterministic, and (when `CVM_GOLDEN` names a file) records
/// its losses for the browser tests to compare against.
#[test]
fn reference_run_is_deterministic_and_recorded() {
    let a = pollster::block_on(cvm::synthetic::reference_run(device(), 6)).unwrap();
    let b = pollster::block_on(cvm::synthetic::reference_run(device(), 6)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 18);
    assert!(a.iter().all(|l| l.is_finite()));
    if let Some(path) = std::env::var_os("CVM_GOLDEN") {
        std::fs::write(path, serde_json::to_string(&a).unwrap()).unwrap();
    }
}

#[test]
fn concept_map_places_anchors_neighbours_and_samples() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 10, 10, 6);
    let mut rng = rand::SeedableRng::seed_from_u64(2);
    let images: Vec<Vec<u8>> = (0..3).map(|c| image(c, &mut rng)).collect();
    let views: Vec<_> = images.iter().map(|p| view(p)).collect();
    let labels: Vec<String> = NAMES[..3].iter().map(|s| s.to_string()).collect();
    let samples = pollster::block_on(learner.encode(&views)).unwrap();
    let map = pollster::block_on(learner.concept_map(&samples, &labels, 1)).unwrap();
    use cvm::map::PointKind;
    let count = |k| map.iter().filter(|p| p.kind == k).count();
    assert_eq!((count(PointKind::Anchor), count(PointKind::Sample)), (3, 3));
    assert_eq!(count(PointKind::Concept), 1, "only \"coffee mug\" is not a class");
    assert!(map.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
    // Anchors are spread out, not collapsed onto one point.
    let anchors: Vec<_> = map.iter().filter(|p| p.kind == PointKind::Anchor).collect();
    assert!(anchors.windows(2).all(|w| (w[0].x - w[1].x).abs() + (w[0].y - w[1].y).abs() > 1e-3));
    let linear = Learner::new(config(HeadKind::Linear), concepts(), device());
    assert!(pollster::block_on(linear.unwrap().concept_map(&samples, &labels, 1)).is_err());
}

/// The full objective: asymmetric incoming loss, distillation against the previous experience's network, the
/// metric term and stored-score replay, all switched on.
fn every_term(head: HeadKind) -> cvm::LearnerConfig {
    let mut config = config(head);
    config.objective = cvm::objective::Objective {
        incoming: cvm::objective::Incoming::Current,
        distill_weight: 0.5,
        triplet_weight: 0.5,
        score_replay_weight: 0.3,
        ..config.objective
    };
    config
}

#[test]
fn every_objective_term_learns_classes_one_after_another() {
    // The linear head as ER-ACE and DER++ use it (its logits distilled on top of both stall here: not a
    // configuration of any method).
    let linear = cvm::LearnerConfig {
        objective: cvm::objective::Objective { distill_weight: 0.0, ..every_term(HeadKind::Linear).objective },
        ..every_term(HeadKind::Linear)
    };
    for (head, config) in [(HeadKind::Concepts, every_term(HeadKind::Concepts)), (HeadKind::Linear, linear)] {
        let mut learner = Learner::new(config, concepts(), device()).unwrap();
        let reports = teach(&mut learner, 40, 60, 1);
        assert!(reports.iter().flat_map(|r| &r.losses).all(|l| l.is_finite()));
        let acc = accuracy(&mut learner, 30, 99);
        assert!(acc >= 0.9, "{head:?}: held-out accuracy {acc:.3} < 0.9");
    }
}

#[test]
fn a_restored_learner_continues_exactly_as_one_that_never_stopped() {
    for head in [HeadKind::Concepts, HeadKind::Linear] {
        let mut straight = Learner::new(every_term(head), concepts(), device()).unwrap();
        let mut rng: rand::rngs::StdRng = rand::SeedableRng::seed_from_u64(21);
        let teach_one = |learner: &mut Learner, c: usize, rng: &mut rand::rngs::StdRng| {
            let class = learner.add_class(NAMES[c]).unwrap();
            let images: Vec<Vec<u8>> = (0..12).map(|_| image(c, rng)).collect();
            pollster::block_on(learner.add_examples(class, &images.iter().map(|p| view(p)).collect::<Vec<_>>()))
                .unwrap();
            pollster::block_on(learner.train(8)).unwrap().losses
        };
        teach_one(&mut straight, 0, &mut rng);
        teach_one(&mut straight, 1, &mut rng);
        let bytes = pollster::block_on(straight.snapshot()).unwrap();
        let mut resumed = Learner::restore(&bytes, concepts(), None, device()).unwrap();
        assert_eq!(
            pollster::block_on(resumed.snapshot()).unwrap(),
            bytes,
            "{head:?}: the previous model and stored scores survive"
        );
        let next = || -> rand::rngs::StdRng { rand::SeedableRng::seed_from_u64(22) };
        assert_eq!(
            teach_one(&mut straight, 2, &mut next()),
            teach_one(&mut resumed, 2, &mut next()),
            "{head:?}: training after a restore differs"
        );
    }
}

#[test]
fn stored_scores_take_their_share_of_the_memory_budget() {
    let plain = config(HeadKind::Linear);
    let der = every_term(HeadKind::Linear);
    assert_eq!((plain.memory_slots(), plain.stored_len()), (60, SIDE * SIDE));
    assert_eq!(der.stored_len(), SIDE * SIDE + cvm::learner::SCORE_SLOTS);
    assert_eq!(der.memory_slots(), 60 * SIDE * SIDE / (SIDE * SIDE + cvm::learner::SCORE_SLOTS));
    let mut learner = Learner::new(der, concepts(), device()).unwrap();
    teach(&mut learner, 40, 2, 4);
    assert!(learner.memory().len() <= learner.config().memory_slots());
}

#[test]
fn a_very_long_name_is_refused_before_any_work() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    let long = "cat".repeat(40_000);
    let started = std::time::Instant::now();
    let e = learner.add_class(&long).unwrap_err().to_string();
    assert!(e.contains("at most 100 characters"), "{e}");
    assert!(learner.concepts().suggest(&long, 5).is_empty());
    assert!(learner.concepts().lookup(&long).is_err());
    assert!(started.elapsed().as_millis() < 500, "took {:?}", started.elapsed());
    assert!(learner.classes().is_empty());
}

/// A snapshot whose metadata `edit` changed, sealed again (a consistent checksum over inconsistent content, as a
/// buggy or hostile writer would produce).
fn resealed(bytes: &[u8], edit: impl FnOnce(&mut cvm::blob::Metadata)) -> Vec<u8> {
    rewritten(bytes, 2, edit, |_| true)
}

#[test]
fn sealed_but_inconsistent_snapshots_are_refused() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 4, 2, 6);
    let bytes = pollster::block_on(learner.snapshot()).unwrap();
    assert!(
        Learner::restore(&resealed(&bytes, |_| {}), concepts(), None, device()).is_ok(),
        "resealing alone changes nothing"
    );

    let repeated = resealed(&bytes, |m| {
        let classes = m.get_mut("classes").unwrap().as_array_mut().unwrap();
        let first = classes[0].clone();
        classes[1] = first;
    });
    let err = Learner::restore(&repeated, concepts(), None, device()).unwrap_err().to_string();
    assert!(err.contains("appears twice"), "{err}");

    // Ids at the end of their range: the learner loads, and says so when it runs out instead of wrapping.
    let last = resealed(&bytes, |m| {
        m.insert("next_example".into(), serde_json::Value::from(u32::MAX));
    });
    let mut restored = Learner::restore(&last, concepts(), None, device()).unwrap();
    let mut rng = rand::SeedableRng::seed_from_u64(3);
    let err = pollster::block_on(restored.add_example(0, view(&image(0, &mut rng)))).unwrap_err().to_string();
    assert!(err.contains("used up its example ids"), "{err}");
}

#[test]
fn one_pass_over_a_frame_gives_what_separate_calls_give() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    let mut rng = rand::SeedableRng::seed_from_u64(6);
    let frame = image(1, &mut rng);
    // Before the first class: a ranking, no prediction.
    let fresh = pollster::block_on(learner.recognise(view(&frame), 3)).unwrap();
    assert_eq!((fresh.prediction, fresh.looks_like.len()), (None, 3));

    teach(&mut learner, 20, 20, 7);
    let seen = pollster::block_on(learner.recognise(view(&frame), 4)).unwrap();
    assert_eq!(seen.prediction.as_ref(), Some(&pollster::block_on(learner.predict(view(&frame))).unwrap()));
    // Without the grounded prior, the ranking is the embedding's nearest concepts.
    let z = pollster::block_on(learner.embed_batch(&[view(&frame)])).unwrap();
    let nearest = learner.concepts().nearest(&z, 4).unwrap();
    assert_eq!(
        seen.looks_like.iter().map(|m| m.0).collect::<Vec<_>>(),
        nearest.iter().map(|m| m.0).collect::<Vec<_>>()
    );
    for (a, b) in seen.looks_like.iter().zip(&nearest) {
        assert!((a.1 - b.1).abs() < 1e-5, "{seen:?} vs {nearest:?}");
    }
    assert_eq!(pollster::block_on(learner.recognise(view(&frame), 0)).unwrap().looks_like, vec![]);
}

#[test]
fn class_accuracy_counts_each_class_from_encoded_samples() {
    let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
    teach(&mut learner, 20, 30, 9);
    let mut rng = rand::SeedableRng::seed_from_u64(10);
    // Two classes held out, the third not: its accuracy is unknown, not zero.
    let labels = [0, 0, 1, 1, 1, 0];
    let frames: Vec<Vec<u8>> = labels.iter().map(|&c| image(c, &mut rng)).collect();
    let views: Vec<_> = frames.iter().map(|p| view(p)).collect();
    let samples = pollster::block_on(learner.encode(&views)).unwrap();
    let accuracy = pollster::block_on(learner.class_accuracy(&samples, &labels)).unwrap();
    // The same figures as predicting each frame on its own.
    let mut expected = [(0.0f32, 0.0f32); 3];
    for (frame, &label) in frames.iter().zip(&labels) {
        let p = pollster::block_on(learner.predict(view(frame))).unwrap();
        expected[label].0 += f32::from(u8::from(p.top() == Some(label)));
        expected[label].1 += 1.0;
    }
    assert_eq!(accuracy, vec![Some(expected[0].0 / 3.0), Some(expected[1].0 / 3.0), None]);
    assert!(accuracy[0].unwrap() > 0.5 && accuracy[1].unwrap() > 0.5, "{accuracy:?}");
    assert!(pollster::block_on(learner.class_accuracy(&samples, &[0, 0, 1, 1, 1, 3])).is_err(), "no class 3");
    assert!(pollster::block_on(learner.class_accuracy(&samples, &[0, 0])).is_err(), "one label per sample");
}

/// A snapshot saved by an earlier release (`tests/fixtures/`, made by this test with `CVM_WRITE_FIXTURES=1`) still
/// loads and predicts what it predicted then: renaming a stored field or changing the layout fails here first.
#[test]
fn a_snapshot_saved_by_an_earlier_release_still_loads() {
    // Cargo sets the manifest directory at run time too; the compile-time value may name another checkout when
    // clones share one target directory (and that checkout may be gone).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let dir = std::path::Path::new(&manifest).join("tests/fixtures");
    let (snapshot, expected) = (dir.join("learner-v2.snapshot"), dir.join("learner-v2.json"));
    let mut rng = rand::SeedableRng::seed_from_u64(21);
    let probe: Vec<Vec<u8>> = (0..6).map(|i| image(i % 3, &mut rng)).collect();
    let views: Vec<_> = probe.iter().map(|p| view(p)).collect();
    if std::env::var_os("CVM_WRITE_FIXTURES").is_some() {
        let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
        teach(&mut learner, 12, 40, 9);
        let predictions = pollster::block_on(learner.predict_batch(&views)).unwrap();
        let probabilities: Vec<&[f32]> = predictions.iter().map(|p| p.probabilities.as_slice()).collect();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&snapshot, pollster::block_on(learner.snapshot()).unwrap()).unwrap();
        std::fs::write(&expected, serde_json::to_string(&probabilities).unwrap()).unwrap();
    }
    let bytes = std::fs::read(&snapshot).unwrap();
    let expected: Vec<Vec<f32>> = serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
    let mut learner = Learner::restore(&bytes, concepts(), None, device()).unwrap();
    let names: Vec<&str> = learner.classes().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, &NAMES[..3]);
    assert_eq!(learner.example_ids(1), (12..24).collect::<Vec<u32>>());
    let predictions = pollster::block_on(learner.predict_batch(&views)).unwrap();
    for (p, e) in predictions.iter().zip(&expected) {
        assert!(p.probabilities.iter().zip(e).all(|(a, b)| (a - b).abs() < 1e-5), "{:?} != {e:?}", p.probabilities);
    }
    assert_eq!(predictions.iter().map(|p| p.top()).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2].map(Some));
    assert_eq!(pollster::block_on(learner.train(2)).unwrap().losses.len(), 2, "and it trains on");
}
