//! Reciprocal-rank fusion of several ranked lists (full text, vectors), with
//! small boosts for importance and recency. Pure: stores produce the ranked
//! lists, this decides the final order.

use std::collections::HashMap;
use std::hash::Hash;

/// How much each signal counts. Defaults follow the RRF paper (k = 60); the two
/// boosts together are worth a few rank steps near the top (1/61 - 1/62 ≈
/// 0.00026 each) but never ten, so relevance decides first and the boosts
/// break near ties.
#[derive(Debug, Clone, Copy)]
pub struct FusionWeights {
    pub k: f32,
    /// Added for importance 1.0 (scaled linearly from 0.0).
    pub importance: f32,
    /// Added for something from right now, halving every `half_life_days`.
    pub recency: f32,
    pub half_life_days: f32,
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights { k: 60.0, importance: 0.0008, recency: 0.0008, half_life_days: 30.0 }
    }
}

/// What fusion knows about a candidate besides its ranks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prior {
    /// 0.0 ..= 1.0
    pub importance: f32,
    pub age_days: f32,
}

/// Fuses `lists` (each best first) into one list, best first, with scores.
/// Ties keep the order of first appearance, so the result is deterministic.
pub fn fuse<Id: Eq + Hash + Clone>(
    lists: &[Vec<Id>],
    prior: impl Fn(&Id) -> Prior,
    weights: FusionWeights,
) -> Vec<(Id, f32)> {
    let mut scores: HashMap<Id, (f32, usize)> = HashMap::new();
    let mut order = 0;
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let entry = scores.entry(id.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (weights.k + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(Id, f32, usize)> = scores
        .into_iter()
        .map(|(id, (rrf, first))| {
            let p = prior(&id);
            let recency = 0.5f32.powf(p.age_days.max(0.0) / weights.half_life_days.max(f32::EPSILON));
            let score = rrf + weights.importance * p.importance.clamp(0.0, 1.0) + weights.recency * recency;
            (id, score, first)
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, score, _)| (id, score)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(fused: &[(u32, f32)]) -> Vec<u32> {
        fused.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn agreement_beats_a_single_first_place() {
        let text = vec![1, 2, 3];
        let vector = vec![2, 4, 1];
        let fused = fuse(&[text, vector], |_| Prior::default(), FusionWeights::default());
        assert_eq!(ids(&fused), vec![2, 1, 4, 3]);
    }

    #[test]
    fn importance_and_recency_break_near_ties_only() {
        let lists = [vec![10, 20]];
        // 20 is important and fresh, 10 old and unimportant: one rank apart, boosts win.
        let prior = |id: &u32| {
            if *id == 20 {
                Prior { importance: 1.0, age_days: 0.0 }
            } else {
                Prior { importance: 0.0, age_days: 365.0 }
            }
        };
        assert_eq!(ids(&fuse(&lists, prior, FusionWeights::default())), vec![20, 10]);
        // But a candidate ranked far lower is not lifted over a strong match.
        let lists = [vec![10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20]];
        assert_eq!(fuse(&lists, prior, FusionWeights::default())[0].0, 10);
    }

    #[test]
    fn deterministic_ties_and_empty_input() {
        let fused = fuse(&[vec![5], vec![6]], |_| Prior::default(), FusionWeights::default());
        assert_eq!(ids(&fused), vec![5, 6]);
        assert!(fuse::<u32>(&[], |_| Prior::default(), FusionWeights::default()).is_empty());
    }
}
