//! Score-aware fusion of several ranked lists (full text, vectors): each
//! list's scores are put on one scale and added with a weight, then what pai
//! knows about a candidate (who said it, how important, how fresh when the
//! question asks for fresh) adjusts the sum. Pure: stores produce the ranked
//! lists, this decides the final order.
//!
//! Why not reciprocal-rank fusion: RRF looks at ranks only, so the clear
//! winner of one list (BM25 15.0 against 10.2 for the next) loses to items in
//! the middle of both lists. Normalised scores keep the margin.

use std::collections::HashMap;
use std::hash::Hash;

/// How a list's raw scores are put on a 0..=1 scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// BM25-like: 0 means no match; divided by the list's best score.
    FromZero,
    /// Cosine-like: every candidate scores and the range is narrow; min-max
    /// over the list (the best 1, the last 0), over at least `MIN_RANGE`, so
    /// that a short list of near-equals is not stretched to all or nothing.
    MinMax,
}

/// Least spread of a min-max list: cosines closer than this to the best are
/// not told apart as if they were the whole scale.
const MIN_RANGE: f32 = 0.1;

/// One ranker's results, best first, with their raw scores.
#[derive(Debug, Clone)]
pub struct Ranked<Id> {
    pub hits: Vec<(Id, f32)>,
    pub weight: f32,
    pub scale: Scale,
}

impl<Id> Ranked<Id> {
    /// The list's scores on a 0..=1 scale, in the list's order.
    fn normalised(&self) -> impl Iterator<Item = (&Id, f32)> {
        let max = self.hits.iter().map(|h| h.1).fold(f32::NEG_INFINITY, f32::max);
        let min = self.hits.iter().map(|h| h.1).fold(f32::INFINITY, f32::min);
        let scale = self.scale;
        self.hits.iter().map(move |(id, s)| {
            let n = match scale {
                Scale::FromZero if max > 0.0 => s.max(0.0) / max,
                Scale::FromZero => 0.0,
                Scale::MinMax => {
                    let floor = min.min(max - MIN_RANGE);
                    (s - floor) / (max - floor)
                }
            };
            (id, n)
        })
    }
}

/// How much the priors count next to relevance (which sums to about 1 for a
/// candidate at the top of every list).
#[derive(Debug, Clone, Copy)]
pub struct FusionWeights {
    /// Added for importance 1.0 (scaled linearly from 0.0).
    pub importance: f32,
    /// Added for something from right now, halving every `half_life_days`;
    /// callers set it only when the question asks about the present.
    pub recency: f32,
    pub half_life_days: f32,
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights { importance: 0.02, recency: 0.0, half_life_days: 30.0 }
    }
}

/// What fusion knows about a candidate besides its scores.
#[derive(Debug, Clone, Copy, Default)]
pub struct Prior {
    /// 0.0 ..= 1.0
    pub importance: f32,
    pub age_days: f32,
    /// Multiplies relevance by (1 + boost): above 0 the candidate is about who
    /// or what the question names, below 0 it counts less (at most -0.9).
    pub boost: f32,
}

/// Fuses `lists` into one list, best first, with scores. Ties keep the order
/// of first appearance, so the result is deterministic.
pub fn fuse<Id: Eq + Hash + Clone>(
    lists: &[Ranked<Id>],
    prior: impl Fn(&Id) -> Prior,
    weights: FusionWeights,
) -> Vec<(Id, f32)> {
    rank(relevance(lists), prior, weights)
}

/// Each candidate's relevance: the weighted sum of its normalised scores, in
/// order of first appearance.
pub fn relevance<Id: Eq + Hash + Clone>(lists: &[Ranked<Id>]) -> Vec<(Id, f32)> {
    let mut at: HashMap<Id, usize> = HashMap::new();
    let mut out: Vec<(Id, f32)> = Vec::new();
    for list in lists {
        for (id, n) in list.normalised() {
            let i = *at.entry(id.clone()).or_insert_with(|| {
                out.push((id.clone(), 0.0));
                out.len() - 1
            });
            out[i].1 += list.weight * n;
        }
    }
    out
}

/// Orders candidates by relevance adjusted by their priors, best first; ties
/// keep the given order.
pub fn rank<Id: Clone>(
    relevance: Vec<(Id, f32)>,
    prior: impl Fn(&Id) -> Prior,
    weights: FusionWeights,
) -> Vec<(Id, f32)> {
    let mut out: Vec<(Id, f32, usize)> = relevance
        .into_iter()
        .enumerate()
        .map(|(first, (id, rel))| {
            let p = prior(&id);
            let recency = 0.5f32.powf(p.age_days.max(0.0) / weights.half_life_days.max(f32::EPSILON));
            let score = rel * (1.0 + p.boost.max(-0.9))
                + weights.importance * p.importance.clamp(0.0, 1.0)
                + weights.recency * recency;
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

    fn text(hits: &[(u32, f32)]) -> Ranked<u32> {
        Ranked { hits: hits.to_vec(), weight: 1.0, scale: Scale::FromZero }
    }

    fn vector(hits: &[(u32, f32)]) -> Ranked<u32> {
        Ranked { hits: hits.to_vec(), weight: 1.0, scale: Scale::MinMax }
    }

    #[test]
    fn a_clear_winner_of_one_list_stays_above_middling_agreement() {
        // The case: BM25 ranks turn 1 first by a wide margin (15.0 vs
        // 10.2), the vector list does not have it, and ten other turns sit in
        // the middle of both lists. Rank-only fusion (k = 60) put all ten above it.
        let mut text_hits = vec![(1, 15.0)];
        let mut vector_hits = vec![(100, 0.90)];
        for i in 0..10u32 {
            text_hits.push((10 + i, 10.2 - i as f32 * 0.3));
            vector_hits.push((10 + i, 0.86 - i as f32 * 0.005));
        }
        let lists = [text(&text_hits), Ranked { weight: 0.5, ..vector(&vector_hits) }];
        let fused = fuse(&lists, |_| Prior::default(), FusionWeights::default());
        let at = fused.iter().position(|(id, _)| *id == 1).unwrap();
        assert!(at < 3, "the clear text winner is at {at}: {fused:?}");
    }

    #[test]
    fn agreement_still_counts_when_margins_are_small() {
        let lists = [text(&[(1, 10.0), (2, 9.9), (3, 2.0)]), vector(&[(2, 0.9), (4, 0.85), (1, 0.7)])];
        assert_eq!(ids(&fuse(&lists, |_| Prior::default(), FusionWeights::default()))[0], 2);
    }

    #[test]
    fn boosts_multiply_relevance_and_recency_counts_only_when_weighted() {
        let lists = [text(&[(10, 10.0), (20, 9.0)])];
        let prior = |id: &u32| {
            if *id == 20 {
                Prior { importance: 0.0, age_days: 0.0, boost: 0.5 }
            } else {
                Prior { age_days: 365.0, ..Prior::default() }
            }
        };
        assert_eq!(ids(&fuse(&lists, prior, FusionWeights::default())), vec![20, 10]);
        // Without the boost, the fresh one wins only when recency is asked for.
        let prior = |id: &u32| Prior { age_days: if *id == 20 { 0.0 } else { 365.0 }, ..Prior::default() };
        assert_eq!(ids(&fuse(&lists, prior, FusionWeights::default())), vec![10, 20]);
        let fresh = FusionWeights { recency: 0.3, ..FusionWeights::default() };
        assert_eq!(ids(&fuse(&lists, prior, fresh)), vec![20, 10]);
    }

    #[test]
    fn deterministic_ties_degenerate_lists_and_empty_input() {
        let fused = fuse(&[text(&[(5, 1.0)]), text(&[(6, 1.0)])], |_| Prior::default(), FusionWeights::default());
        assert_eq!(ids(&fused), vec![5, 6]);
        // One vector hit, or all equal: full marks, not a division by zero.
        // Two close cosines are close scores, not 1 and 0.
        let close = fuse(&[vector(&[(1, 0.82), (2, 0.80)])], |_| Prior::default(), FusionWeights::default());
        assert!((close[1].1 - 0.8).abs() < 1e-4, "{close:?}");
        let fused = fuse(&[vector(&[(7, 0.8)]), text(&[(8, 0.0)])], |_| Prior::default(), FusionWeights::default());
        assert_eq!(fused[0], (7, 1.0));
        assert_eq!(fused[1], (8, 0.0));
        assert!(fuse::<u32>(&[], |_| Prior::default(), FusionWeights::default()).is_empty());
    }
}
