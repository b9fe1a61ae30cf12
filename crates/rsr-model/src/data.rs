//! Training batches from rsr shards: all shards of a split concatenated, and
//! windows of `T + 1` tokens at random offsets (concat-and-chunk, as nanoGPT
//! and OLMo do). Inputs are `tokens[0..T]`, targets `tokens[1..T+1]`, and the
//! target's loss-mask byte decides whether that position is trained. The
//! offsets of step `s` come from a stream keyed by (seed, s), so a resumed run
//! sees exactly the batches an uninterrupted one would.

use rand::Rng;
use rsr_core::rng::stream;
use rsr_core::{Error, Result};
use rsr_pack::shard::Shard;
use std::path::Path;

pub struct TokenStream {
    pub tokens: Vec<u32>,
    pub mask: Vec<u8>,
    pub vocab_size: usize,
}

pub struct Batch {
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub mask: Vec<u8>,
}

impl TokenStream {
    /// Every shard of `pack_dir/split`, in order.
    pub fn load(pack_dir: &Path, split: &str) -> Result<Self> {
        let shards = rsr_pack::export::split_shards(pack_dir, split)?;
        if shards.is_empty() {
            return Err(Error::input(
                pack_dir.join(split),
                "no shards",
                "pass the directory written by `rsr pack` (it holds train/ and val/)",
            ));
        }
        let (mut tokens, mut mask, mut vocab) = (Vec::new(), Vec::new(), 0);
        for p in shards {
            let s = Shard::read(&p)?;
            if vocab != 0 && vocab != s.vocab_size as usize {
                return Err(Error::input(
                    &p,
                    "shards of one split disagree on the vocabulary size",
                    "re-run `rsr pack`",
                ));
            }
            vocab = s.vocab_size as usize;
            tokens.extend(s.tokens);
            mask.extend(s.mask);
        }
        let mut tally = rsr_pack::pack::MaskTally::default();
        tally.add(&mask);
        rsr_pack::pack::check_against_manifest(pack_dir, split, tally)?;
        Ok(Self { tokens, mask, vocab_size: vocab })
    }

    /// Documents already tokenized, each followed by `eot`, every token trained.
    pub fn from_documents(docs: impl IntoIterator<Item = Vec<u32>>, eot: u32, vocab_size: usize) -> Self {
        let mut tokens = Vec::new();
        for d in docs {
            tokens.extend(d);
            tokens.push(eot);
        }
        let mask = vec![1u8; tokens.len()];
        Self { tokens, mask, vocab_size }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn window(&self, start: usize, t: usize, batch: &mut Batch) {
        batch.inputs.extend_from_slice(&self.tokens[start..start + t]);
        batch.targets.extend_from_slice(&self.tokens[start + 1..start + t + 1]);
        batch.mask.extend_from_slice(&self.mask[start + 1..start + t + 1]);
    }

    /// The random training batch of step `step`.
    pub fn batch(&self, seed: u64, step: u64, b: usize, t: usize) -> Batch {
        assert!(self.len() > t + 1, "the split holds {} tokens, fewer than one sequence of {}", self.len(), t + 1);
        let mut rng = stream(seed, &format!("batch-{step}"));
        let mut out = Batch {
            inputs: Vec::with_capacity(b * t),
            targets: Vec::with_capacity(b * t),
            mask: Vec::with_capacity(b * t),
        };
        for _ in 0..b {
            let start = rng.gen_range(0..self.len() - t - 1);
            self.window(start, t, &mut out);
        }
        out
    }

    /// Consecutive non-overlapping batches covering the stream (validation),
    /// at most `max_batches`.
    pub fn sequential(&self, b: usize, t: usize, max_batches: usize) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut start = 0;
        while out.len() < max_batches && start + b * t < self.len() {
            let mut batch = Batch { inputs: vec![], targets: vec![], mask: vec![] };
            for _ in 0..b {
                self.window(start, t, &mut batch);
                start += t;
            }
            out.push(batch);
        }
        out
    }
}
