//! Sampling the next token.

use crate::lm::softmax;
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// 0 = greedy.
    pub temperature: f32,
    /// Keep the k most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set whose probability reaches p (1 = all).
    pub top_p: f32,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { temperature: 0.8, top_k: 0, top_p: 0.95 }
    }
}

/// Draw a token from `logits`, never one in `banned`.
pub fn sample<R: Rng>(logits: &[f32], banned: &[u32], cfg: &SamplingConfig, rng: &mut R) -> u32 {
    let mut l = logits.to_vec();
    for &b in banned {
        l[b as usize] = f32::NEG_INFINITY;
    }
    if cfg.temperature <= 0.0 {
        return argmax(&l);
    }
    l.iter_mut().for_each(|x| *x /= cfg.temperature);
    let p = softmax(&l);
    let mut idx: Vec<usize> = (0..p.len()).filter(|&i| p[i] > 0.0).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    if cfg.top_k > 0 {
        idx.truncate(cfg.top_k);
    }
    if cfg.top_p < 1.0 {
        let mut acc = 0.0;
        let mut keep = 0;
        for &i in &idx {
            acc += p[i];
            keep += 1;
            if acc >= cfg.top_p {
                break;
            }
        }
        idx.truncate(keep.max(1));
    }
    let total: f32 = idx.iter().map(|&i| p[i]).sum();
    let mut u = rng.gen::<f32>() * total;
    for &i in &idx {
        u -= p[i];
        if u <= 0.0 {
            return i as u32;
        }
    }
    *idx.last().unwrap() as u32
}

pub fn argmax(l: &[f32]) -> u32 {
    l.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i as u32).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn greedy_top_k_top_p_and_bans() {
        let logits = [1.0, 3.0, 2.0, 0.0];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let greedy = SamplingConfig { temperature: 0.0, ..Default::default() };
        assert_eq!(sample(&logits, &[], &greedy, &mut rng), 1);
        assert_eq!(sample(&logits, &[1], &greedy, &mut rng), 2);
        let k1 = SamplingConfig { temperature: 1.0, top_k: 1, top_p: 1.0 };
        assert!((0..50).all(|_| sample(&logits, &[], &k1, &mut rng) == 1));
        let p = SamplingConfig { temperature: 1.0, top_k: 0, top_p: 0.5 };
        assert!((0..50).all(|_| sample(&logits, &[], &p, &mut rng) == 1));
        let all = SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0 };
        let seen: std::collections::BTreeSet<u32> = (0..400).map(|_| sample(&logits, &[3], &all, &mut rng)).collect();
        assert_eq!(seen, [0, 1, 2].into_iter().collect());
    }
}
