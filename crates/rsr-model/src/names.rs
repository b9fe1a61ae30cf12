//! The Hugging Face `LlamaForCausalLM` tensor names, built in one place: the
//! parameter layout, the CPU kernels, the KV-cache decoder and the candle
//! model all address weights through these.

/// Token embeddings (also the output projection when embeddings are tied).
pub const EMBED: &str = "model.embed_tokens.weight";
/// The final RMSNorm.
pub const NORM: &str = "model.norm.weight";
/// The output projection when it is not tied to the embeddings.
pub const LM_HEAD: &str = "lm_head.weight";

/// The output projection's tensor: the embeddings when tied.
pub fn head(tied: bool) -> &'static str {
    if tied {
        EMBED
    } else {
        LM_HEAD
    }
}

/// The tensors of decoder layer `l`.
#[derive(Debug, Clone)]
pub struct Layer {
    pub input_norm: String,
    pub q: String,
    pub k: String,
    pub v: String,
    pub o: String,
    pub post_norm: String,
    pub gate: String,
    pub up: String,
    pub down: String,
}

impl Layer {
    pub fn new(l: usize) -> Self {
        let p = format!("model.layers.{l}");
        Self {
            input_norm: format!("{p}.input_layernorm.weight"),
            q: format!("{p}.self_attn.q_proj.weight"),
            k: format!("{p}.self_attn.k_proj.weight"),
            v: format!("{p}.self_attn.v_proj.weight"),
            o: format!("{p}.self_attn.o_proj.weight"),
            post_norm: format!("{p}.post_attention_layernorm.weight"),
            gate: format!("{p}.mlp.gate_proj.weight"),
            up: format!("{p}.mlp.up_proj.weight"),
            down: format!("{p}.mlp.down_proj.weight"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_those_transformers_loads() {
        let l = super::Layer::new(3);
        assert_eq!(l.q, "model.layers.3.self_attn.q_proj.weight");
        assert_eq!(l.down, "model.layers.3.mlp.down_proj.weight");
        assert_eq!(super::head(true), "model.embed_tokens.weight");
    }
}
