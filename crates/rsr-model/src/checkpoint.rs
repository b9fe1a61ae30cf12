//! Checkpoints others can load: `model.safetensors` with the Hugging Face
//! `LlamaForCausalLM` tensor names (float32; no `lm_head.weight` when tied),
//! `config.json` as transformers reads it, and `tokenizer.json` beside them.
//! For exact resume, `optimizer.safetensors` (AdamW moments) and `state.json`
//! (step, tokens seen, the run's configuration) go in the same directory.
//!
//! A checkpoint is one verified unit: [`seal`] writes `checksums.json` last — the sha256 of
//! every file — and marks the checkpoint complete; [`verify`] (run by every load) refuses a
//! checkpoint whose files do not match, naming the file. A weight with one flipped bit, a
//! tokenizer with its reflection tokens swapped, a `state.json` with another cadence are all
//! refused; a deliberate edit is re-sealed with `rsr checkpoint seal`, which says so.

use crate::config::ModelConfig;
use crate::model::{Layout, Model};
use rsr_core::{atomic, Error, Result};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The seal: `{"format": "rsr checkpoint v1", "sha256": {FILE: HEX, …}}`, written last.
pub const SEAL: &str = "checksums.json";

/// The files a checkpoint may hold (a seal lists those present).
pub const FILES: [&str; 5] =
    ["model.safetensors", "config.json", "tokenizer.json", "state.json", "optimizer.safetensors"];

const SEAL_FORMAT: &str = "rsr checkpoint v1";

#[derive(serde::Serialize, serde::Deserialize)]
struct Seal {
    format: String,
    sha256: BTreeMap<String, String>,
}

/// Whether `dir` is a complete checkpoint (sealed).
pub fn is_complete(dir: &Path) -> bool {
    dir.join(SEAL).is_file()
}

/// Seal the checkpoint in `dir`: the sha256 of every checkpoint file present, written last.
/// Returns the files sealed.
pub fn seal(dir: &Path) -> Result<Vec<String>> {
    if !dir.join("config.json").is_file() || !dir.join("model.safetensors").is_file() {
        return Err(Error::input(
            dir,
            "not a checkpoint (no config.json and model.safetensors)",
            "point at RUN/checkpoints/step-N",
        ));
    }
    let mut sha256 = BTreeMap::new();
    for f in FILES {
        let p = dir.join(f);
        if p.is_file() {
            sha256.insert(f.to_string(), rsr_core::digest::sha256_file(&p)?);
        }
    }
    let files = sha256.keys().cloned().collect();
    let seal = Seal { format: SEAL_FORMAT.into(), sha256 };
    let mut bytes = serde_json::to_vec_pretty(&seal).expect("a seal serialises");
    bytes.push(b'\n');
    atomic::write_all(dir.join(SEAL), &bytes)?;
    Ok(files)
}

/// Check every file of the checkpoint in `dir` against its seal: a missing seal, a file the seal
/// does not list (or lists but is gone), or one whose sha256 differs is an error naming it.
pub fn verify(dir: &Path) -> Result<()> {
    let path = dir.join(SEAL);
    let reseal = format!("if the change is deliberate, re-seal it: rsr checkpoint seal {}", dir.display());
    let raw = std::fs::read(&path).map_err(|_| {
        Error::input(dir, format!("no {SEAL}: an unsealed (incomplete or hand-made) checkpoint"), reseal.clone())
    })?;
    let seal: Seal = serde_json::from_slice(&raw)
        .map_err(|e| Error::input(&path, format!("not a checkpoint seal: {e}"), reseal.clone()))?;
    if seal.format != SEAL_FORMAT {
        return Err(Error::input(&path, format!("unknown seal format `{}`", seal.format), reseal));
    }
    for f in FILES {
        let p = dir.join(f);
        match (seal.sha256.get(f), p.is_file()) {
            (None, false) => {}
            (None, true) => {
                return Err(Error::input(&p, format!("a file the checkpoint's {SEAL} does not list"), reseal))
            }
            (Some(_), false) => return Err(Error::input(&p, "sealed, but missing", reseal)),
            (Some(want), true) => {
                if rsr_core::digest::sha256_file(&p)? != *want {
                    return Err(Error::input(
                        &p,
                        format!("changed since the checkpoint was sealed (sha256 differs from {SEAL})"),
                        reseal,
                    ));
                }
            }
        }
    }
    if let Some(other) = seal.sha256.keys().find(|k| !FILES.contains(&k.as_str())) {
        return Err(Error::input(&path, format!("lists `{other}`, which is not a checkpoint file"), reseal));
    }
    Ok(())
}

fn to_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Serialise `data` (laid out by `layout`) with tensor names prefixed by `prefix`.
fn save_tensors(path: &Path, layout: &Layout, data: &[f32], prefix: &str) -> Result<()> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = layout
        .entries
        .iter()
        .map(|(name, off, shape)| {
            let n: usize = shape.iter().product();
            (format!("{prefix}{name}"), shape.clone(), to_bytes(&data[*off..off + n]))
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(name, shape, b)| {
            (name.clone(), TensorView::new(Dtype::F32, shape.clone(), b).expect("shape matches bytes"))
        })
        .collect();
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let out = safetensors::serialize(views, Some(meta)).map_err(|e| Error::Invalid(format!("safetensors: {e}")))?;
    atomic::write_all(path, &out)
}

fn load_tensors(path: &Path, layout: &Layout, prefix: &str) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::input(
            path,
            format!("not a safetensors file: {e}"),
            "point at a checkpoint directory written by `rsr train`",
        )
    })?;
    // Every tensor in the file must be one the config describes: a config that says fewer
    // layers than the weights hold would otherwise load part of a model.
    let expected: std::collections::HashSet<String> =
        layout.entries.iter().map(|(name, _, _)| format!("{prefix}{name}")).collect();
    let mut extra: Vec<String> =
        st.names().into_iter().filter(|n| !expected.contains(*n)).map(str::to_string).collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(Error::input(
            path,
            format!("{} tensors that config.json does not describe (first: `{}`)", extra.len(), extra[0]),
            "the checkpoint does not match its config.json (num_hidden_layers? tie_word_embeddings?); re-save it",
        ));
    }
    let mut data = vec![0f32; layout.total];
    for (name, off, shape) in &layout.entries {
        let full = format!("{prefix}{name}");
        let t = st.tensor(&full).map_err(|_| {
            Error::input(
                path,
                format!("tensor `{full}` is missing"),
                "the checkpoint does not match its config.json; re-save it",
            )
        })?;
        if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
            return Err(Error::input(
                path,
                format!("tensor `{full}` is {:?} {:?}, expected F32 {shape:?}", t.dtype(), t.shape()),
                "the checkpoint does not match its config.json",
            ));
        }
        for (dst, c) in data[*off..].iter_mut().zip(t.data().chunks_exact(4)) {
            *dst = f32::from_le_bytes(c.try_into().unwrap());
        }
    }
    Ok(data)
}

/// Write `model.safetensors`, `config.json` and (when given) `tokenizer.json` into `dir`.
pub fn save_model(dir: &Path, model: &Model, eos_token_id: u32, tokenizer: Option<&Path>) -> Result<()> {
    save_tensors(&dir.join("model.safetensors"), &model.layout, &model.params, "")?;
    let mut cfg = serde_json::to_vec_pretty(&model.cfg.hf_json(eos_token_id)).unwrap();
    cfg.push(b'\n');
    atomic::write_all(dir.join("config.json"), &cfg)?;
    if let Some(t) = tokenizer {
        let bytes = std::fs::read(t).map_err(|e| Error::io(t, e))?;
        atomic::write_all(dir.join("tokenizer.json"), &bytes)?;
    }
    Ok(())
}

/// Read the model of a checkpoint directory, after [`verify`]ing it.
pub fn load_model(dir: &Path) -> Result<Model> {
    let cfg_path = dir.join("config.json");
    if !cfg_path.is_file() {
        return Err(Error::input(
            dir,
            "not a checkpoint directory (no config.json)",
            "point at RUN/checkpoints/step-N written by `rsr train`",
        ));
    }
    verify(dir)?;
    let raw = std::fs::read(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg: ModelConfig = serde_json::from_slice(&raw).map_err(|e| {
        Error::input(
            &cfg_path,
            format!("not a Llama config.json: {e}"),
            "point at a checkpoint directory written by `rsr train`",
        )
    })?;
    cfg.validate()
        .map_err(|e| Error::input(&cfg_path, e, "fix config.json, or re-save the checkpoint with `rsr train`"))?;
    crate::config::check_fits(cfg.decode_bytes(), "this model", "lower max_position_embeddings in config.json")
        .map_err(|e| Error::input(&cfg_path, e, "load it on a machine with more memory"))?;
    let layout = Layout::new(&cfg);
    let params = load_tensors(&dir.join("model.safetensors"), &layout, "")?;
    Ok(Model::from_params(cfg, layout, params))
}

/// AdamW moments `m`, `v`, stored as `exp_avg.NAME` / `exp_avg_sq.NAME`.
pub fn save_optimizer(dir: &Path, layout: &Layout, m: &[f32], v: &[f32]) -> Result<()> {
    let mut both = m.to_vec();
    both.extend_from_slice(v);
    // One file, two prefixes: write m then v through a doubled layout.
    let doubled = Layout::doubled(layout, "exp_avg.", "exp_avg_sq.");
    save_tensors(&dir.join("optimizer.safetensors"), &doubled, &both, "")
}

pub fn load_optimizer(dir: &Path, layout: &Layout) -> Result<(Vec<f32>, Vec<f32>)> {
    let doubled = Layout::doubled(layout, "exp_avg.", "exp_avg_sq.");
    let path = dir.join("optimizer.safetensors");
    let mut both = load_tensors(&path, &doubled, "")?;
    // A moment that is not a number (or a negative second moment) would turn every weight it
    // touches into NaN on the first resumed step: refuse it here.
    if let Some(i) = both.iter().enumerate().position(|(i, x)| !x.is_finite() || (i >= layout.total && *x < 0.0)) {
        return Err(Error::input(
            &path,
            format!("AdamW moment {i} is {}", both[i]),
            "the optimizer state is damaged: resume from an earlier checkpoint",
        ));
    }
    let v = both.split_off(layout.total);
    Ok((both, v))
}
