//! The Llama-architecture decoder, with an explicit forward and backward pass
//! on the CPU (llm.c style): RMSNorm → attention with RoPE → residual →
//! RMSNorm → SwiGLU MLP → residual, a final RMSNorm and the output projection
//! (tied to the embedding or not).
//!
//! All parameters live in one flat buffer, addressed by name through
//! [`Params`]; the names are the Hugging Face `LlamaForCausalLM` tensor names,
//! so checkpoints load there unchanged. Activations for the backward pass are
//! kept in [`Acts`], allocated once per (batch, time) shape.

use crate::config::ModelConfig;
use crate::ops::{self, rope_tables};
use rand::SeedableRng;
use rand_distr_normal::sample_normal;
use std::collections::BTreeMap;

mod rand_distr_normal {
    use rand::Rng;
    /// Box–Muller: a standard normal draw without another dependency.
    pub fn sample_normal<R: Rng>(rng: &mut R) -> f32 {
        let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
        let u2: f32 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
}

/// Name → (offset, shape) of every parameter in the flat buffer.
#[derive(Debug, Clone)]
pub struct Layout {
    pub entries: Vec<(String, usize, Vec<usize>)>,
    index: BTreeMap<String, usize>,
    pub total: usize,
}

impl Layout {
    pub fn new(cfg: &ModelConfig) -> Self {
        let (v, c, f) = (cfg.vocab_size, cfg.hidden_size, cfg.intermediate_size);
        let mut shapes: Vec<(String, Vec<usize>)> = vec![(crate::names::EMBED.into(), vec![v, c])];
        for l in 0..cfg.num_hidden_layers {
            let p = crate::names::Layer::new(l);
            shapes.push((p.input_norm.clone(), vec![c]));
            for proj in [&p.q, &p.k, &p.v, &p.o] {
                shapes.push((proj.clone(), vec![c, c]));
            }
            shapes.push((p.post_norm.clone(), vec![c]));
            shapes.push((p.gate.clone(), vec![f, c]));
            shapes.push((p.up.clone(), vec![f, c]));
            shapes.push((p.down.clone(), vec![c, f]));
        }
        shapes.push((crate::names::NORM.into(), vec![c]));
        if !cfg.tie_word_embeddings {
            shapes.push((crate::names::LM_HEAD.into(), vec![v, c]));
        }
        let mut entries = Vec::new();
        let mut index = BTreeMap::new();
        let mut off = 0;
        for (name, shape) in shapes {
            let n: usize = shape.iter().product();
            index.insert(name.clone(), entries.len());
            entries.push((name, off, shape));
            off += n;
        }
        Layout { entries, index, total: off }
    }

    /// Two copies of `base` back to back, names prefixed `a` then `b`
    /// (optimizer moments in one file).
    pub fn doubled(base: &Layout, a: &str, b: &str) -> Layout {
        let mut entries = Vec::new();
        let mut index = BTreeMap::new();
        for (k, prefix) in [a, b].iter().enumerate() {
            for (name, off, shape) in &base.entries {
                let full = format!("{prefix}{name}");
                index.insert(full.clone(), entries.len());
                entries.push((full, off + k * base.total, shape.clone()));
            }
        }
        Layout { entries, index, total: 2 * base.total }
    }

    pub fn range(&self, name: &str) -> std::ops::Range<usize> {
        let (_, off, shape) = &self.entries[self.index[name]];
        *off..off + shape.iter().product::<usize>()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
}

/// Model weights (or gradients, or optimizer moments: same layout).
pub struct Params<'a> {
    pub layout: &'a Layout,
    pub data: &'a [f32],
}

impl Params<'_> {
    pub fn get(&self, name: &str) -> &[f32] {
        &self.data[self.layout.range(name)]
    }
}

/// Activations kept for the backward pass, for one (B, T).
pub struct Acts {
    b: usize,
    t: usize,
    layers: Vec<LayerActs>,
    x_final: Vec<f32>,
    xn_final: Vec<f32>,
    rstd_final: Vec<f32>,
    /// Logits, then (after the loss) their gradient.
    pub logits: Vec<f32>,
    /// Backward scratch, allocated once: no page faults in the hot loop.
    scratch: Grads,
}

struct LayerActs {
    x: Vec<f32>,
    xn: Vec<f32>,
    rstd: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    probs: Vec<f32>,
    att: Vec<f32>,
    r1: Vec<f32>,
    xn2: Vec<f32>,
    rstd2: Vec<f32>,
    g: Vec<f32>,
    u: Vec<f32>,
    h: Vec<f32>,
}

impl Acts {
    /// The final hidden states after the last norm (what the LM head reads), `N × C`.
    pub fn hidden(&self) -> &[f32] {
        &self.xn_final
    }

    /// Keys (after RoPE) and values of layer `l`, `N × C` each.
    pub fn layer_kv(&self, l: usize) -> (&[f32], &[f32]) {
        (&self.layers[l].k, &self.layers[l].v)
    }

    pub fn new(cfg: &ModelConfig, b: usize, t: usize) -> Self {
        let (n, c, f, h) = (b * t, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads);
        let z = |k: usize| vec![0f32; k];
        Acts {
            b,
            t,
            layers: (0..cfg.num_hidden_layers)
                .map(|_| LayerActs {
                    x: z(n * c),
                    xn: z(n * c),
                    rstd: z(n),
                    q: z(n * c),
                    k: z(n * c),
                    v: z(n * c),
                    probs: z(b * h * t * t),
                    att: z(n * c),
                    r1: z(n * c),
                    xn2: z(n * c),
                    rstd2: z(n),
                    g: z(n * f),
                    u: z(n * f),
                    h: z(n * f),
                })
                .collect(),
            x_final: z(n * c),
            xn_final: z(n * c),
            rstd_final: z(n),
            logits: z(n * cfg.vocab_size),
            scratch: Grads {
                dx: z(n * c),
                dtmp: z(n * c),
                dxn: z(n * c),
                dq: z(n * c),
                dk: z(n * c),
                dv: z(n * c),
                dh: z(n * f),
                dg: z(n * f),
                du: z(n * f),
            },
        }
    }
}

/// Scratch buffers for the backward pass.
struct Grads {
    dx: Vec<f32>,
    dtmp: Vec<f32>,
    dxn: Vec<f32>,
    dq: Vec<f32>,
    dk: Vec<f32>,
    dv: Vec<f32>,
    dh: Vec<f32>,
    dg: Vec<f32>,
    du: Vec<f32>,
}

pub struct Model {
    pub cfg: ModelConfig,
    pub layout: Layout,
    pub params: Vec<f32>,
    pub grads: Vec<f32>,
    rope: (Vec<f32>, Vec<f32>),
}

impl Model {
    /// Fresh weights: normal(0, 0.02), residual output projections scaled by
    /// 1/sqrt(2·layers) (GPT-2), norms at 1.
    pub fn new(cfg: ModelConfig, seed: u64) -> Self {
        cfg.validate().expect("valid model config");
        let layout = Layout::new(&cfg);
        let mut params = vec![0f32; layout.total];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let resid = 0.02 / (2.0 * cfg.num_hidden_layers as f32).sqrt();
        for (name, off, shape) in &layout.entries {
            let n: usize = shape.iter().product();
            let slot = &mut params[*off..off + n];
            if shape.len() == 1 {
                slot.fill(1.0);
            } else {
                let std =
                    if name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight") { resid } else { 0.02 };
                slot.iter_mut().for_each(|x| *x = std * sample_normal(&mut rng));
            }
        }
        Self::from_params(cfg, layout, params)
    }

    pub fn from_params(cfg: ModelConfig, layout: Layout, params: Vec<f32>) -> Self {
        let rope = rope_tables(cfg.max_position_embeddings, cfg.head_dim(), cfg.rope_theta);
        let grads = vec![0f32; params.len()];
        Model { cfg, layout, params, grads, rope }
    }

    /// RoPE cos/sin rows for one position.
    pub(crate) fn rope_at(&self, pos: usize) -> (Vec<f32>, Vec<f32>) {
        let half = self.cfg.head_dim() / 2;
        (self.rope.0[pos * half..(pos + 1) * half].to_vec(), self.rope.1[pos * half..(pos + 1) * half].to_vec())
    }

    pub fn num_params(&self) -> usize {
        self.layout.total
    }

    /// Which parameters AdamW decays: matrices yes, norm gains no.
    pub fn decay_mask(&self) -> Vec<bool> {
        let mut d = vec![false; self.num_params()];
        for (_, off, shape) in &self.layout.entries {
            if shape.len() == 2 {
                d[*off..off + shape.iter().product::<usize>()].fill(true);
            }
        }
        d
    }

    fn w(&self, name: &str) -> &[f32] {
        &self.params[self.layout.range(name)]
    }

    fn lm_head_name(&self) -> &'static str {
        if self.cfg.tie_word_embeddings {
            crate::names::EMBED
        } else {
            crate::names::LM_HEAD
        }
    }

    /// Forward pass over `tokens[B × T]`; logits land in `acts.logits`.
    pub fn forward(&self, acts: &mut Acts, tokens: &[u32]) {
        let cfg = &self.cfg;
        let (b, t) = (acts.b, acts.t);
        assert!(t <= cfg.max_position_embeddings, "sequence of {t} exceeds max_position_embeddings");
        let (n, c, f, h, v) = (b * t, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads, cfg.vocab_size);
        let emb = self.w(crate::names::EMBED);
        // x0 = embed[tokens]  (N × C)
        let first = &mut acts.layers[0].x;
        for (i, &tok) in tokens.iter().enumerate() {
            first[i * c..(i + 1) * c].copy_from_slice(&emb[tok as usize * c..(tok as usize + 1) * c]);
        }
        for l in 0..cfg.num_hidden_layers {
            let p = crate::names::Layer::new(l);
            let (head, tail) = acts.layers.split_at_mut(l + 1);
            let a = &mut head[l];
            ops::rmsnorm(&mut a.xn, &mut a.rstd, &a.x, self.w(&p.input_norm), c, cfg.rms_norm_eps);
            ops::linear(&mut a.q, &a.xn, self.w(&p.q), n, c, c);
            ops::linear(&mut a.k, &a.xn, self.w(&p.k), n, c, c);
            ops::linear(&mut a.v, &a.xn, self.w(&p.v), n, c, c);
            ops::rope(&mut a.q, &self.rope.0, &self.rope.1, t, c, cfg.head_dim(), false);
            ops::rope(&mut a.k, &self.rope.0, &self.rope.1, t, c, cfg.head_dim(), false);
            ops::attention(&mut a.att, &mut a.probs, &a.q, &a.k, &a.v, b, t, c, h);
            // r1 = x + att · Woᵀ
            ops::linear(&mut a.r1, &a.att, self.w(&p.o), n, c, c);
            a.r1.iter_mut().zip(&a.x).for_each(|(r, x)| *r += x);
            ops::rmsnorm(&mut a.xn2, &mut a.rstd2, &a.r1, self.w(&p.post_norm), c, cfg.rms_norm_eps);
            ops::linear(&mut a.g, &a.xn2, self.w(&p.gate), n, c, f);
            ops::linear(&mut a.u, &a.xn2, self.w(&p.up), n, c, f);
            ops::swiglu(&mut a.h, &a.g, &a.u);
            // next x = r1 + h · Wdᵀ
            let next = if let Some(nl) = tail.first_mut() { &mut nl.x } else { &mut acts.x_final };
            ops::linear(next, &a.h, self.w(&p.down), n, f, c);
            next.iter_mut().zip(&a.r1).for_each(|(x, r)| *x += r);
        }
        ops::rmsnorm(
            &mut acts.xn_final,
            &mut acts.rstd_final,
            &acts.x_final,
            self.w(crate::names::NORM),
            c,
            cfg.rms_norm_eps,
        );
        ops::linear(&mut acts.logits, &acts.xn_final, self.w(self.lm_head_name()), n, c, v);
    }

    /// Forward + masked loss + backward. `targets[i]` is the token after
    /// `tokens[i]`; `mask[i] = 0` removes that position from the loss and the
    /// gradient. Gradients are *accumulated* into `self.grads`. Returns the
    /// mean loss over trainable positions and their count.
    pub fn forward_backward(&mut self, acts: &mut Acts, tokens: &[u32], targets: &[u32], mask: &[u8]) -> (f32, usize) {
        self.forward(acts, tokens);
        let (loss, n_train) = ops::cross_entropy(&mut acts.logits, targets, mask, self.cfg.vocab_size);
        self.backward(acts, tokens);
        (loss, n_train)
    }

    /// The final hidden states of one sequence (`tokens.len() × hidden_size`, after the last
    /// norm): what a linear probe on the model reads.
    pub fn hidden_states(&self, tokens: &[u32]) -> Vec<f32> {
        let mut acts = Acts::new(&self.cfg, 1, tokens.len());
        self.forward(&mut acts, tokens);
        acts.xn_final
    }

    /// Mean masked loss without gradients (validation).
    pub fn loss(&self, acts: &mut Acts, tokens: &[u32], targets: &[u32], mask: &[u8]) -> (f32, usize) {
        self.forward(acts, tokens);
        ops::cross_entropy(&mut acts.logits, targets, mask, self.cfg.vocab_size)
    }

    fn backward(&mut self, acts: &mut Acts, tokens: &[u32]) {
        let cfg = self.cfg.clone();
        let (b, t) = (acts.b, acts.t);
        let (n, c, f, h, v) = (b * t, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads, cfg.vocab_size);
        let s = &mut acts.scratch;
        let layout = &self.layout;
        let (params, grads) = (&self.params, &mut self.grads);
        let w = |name: &str| &params[layout.range(name)];
        let head = crate::names::head(cfg.tie_word_embeddings);
        // logits = xn_final · Eᵀ
        ops::linear_backward(
            &mut s.dxn,
            &mut grads[layout.range(head)],
            &acts.logits,
            &acts.xn_final,
            w(head),
            n,
            c,
            v,
            false,
        );
        s.dx.fill(0.0);
        ops::rmsnorm_backward(
            &mut s.dx,
            &mut grads[layout.range(crate::names::NORM)],
            &s.dxn,
            &acts.x_final,
            w(crate::names::NORM),
            &acts.rstd_final,
            c,
        );
        for l in (0..cfg.num_hidden_layers).rev() {
            let p = crate::names::Layer::new(l);
            let a = &acts.layers[l];
            // MLP: x_next = r1 + h · Wdᵀ
            let wd = p.down.clone();
            ops::linear_backward(&mut s.dh, &mut grads[layout.range(&wd)], &s.dx, &a.h, w(&wd), n, f, c, false);
            ops::swiglu_backward(&mut s.dg, &mut s.du, &s.dh, &a.g, &a.u);
            let (wg, wu) = (p.gate.clone(), p.up.clone());
            ops::linear_backward(&mut s.dxn, &mut grads[layout.range(&wg)], &s.dg, &a.xn2, w(&wg), n, c, f, false);
            ops::linear_backward(&mut s.dxn, &mut grads[layout.range(&wu)], &s.du, &a.xn2, w(&wu), n, c, f, true);
            // dr1 = dx + rmsnorm_backward(dxn2)   (kept in s.dx)
            let wpost = p.post_norm.clone();
            ops::rmsnorm_backward(&mut s.dx, &mut grads[layout.range(&wpost)], &s.dxn, &a.r1, w(&wpost), &a.rstd2, c);
            // Attention: r1 = x + att · Woᵀ
            let wo = p.o.clone();
            ops::linear_backward(&mut s.dtmp, &mut grads[layout.range(&wo)], &s.dx, &a.att, w(&wo), n, c, c, false);
            ops::attention_backward(&mut s.dq, &mut s.dk, &mut s.dv, &s.dtmp, &a.probs, &a.q, &a.k, &a.v, b, t, c, h);
            ops::rope(&mut s.dq, &self.rope.0, &self.rope.1, t, c, cfg.head_dim(), true);
            ops::rope(&mut s.dk, &self.rope.0, &self.rope.1, t, c, cfg.head_dim(), true);
            let (wq, wk, wv) = (p.q.clone(), p.k.clone(), p.v.clone());
            ops::linear_backward(&mut s.dxn, &mut grads[layout.range(&wq)], &s.dq, &a.xn, w(&wq), n, c, c, false);
            ops::linear_backward(&mut s.dxn, &mut grads[layout.range(&wk)], &s.dk, &a.xn, w(&wk), n, c, c, true);
            ops::linear_backward(&mut s.dxn, &mut grads[layout.range(&wv)], &s.dv, &a.xn, w(&wv), n, c, c, true);
            let win = p.input_norm.clone();
            ops::rmsnorm_backward(&mut s.dx, &mut grads[layout.range(&win)], &s.dxn, &a.x, w(&win), &a.rstd, c);
        }
        // Embedding: dE[token] += dx
        let de = &mut grads[layout.range(crate::names::EMBED)];
        for (i, &tok) in tokens.iter().enumerate() {
            let row = &mut de[tok as usize * c..(tok as usize + 1) * c];
            row.iter_mut().zip(&s.dx[i * c..(i + 1) * c]).for_each(|(g, d)| *g += d);
        }
    }

    pub fn zero_grad(&mut self) {
        self.grads.fill(0.0);
    }
}
