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

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) || !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "hidden_size {} must split into {} heads of an even size",
                self.hidden_size, self.num_attention_heads
            ));
        }
        Ok(())
    }

    /// The `config.json` Hugging Face transformers reads as `LlamaForCausalLM`.
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
