//! Open-set recognition: is an input one of the taught classes at all?
//!
//! A softmax over the taught classes always names one of them (over one class it is always 100 %), and a
//! student trained to map every example onto an anchor maps a never-taught thing near some anchor too. What
//! does tell a taught thing from a new one is how close it lies to the examples the learner holds: the score is
//! the cosine similarity of the input to its k-th nearest stored example of the predicted class (deep
//! nearest neighbours, Sun et al., ICML 2022), in the space the learner compares in (the frozen trunk's
//! features for the adapter student, which training does not move; the concept space for the tiny CNN).
//!
//! Each class is calibrated from its own stored examples: its threshold is the similarity that the chosen
//! share of them (the accept rate) reaches in a leave-one-out pass, so "known" means "as close to the class as
//! its own examples are to each other". The threshold follows from that target, not from a hand-set cosine,
//! and is recomputed whenever the stored examples or the student change. A false-accept rate cannot be set
//! this way (the learner holds no examples of what it was never taught); the benchmark measures it.

use serde::{Deserialize, Serialize};

/// Stored examples per class that the score compares against (evenly spaced over the class's examples):
/// bounds the calibration's cost (`classes × CAP² × dim`) and the per-frame cost (`CAP × dim`).
pub const REFERENCES_PER_CLASS: usize = 64;

/// Neighbour whose similarity is the score (the k of k-NN); fewer when a class holds fewer examples.
pub const NEIGHBOUR: usize = 2;

/// Where the stored examples and the input are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpenSetSpace {
    /// The student's input: the frozen trunk's features (adapter), or the preprocessed pixels (tiny CNN).
    Input,
    /// The student's output: unit vectors in the concept space.
    Embedding,
}

/// Unit reference rows per class, with each class's calibrated threshold.
#[derive(Debug, Clone)]
pub struct NearestExamples {
    dim: usize,
    /// Per class: unit rows `[n, dim]`, row-major.
    rows: Vec<Vec<f32>>,
    /// Per class: the similarity at or above which an input counts as the class (`None`: fewer than two
    /// stored examples, so nothing to calibrate from).
    thresholds: Vec<Option<f32>>,
}

impl NearestExamples {
    /// Calibrates from `samples` (`[n, dim]`, any scale) labelled `labels` in `0..classes`, so that `accept` of
    /// each class's examples are accepted in a leave-one-out pass. Keeps at most [`REFERENCES_PER_CLASS`] per
    /// class, evenly spaced in the given order.
    pub fn calibrate(samples: &[f32], labels: &[u32], dim: usize, classes: usize, accept: f32) -> Self {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for (i, &l) in labels.iter().enumerate() {
            if let Some(m) = members.get_mut(l as usize) {
                m.push(i);
            }
        }
        let rows: Vec<Vec<f32>> = members
            .iter()
            .map(|m| {
                let keep = m.len().min(REFERENCES_PER_CLASS);
                (0..keep).flat_map(|j| unit(&samples[m[j * m.len() / keep] * dim..][..dim])).collect()
            })
            .collect();
        let thresholds = rows
            .iter()
            .map(|r| {
                let n = r.len() / dim;
                if n < 2 {
                    return None;
                }
                let mut own: Vec<f32> = (0..n).map(|i| kth_similarity(r, dim, &r[i * dim..][..dim], Some(i))).collect();
                own.sort_by(f32::total_cmp);
                // The largest threshold that still accepts `accept` of the class's own examples.
                let rejected = ((1.0 - accept.clamp(0.0, 1.0)) * n as f32).floor() as usize;
                Some(own[rejected.min(n - 1)])
            })
            .collect();
        Self { dim, rows, thresholds }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The open-set score of `query` (`dim` values, any scale) for `class`: its similarity to the class's k-th
    /// nearest stored example minus the class's threshold, `≥ 0` when it counts as the class; `None` when the
    /// class holds fewer than two examples.
    pub fn score(&self, query: &[f32], class: usize) -> Option<f32> {
        let threshold = (*self.thresholds.get(class)?)?;
        Some(kth_similarity(&self.rows[class], self.dim, query, None) - threshold)
    }

    /// The calibrated threshold of each class.
    pub fn thresholds(&self) -> &[Option<f32>] {
        &self.thresholds
    }
}

/// The cosine similarity of `query` to its k-th nearest row of unit `rows` (k = [`NEIGHBOUR`], or fewer when
/// there are fewer rows), leaving out row `skip`.
fn kth_similarity(rows: &[f32], dim: usize, query: &[f32], skip: Option<usize>) -> f32 {
    let inverse_norm = 1.0 / query.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let mut best = [f32::NEG_INFINITY; NEIGHBOUR];
    for (i, row) in rows.chunks_exact(dim).enumerate() {
        if Some(i) == skip {
            continue;
        }
        let s: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
        if s > best[NEIGHBOUR - 1] {
            best[NEIGHBOUR - 1] = s;
            best.sort_by(|a, b| b.total_cmp(a));
        }
    }
    let available = rows.len() / dim - skip.is_some() as usize;
    best[NEIGHBOUR.min(available).max(1) - 1] * inverse_norm
}

fn unit(v: &[f32]) -> impl Iterator<Item = f32> + '_ {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(move |x| x / norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows near axis `axis` of 4 dims, with a little spread, scaled arbitrarily.
    fn rows(axis: usize, n: usize) -> Vec<f32> {
        (0..n).flat_map(|i| (0..4).map(move |d| if d == axis { 3.0 } else { 0.05 * ((i * 7 + d * 3) % 11) as f32 })).collect()
    }

    #[test]
    fn a_class_accepts_its_own_share_and_rejects_what_lies_elsewhere() {
        let samples = [rows(0, 20), rows(1, 20), rows(2, 1)].concat();
        let labels: Vec<u32> = [vec![0; 20], vec![1; 20], vec![2]].concat();
        let open_set = NearestExamples::calibrate(&samples, &labels, 4, 4, 0.9);
        assert_eq!(open_set.thresholds()[2..], [None, None], "one example or none: nothing to calibrate from");
        for class in 0..2 {
            // Leave-one-out over the class's own rows: at least 90 % are accepted.
            let own = &samples[class * 80..][..80];
            let accepted = (0..20).filter(|&i| kth_similarity(&open_set.rows[class], 4, &own[i * 4..][..4], Some(i)) >= open_set.thresholds()[class].unwrap() - 1e-6).count();
            assert!(accepted >= 18, "class {class}: {accepted} of 20");
        }
        assert!(samples[..80].chunks_exact(4).filter(|row| open_set.score(row, 0).unwrap() >= -1e-6).count() >= 18);
        assert!(open_set.score(&[0.0, 0.0, 0.0, 1.0], 0).unwrap() < 0.0, "an axis no class lies on");
        assert!(open_set.score(&[3.0, 0.1, 0.2, 0.0], 1).unwrap() < 0.0, "another class's place");
        assert_eq!(open_set.score(&[1.0; 4], 2), None);
        let strict = NearestExamples::calibrate(&samples, &labels, 4, 4, 0.5);
        assert!(strict.thresholds()[0].unwrap() >= open_set.thresholds()[0].unwrap());
    }

    #[test]
    fn references_are_capped_per_class_and_spread_over_its_examples() {
        let n = 3 * REFERENCES_PER_CLASS;
        let samples: Vec<f32> = (0..n).flat_map(|i| [1.0, i as f32]).collect();
        let open_set = NearestExamples::calibrate(&samples, &vec![0; n], 2, 1, 0.95);
        let kept = &open_set.rows[0];
        assert_eq!(kept.len(), 2 * REFERENCES_PER_CLASS);
        // The last kept row comes from the end of the class's examples, not from its first 64.
        let last = &kept[kept.len() - 2..];
        assert!(last[1] / last[0] > (n - 4) as f32, "{last:?}");
    }

    #[test]
    fn the_kth_neighbour_is_the_score() {
        let rows = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0];
        assert!((kth_similarity(&rows, 2, &[2.0, 0.0], None) - 0.6).abs() < 1e-6, "second nearest of three");
        assert!((kth_similarity(&rows, 2, &[2.0, 0.0], Some(0)) - 0.0).abs() < 1e-6, "leaving one out");
        assert!((kth_similarity(&rows[..2], 2, &[2.0, 0.0], None) - 1.0).abs() < 1e-6, "one row: the nearest");
    }
}
