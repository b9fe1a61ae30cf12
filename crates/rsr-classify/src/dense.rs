//! Logistic heads on dense feature vectors (sentence embeddings): a binary
//! `unsafe` head and one one-vs-rest head per category, fitted exactly by
//! Newton's method with an L2 penalty and balanced class weights.
//!
//! This is the trainable half of the `minilm` classifier; the embedding half
//! lives in `rsr-embed`, so this stays free of any ML stack and is tested on
//! synthetic vectors.
//!
//! ```
//! use rsr_classify::dense::{DenseHeads, DenseConfig};
//! use rsr_classify::Example;
//! let ex = |y: bool| Example { text: String::new(), label: y, category: None };
//! let x: Vec<Vec<f32>> = (0..40).map(|i| vec![if i % 2 == 0 { 1.0 } else { -1.0 }, 0.3]).collect();
//! let data: Vec<Example> = (0..40).map(|i| ex(i % 2 == 0)).collect();
//! let h = DenseHeads::train(&x, &data, &DenseConfig::default()).unwrap();
//! assert!(h.score(&[1.0, 0.3]) > 0.9 && h.score(&[-1.0, 0.3]) < 0.1);
//! ```

use crate::Example;
use rsr_core::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DenseConfig {
    /// L2 penalty on the weights (not the bias), per unit of mean loss.
    pub l2: f64,
    /// Newton iterations at most (it usually converges in under 15).
    pub max_iter: usize,
}

impl Default for DenseConfig {
    fn default() -> Self {
        Self { l2: 1e-3, max_iter: 50 }
    }
}

/// One logistic head: weights over the features, then the bias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    pub name: String,
    pub weights: Vec<f32>,
    pub bias: f32,
}

/// `unsafe` first, then one head per category of the unsafe examples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DenseHeads {
    pub dim: usize,
    pub heads: Vec<Head>,
    pub trained_on: usize,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// −log P(y) for logit `z`: log(1 + e^{−z}) when y, log(1 + e^{z}) when not, computed stably.
fn log_loss(z: f64, y: bool) -> f64 {
    let m = if y { -z } else { z };
    m.max(0.0) + (-m.abs()).exp().ln_1p()
}

impl DenseHeads {
    /// Fit on `x[i]` labelled by `data[i]` (same length, every row `dim` wide).
    pub fn train(x: &[Vec<f32>], data: &[Example], cfg: &DenseConfig) -> Result<Self> {
        if x.len() != data.len() || x.is_empty() {
            return Err(Error::Invalid(format!("{} feature rows for {} examples", x.len(), data.len())));
        }
        let dim = x[0].len();
        if let Some(i) = x.iter().position(|r| r.len() != dim) {
            return Err(Error::Invalid(format!("feature row {i} has {} values, row 0 has {dim}", x[i].len())));
        }
        let mut cats: Vec<&str> = data.iter().filter(|e| e.label).filter_map(|e| e.category.as_deref()).collect();
        cats.sort();
        cats.dedup();
        let mut heads = Vec::with_capacity(1 + cats.len());
        let all: Vec<(usize, bool)> = data.iter().map(|e| e.label).enumerate().collect();
        heads.push(fit("unsafe", x, &all, cfg));
        for cat in cats {
            // A category head sees the unsafe examples: P(category | unsafe).
            let rows: Vec<(usize, bool)> = (0..data.len())
                .filter(|&i| data[i].label)
                .map(|i| (i, data[i].category.as_deref() == Some(cat)))
                .collect();
            heads.push(fit(cat, x, &rows, cfg));
        }
        Ok(Self { dim, heads, trained_on: data.len() })
    }

    fn head_score(&self, h: usize, x: &[f32]) -> f32 {
        let head = &self.heads[h];
        let z: f32 = head.bias + head.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
        sigmoid(z as f64) as f32
    }

    /// P(unsafe).
    pub fn score(&self, x: &[f32]) -> f32 {
        self.head_score(0, x)
    }

    /// P(unsafe), and when it reaches `threshold` the most likely category
    /// (None without category heads).
    pub fn predict(&self, x: &[f32], threshold: f32) -> (f32, Option<&str>) {
        let p = self.score(x);
        let cat = (p >= threshold)
            .then(|| {
                (1..self.heads.len())
                    .map(|h| (h, self.head_score(h, x)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(h, _)| self.heads[h].name.as_str())
            })
            .flatten();
        (p, cat)
    }

    pub fn names(&self) -> Vec<&str> {
        self.heads.iter().map(|h| h.name.as_str()).collect()
    }
}

/// The L2 penalty chosen by `folds`-fold cross-validation of the `unsafe`
/// head over `grid`: the value with the lowest mean held-out balanced log
/// loss (ties to the stronger penalty). Folds are a seeded shuffle; at most
/// `max_rows` rows take part, so it stays cheap on large sets. Returns the
/// choice and each value's loss.
pub fn select_l2(
    x: &[Vec<f32>],
    data: &[Example],
    grid: &[f64],
    folds: usize,
    max_rows: usize,
    seed: u64,
) -> (f64, Vec<(f64, f64)>) {
    use rand::seq::SliceRandom;
    let mut idx: Vec<usize> = (0..x.len().min(data.len())).collect();
    idx.shuffle(&mut rsr_core::rng::stream(seed, "dense-select-l2"));
    idx.truncate(max_rows);
    let folds = folds.clamp(2, idx.len().max(2));
    let mut table = Vec::with_capacity(grid.len());
    for &l2 in grid {
        let cfg = DenseConfig { l2, ..DenseConfig::default() };
        let (mut loss, mut weight) = (0.0, 0.0);
        for f in 0..folds {
            let train: Vec<(usize, bool)> =
                idx.iter().enumerate().filter(|(k, _)| k % folds != f).map(|(_, &i)| (i, data[i].label)).collect();
            let test: Vec<usize> = idx.iter().enumerate().filter(|(k, _)| k % folds == f).map(|(_, &i)| i).collect();
            if train.is_empty() || test.is_empty() {
                continue;
            }
            let head = fit("unsafe", x, &train, &cfg);
            let pos = test.iter().filter(|&&i| data[i].label).count().max(1) as f64;
            let neg = (test.len() as f64 - pos).max(1.0);
            for &i in &test {
                let z = head.bias as f64 + head.weights.iter().zip(&x[i]).map(|(w, v)| (w * v) as f64).sum::<f64>();
                // Each class weighs the same in the loss, as in training.
                let w = if data[i].label { 0.5 / pos } else { 0.5 / neg };
                loss += w * log_loss(z, data[i].label);
                weight += w;
            }
        }
        table.push((l2, loss / weight.max(1e-12)));
    }
    let best = table
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.total_cmp(&a.0)))
        .map_or(DenseConfig::default().l2, |t| t.0);
    (best, table)
}

/// Balanced, L2-penalised logistic regression on the rows `(index into x, label)`,
/// by Newton's method with a backtracking line search (the objective is
/// strictly convex, so this finds its one minimum). Rows with the same features and label
/// enter once, weighted by how often they occur — the same objective, at the cost of the
/// distinct rows (a corpus repeats its sentences: SafetyWorld's 108,071 sentences are 14,118
/// distinct ones).
fn fit(name: &str, x: &[Vec<f32>], rows: &[(usize, bool)], cfg: &DenseConfig) -> Head {
    let d = x[rows.first().map_or(0, |r| r.0)].len();
    let p = d + 1; // the bias is the last coordinate
    let n = rows.len().max(1) as f64;
    let pos = rows.iter().filter(|r| r.1).count() as f64;
    let neg = n - pos;
    // The distinct (features, label) rows, in order of first occurrence, each with its count;
    // as f64 with the bias's 1 appended: the loops below are over slices.
    let mut seen: std::collections::HashMap<(Vec<u32>, bool), usize> = std::collections::HashMap::new();
    let mut distinct: Vec<(Vec<f64>, bool, f64)> = Vec::new();
    for &(i, y) in rows {
        let key = (x[i].iter().map(|v| v.to_bits()).collect(), y);
        let k = *seen.entry(key).or_insert_with(|| {
            distinct.push((x[i].iter().map(|&v| v as f64).chain(std::iter::once(1.0)).collect(), y, 0.0));
            distinct.len() - 1
        });
        distinct[k].2 += 1.0;
    }
    // Each class carries half the total weight (a class that is absent carries none); a distinct
    // row carries its class's weight once for each time it occurs.
    let cw = |y: bool| if y { n / (2.0 * pos.max(1.0)) } else { n / (2.0 * neg.max(1.0)) };
    let dot = |w: &[f64], f: &[f64]| w.iter().zip(f).map(|(a, b)| a * b).sum::<f64>();
    let objective = |w: &[f64]| {
        let mut loss = 0.0;
        for (f, y, count) in &distinct {
            loss += count * cw(*y) * log_loss(dot(w, f), *y);
        }
        loss / n + 0.5 * cfg.l2 * w[..d].iter().map(|v| v * v).sum::<f64>()
    };
    let mut w = vec![0f64; p];
    let mut f = objective(&w);
    for _ in 0..cfg.max_iter {
        let mut g = vec![0f64; p];
        let mut h = vec![0f64; p * p];
        for (x, y, count) in &distinct {
            let (y, weight) = (*y, count * cw(*y));
            let s = sigmoid(dot(&w, x));
            let r = weight * (s - if y { 1.0 } else { 0.0 });
            let c = weight * s * (1.0 - s);
            for a in 0..p {
                g[a] += r * x[a];
                let ca = c * x[a];
                // Upper triangle only; mirrored below.
                for (hb, xb) in h[a * p + a..(a + 1) * p].iter_mut().zip(&x[a..]) {
                    *hb += ca * xb;
                }
            }
        }
        for a in 0..p {
            g[a] /= n;
            for b in a..p {
                h[a * p + b] /= n;
                h[b * p + a] = h[a * p + b];
            }
            h[a * p + a] += if a < d { cfg.l2 } else { 1e-9 };
            if a < d {
                g[a] += cfg.l2 * w[a];
            }
        }
        let Some(step) = cholesky_solve(&mut h, &g, p) else { break };
        let mut t = 1.0;
        let mut improved = false;
        while t > 1e-8 {
            let cand: Vec<f64> = w.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let fc = objective(&cand);
            if fc <= f {
                let gain = f - fc;
                w = cand;
                f = fc;
                improved = gain > 1e-12 * f.abs().max(1e-12);
                break;
            }
            t *= 0.5;
        }
        if !improved {
            break;
        }
    }
    Head { name: name.to_string(), weights: w[..d].iter().map(|&v| v as f32).collect(), bias: w[d] as f32 }
}

/// Solve `A x = b` for symmetric positive-definite `A` (overwritten by its Cholesky factor).
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut s = a[j * n + j];
        for k in 0..j {
            s -= a[j * n + k] * a[j * n + k];
        }
        if s <= 0.0 || !s.is_finite() {
            return None;
        }
        let l = s.sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / l;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= a[i * n + k] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= a[k * n + i] * y[k];
        }
        y[i] /= a[i * n + i];
    }
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(y: bool, c: Option<&str>) -> Example {
        Example { text: String::new(), label: y, category: c.map(String::from) }
    }

    #[test]
    fn cholesky_solves() {
        // A = [[4, 2], [2, 3]], b = [2, 1] → x = [0.5, 0]
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let x = cholesky_solve(&mut a, &[2.0, 1.0], 2).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(cholesky_solve(&mut [1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none(), "indefinite");
    }

    #[test]
    fn newton_reaches_the_minimum() {
        // Noisy 3-d data: at the fit, the penalised gradient is zero.
        let mut rng = rsr_core::rng::stream(7, "dense-test");
        use rand::Rng;
        let (mut x, mut data) = (Vec::new(), Vec::new());
        for _ in 0..300 {
            let v: Vec<f32> = (0..3).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let y = v[0] - 0.5 * v[1] + rng.gen_range(-0.5..0.5) > 0.2;
            x.push(v);
            data.push(ex(y, None));
        }
        // A third of the rows again, some twice: repeats enter the fit once, weighted by their
        // count, and the gradient below (over every row) says that is the same objective.
        for i in (0..100).chain(0..20) {
            x.push(x[i].clone());
            data.push(data[i].clone());
        }
        let cfg = DenseConfig { l2: 1e-2, max_iter: 50 };
        let h = DenseHeads::train(&x, &data, &cfg).unwrap();
        let head = &h.heads[0];
        let n = x.len() as f64;
        let pos = data.iter().filter(|e| e.label).count() as f64;
        let mut g = [0f64; 4];
        for (v, e) in x.iter().zip(&data) {
            let cw = if e.label { n / (2.0 * pos) } else { n / (2.0 * (n - pos)) };
            let r = cw * (h.score(v) as f64 - if e.label { 1.0 } else { 0.0 }) / n;
            for (gj, vj) in g.iter_mut().zip(v.iter().chain([&1.0])) {
                *gj += r * *vj as f64;
            }
        }
        for (gj, wj) in g.iter_mut().zip(&head.weights) {
            *gj += cfg.l2 * *wj as f64;
        }
        assert!(g.iter().all(|v| v.abs() < 1e-4), "gradient at the fit: {g:?}");
        assert!(head.weights[0] > 0.0 && head.weights[1] < 0.0 && head.weights[2].abs() < head.weights[0].abs());
    }

    #[test]
    fn every_row_repeated_alike_is_the_same_fit() {
        let mut rng = rsr_core::rng::stream(11, "dense-repeat");
        use rand::Rng;
        let x: Vec<Vec<f32>> = (0..200).map(|_| (0..5).map(|_| rng.gen_range(-1.0..1.0)).collect()).collect();
        let data: Vec<Example> =
            x.iter().map(|v| ex(v[0] + 0.3 * v[2] + rng.gen_range(-0.4..0.4) > 0.0, None)).collect();
        let once = DenseHeads::train(&x, &data, &DenseConfig::default()).unwrap();
        let (x3, d3): (Vec<_>, Vec<_>) = (0..3).flat_map(|_| x.iter().cloned().zip(data.iter().cloned())).unzip();
        let thrice = DenseHeads::train(&x3, &d3, &DenseConfig::default()).unwrap();
        assert_eq!(thrice.trained_on, 600);
        for (a, b) in once.heads[0]
            .weights
            .iter()
            .chain([&once.heads[0].bias])
            .zip(thrice.heads[0].weights.iter().chain([&thrice.heads[0].bias]))
        {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn cross_validation_prefers_a_penalty_when_features_are_noise() {
        // Labels unrelated to 40 noise features: any fit is overfitting, so the
        // strongest penalty must win; with a real signal, a weak one does.
        let mut rng = rsr_core::rng::stream(3, "dense-cv");
        use rand::Rng;
        let x: Vec<Vec<f32>> = (0..120).map(|_| (0..40).map(|_| rng.gen_range(-1.0..1.0)).collect()).collect();
        let noise: Vec<Example> = (0..120).map(|i| ex(i % 2 == 0, None)).collect();
        let grid = [1e-4, 1e-2, 1.0];
        let (best, table) = select_l2(&x, &noise, &grid, 5, 10_000, 0);
        assert_eq!(best, 1.0, "{table:?}");
        let signal: Vec<Example> = x.iter().map(|v| ex(v[0] + 0.1 * v[1] > 0.0, None)).collect();
        let (best, table) = select_l2(&x, &signal, &grid, 5, 10_000, 0);
        assert!(best < 1.0, "{table:?}");
    }

    #[test]
    fn category_heads_and_errors() {
        let mut x = Vec::new();
        let mut data = Vec::new();
        for i in 0..30 {
            let t = i as f32 / 30.0;
            x.push(vec![1.0, t, 0.0]);
            data.push(ex(true, Some("weapons")));
            x.push(vec![1.0, 0.0, t]);
            data.push(ex(true, Some("theft")));
            x.push(vec![-1.0, t, t]);
            data.push(ex(false, None));
        }
        let h = DenseHeads::train(&x, &data, &DenseConfig::default()).unwrap();
        assert_eq!(h.names(), ["unsafe", "theft", "weapons"]);
        assert_eq!(h.predict(&[1.0, 0.9, 0.0], 0.5).1, Some("weapons"));
        assert_eq!(h.predict(&[1.0, 0.0, 0.9], 0.5).1, Some("theft"));
        assert_eq!(h.predict(&[-1.0, 0.5, 0.5], 0.5).1, None);
        let json = serde_json::to_string(&h).unwrap();
        let back: DenseHeads = serde_json::from_str(&json).unwrap();
        assert_eq!(back.score(&[1.0, 0.2, 0.1]), h.score(&[1.0, 0.2, 0.1]));
        x[5].pop();
        let err = DenseHeads::train(&x, &data, &DenseConfig::default()).unwrap_err().to_string();
        assert!(err.contains("row 5"), "{err}");
    }
}
