//! AdamW, the learning-rate schedule, and gradient clipping.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The shape of the learning rate after warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Cosine decay from the peak to the floor over every step after warm-up.
    #[default]
    Cosine,
    /// Warmup–stable–decay (Hu et al., 2024, "MiniCPM"; Hägele et al., 2024): the peak held,
    /// then a linear decay to the floor over the last `decay` fraction of the steps. The stable
    /// phase's checkpoints can be decayed from, and at a fixed budget it matches or beats cosine.
    Wsd,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::Cosine, Shape::Wsd];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Cosine => "cosine",
            Shape::Wsd => "wsd",
        }
    }
}

impl std::str::FromStr for Shape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Shape::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| format!("unknown schedule `{s}`: cosine or wsd"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub max_lr: f32,
    /// Floor of the decay, as a fraction of `max_lr`.
    pub min_lr_ratio: f32,
    pub warmup_steps: u64,
    pub total_steps: u64,
    #[serde(default)]
    pub shape: Shape,
    /// [`Shape::Wsd`]: the steps of the final decay.
    #[serde(default)]
    pub decay_steps: u64,
}

impl Schedule {
    /// Linear warm-up to `max_lr`, then the [`Shape`] down to `min_lr_ratio * max_lr` at
    /// `total_steps`.
    pub fn lr_at(&self, step: u64) -> f32 {
        if step < self.warmup_steps {
            return self.max_lr * (step + 1) as f32 / self.warmup_steps as f32;
        }
        let min = self.max_lr * self.min_lr_ratio;
        match self.shape {
            Shape::Cosine => {
                let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
                let progress = ((step - self.warmup_steps) as f32 / span as f32).min(1.0);
                min + 0.5 * (self.max_lr - min) * (1.0 + (std::f32::consts::PI * progress).cos())
            }
            Shape::Wsd => {
                let start = self.total_steps.saturating_sub(self.decay_steps).max(self.warmup_steps);
                if step < start {
                    return self.max_lr;
                }
                let span = self.total_steps.saturating_sub(start).max(1);
                let progress = ((step - start) as f32 / span as f32).min(1.0);
                self.max_lr - (self.max_lr - min) * progress
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdamW {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

impl Default for AdamW {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 }
    }
}

impl AdamW {
    /// One update of `params` from `grads` at 1-based step `t`. `decay[i]`
    /// says whether element i is weight-decayed (matrices yes, norms no).
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &self,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        decay: &[bool],
        lr: f32,
        t: u64,
    ) {
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = 1.0 - b1.powi(t as i32);
        let c2 = 1.0 - b2.powi(t as i32);
        params
            .par_iter_mut()
            .zip(grads.par_iter())
            .zip(m.par_iter_mut())
            .zip(v.par_iter_mut())
            .zip(decay.par_iter())
            .for_each(|((((p, &g), m), v), &d)| {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let update = (*m / c1) / ((*v / c2).sqrt() + self.eps);
                if d {
                    *p -= lr * self.weight_decay * *p;
                }
                *p -= lr * update;
            });
    }
}

/// Scale `grads` so their global L2 norm is at most `max_norm`; returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    // Fixed blocks summed in order: the same norm whatever the thread schedule.
    let parts: Vec<f64> = grads.par_chunks(1 << 14).map(|c| c.iter().map(|&g| g as f64 * g as f64).sum()).collect();
    let norm = parts.iter().sum::<f64>().sqrt() as f32;
    if max_norm > 0.0 && norm > max_norm {
        let s = max_norm / (norm + 1e-6);
        grads.par_iter_mut().for_each(|g| *g *= s);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_warms_up_then_decays_to_the_floor() {
        let s = Schedule {
            max_lr: 1e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 10,
            total_steps: 110,
            shape: Shape::Cosine,
            decay_steps: 0,
        };
        assert!((s.lr_at(0) - 1e-4).abs() < 1e-9);
        assert!((s.lr_at(9) - 1e-3).abs() < 1e-9);
        assert!((s.lr_at(10) - 1e-3).abs() < 1e-9);
        assert!((s.lr_at(60) - 5.5e-4).abs() < 1e-7);
        assert!((s.lr_at(110) - 1e-4).abs() < 1e-9);
        assert!((s.lr_at(500) - 1e-4).abs() < 1e-9);
        for t in 10..110 {
            assert!(s.lr_at(t + 1) <= s.lr_at(t));
        }
    }

    #[test]
    fn adamw_first_step_moves_each_weight_by_lr_against_its_gradient() {
        let opt = AdamW { weight_decay: 0.0, ..Default::default() };
        let mut p = vec![1.0, -1.0, 0.5];
        let g = vec![0.2, -3.0, 0.0];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        opt.step(&mut p, &g, &mut m, &mut v, &[true; 3], 0.01, 1);
        assert!((p[0] - 0.99).abs() < 1e-6 && (p[1] + 0.99).abs() < 1e-6 && p[2] == 0.5);
        // Weight decay shrinks decayed weights only.
        let opt = AdamW { weight_decay: 0.5, ..Default::default() };
        let mut p = vec![1.0, 1.0];
        opt.step(&mut p, &[0.0, 0.0], &mut [0.0; 2], &mut [0.0; 2], &[true, false], 0.1, 1);
        assert!((p[0] - 0.95).abs() < 1e-6 && p[1] == 1.0);
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let mut g = vec![3.0, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((g[0] - 0.6).abs() < 1e-5 && (g[1] - 0.8).abs() < 1e-5);
        let mut g = vec![0.3, 0.4];
        clip_grad_norm(&mut g, 1.0);
        assert_eq!(g, vec![0.3, 0.4]);
    }

    #[test]
    fn wsd_holds_the_peak_then_decays_linearly_to_the_floor() {
        let s = Schedule {
            max_lr: 1e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 10,
            total_steps: 110,
            shape: Shape::Wsd,
            decay_steps: 20,
        };
        assert!((s.lr_at(9) - 1e-3).abs() < 1e-9);
        assert_eq!(s.lr_at(50), 1e-3);
        assert_eq!(s.lr_at(89), 1e-3);
        assert!((s.lr_at(100) - 5.5e-4).abs() < 1e-7, "{}", s.lr_at(100));
        assert!((s.lr_at(110) - 1e-4).abs() < 1e-9);
        for t in 0..200 {
            if t >= 10 {
                assert!(s.lr_at(t + 1) <= s.lr_at(t));
            }
        }
    }
}
