//! The concept map: a 2-D picture of the concept space around the learner's classes — class anchors, their
//! nearest vocabulary concepts, and the embeddings of some images — projected on the two principal axes of the
//! anchors and neighbours (found by power iteration; the set is small).

use serde::{Deserialize, Serialize};

use crate::error::{CvmError, Result};
use crate::learner::Learner;
use crate::objective::HeadKind;
use crate::vector::dot;

/// What a point of the map is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointKind {
    /// A class's anchor.
    Anchor,
    /// A vocabulary concept near an anchor.
    Concept,
    /// An image's embedding.
    Sample,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    pub x: f32,
    pub y: f32,
    pub kind: PointKind,
    /// Class or concept name; for samples, the class they were given as (or empty).
    pub label: String,
}

/// The top principal axis of centred `rows` orthogonal to `against`, by power iteration from a fixed start.
fn principal_axis(rows: &[Vec<f32>], against: Option<&[f32]>) -> Vec<f32> {
    let dim = rows[0].len();
    let mut v: Vec<f32> = (0..dim).map(|i| 1.0 + (i % 7) as f32 * 0.1).collect();
    for _ in 0..100 {
        let mut next = vec![0.0; dim];
        for r in rows {
            let s = dot(r, &v);
            next.iter_mut().zip(r).for_each(|(n, x)| *n += s * x);
        }
        if let Some(a) = against {
            let s = dot(&next, a);
            next.iter_mut().zip(a).for_each(|(n, x)| *n -= s * x);
        }
        let norm = dot(&next, &next).sqrt();
        if norm < 1e-12 {
            break;
        }
        v = next.into_iter().map(|x| x / norm).collect();
    }
    v
}

impl Learner {
    /// Map of the classes' anchors, `neighbours` vocabulary concepts nearest each anchor, and the embeddings of
    /// `samples` from [`Learner::encode`] (labelled with `labels`, if given). Needs an anchor head and at least
    /// one class.
    pub async fn concept_map(
        &mut self,
        samples: &[f32],
        labels: &[String],
        neighbours: usize,
    ) -> Result<Vec<MapPoint>> {
        if !self.config.head.uses_anchors() || self.classes.is_empty() {
            return Err(CvmError::NotReady(
                "the concept map needs at least one class of a concept-anchored learner".into(),
            ));
        }
        let mut points: Vec<(Vec<f32>, PointKind, String)> = Vec::new();
        // Concepts already shown: the classes' own, then each neighbour once.
        let mut seen: std::collections::HashSet<usize> = self.classes.iter().filter_map(|c| c.concept).collect();
        let neighbours = neighbours.min(20);
        for class in self.classes.clone() {
            let anchor = self.anchor_of(&class);
            if self.config.head == HeadKind::Concepts {
                let candidates = self.concepts.nearest(&anchor, neighbours + self.classes.len() + 1)?;
                for (i, _) in
                    candidates.into_iter().filter(|(i, _)| !seen.contains(i)).take(neighbours).collect::<Vec<_>>()
                {
                    seen.insert(i);
                    points.push((
                        self.concepts.embedding(i).to_vec(),
                        PointKind::Concept,
                        self.concepts.name(i).to_string(),
                    ));
                }
            }
            points.push((anchor, PointKind::Anchor, class.name.clone()));
        }
        let basis = points.len();
        let z = self.embed_samples(samples).await?;
        let dim = self.concepts.dim();
        for (i, row) in z.chunks_exact(dim).enumerate() {
            points.push((row.to_vec(), PointKind::Sample, labels.get(i).cloned().unwrap_or_default()));
        }
        // Axes from anchors and neighbours only, so the layout does not jump as frames come and go.
        let mean: Vec<f32> =
            (0..dim).map(|j| points[..basis].iter().map(|p| p.0[j]).sum::<f32>() / basis as f32).collect();
        let centred: Vec<Vec<f32>> =
            points.iter().map(|p| p.0.iter().zip(&mean).map(|(a, m)| a - m).collect()).collect();
        let first = principal_axis(&centred[..basis], None);
        let second = principal_axis(&centred[..basis], Some(&first));
        Ok(centred
            .iter()
            .zip(points)
            .map(|(c, (_, kind, label))| MapPoint { x: dot(c, &first), y: dot(c, &second), kind, label })
            .collect())
    }
}
