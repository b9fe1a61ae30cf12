//! Inference with a KV cache: prefill a prompt in one batched forward pass,
//! then extend one token at a time, attending over the cached keys and values.
//! Cloning a [`KvCache`] forks a generation (used to score a reflection
//! without committing to it, and to backtrack).

use crate::model::{Acts, Model};
use crate::{ops, vmath};

#[derive(Clone)]
pub struct KvCache {
    /// Per layer: keys and values (after RoPE for keys), `len × C` each.
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    pub len: usize,
}

impl KvCache {
    pub fn new(model: &Model) -> Self {
        let l = model.cfg.num_hidden_layers;
        KvCache { k: vec![Vec::new(); l], v: vec![Vec::new(); l], len: 0 }
    }

    /// Forget every position from `len` on, as if only the first `len` tokens had been fed:
    /// a rollback costs nothing (no copy), and feeding the same tokens again gives the same
    /// logits bit for bit. `len` beyond what the cache holds changes nothing.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        for buf in self.k.iter_mut().chain(self.v.iter_mut()) {
            let per_token = buf.len() / self.len;
            buf.truncate(len * per_token);
        }
        self.len = len;
    }
}

impl Model {
    /// Feed `tokens` after what `cache` holds; returns the logits after the
    /// last one. An empty cache with several tokens takes the batched path.
    pub fn extend(&self, cache: &mut KvCache, tokens: &[u32]) -> Vec<f32> {
        assert!(!tokens.is_empty(), "extend needs at least one token");
        let max = self.cfg.max_position_embeddings;
        assert!(
            cache.len + tokens.len() <= max,
            "context of {} exceeds max_position_embeddings {max}",
            cache.len + tokens.len()
        );
        if cache.len == 0 && tokens.len() > 1 {
            return self.prefill(cache, tokens);
        }
        let mut logits = Vec::new();
        for &t in tokens {
            logits = self.step(cache, t);
        }
        logits
    }

    fn prefill(&self, cache: &mut KvCache, tokens: &[u32]) -> Vec<f32> {
        let t = tokens.len();
        let mut acts = Acts::new(&self.cfg, 1, t);
        self.forward(&mut acts, tokens);
        for l in 0..self.cfg.num_hidden_layers {
            let (k, v) = acts.layer_kv(l);
            cache.k[l] = k.to_vec();
            cache.v[l] = v.to_vec();
        }
        cache.len = t;
        let vsz = self.cfg.vocab_size;
        acts.logits[(t - 1) * vsz..t * vsz].to_vec()
    }

    /// One token at position `cache.len`.
    fn step(&self, cache: &mut KvCache, token: u32) -> Vec<f32> {
        let cfg = &self.cfg;
        let (c, f, h, d, v) =
            (cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads, cfg.head_dim(), cfg.vocab_size);
        let pos = cache.len;
        let w = |name: &str| &self.params[self.layout.range(name)];
        let emb = w(crate::names::EMBED);
        let mut x = emb[token as usize * c..(token as usize + 1) * c].to_vec();
        let (mut xn, mut rstd) = (vec![0f32; c], vec![0f32; 1]);
        let (mut q, mut k, mut vv, mut att, mut o) =
            (vec![0f32; c], vec![0f32; c], vec![0f32; c], vec![0f32; c], vec![0f32; c]);
        let (mut g, mut u, mut hh) = (vec![0f32; f], vec![0f32; f], vec![0f32; f]);
        let scale = 1.0 / (d as f32).sqrt();
        let (cos, sin) = self.rope_at(pos);
        for l in 0..cfg.num_hidden_layers {
            let p = crate::names::Layer::new(l);
            ops::rmsnorm(&mut xn, &mut rstd, &x, w(&p.input_norm), c, cfg.rms_norm_eps);
            ops::linear(&mut q, &xn, w(&p.q), 1, c, c);
            ops::linear(&mut k, &xn, w(&p.k), 1, c, c);
            ops::linear(&mut vv, &xn, w(&p.v), 1, c, c);
            ops::rope(&mut q, &cos, &sin, 1, c, d, false);
            ops::rope(&mut k, &cos, &sin, 1, c, d, false);
            cache.k[l].extend_from_slice(&k);
            cache.v[l].extend_from_slice(&vv);
            let n = pos + 1;
            let (ck, cv) = (&cache.k[l], &cache.v[l]);
            let mut scores = vec![0f32; n];
            for head in 0..h {
                let qh = &q[head * d..(head + 1) * d];
                for (j, s) in scores.iter_mut().enumerate() {
                    let kh = &ck[j * c + head * d..j * c + (head + 1) * d];
                    *s = qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f32>();
                }
                vmath::softmax(&mut scores, scale);
                let out = &mut att[head * d..(head + 1) * d];
                out.fill(0.0);
                for (j, s) in scores.iter().enumerate() {
                    let vh = &cv[j * c + head * d..j * c + (head + 1) * d];
                    for (o, vv) in out.iter_mut().zip(vh) {
                        *o += s * vv;
                    }
                }
            }
            ops::linear(&mut o, &att, w(&p.o), 1, c, c);
            x.iter_mut().zip(&o).for_each(|(x, o)| *x += o);
            ops::rmsnorm(&mut xn, &mut rstd, &x, w(&p.post_norm), c, cfg.rms_norm_eps);
            ops::linear(&mut g, &xn, w(&p.gate), 1, c, f);
            ops::linear(&mut u, &xn, w(&p.up), 1, c, f);
            ops::swiglu(&mut hh, &g, &u);
            ops::linear(&mut o, &hh, w(&p.down), 1, f, c);
            x.iter_mut().zip(&o).for_each(|(x, o)| *x += o);
        }
        cache.len += 1;
        ops::rmsnorm(&mut xn, &mut rstd, &x, w(crate::names::NORM), c, cfg.rms_norm_eps);
        let head = crate::names::head(cfg.tie_word_embeddings);
        let mut logits = vec![0f32; v];
        ops::linear(&mut logits, &xn, w(head), 1, c, v);
        logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;

    #[test]
    fn cached_steps_give_the_logits_of_a_full_forward() {
        let cfg = ModelConfig { max_position_embeddings: 32, ..ModelConfig::tiny(97) };
        let model = Model::new(cfg.clone(), 5);
        let tokens: Vec<u32> = (0..20).map(|i| (i * 13 + 2) % 97).collect();
        let mut acts = Acts::new(&cfg, 1, tokens.len());
        model.forward(&mut acts, &tokens);
        // Prefill 7 tokens, then one at a time.
        let mut cache = KvCache::new(&model);
        let mut last = model.extend(&mut cache, &tokens[..7]);
        for (i, &t) in tokens.iter().enumerate().skip(7) {
            let want = &acts.logits[(i - 1) * 97..i * 97];
            let worst = last.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-4, "position {}: {worst}", i - 1);
            last = model.extend(&mut cache, &[t]);
        }
        let want = &acts.logits[19 * 97..20 * 97];
        assert!(last.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-4));
        assert_eq!(cache.len, 20);
    }

    #[test]
    fn a_truncated_cache_continues_exactly_as_if_the_tokens_were_never_fed() {
        let model = Model::new(ModelConfig { max_position_embeddings: 32, ..ModelConfig::tiny(97) }, 3);
        let mut plain = KvCache::new(&model);
        model.extend(&mut plain, &[5, 6, 7, 8]);
        let want = model.extend(&mut plain, &[9]);
        let mut rolled = KvCache::new(&model);
        model.extend(&mut rolled, &[5, 6, 7, 8]);
        model.extend(&mut rolled, &[1, 3]); // a check that is then rolled back
        rolled.truncate(4);
        assert_eq!(rolled.len, 4);
        assert_eq!(model.extend(&mut rolled, &[9]), want, "bit-identical logits after a rollback");
        rolled.truncate(99);
        assert_eq!(rolled.len, 5);
    }
}
