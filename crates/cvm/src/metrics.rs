//! Continual-learning metrics over an accuracy matrix, with the Avalanche/Mammoth definitions.
//!
//! `R[i][j]` is the accuracy on the test data of experience `j` after training experience `i` (in `[0, 1]`).

use serde::{Deserialize, Serialize};

/// Square accuracy matrix; row `i` is filled after experience `i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyMatrix(pub Vec<Vec<f64>>);

impl AccuracyMatrix {
    fn experiences(&self) -> usize {
        self.0.len()
    }

    /// Final average accuracy: mean of the last row.
    pub fn final_accuracy(&self) -> f64 {
        mean(self.0.last().map(Vec::as_slice).unwrap_or(&[]))
    }

    /// Average incremental accuracy: mean over `i` of the mean accuracy on experiences seen so far (`j ≤ i`).
    pub fn average_incremental_accuracy(&self) -> f64 {
        let per_step: Vec<f64> = self.0.iter().enumerate().map(|(i, row)| mean(&row[..=i])).collect();
        mean(&per_step)
    }

    /// Average forgetting: for each experience but the last, the best accuracy it ever had before the final
    /// step minus its final accuracy; averaged.
    pub fn forgetting(&self) -> f64 {
        let t = self.experiences();
        if t < 2 {
            return 0.0;
        }
        let last = &self.0[t - 1];
        let drops: Vec<f64> =
            (0..t - 1).map(|j| (j..t - 1).map(|l| self.0[l][j]).fold(f64::MIN, f64::max) - last[j]).collect();
        mean(&drops)
    }

    /// Backward transfer: mean over experiences but the last of final accuracy minus accuracy just after learning it.
    pub fn backward_transfer(&self) -> f64 {
        let t = self.experiences();
        if t < 2 {
            return 0.0;
        }
        let last = &self.0[t - 1];
        mean(&(0..t - 1).map(|j| last[j] - self.0[j][j]).collect::<Vec<_>>())
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let m = mean(values);
    if values.len() < 2 {
        return (m, 0.0);
    }
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
    (m, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_metrics() {
        // Three experiences.
        let r = AccuracyMatrix(vec![vec![0.9, 0.0, 0.0], vec![0.6, 0.8, 0.0], vec![0.5, 0.7, 0.95]]);
        assert!((r.final_accuracy() - (0.5 + 0.7 + 0.95) / 3.0).abs() < 1e-12);
        let aia = (0.9 + (0.6 + 0.8) / 2.0 + (0.5 + 0.7 + 0.95) / 3.0) / 3.0;
        assert!((r.average_incremental_accuracy() - aia).abs() < 1e-12);
        // Forgetting: exp0 max(0.9, 0.6) − 0.5 = 0.4; exp1 max(0.8) − 0.7 = 0.1 → 0.25.
        assert!((r.forgetting() - 0.25).abs() < 1e-12);
        // BWT: (0.5 − 0.9 + 0.7 − 0.8) / 2 = −0.25.
        assert!((r.backward_transfer() + 0.25).abs() < 1e-12);
    }

    #[test]
    fn single_experience_has_no_forgetting() {
        let r = AccuracyMatrix(vec![vec![0.7]]);
        assert_eq!(r.forgetting(), 0.0);
        assert_eq!(r.final_accuracy(), 0.7);
        assert_eq!(r.average_incremental_accuracy(), 0.7);
    }

    #[test]
    fn mean_std_matches() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
    }
}
