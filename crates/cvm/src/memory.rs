//! Replay memory: class-balanced reservoir sampling under a fixed budget of samples.
//!
//! Every class is entitled to an equal share of the budget. A sample of a class below its share always
//! enters (evicting a random sample of the largest class when the memory is full); a sample of a class at or
//! above its share replaces one of its own class's samples with reservoir probability `share / seen`. Random
//! decisions come from `(seed, event counter)`, so the memory is deterministic under a seed and its whole
//! state is data (it survives a snapshot). Every sample carries the id of the example it came from, so a single
//! example can be taken back out.

use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::error::{CvmError, Result};

/// Labelled samples with the ids of the examples they came from (the replay memory's store, and the learner's
/// current experience).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    /// Samples, `len × sample_len`, row-major.
    pub data: Vec<f32>,
    pub labels: Vec<u32>,
    pub ids: Vec<u32>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Keeps the samples (of `sample_len` values) for which `keep(label, id)` holds, in order.
    pub fn retain(&mut self, sample_len: usize, keep: impl Fn(u32, u32) -> bool) {
        let mut kept = 0;
        for i in 0..self.len() {
            if !keep(self.labels[i], self.ids[i]) {
                continue;
            }
            self.labels[kept] = self.labels[i];
            self.ids[kept] = self.ids[i];
            self.data.copy_within(i * sample_len..(i + 1) * sample_len, kept * sample_len);
            kept += 1;
        }
        self.labels.truncate(kept);
        self.ids.truncate(kept);
        self.data.truncate(kept * sample_len);
    }

    /// Forgets every sample of `label` and relabels classes above it down by one (after a class is deleted).
    pub fn remove_class(&mut self, sample_len: usize, label: u32) {
        self.retain(sample_len, |l, _| l != label);
        self.labels.iter_mut().filter(|l| **l > label).for_each(|l| *l -= 1);
    }

    /// Forgets the sample of example `id`; returns whether there was one.
    pub fn remove(&mut self, sample_len: usize, id: u32) -> bool {
        let before = self.len();
        self.retain(sample_len, |_, i| i != id);
        self.len() < before
    }
}

/// Fixed-budget, class-balanced replay memory of fixed-length `f32` samples.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayMemory {
    budget: usize,
    sample_len: usize,
    seed: u64,
    /// Random decisions taken so far (the RNG stream position).
    events: u64,
    samples: Samples,
    /// Stream samples observed per class.
    seen: Vec<u64>,
}

impl ReplayMemory {
    pub fn new(budget: usize, sample_len: usize, seed: u64) -> Self {
        Self { budget, sample_len, seed, events: 0, samples: Samples::default(), seen: Vec::new() }
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn sample_len(&self) -> usize {
        self.sample_len
    }

    /// Stored sample `i` and its label.
    pub fn get(&self, i: usize) -> (&[f32], u32) {
        (&self.samples.data[i * self.sample_len..][..self.sample_len], self.samples.labels[i])
    }

    /// The stored samples, labels and example ids.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// Stored samples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.seen.len()];
        self.samples.labels.iter().for_each(|&l| counts[l as usize] += 1);
        counts
    }

    fn rng(&mut self) -> StdRng {
        self.events += 1;
        StdRng::seed_from_u64(self.seed ^ self.events.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Offers one stream sample of class `label` (example `id`); returns whether it was stored.
    pub fn insert(&mut self, sample: &[f32], label: u32, id: u32) -> Result<bool> {
        if sample.len() != self.sample_len {
            return Err(CvmError::arg(format!("sample has {} values, memory holds {}", sample.len(), self.sample_len)));
        }
        let class = label as usize;
        if self.seen.len() <= class {
            self.seen.resize(class + 1, 0);
        }
        self.seen[class] += 1;
        if self.budget == 0 {
            return Ok(false);
        }
        if self.len() < self.budget {
            self.samples.labels.push(label);
            self.samples.ids.push(id);
            self.samples.data.extend_from_slice(sample);
            return Ok(true);
        }
        let counts = self.class_counts();
        let classes_present = counts.iter().filter(|&&c| c > 0).count() + usize::from(counts[class] == 0);
        let share = (self.budget / classes_present.max(1)).max(1);
        let slot = if counts[class] < share {
            Some(self.eviction_slot())
        } else {
            let j = self.rng().random_range(0..self.seen[class]);
            (j < counts[class] as u64).then(|| self.nth_of_class(label, j as usize))
        };
        Ok(match slot {
            Some(i) => {
                self.samples.labels[i] = label;
                self.samples.ids[i] = id;
                self.samples.data[i * self.sample_len..][..self.sample_len].copy_from_slice(sample);
                true
            }
            None => false,
        })
    }

    /// A random stored sample of the largest class (lowest label on ties): the one to let go when room is needed.
    fn eviction_slot(&mut self) -> usize {
        let counts = self.class_counts();
        let largest =
            (0..counts.len()).max_by_key(|&c| (counts[c], std::cmp::Reverse(c))).expect("memory is not empty");
        let nth = self.rng().random_range(0..counts[largest]);
        self.nth_of_class(largest as u32, nth)
    }

    /// Changes the budget; a smaller one than the memory holds lets go of random samples of the largest classes
    /// until it fits, so the classes stay balanced.
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        if self.len() <= budget {
            return;
        }
        // How many of each class stay: one fewer of the largest (lowest label on ties) until the memory fits.
        let mut keep = self.class_counts();
        for _ in budget..self.len() {
            let largest =
                (0..keep.len()).max_by_key(|&c| (keep[c], std::cmp::Reverse(c))).expect("memory is not empty");
            keep[largest] -= 1;
        }
        // Which: a random choice within each class, then one pass over the store.
        let mut dropped = std::collections::HashSet::new();
        for (class, (kept, held)) in keep.into_iter().zip(self.class_counts()).enumerate() {
            if kept < held {
                let ids: Vec<u32> = (0..self.len())
                    .filter(|&i| self.samples.labels[i] == class as u32)
                    .map(|i| self.samples.ids[i])
                    .collect();
                dropped
                    .extend(rand::seq::index::sample(&mut self.rng(), held, held - kept).into_iter().map(|i| ids[i]));
            }
        }
        self.samples.retain(self.sample_len, |_, id| !dropped.contains(&id));
    }

    fn nth_of_class(&self, label: u32, nth: usize) -> usize {
        self.samples
            .labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == label)
            .nth(nth)
            .map(|(i, _)| i)
            .expect("class has that many samples")
    }

    /// Forgets every sample of `label` and relabels classes above it down by one (after a class is deleted).
    pub fn remove_class(&mut self, label: u32) {
        self.samples.remove_class(self.sample_len, label);
        if (label as usize) < self.seen.len() {
            self.seen.remove(label as usize);
        }
    }

    /// Forgets the sample of example `id`; returns whether it was stored.
    pub fn remove(&mut self, id: u32) -> bool {
        self.samples.remove(self.sample_len, id)
    }

    /// Draws up to `n` distinct stored indices, deterministic under the seed.
    pub fn draw(&mut self, n: usize) -> Vec<usize> {
        let n = n.min(self.len());
        let len = self.len();
        rand::seq::index::sample(&mut self.rng(), len, n).into_vec()
    }

    /// Raw parts for snapshots: `(seed, events, samples, seen)`.
    pub fn parts(&self) -> (u64, u64, &Samples, &[u64]) {
        (self.seed, self.events, &self.samples, &self.seen)
    }

    /// Rebuilds from [`ReplayMemory::parts`], validating consistency.
    pub fn from_parts(
        budget: usize,
        sample_len: usize,
        seed: u64,
        events: u64,
        samples: Samples,
        seen: Vec<u64>,
    ) -> Result<Self> {
        let n = samples.len();
        if samples.data.len() != n * sample_len || samples.ids.len() != n || n > budget {
            return Err(CvmError::arg("replay memory parts are inconsistent"));
        }
        if samples.labels.iter().any(|&l| l as usize >= seen.len()) {
            return Err(CvmError::arg("replay memory holds a label of an unknown class"));
        }
        Ok(Self { budget, sample_len, seed, events, samples, seen })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(memory: &mut ReplayMemory, classes: std::ops::Range<u32>, per_class: usize) {
        for c in classes {
            for i in 0..per_class {
                memory.insert(&[c as f32, i as f32], c, c * 1000 + i as u32).unwrap();
            }
        }
    }

    #[test]
    fn a_smaller_budget_lets_go_of_the_largest_classes_first() {
        let mut memory = ReplayMemory::new(30, 2, 3);
        stream(&mut memory, 0..1, 20);
        stream(&mut memory, 1..3, 5);
        assert_eq!(memory.class_counts(), [20, 5, 5]);
        memory.set_budget(12);
        assert_eq!((memory.len(), memory.budget()), (12, 12));
        assert_eq!(memory.class_counts(), [4, 4, 4]);
        // Every kept row is still the sample of its id.
        let samples = memory.samples();
        for (i, (&label, &id)) in samples.labels.iter().zip(&samples.ids).enumerate() {
            assert_eq!(&samples.data[i * 2..][..2], &[label as f32, (id - label * 1000) as f32]);
        }
        memory.set_budget(40);
        assert_eq!(memory.len(), 12);
        stream(&mut memory, 3..4, 10);
        assert_eq!(memory.class_counts(), [4, 4, 4, 10]);
    }

    #[test]
    fn budget_never_exceeded_and_classes_balanced() {
        for budget in [1, 7, 20, 200] {
            let mut memory = ReplayMemory::new(budget, 2, 3);
            let mut offered = 0;
            for c in 0..10u32 {
                for i in 0..(50 + 13 * c as usize) {
                    memory.insert(&[c as f32, i as f32], c, c * 1000 + i as u32).unwrap();
                    offered += 1;
                    assert!(memory.len() <= budget);
                }
                let counts = memory.class_counts();
                let present: Vec<usize> = counts.iter().copied().filter(|&n| n > 0).collect();
                let (min, max) = (present.iter().min().unwrap(), present.iter().max().unwrap());
                if memory.len() == budget && budget > c as usize {
                    assert!(max - min <= 1, "budget {budget}, after class {c}: {counts:?}");
                    assert_eq!(present.len(), c as usize + 1);
                }
                assert_eq!(memory.len(), budget.min(offered));
            }
            // Every stored sample's payload matches its label and its example id.
            for i in 0..memory.len() {
                let (s, l) = memory.get(i);
                assert_eq!(s[0], l as f32);
                assert_eq!(memory.samples().ids[i], l * 1000 + s[1] as u32);
            }
        }
    }

    #[test]
    fn deterministic_under_seed_and_seed_matters() {
        let run = |seed| {
            let mut m = ReplayMemory::new(30, 2, seed);
            stream(&mut m, 0..5, 40);
            let draw = m.draw(10);
            (m, draw)
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1).0.samples, run(2).0.samples);
    }

    #[test]
    fn reservoir_within_class_is_roughly_uniform() {
        // One class streaming 1000 samples into 100 slots: every tenth of the stream should be represented.
        let mut m = ReplayMemory::new(100, 2, 9);
        stream(&mut m, 0..1, 1000);
        let mut buckets = [0; 10];
        for i in 0..m.len() {
            buckets[m.get(i).0[1] as usize / 100] += 1;
        }
        assert!(buckets.iter().all(|&b| (3..=20).contains(&b)), "{buckets:?}");
    }

    #[test]
    fn remove_class_relabels() {
        let mut m = ReplayMemory::new(30, 2, 0);
        stream(&mut m, 0..3, 10);
        m.remove_class(1);
        assert_eq!(m.class_counts(), vec![10, 10]);
        assert!((0..m.len()).all(|i| {
            let (s, l) = m.get(i);
            (s[0] as u32) == if l == 0 { 0 } else { 2 }
        }));
        assert!((0..m.len()).all(|i| m.samples().ids[i] == m.get(i).0[0] as u32 * 1000 + m.get(i).0[1] as u32));
    }

    #[test]
    fn remove_takes_out_exactly_one_example() {
        let mut m = ReplayMemory::new(30, 2, 0);
        stream(&mut m, 0..3, 10);
        assert!(m.remove(1004));
        assert!(!m.remove(1004), "already gone");
        assert!(!m.remove(77), "never stored");
        assert_eq!(m.class_counts(), vec![10, 9, 10]);
        assert!(!m.samples().ids.contains(&1004));
        assert!((0..m.len()).all(|i| m.samples().ids[i] == m.get(i).0[0] as u32 * 1000 + m.get(i).0[1] as u32));
    }

    #[test]
    fn zero_budget_stores_nothing() {
        let mut m = ReplayMemory::new(0, 2, 0);
        stream(&mut m, 0..2, 5);
        assert!(m.is_empty());
        assert!(m.draw(4).is_empty());
    }

    #[test]
    fn wrong_sample_length_is_an_error() {
        assert!(ReplayMemory::new(4, 3, 0).insert(&[1.0], 0, 0).is_err());
    }
}
