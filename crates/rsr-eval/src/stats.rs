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
    /// Nothing measured.
    pub fn none() -> Self {
        Rate::new(0, 0)
    }

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

/// The mean of per-seed figures with a 95% Student-t interval (`(mean, lo, hi)`; one figure:
/// no interval, `lo = hi = mean`).
pub fn mean_interval(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, mean, mean);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    (mean, mean - half, mean + half)
}

/// The Student-t 0.975 quantile with `df` degrees of freedom: tabulated to 30, then the
/// Cornish–Fisher expansion around the normal's 1.96 (within 1e-4 of the exact value there).
/// A normal quantile in its place would make every interval over a dozen values too narrow.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => {
            let (z, v) = (1.959964f64, df as f64);
            z + (z.powi(3) + z) / (4.0 * v) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
        }
    }
}

/// A paired difference `mean(b) − mean(a)` over pairs of outcomes on the same items, pooled
/// over strata (seeds), with a 95% percentile bootstrap interval that resamples items within
/// each stratum (`iters` resamples from a fixed seed, so the interval is reproducible).
pub fn paired_difference(strata: &[Vec<(f64, f64)>], iters: usize, seed: u64) -> (f64, f64, f64) {
    use rand::Rng;
    let n: usize = strata.iter().map(Vec::len).sum();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let diff = |sum: f64| sum / n as f64;
    let point = diff(strata.iter().flatten().map(|(a, b)| b - a).sum());
    let mut rng = rsr_core::rng::stream(seed, "paired-bootstrap");
    let mut draws: Vec<f64> = (0..iters)
        .map(|_| {
            diff(
                strata
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        (0..s.len())
                            .map(|_| {
                                let (a, b) = s[rng.gen_range(0..s.len())];
                                b - a
                            })
                            .sum::<f64>()
                    })
                    .sum(),
            )
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| draws[((q * iters as f64) as usize).min(iters.saturating_sub(1))];
    if iters == 0 {
        return (point, point, point);
    }
    (point, at(0.025), at(0.975))
}

#[cfg(test)]
mod study_stats_tests {
    use super::*;

    #[test]
    fn the_mean_interval_is_students() {
        let (m, lo, hi) = mean_interval(&[0.1, 0.2, 0.3]);
        assert!((m - 0.2).abs() < 1e-12);
        // sd 0.1, n 3: half-width 4.303 × 0.1 / √3 = 0.2484.
        assert!((hi - m - 0.248_43).abs() < 1e-4, "{hi}");
        assert!((m - lo - 0.248_43).abs() < 1e-4, "{lo}");
        assert_eq!(mean_interval(&[0.5]), (0.5, 0.5, 0.5));
        // Twelve values (a world's twelve training runs): t with 11 degrees of freedom, 2.201,
        // not the normal's 1.96 — sd 0.3: half-width 2.201 × 0.3 / √12 = 0.1906.
        let twelve: Vec<f64> = (0..12).map(|i| if i % 2 == 0 { 0.2 } else { 0.8 }).collect();
        let sd = (12.0f64 * 0.09 / 11.0).sqrt();
        let (m, lo, hi) = mean_interval(&twelve);
        assert!((hi - m - 2.201 * sd / 12f64.sqrt()).abs() < 1e-9 && (m - lo - (hi - m)).abs() < 1e-12, "{lo} {hi}");
    }

    #[test]
    fn t975_is_the_t_quantile_at_every_degree_of_freedom() {
        // Tabulated values, and beyond the table within 1e-3 of published quantiles (t(40) =
        // 2.0211, t(60) = 2.0003, t(120) = 1.9799), falling toward the normal's 1.96.
        assert_eq!((t975(1), t975(11), t975(30)), (12.706, 2.201, 2.042));
        for (df, t) in [(40, 2.0211), (60, 2.0003), (120, 1.9799)] {
            assert!((t975(df) - t).abs() < 1e-3, "t975({df}) = {}", t975(df));
        }
        assert!(t975(31) < t975(30) && t975(1000) > 1.96 && t975(1000) < 1.963);
        assert!(t975(0).is_nan());
    }

    #[test]
    fn a_paired_difference_sees_a_consistent_gap_and_not_noise() {
        // b fails where a does and 20 more times out of 100: a gap of 0.2, clearly above 0.
        let pairs: Vec<(f64, f64)> = (0..100).map(|i| (0.0, if i % 5 == 0 { 1.0 } else { 0.0 })).collect();
        let (d, lo, hi) = paired_difference(&[pairs.clone(), pairs], 2000, 1);
        assert!((d - 0.2).abs() < 1e-12);
        assert!(lo > 0.1 && hi < 0.3, "[{lo}, {hi}]");
        // The same outcomes on both sides: exactly no difference.
        let same: Vec<(f64, f64)> = (0..50).map(|i| ((i % 2) as f64, (i % 2) as f64)).collect();
        assert_eq!(paired_difference(&[same], 500, 1), (0.0, 0.0, 0.0));
        // Discordant pairs both ways: the interval covers 0.
        let mixed: Vec<(f64, f64)> = (0..40).map(|i| if i % 2 == 0 { (1.0, 0.0) } else { (0.0, 1.0) }).collect();
        let (d, lo, hi) = paired_difference(&[mixed], 2000, 1);
        assert!(d == 0.0 && lo < 0.0 && hi > 0.0);
    }
}
