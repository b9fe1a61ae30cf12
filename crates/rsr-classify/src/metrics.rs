//! Precision, recall and AUROC of scores against labels.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    pub n: usize,
    pub positives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub auroc: f64,
}

/// Quality at threshold 0.5.
pub fn quality(scores: &[f32], labels: &[bool]) -> Quality {
    let (mut tp, mut fp, mut fn_) = (0f64, 0f64, 0f64);
    for (&s, &y) in scores.iter().zip(labels) {
        match (s >= 0.5, y) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fn_ += 1.0,
            _ => {}
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { f64::NAN };
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { f64::NAN };
    let pos: Vec<f32> = scores.iter().zip(labels).filter(|p| *p.1).map(|p| *p.0).collect();
    let neg: Vec<f32> = scores.iter().zip(labels).filter(|p| !*p.1).map(|p| *p.0).collect();
    Quality {
        n: scores.len(),
        positives: pos.len(),
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall),
        auroc: auroc(&pos, &neg),
    }
}

/// P(score of a random positive > a random negative), ties half (Mann–Whitney U).
pub fn auroc(pos: &[f32], neg: &[f32]) -> f64 {
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f32, bool)> = pos.iter().map(|&s| (s, true)).chain(neg.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += all[i..=j].iter().filter(|x| x.1).count() as f64 * avg;
        i = j + 1;
    }
    let (np, nn) = (pos.len() as f64, neg.len() as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let q = quality(&[0.9, 0.8, 0.3, 0.6, 0.1], &[true, true, true, false, false]);
        assert!((q.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((q.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((q.auroc - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(auroc(&[0.5], &[0.5]), 0.5);
    }
}
