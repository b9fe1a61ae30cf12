//! # rsr-candle
//!
//! Brief overview: the Llama model of `rsr-model` written with candle's
//! tensors and autograd, so it runs on a GPU (`--features cuda`) while
//! `rsr-model`'s hand-written CPU kernels stay the default. Both read and
//! write the same parameter layout (Hugging Face tensor names), so a
//! checkpoint moves between them unchanged; `tests/equal.rs` keeps them equal
//! (logits, masked loss and every parameter's gradient on the same weights).
//!
//! Only candle ops with a backward are used (no fused `rms_norm`,
//! `softmax_last_dim`, `rope` or `sdpa`, which silently pass no gradient):
//! the gradient test is what would catch one slipping in.
//!
//! [`Trainer`] takes training steps on the device — gradient clipping and
//! AdamW exactly as `rsr-model`'s trainer does them (a test checks the
//! weights after several steps) — and [`Engine`] plugs it into
//! `rsr-model`'s training loop (`rsr train --device cuda`), which keeps
//! batching, the schedule, validation, checkpoints and resume.

use candle_core::{DType, Device, Result, Tensor, Var, D};
use rsr_model::config::ModelConfig;
use rsr_model::model::Model;
use rsr_model::optim::AdamW;

/// The device: CUDA 0 when built with `cuda` and `cuda` is asked for, else the CPU.
pub fn device(cuda: bool) -> Result<Device> {
    if cuda {
        Device::new_cuda(0)
    } else {
        Ok(Device::Cpu)
    }
}

/// The model's parameters as candle variables, in `rsr-model`'s layout order.
pub struct CandleLlama {
    pub cfg: ModelConfig,
    /// (name, variable), in layout order.
    pub vars: Vec<(String, Var)>,
    cos: Tensor,
    sin: Tensor,
}

impl CandleLlama {
    /// The same weights as `m`, on `device`.
    pub fn from_model(m: &Model, device: &Device) -> Result<Self> {
        let mut vars = Vec::with_capacity(m.layout.entries.len());
        for (name, off, shape) in &m.layout.entries {
            let n: usize = shape.iter().product();
            let t = Tensor::from_slice(&m.params[*off..off + n], shape.as_slice(), device)?;
            vars.push((name.clone(), Var::from_tensor(&t)?));
        }
        let (t, d) = (m.cfg.max_position_embeddings, m.cfg.head_dim());
        let (cos, sin) = rsr_model::ops::rope_tables(t, d, m.cfg.rope_theta);
        Ok(Self {
            cfg: m.cfg.clone(),
            vars,
            cos: Tensor::from_vec(cos, (t, d / 2), device)?,
            sin: Tensor::from_vec(sin, (t, d / 2), device)?,
        })
    }

    fn w(&self, name: &str) -> &Tensor {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_tensor()).unwrap_or_else(|| panic!("no {name}"))
    }

    fn rmsnorm(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
        let rstd = (ms + self.cfg.rms_norm_eps as f64)?.sqrt()?.recip()?;
        x.broadcast_mul(&rstd)?.broadcast_mul(self.w(name))
    }

    /// `x[N × in] · Wᵀ` for `W[out × in]`.
    fn linear(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        x.matmul(&self.w(name).t()?)
    }

    /// RoPE in Hugging Face's rotate-half layout on `x[B × H × T × D]`.
    fn rope(&self, x: &Tensor, t: usize) -> Result<Tensor> {
        let half = self.cfg.head_dim() / 2;
        let (cos, sin) = (self.cos.narrow(0, 0, t)?, self.sin.narrow(0, 0, t)?);
        let (a, b) = (x.narrow(D::Minus1, 0, half)?, x.narrow(D::Minus1, half, half)?);
        let ra = (a.broadcast_mul(&cos)? - b.broadcast_mul(&sin)?)?;
        let rb = (b.broadcast_mul(&cos)? + a.broadcast_mul(&sin)?)?;
        Tensor::cat(&[ra, rb], D::Minus1)
    }

    /// Logits `[B·T × V]` of `tokens[B × T]`.
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor> {
        let cfg = &self.cfg;
        let (b, t) = tokens.dims2()?;
        let (c, h, d) = (cfg.hidden_size, cfg.num_attention_heads, cfg.head_dim());
        let device = tokens.device();
        let mut x = self.w(rsr_model::names::EMBED).index_select(&tokens.flatten_all()?, 0)?;
        // Causal mask: 0 on and below the diagonal, a large negative above it.
        let mask: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { -1e9 } else { 0.0 }).collect();
        let mask = Tensor::from_vec(mask, (t, t), device)?;
        let heads = |y: Tensor| y.reshape((b, t, h, d))?.transpose(1, 2)?.contiguous();
        for l in 0..cfg.num_hidden_layers {
            let p = rsr_model::names::Layer::new(l);
            let xn = self.rmsnorm(&x, &p.input_norm)?;
            let q = self.rope(&heads(self.linear(&xn, &p.q)?)?, t)?;
            let k = self.rope(&heads(self.linear(&xn, &p.k)?)?, t)?;
            let v = heads(self.linear(&xn, &p.v)?)?;
            let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?.broadcast_add(&mask)?;
            let att = softmax(&scores)?.matmul(&v)?; // B × H × T × D
            let att = att.transpose(1, 2)?.contiguous()?.reshape((b * t, c))?;
            let r1 = (&x + self.linear(&att, &p.o)?)?;
            let xn2 = self.rmsnorm(&r1, &p.post_norm)?;
            let g = self.linear(&xn2, &p.gate)?;
            let u = self.linear(&xn2, &p.up)?;
            let hidden = (g.silu()? * u)?;
            x = (r1 + self.linear(&hidden, &p.down)?)?;
        }
        let xn = self.rmsnorm(&x, rsr_model::names::NORM)?;
        let head = rsr_model::names::head(cfg.tie_word_embeddings);
        self.linear(&xn, head)
    }

    /// Mean cross-entropy over the positions with `mask = 1` (a scalar tensor),
    /// exactly what `rsr-model` trains on: masked positions add nothing.
    pub fn loss(&self, tokens: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let logits = self.forward(tokens)?;
        let max = logits.max_keepdim(D::Minus1)?.detach();
        let shifted = logits.broadcast_sub(&max)?;
        let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
        let picked = shifted.gather(&targets.flatten_all()?.unsqueeze(1)?, 1)?;
        let nll = (lse - picked)?.squeeze(1)?;
        let m = mask.flatten_all()?.to_dtype(DType::F32)?;
        let n = m.sum_all()?.to_scalar::<f32>()?.max(1.0);
        (nll * m)?.sum_all()? / n as f64
    }

    /// Gradients of `loss` for every parameter, flattened in layout order
    /// (the layout of `rsr-model`'s `Model::grads`).
    pub fn grads(&self, loss: &Tensor) -> Result<Vec<f32>> {
        flatten(&self.backward(loss)?)
    }

    /// The parameters, flattened in layout order (to save a checkpoint with `rsr-model`).
    pub fn params(&self) -> Result<Vec<f32>> {
        flatten(self.vars.iter().map(|(_, v)| v.as_tensor()))
    }

    /// One gradient per variable, in layout order; an error names a variable no gradient reached.
    fn backward(&self, loss: &Tensor) -> Result<Vec<Tensor>> {
        let store = loss.backward()?;
        self.vars
            .iter()
            .map(|(name, v)| match store.get(v.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => candle_core::bail!("no gradient reached {name}"),
            })
            .collect()
    }
}

/// Tensors flattened one after another into one vector (the layout order of `rsr-model`).
fn flatten<'a>(ts: impl IntoIterator<Item = &'a Tensor>) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for t in ts {
        out.extend(t.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

/// Softmax over the last axis from ops that all have a backward.
fn softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Training steps on the device: masked loss, gradients, global-norm
/// clipping, then AdamW (decoupled weight decay on matrices only) — the
/// update of `rsr_model::train`, with the moments kept on the device.
pub struct Trainer {
    pub model: CandleLlama,
    pub opt: AdamW,
    /// Clip the global gradient norm to this (0: no clipping).
    pub grad_clip: f32,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Steps taken (AdamW's bias correction uses step + 1).
    pub step: u64,
}

impl Trainer {
    pub fn new(model: CandleLlama, opt: AdamW, grad_clip: f32) -> Result<Self> {
        let zeros = |model: &CandleLlama| -> Result<Vec<Tensor>> {
            model.vars.iter().map(|(_, v)| v.as_tensor().zeros_like()).collect()
        };
        Ok(Self { m: zeros(&model)?, v: zeros(&model)?, model, opt, grad_clip, step: 0 })
    }

    /// Continue from AdamW moments `m`, `v` (flattened in layout order) after `step` steps.
    pub fn with_moments(mut self, m: &[f32], v: &[f32], step: u64) -> Result<Self> {
        let split = |flat: &[f32], like: &[Tensor]| -> Result<Vec<Tensor>> {
            let mut off = 0;
            like.iter()
                .map(|t| {
                    let n = t.elem_count();
                    let out = Tensor::from_slice(&flat[off..off + n], t.shape(), t.device());
                    off += n;
                    out
                })
                .collect()
        };
        self.m = split(m, &self.m)?;
        self.v = split(v, &self.v)?;
        self.step = step;
        Ok(self)
    }

    /// The AdamW moments, flattened in layout order.
    pub fn moments(&self) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok((flatten(&self.m)?, flatten(&self.v)?))
    }

    /// One step at learning rate `lr`; returns the loss and the gradient norm before clipping.
    pub fn step(&mut self, tokens: &Tensor, targets: &Tensor, mask: &Tensor, lr: f32) -> Result<(f32, f32)> {
        let loss = self.model.loss(tokens, targets, mask)?;
        let grads = self.model.backward(&loss)?;
        let mut sq = 0f64;
        for g in &grads {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
        let norm = sq.sqrt() as f32;
        let scale = if self.grad_clip > 0.0 && norm > self.grad_clip { self.grad_clip / (norm + 1e-6) } else { 1.0 };
        self.step += 1;
        let (b1, b2) = (self.opt.beta1 as f64, self.opt.beta2 as f64);
        let c1 = 1.0 - b1.powi(self.step as i32);
        let c2 = 1.0 - b2.powi(self.step as i32);
        let lr = lr as f64;
        for (k, ((_, var), g)) in self.model.vars.iter().zip(grads).enumerate() {
            let g = (g * scale as f64)?;
            self.m[k] = ((&self.m[k] * b1)? + (&g * (1.0 - b1))?)?;
            self.v[k] = ((&self.v[k] * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let update = ((&self.m[k] / c1)? / ((&self.v[k] / c2)?.sqrt()? + self.opt.eps as f64)?)?;
            let mut p = var.as_tensor().detach();
            if var.as_tensor().rank() == 2 {
                p = (&p - (&p * (lr * self.opt.weight_decay as f64))?)?;
            }
            var.set(&(p - (update * lr)?)?)?;
        }
        Ok((loss.to_scalar::<f32>()?, norm))
    }
}

/// [`Trainer`] as `rsr-model`'s step engine: batches go to the device, the
/// weights and moments come back only when the loop validates or saves.
pub struct Engine {
    trainer: Trainer,
    device: Device,
    seq_len: usize,
}

impl Engine {
    /// An engine on `device` for batches of `seq_len`-token rows, starting from
    /// `model`'s weights and the moments `m`, `v` (zeros for a new run; the
    /// checkpoint's on resume) after `step` steps.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: &Model,
        m: &[f32],
        v: &[f32],
        opt: &AdamW,
        grad_clip: f32,
        step: u64,
        seq_len: usize,
        device: Device,
    ) -> Result<Self> {
        let trainer =
            Trainer::new(CandleLlama::from_model(model, &device)?, opt.clone(), grad_clip)?.with_moments(m, v, step)?;
        Ok(Self { trainer, device, seq_len })
    }
}

fn to_rsr(e: candle_core::Error) -> rsr_core::Error {
    rsr_core::Error::Invalid(format!("candle: {e}"))
}

impl rsr_model::train::StepEngine for Engine {
    fn step(&mut self, batch: &rsr_model::data::Batch, lr: f32) -> rsr_core::Result<(f32, f32)> {
        let (b, t) = (batch.inputs.len() / self.seq_len, self.seq_len);
        let t = |v: Vec<u32>| Tensor::from_vec(v, (b, t), &self.device).map_err(to_rsr);
        let tokens = t(batch.inputs.clone())?;
        let targets = t(batch.targets.clone())?;
        let mask = t(batch.mask.iter().map(|&m| m as u32).collect())?;
        self.trainer.step(&tokens, &targets, &mask, lr).map_err(to_rsr)
    }

    fn sync(&mut self, params: &mut [f32], m: &mut [f32], v: &mut [f32]) -> rsr_core::Result<()> {
        params.copy_from_slice(&self.trainer.model.params().map_err(to_rsr)?);
        let (mm, vv) = self.trainer.moments().map_err(to_rsr)?;
        m.copy_from_slice(&mm);
        v.copy_from_slice(&vv);
        Ok(())
    }

    fn describe(&self) -> String {
        match self.device {
            Device::Cpu => "candle cpu".into(),
            _ => format!("candle {:?}", self.device.location()),
        }
    }
}
