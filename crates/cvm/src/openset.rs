//! Open-set recognition: is an input one of the taught classes at all?
//!
//! A softmax over the taught classes always names one of them (over one class it is always 100 %), and a
//! student trained to map every example onto an anchor maps a never-taught thing near some anchor too. What
//! does tell a taught thing from a new one is how close it lies to the examples the learner holds: the score is
//! the cosine similarity of the input to its k-th nearest stored example of the predicted class (deep
//! nearest neighbours, Sun et al., ICML 2022), compared in the student's input space: the frozen trunk's
//! features for the adapter student (which training does not move), the pixels for the tiny CNN. The
//! benchmark (`cvm-bench openset`) compares this with the alternatives, the concept space included.
//!
//! Each class is calibrated from its own stored examples: its threshold is the similarity that the chosen
//! share of them (the accept rate) reaches when each is compared with the others, so "known" means "as close
//! to the class as its own examples are to each other". Frames recorded one after another are nearly the same
//! picture, so each example is compared only with examples recorded apart from it (ids more than
//! [`NEIGHBOURING_IDS`] away), as a later look at the thing would be. The threshold follows from that target,
//! not from a hand-set cosine, and is recomputed whenever the stored examples change. A false-accept rate cannot
//! be set this way (the learner holds no examples of what it was never taught); the benchmark measures it.

use crate::memory::Samples;

/// Stored examples per class that the score compares against (evenly spaced over the class's examples):
/// bounds the calibration's cost (`classes × CAP² × dim`) and the per-frame cost (`CAP × dim`).
pub const REFERENCES_PER_CLASS: usize = 64;

/// Neighbour whose similarity is the score (the k of k-NN); fewer when a class holds fewer examples.
pub const NEIGHBOUR: usize = 2;

/// Examples whose ids lie this close are taken as the same look at a thing (half a second of recording at the
/// page's 8 frames/s) and not compared with each other in calibration.
pub const NEIGHBOURING_IDS: u32 = 4;

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
    /// Calibrates from `stored` (rows of `stride` values whose first `dim` are compared, any scale; labels in
    /// `0..classes`), so that `accept` of each class's examples are accepted when compared with the examples
    /// recorded apart from them. Keeps at most [`REFERENCES_PER_CLASS`] per class, evenly spaced in stored
    /// order.
    pub fn calibrate(stored: &Samples, stride: usize, dim: usize, classes: usize, accept: f32) -> Self {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for (i, &l) in stored.labels.iter().enumerate() {
            if let Some(m) = members.get_mut(l as usize) {
                m.push(i);
            }
        }
        let kept: Vec<Vec<usize>> = members
            .iter()
            .map(|m| {
                (0..m.len().min(REFERENCES_PER_CLASS))
                    .map(|j| m[j * m.len() / m.len().min(REFERENCES_PER_CLASS)])
                    .collect()
            })
            .collect();
        let rows: Vec<Vec<f32>> =
            kept.iter().map(|k| k.iter().flat_map(|&i| unit(&stored.data[i * stride..][..dim])).collect()).collect();
        let thresholds = kept
            .iter()
            .zip(&rows)
            .map(|(kept, rows)| {
                let ids: Vec<u32> = kept.iter().map(|&i| stored.ids[i]).collect();
                let mut own: Vec<f32> = (0..kept.len())
                    .filter_map(|i| {
                        let apart = |j: usize| ids[i].abs_diff(ids[j]) > NEIGHBOURING_IDS;
                        kth_similarity(rows, dim, &rows[i * dim..][..dim], apart)
                    })
                    .collect();
                if own.is_empty() {
                    return None;
                }
                own.sort_by(f32::total_cmp);
                // The largest threshold that still accepts `accept` of the class's own examples.
                let rejected = ((1.0 - accept.clamp(0.0, 1.0)) * own.len() as f32).floor() as usize;
                Some(own[rejected.min(own.len() - 1)])
            })
            .collect();
        Self { dim, rows, thresholds }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The open-set score of `query` (`dim` values, any scale) for `class`: its similarity to the class's k-th
    /// nearest stored example minus the class's threshold, `≥ 0` when it counts as the class; `None` when the
    /// class holds no two examples recorded apart.
    pub fn score(&self, query: &[f32], class: usize) -> Option<f32> {
        let threshold = (*self.thresholds.get(class)?)?;
        kth_similarity(&self.rows[class], self.dim, query, |_| true).map(|s| s - threshold)
    }

    /// The calibrated threshold of each class.
    pub fn thresholds(&self) -> &[Option<f32>] {
        &self.thresholds
    }
}

/// The cosine similarity of `query` to its k-th nearest row of unit `rows` among those `compared(row index)`
/// allows (k = [`NEIGHBOUR`], or fewer when fewer are allowed); `None` when none is.
fn kth_similarity(rows: &[f32], dim: usize, query: &[f32], compared: impl Fn(usize) -> bool) -> Option<f32> {
    let inverse_norm = 1.0 / crate::vector::norm(query).max(1e-12);
    let mut best = [f32::NEG_INFINITY; NEIGHBOUR];
    let mut available = 0;
    for (i, row) in rows.chunks_exact(dim).enumerate() {
        if !compared(i) {
            continue;
        }
        available += 1;
        let s = crate::vector::dot(row, query);
        if s > best[NEIGHBOUR - 1] {
            best[NEIGHBOUR - 1] = s;
            best.sort_by(|a, b| b.total_cmp(a));
        }
    }
    (available > 0).then(|| best[NEIGHBOUR.min(available) - 1] * inverse_norm)
}

fn unit(v: &[f32]) -> impl Iterator<Item = f32> + '_ {
    let norm = crate::vector::norm(v).max(1e-12);
    v.iter().map(move |x| x / norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows near axis `axis` of 4 dims, with a little spread, scaled arbitrarily.
    fn rows(axis: usize, n: usize) -> Vec<f32> {
        (0..n)
            .flat_map(|i| (0..4).map(move |d| if d == axis { 3.0 } else { 0.05 * ((i * 7 + d * 3) % 11) as f32 }))
            .collect()
    }

    /// Samples with ids `0..n` in order (as a recording gives them).
    fn samples(data: Vec<f32>, labels: Vec<u32>) -> Samples {
        let ids = (0..labels.len() as u32).collect();
        Samples { data, labels, ids }
    }

    #[test]
    fn a_class_accepts_its_own_share_and_rejects_what_lies_elsewhere() {
        let stored =
            samples([rows(0, 20), rows(1, 20), rows(2, 1)].concat(), [vec![0; 20], vec![1; 20], vec![2]].concat());
        let open_set = NearestExamples::calibrate(&stored, 4, 4, 4, 0.9);
        assert_eq!(open_set.thresholds()[2..], [None, None], "one example or none: nothing to calibrate from");
        for class in 0..2 {
            let own = &stored.data[class * 80..][..80];
            let accepted = own.chunks_exact(4).filter(|row| open_set.score(row, class).unwrap() >= -1e-6).count();
            assert!(accepted >= 18, "class {class}: {accepted} of 20");
        }
        assert!(open_set.score(&[0.0, 0.0, 0.0, 1.0], 0).unwrap() < 0.0, "an axis no class lies on");
        assert!(open_set.score(&[3.0, 0.1, 0.2, 0.0], 1).unwrap() < 0.0, "another class's place");
        assert_eq!(open_set.score(&[1.0; 4], 2), None);
        let strict = NearestExamples::calibrate(&stored, 4, 4, 4, 0.5);
        assert!(strict.thresholds()[0].unwrap() >= open_set.thresholds()[0].unwrap());
    }

    #[test]
    fn frames_recorded_together_are_not_compared_with_each_other() {
        // Two looks at a thing, each a burst of identical frames: compared with their own burst every frame would
        // match exactly and the threshold would be 1; compared with the other look it is their cosine.
        let look = |v: [f32; 2], n: usize| (0..n).flat_map(move |_| v).collect::<Vec<f32>>();
        let stored = samples([look([1.0, 0.0], 5), look([0.8, 0.6], 5)].concat(), vec![0; 10]);
        let open_set = NearestExamples::calibrate(&stored, 2, 2, 1, 1.0);
        assert!((open_set.thresholds()[0].unwrap() - 0.8).abs() < 1e-6, "{:?}", open_set.thresholds());
        // A burst alone has nothing recorded apart from it.
        let burst = samples(look([1.0, 0.0], 5), vec![0; 5]);
        assert_eq!(NearestExamples::calibrate(&burst, 2, 2, 1, 0.95).thresholds(), &[None]);
    }

    #[test]
    fn only_the_compared_values_of_a_stored_row_count_and_references_are_capped() {
        let n = 3 * REFERENCES_PER_CLASS;
        // Rows of 3 values, of which the first 2 are compared (the third stands for stored scores).
        let stored = samples((0..n).flat_map(|i| [1.0, i as f32, 1e6]).collect(), vec![0; n]);
        let open_set = NearestExamples::calibrate(&stored, 3, 2, 1, 0.95);
        let kept = &open_set.rows[0];
        assert_eq!(kept.len(), 2 * REFERENCES_PER_CLASS);
        // The last kept row comes from the end of the class's examples, not from its first 64.
        let last = &kept[kept.len() - 2..];
        assert!(last[1] / last[0] > (n - 4) as f32, "{last:?}");
    }

    #[test]
    fn the_kth_neighbour_is_the_score() {
        let rows = [1.0, 0.0, 0.6, 0.8, 0.0, 1.0];
        assert!(
            (kth_similarity(&rows, 2, &[2.0, 0.0], |_| true).unwrap() - 0.6).abs() < 1e-6,
            "second nearest of three"
        );
        assert!((kth_similarity(&rows, 2, &[2.0, 0.0], |i| i != 0).unwrap() - 0.0).abs() < 1e-6, "leaving one out");
        assert!(
            (kth_similarity(&rows[..2], 2, &[2.0, 0.0], |_| true).unwrap() - 1.0).abs() < 1e-6,
            "one row: the nearest"
        );
        assert_eq!(kth_similarity(&rows, 2, &[2.0, 0.0], |_| false), None);
    }
}
