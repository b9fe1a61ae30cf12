//! Model configuration: the Llama architecture's knobs, named as Hugging Face
//! `LlamaConfig` names them so `config.json` loads as `LlamaForCausalLM`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Token vocabulary (from the shards' tokenizer).
    pub vocab_size: usize,
    /// Residual stream width C.
    pub hidden_size: usize,
    /// SwiGLU hidden width F.
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Longest sequence the model is trained on.
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f32,
    pub rope_theta: f32,
    /// Share the input embedding with the output projection.
    pub tie_word_embeddings: bool,
}

impl ModelConfig {
    /// ~1M parameters at a 2k vocabulary: CPU tests and the demo.
    pub fn tiny(vocab_size: usize) -> Self {
        Self::preset(vocab_size, 128, 4, 4, 344)
    }

    /// ~5M parameters at a 4k vocabulary: the CPU demo at a larger budget.
    pub fn small(vocab_size: usize) -> Self {
        Self::preset(vocab_size, 256, 5, 8, 688)
    }

    /// ~110M parameters at a 32k vocabulary: for GPUs.
    pub fn base(vocab_size: usize) -> Self {
        Self {
            tie_word_embeddings: false,
            max_position_embeddings: 1024,
            ..Self::preset(vocab_size, 768, 12, 12, 2048)
        }
    }

    fn preset(vocab_size: usize, c: usize, l: usize, h: usize, f: usize) -> Self {
        Self {
            vocab_size,
            hidden_size: c,
            intermediate_size: f,
            num_hidden_layers: l,
            num_attention_heads: h,
            max_position_embeddings: 256,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            tie_word_embeddings: true,
        }
    }

    pub fn by_name(name: &str, vocab_size: usize) -> Option<Self> {
        match name {
            "tiny" => Some(Self::tiny(vocab_size)),
            "small" => Some(Self::small(vocab_size)),
            "base" => Some(Self::base(vocab_size)),
            _ => None,
        }
    }

    /// A preset by name, optionally reshaped: `NAME[,KEY=VALUE…]` with keys `hidden`, `layers`,
    /// `heads` and `intermediate` (e.g. `tiny,heads=8`, or `tiny,layers=2,hidden=176,intermediate=472`
    /// for a shallower model near tiny's parameters). The result is validated.
    pub fn from_spec(spec: &str, vocab_size: usize) -> Result<Self, String> {
        let mut parts = spec.split(',').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let mut cfg = Self::by_name(name, vocab_size)
            .ok_or_else(|| format!("unknown preset `{name}` in `{spec}`: use tiny, small or base, optionally followed by ,heads=N ,layers=N ,hidden=N ,intermediate=N"))?;
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` in preset `{spec}` is not KEY=VALUE (e.g. `tiny,heads=8`)"))?;
            let n: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("`{part}` in preset `{spec}`: {value} is not a whole number"))?;
            let slot = match key.trim() {
                "hidden" => &mut cfg.hidden_size,
                "layers" => &mut cfg.num_hidden_layers,
                "heads" => &mut cfg.num_attention_heads,
                "intermediate" => &mut cfg.intermediate_size,
                other => {
                    return Err(format!(
                        "unknown key `{other}` in preset `{spec}`: use hidden, layers, heads or intermediate"
                    ))
                }
            };
            *slot = n;
        }
        cfg.validate().map_err(|e| format!("preset `{spec}`: {e}"))?;
        Ok(cfg)
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Check every knob before anything is allocated: positive sizes, heads that divide the
    /// width into even halves (RoPE), finite positive epsilons, and a position limit that a
    /// RoPE table can hold.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1, got 0"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) || !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "hidden_size {} must split into {} heads of an even size",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.max_position_embeddings < MIN_POSITIONS {
            return Err(format!(
                "max_position_embeddings {} is too short to hold a prompt and a reflection (at least {MIN_POSITIONS})",
                self.max_position_embeddings
            ));
        }
        if self.max_position_embeddings > MAX_POSITIONS {
            return Err(format!(
                "max_position_embeddings {} is more than rsr supports ({MAX_POSITIONS})",
                self.max_position_embeddings
            ));
        }
        for (name, v) in [("rms_norm_eps", self.rms_norm_eps), ("rope_theta", self.rope_theta)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a positive finite number, got {v}"));
            }
        }
        Ok(())
    }

    /// Parameters of the model this configuration describes.
    pub fn num_params(&self) -> u64 {
        let (v, c, f, l) = (
            self.vocab_size as u64,
            self.hidden_size as u64,
            self.intermediate_size as u64,
            self.num_hidden_layers as u64,
        );
        let head = if self.tie_word_embeddings { 0 } else { v * c };
        v * c + head + l * (4 * c * c + 3 * c * f + 2 * c) + c
    }

    /// Bytes a training run at batch `b` × sequence `t` holds: weights, gradients and the two
    /// AdamW moments, and the activations kept for the backward pass (`model::Acts`).
    pub fn train_bytes(&self, b: usize, t: usize) -> u64 {
        let (n, c, f, h, v, l) = (
            (b * t) as u64,
            self.hidden_size as u64,
            self.intermediate_size as u64,
            self.num_attention_heads as u64,
            self.vocab_size as u64,
            self.num_hidden_layers as u64,
        );
        let per_layer = 9 * n * c + 2 * n + (b as u64) * h * (t as u64) * (t as u64) + 3 * n * f;
        let rest = 9 * n * c + n + n * v + 3 * n * f;
        4 * (4 * self.num_params() + l * per_layer + rest)
    }

    /// Bytes decoding holds at the full context: the weights, the RoPE tables and one KV cache.
    pub fn decode_bytes(&self) -> u64 {
        let (p, c, l) = (self.max_position_embeddings as u64, self.hidden_size as u64, self.num_hidden_layers as u64);
        4 * (self.num_params() + p * self.head_dim() as u64 + 2 * l * p * c + p * self.vocab_size as u64 / 64)
    }
}

/// The longest context rsr's RoPE tables and KV caches are built for.
pub const MAX_POSITIONS: usize = 1 << 17;

/// The shortest context rsr accepts: a prompt token, a reflection (`<|reflect|>`, a verdict, a
/// category, `<|/reflect|>`) and room to go on.
pub const MIN_POSITIONS: usize = 8;

/// Memory this machine can still give (`MemAvailable` of /proc/meminfo), when known.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// An error when `bytes` is more than the machine has available (`what` says for what, `hint`
/// what to change); Ok when it fits or the machine does not say.
pub fn check_fits(bytes: u64, what: &str, hint: &str) -> Result<(), String> {
    match available_memory() {
        Some(avail) if bytes > avail => Err(format!(
            "{what} needs about {:.1} GB but this machine has {:.1} GB available; {hint}",
            bytes as f64 / 1e9,
            avail as f64 / 1e9
        )),
        _ => Ok(()),
    }
}

impl ModelConfig {
    pub fn hf_json(&self, eos_token_id: u32) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_attention_heads,
            "head_dim": self.head_dim(),
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": "silu",
            "attention_bias": false,
            "mlp_bias": false,
            "bos_token_id": eos_token_id,
            "eos_token_id": eos_token_id,
            "torch_dtype": "float32",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ModelConfig;

    #[test]
    fn a_spec_reshapes_a_preset_and_names_what_is_wrong() {
        assert_eq!(ModelConfig::from_spec("tiny", 1024).unwrap(), ModelConfig::tiny(1024));
        let h8 = ModelConfig::from_spec("tiny,heads=8", 1024).unwrap();
        assert_eq!((h8.num_attention_heads, h8.head_dim()), (8, 16));
        // Reshaping heads keeps the parameters; depth and width move them.
        assert_eq!(h8.num_params(), ModelConfig::tiny(1024).num_params());
        let wide = ModelConfig::from_spec(" tiny , layers=2, hidden=176, intermediate=472", 1024).unwrap();
        assert_eq!(
            (wide.num_hidden_layers, wide.hidden_size, wide.intermediate_size, wide.num_attention_heads),
            (2, 176, 472, 4)
        );
        for (spec, says) in [
            ("huge", "unknown preset `huge`"),
            ("tiny,heads", "not KEY=VALUE"),
            ("tiny,heads=eight", "not a whole number"),
            ("tiny,depth=3", "unknown key `depth`"),
            ("tiny,heads=3", "heads of an even size"),
            ("tiny,layers=0", "num_hidden_layers must be at least 1"),
        ] {
            let err = ModelConfig::from_spec(spec, 1024).unwrap_err();
            assert!(err.contains(says), "{spec}: {err}");
        }
    }
}
