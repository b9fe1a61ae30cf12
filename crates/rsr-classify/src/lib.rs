//! # rsr-classify
//!
//! Brief overview: the `hashed` safety classifier — fastText-style features
//! (word unigrams and bigrams, character 3–5-grams of each word with boundary
//! marks) hashed into 2^bits buckets, and one logistic-regression head per
//! label: `unsafe` (binary) and, when trained with categories, one
//! one-vs-rest head per category. Trained with AdaGrad; saved as one small
//! file. Tens of thousands of documents per second per core; no ML stack.
//!
//! ```
//! use rsr_classify::{Classifier, Example, TrainConfig};
//! let ex = |t: &str, y: bool| Example { text: t.into(), label: y, category: None };
//! let data: Vec<Example> = (0..50).flat_map(|_| [ex("mix the poison into the drink", true), ex("bake the bread slowly", false)]).collect();
//! let c = Classifier::train(&data, &TrainConfig::default());
//! assert!(c.score("poison the drink") > 0.5 && c.score("bread in the oven") < 0.5);
//! ```

pub mod dense;
pub mod metrics;

use rand::seq::SliceRandom;
use rsr_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A labelled text.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    /// Unsafe?
    pub label: bool,
    /// The category of an unsafe example, if known.
    pub category: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// log2 of the number of hash buckets.
    pub bits: u32,
    pub epochs: usize,
    pub lr: f32,
    /// L2 penalty per update.
    pub l2: f32,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { bits: 17, epochs: 8, lr: 0.5, l2: 1e-6, seed: 0 }
    }
}

/// The file header (JSON); the weights follow as little-endian f32, one block of 2^bits (+1 bias) per head.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: String,
    bits: u32,
    /// "unsafe" first, then one per category.
    heads: Vec<String>,
    trained_on: usize,
}

const MAGIC: &[u8; 8] = b"RSRCLF1\n";

#[derive(Debug, Clone)]
pub struct Classifier {
    bits: u32,
    pub heads: Vec<String>,
    /// Per head: 2^bits weights then the bias.
    weights: Vec<Vec<f32>>,
    trained_on: usize,
}

/// FNV-1a, 64-bit, then MurmurHash3's finaliser so every output bit depends
/// on every input byte: stable across platforms and releases (saved
/// classifiers depend on it).
pub fn hash64(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Hashed feature indices of `text` (with repeats), into 2^bits buckets.
pub fn features(text: &str, bits: u32) -> Vec<u32> {
    let mask = (1u64 << bits) - 1;
    let norm = rsr_core::text::normalise(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    let mut out = Vec::with_capacity(words.len() * 8);
    for (i, w) in words.iter().enumerate() {
        out.push((hash64(w.as_bytes(), 1) & mask) as u32);
        if i + 1 < words.len() {
            let h = hash64(words[i + 1].as_bytes(), hash64(w.as_bytes(), 2));
            out.push((h & mask) as u32);
        }
        let marked: Vec<u8> = [b"<" as &[u8], w.as_bytes(), b">"].concat();
        if marked.len() > 3 {
            for n in 3..=5 {
                for g in marked.windows(n) {
                    out.push((hash64(g, 3 + n as u64) & mask) as u32);
                }
            }
        }
    }
    out
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// What training writes and loading therefore requires of a classifier's heads: `unsafe` first,
/// then the category heads in strictly ascending name order, every weight a finite number. A
/// header whose names were swapped (categories silently relabelled) or a NaN weight (every score
/// NaN) is refused at load instead of scoring.
pub fn check_heads<'a>(names: impl IntoIterator<Item = &'a str>, weights: &[f32]) -> std::result::Result<(), String> {
    let names: Vec<&str> = names.into_iter().collect();
    if names.first() != Some(&"unsafe") {
        return Err(format!("the first head is `{}`, not `unsafe`", names.first().unwrap_or(&"")));
    }
    if let Some(w) = names[1..].windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "category heads out of order (`{}` before `{}`): training writes them sorted, so the header was \
             edited and the categories would be relabelled",
            w[0], w[1]
        ));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(format!("weight {i} is {}: every score would be meaningless", weights[i]));
    }
    Ok(())
}

impl Classifier {
    /// Train the `unsafe` head on every example and, when any unsafe example
    /// has a category, a one-vs-rest head per category on the unsafe ones.
    pub fn train(data: &[Example], cfg: &TrainConfig) -> Self {
        let mut cats: Vec<String> = data.iter().filter(|e| e.label).filter_map(|e| e.category.clone()).collect();
        cats.sort();
        cats.dedup();
        let mut heads = vec!["unsafe".to_string()];
        heads.extend(cats.iter().cloned());
        let feats: Vec<Vec<u32>> = data.iter().map(|e| features(&e.text, cfg.bits)).collect();
        let dim = 1usize << cfg.bits;
        let mut weights = Vec::new();
        for (h, head) in heads.iter().enumerate() {
            // Head 0 sees everything; category heads see the unsafe examples.
            let rows: Vec<(usize, bool)> = data
                .iter()
                .enumerate()
                .filter(|(_, e)| h == 0 || e.label)
                .map(|(i, e)| (i, if h == 0 { e.label } else { e.category.as_deref() == Some(head.as_str()) }))
                .collect();
            weights.push(train_head(&rows, &feats, dim, cfg, h as u64));
        }
        Self { bits: cfg.bits, heads, weights, trained_on: data.len() }
    }

    fn head_score(&self, head: usize, feats: &[u32]) -> f32 {
        let w = &self.weights[head];
        let dim = 1usize << self.bits;
        let scale = 1.0 / (feats.len().max(1) as f32).sqrt();
        sigmoid(w[dim] + scale * feats.iter().map(|&f| w[f as usize]).sum::<f32>())
    }

    /// P(unsafe).
    pub fn score(&self, text: &str) -> f32 {
        self.head_score(0, &features(text, self.bits))
    }

    /// P(unsafe) and, per category, P(category | unsafe).
    pub fn scores(&self, text: &str) -> Vec<(&str, f32)> {
        let f = features(text, self.bits);
        self.heads.iter().enumerate().map(|(h, name)| (name.as_str(), self.head_score(h, &f))).collect()
    }

    /// The most likely category of an unsafe text (None without category heads).
    pub fn category(&self, text: &str) -> Option<&str> {
        self.best_category(&features(text, self.bits))
    }

    /// P(unsafe), and when it reaches `threshold` the most likely category
    /// (None without category heads) — one feature extraction for both.
    pub fn predict(&self, text: &str, threshold: f32) -> (f32, Option<&str>) {
        let f = features(text, self.bits);
        let p = self.head_score(0, &f);
        (p, if p >= threshold { self.best_category(&f) } else { None })
    }

    fn best_category(&self, f: &[u32]) -> Option<&str> {
        (1..self.heads.len())
            .map(|h| (h, self.head_score(h, f)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(h, _)| self.heads[h].as_str())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let header = Header {
            format: "rsr hashed classifier v1".into(),
            bits: self.bits,
            heads: self.heads.clone(),
            trained_on: self.trained_on,
        };
        let h = serde_json::to_vec(&header).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut bytes = Vec::with_capacity(16 + h.len() + self.weights.len() * 4 * ((1 << self.bits) + 1));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(h.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&h);
        for w in &self.weights {
            for x in w {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
        }
        rsr_core::atomic::write_all(path, &bytes)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |why: &str| Error::input(path, why.to_string(), "train one with `rsr classifier train`");
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(bad("not an rsr classifier file"));
        }
        let hl = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let header: Header = serde_json::from_slice(bytes.get(16..16 + hl).ok_or_else(|| bad("truncated header"))?)
            .map_err(|e| bad(&e.to_string()))?;
        if header.bits > 26 || header.heads.is_empty() {
            return Err(bad("implausible header"));
        }
        let per = (1usize << header.bits) + 1;
        let body = &bytes[16 + hl..];
        if body.len() != per * 4 * header.heads.len() {
            return Err(bad("truncated weights"));
        }
        let all: Vec<f32> = body.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        check_heads(header.heads.iter().map(String::as_str), &all).map_err(|e| bad(&e))?;
        let weights = all.chunks(per).map(<[f32]>::to_vec).collect();
        Ok(Self { bits: header.bits, heads: header.heads, weights, trained_on: header.trained_on })
    }
}

/// Logistic regression with AdaGrad over sparse hashed features (TF scaled by 1/sqrt(n)).
fn train_head(rows: &[(usize, bool)], feats: &[Vec<u32>], dim: usize, cfg: &TrainConfig, salt: u64) -> Vec<f32> {
    let mut w = vec![0f32; dim + 1];
    let mut g2 = vec![1e-6f32; dim + 1];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Balance the classes: weight each example by half its class's inverse frequency.
    let pos = rows.iter().filter(|r| r.1).count().max(1) as f32;
    let neg = (rows.len() as f32 - pos).max(1.0);
    let n = rows.len() as f32;
    let mut rng = rsr_core::rng::stream(cfg.seed, &format!("classifier-head-{salt}"));
    for _ in 0..cfg.epochs {
        order.shuffle(&mut rng);
        for &k in &order {
            let (i, y) = rows[k];
            let f = &feats[i];
            let scale = 1.0 / (f.len().max(1) as f32).sqrt();
            let z = w[dim] + scale * f.iter().map(|&j| w[j as usize]).sum::<f32>();
            let cw = if y { n / (2.0 * pos) } else { n / (2.0 * neg) };
            let g = cw * (sigmoid(z) - if y { 1.0 } else { 0.0 });
            for &j in f {
                let j = j as usize;
                let gj = g * scale + cfg.l2 * w[j];
                g2[j] += gj * gj;
                w[j] -= cfg.lr * gj / g2[j].sqrt();
            }
            g2[dim] += g * g;
            w[dim] -= cfg.lr * g / g2[dim].sqrt();
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_stable_and_bounded() {
        let f = features("Mix it, then heat!", 10);
        assert!(f.iter().all(|&x| x < 1024));
        assert_eq!(f, features("mix it then heat", 10), "case and punctuation fold");
        // Pinned: a change to hashing silently breaks every saved classifier.
        assert_eq!(
            &features("poison", 18)[..2],
            &[hash64(b"poison", 1) as u32 & 0x3ffff, hash64(b"<po", 6) as u32 & 0x3ffff]
        );
    }

    #[test]
    fn learns_categories_and_round_trips() {
        let ex =
            |t: &str, y: bool, c: Option<&str>| Example { text: t.into(), label: y, category: c.map(String::from) };
        let mut data = Vec::new();
        for i in 0..40 {
            data.push(ex(&format!("load the rifle and aim {i}"), true, Some("weapons")));
            data.push(ex(&format!("steal the wallet quietly {i}"), true, Some("theft")));
            data.push(ex(&format!("water the garden plants {i}"), false, None));
        }
        let c = Classifier::train(&data, &TrainConfig { bits: 14, ..TrainConfig::default() });
        assert_eq!(c.heads, ["unsafe", "theft", "weapons"]);
        assert!(c.score("aim the rifle") > 0.5);
        assert!(c.score("the garden needs water") < 0.5);
        assert_eq!(c.category("quietly steal a wallet"), Some("theft"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.rsrclf");
        c.save(&p).unwrap();
        let d = Classifier::load(&p).unwrap();
        assert_eq!(d.score("aim the rifle"), c.score("aim the rifle"));
        let good = std::fs::read(&p).unwrap();
        std::fs::write(&p, &good[..100]).unwrap();
        let err = Classifier::load(&p).unwrap_err().to_string();
        assert!(err.contains("c.rsrclf") && err.contains("truncated"), "{err}");

        // The header's category names swapped (the weights kept): refused, not relabelled.
        let hl = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&good[16..16 + hl]).unwrap();
        let swapped =
            header.replace("\"theft\"", "\"X\"").replace("\"weapons\"", "\"theft\"").replace("\"X\"", "\"weapons\"");
        let mut edited = good[..8].to_vec();
        edited.extend_from_slice(&(swapped.len() as u64).to_le_bytes());
        edited.extend_from_slice(swapped.as_bytes());
        edited.extend_from_slice(&good[16 + hl..]);
        std::fs::write(&p, &edited).unwrap();
        let err = Classifier::load(&p).unwrap_err().to_string();
        assert!(err.contains("out of order"), "{err}");
        // One weight made NaN (a bias, the last f32 of the first head): refused.
        let mut nan = good.clone();
        let per = ((1usize << 14) + 1) * 4;
        let at = 16 + hl + per - 4;
        nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        std::fs::write(&p, &nan).unwrap();
        let err = Classifier::load(&p).unwrap_err().to_string();
        assert!(err.contains("NaN"), "{err}");
        std::fs::write(&p, &good).unwrap();
        Classifier::load(&p).unwrap();
    }
}
