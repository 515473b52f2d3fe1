//! The blob and snapshot parsers against damaged bytes (proptest, 10,000 cases each): whatever they are given,
//! they return an error or a valid value — never panic. Snapshots are damaged inside their payload and sealed
//! again, so the damage gets past the checksum into the parser and the consistency checks.

mod common;

use std::sync::OnceLock;

use common::*;
use cvm::{ConceptSpace, HeadKind, Learner};
use proptest::prelude::*;
use sha2::Digest;

/// `bytes` with each `(position, xor)` applied (positions taken modulo the length) and then cut at `cut`.
fn damaged(bytes: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for &(at, xor) in edits {
        if !out.is_empty() {
            let at = at % out.len();
            out[at] ^= xor;
        }
    }
    if let Some(cut) = cut {
        out.truncate(cut % (bytes.len() + 1));
    }
    out
}

/// A trained learner's snapshot (both classes of memory, the previous network, pending examples).
fn snapshot() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut learner = Learner::new(config(HeadKind::Concepts), concepts(), device()).unwrap();
        teach(&mut learner, 3, 2, 5);
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        pollster::block_on(learner.add_example(0, view(&image(0, &mut rng)))).unwrap();
        pollster::block_on(learner.snapshot()).unwrap()
    })
}

fn concept_blob() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(cvm::synthetic::concept_blob)
}

/// Snapshot framing around `payload`, with its checksum.
fn sealed(payload: &[u8]) -> Vec<u8> {
    let snapshot = snapshot();
    [&snapshot[..8], sha2::Sha256::digest(payload).as_slice(), payload].concat()
}

fn config_cases() -> ProptestConfig {
    ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config_cases())]

    #[test]
    fn damaged_concept_blobs_are_refused_or_valid(edits in prop::collection::vec((any::<usize>(), 1u8..), 0..6), cut in prop::option::of(any::<usize>())) {
        if let Ok(space) = ConceptSpace::from_bytes(&damaged(concept_blob(), &edits, cut)) {
            prop_assert!(!space.is_empty());
        }
    }

    #[test]
    fn damaged_snapshots_are_refused_or_restore_a_working_learner(edits in prop::collection::vec((any::<usize>(), 1u8..), 1..6), cut in prop::option::of(any::<usize>())) {
        let payload = damaged(&snapshot()[40..], &edits, cut);
        if let Ok(mut learner) = Learner::restore(&sealed(&payload), concepts(), None, device()) {
            let mut rng = rand::SeedableRng::seed_from_u64(2);
            let prediction = pollster::block_on(learner.predict(view(&image(1, &mut rng))));
            prop_assert!(prediction.is_ok_and(|p| p.probabilities.iter().all(|v| v.is_finite())), "a restored learner must predict");
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(ConceptSpace::from_bytes(&bytes).is_err());
        prop_assert!(Learner::restore(&bytes, concepts(), None, device()).is_err());
        prop_assert!(Learner::restore(&sealed(&bytes), concepts(), None, device()).is_err());
    }
}
