//! Fine-tuning a trained model in memory: the tamper-resistance attack
//! (docs/design.md#evaluation) — an adversary takes released weights and trains them on
//! harmful text. Fresh AdamW state, linear warm-up then a constant learning
//! rate, every token trained; batches are reproducible per (seed, step).

use crate::data::{Batch, TokenStream};
use crate::model::{Acts, Model};
use crate::optim::{clip_grad_norm, AdamW};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneConfig {
    pub lr: f32,
    pub warmup_steps: u64,
    pub batch_size: usize,
    pub seq_len: usize,
    pub weight_decay: f32,
    pub grad_clip: f32,
    pub seed: u64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self { lr: 1e-3, warmup_steps: 5, batch_size: 8, seq_len: 128, weight_decay: 0.0, grad_clip: 1.0, seed: 0 }
    }
}

/// Fine-tunes `model` in place, one step at a time.
pub struct Finetuner {
    pub cfg: FinetuneConfig,
    m: Vec<f32>,
    v: Vec<f32>,
    decay: Vec<bool>,
    opt: AdamW,
    acts: Acts,
    pub step: u64,
}

impl Finetuner {
    pub fn new(model: &Model, cfg: FinetuneConfig) -> Self {
        let n = model.num_params();
        let seq_len = cfg.seq_len.min(model.cfg.max_position_embeddings);
        let cfg = FinetuneConfig { seq_len, ..cfg };
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            decay: model.decay_mask(),
            opt: AdamW { weight_decay: cfg.weight_decay, ..AdamW::default() },
            acts: Acts::new(&model.cfg, cfg.batch_size, cfg.seq_len),
            cfg,
            step: 0,
        }
    }

    /// One optimizer step on `data`; returns the loss before the update.
    pub fn step(&mut self, model: &mut Model, data: &TokenStream) -> f32 {
        let Batch { inputs, targets, mask } =
            data.batch(self.cfg.seed ^ 0x7a11_7e12, self.step, self.cfg.batch_size, self.cfg.seq_len);
        model.zero_grad();
        let (loss, _) = model.forward_backward(&mut self.acts, &inputs, &targets, &mask);
        clip_grad_norm(&mut model.grads, self.cfg.grad_clip);
        let warm = self.cfg.warmup_steps.max(1);
        let lr = self.cfg.lr * ((self.step + 1) as f32 / warm as f32).min(1.0);
        self.step += 1;
        self.opt.step(&mut model.params, &model.grads, &mut self.m, &mut self.v, &self.decay, lr, self.step);
        loss
    }

    pub fn tokens_seen(&self) -> u64 {
        self.step * (self.cfg.batch_size * self.cfg.seq_len) as u64
    }
}
