//! Rates with Wilson intervals, and AUROC.

use serde::{Deserialize, Serialize};

/// Wilson score interval (95%) for `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A rate with its interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Rate {
    pub fn new(k: u64, n: u64) -> Self {
        let (lo, hi) = wilson(k, n);
        Rate { k, n, rate: if n == 0 { 0.0 } else { k as f64 / n as f64 }, lo, hi }
    }

    /// `12.3% [8.1, 17.9]`, or `-` when nothing was measured.
    pub fn cell(&self) -> String {
        if self.n == 0 {
            "-".into()
        } else {
            format!("{:.1}% [{:.1}, {:.1}]", 100.0 * self.rate, 100.0 * self.lo, 100.0 * self.hi)
        }
    }

    /// `12.3%`, or `-`.
    pub fn pct(&self) -> String {
        if self.n == 0 {
            "-".into()
        } else {
            format!("{:.1}%", 100.0 * self.rate)
        }
    }
}

pub use rsr_classify::metrics::auroc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 0 of 10: upper bound 0.2775 (standard tables).
        let (lo, hi) = wilson(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 1e-3, "{hi}");
        // 50 of 100: [0.4038, 0.5962].
        let (lo, hi) = wilson(50, 100);
        assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn auroc_counts_ordered_pairs_and_ties() {
        assert_eq!(auroc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auroc(&[0.1], &[0.9]), 0.0);
        assert_eq!(auroc(&[0.5], &[0.5]), 0.5);
        assert!((auroc(&[0.9, 0.3], &[0.5, 0.1]) - 0.75).abs() < 1e-12);
    }
}
