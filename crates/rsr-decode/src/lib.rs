//! # rsr-decode
//!
//! Brief overview: generation that listens to the reflections a model learned
//! (docs/design.md#decoding-with-reflections), and the same mechanism as a safety classifier.
//!
//! - [`lm`]: the `LanguageModel` trait (a forkable state that is fed tokens and
//!   returns next-token logits), implemented for `rsr_model::Model` with its KV cache;
//! - [`sample`]: temperature, top-k, top-p, banned tokens;
//! - [`generate`]: the decoding loop and the reflection policies
//!   `monitor`, `stop`, `backtrack`, `redirect`;
//! - [`memo`]: a model's generations kept, so a prompt asked again under the same decoding
//!   is answered without decoding it twice;
//! - [`probe`]: P(unsafe) right after `<|reflect|>`, from one next-token distribution;
//! - [`trained`]: how a checkpoint was trained to reflect (cadence, format, safe rate),
//!   which decoding follows unless told otherwise.

pub mod generate;
pub mod lm;
pub mod memo;
pub mod probe;
pub mod sample;
pub mod trained;

/// A checkpoint ready to decode: the model, its tokenizer, and the token ids
/// the decoder needs.
pub struct Loaded {
    pub model: rsr_model::model::Model,
    pub tokenizer: rsr_pack::tokenizer::RsrTokenizer,
    pub vocab: lm::Vocab,
    /// How the model was trained to reflect (its checkpoint's `state.json`; defaults otherwise).
    pub style: trained::ReflectionStyle,
}

impl Loaded {
    /// Write a sealed checkpoint of a random `tiny` model (weights from `seed`, a context of
    /// `context` tokens) with a 300-token tokenizer trained on `texts`, into `dir`: a real
    /// checkpoint for tests and examples that need one without training.
    pub fn write_random(dir: &std::path::Path, texts: &[&str], context: usize, seed: u64) -> rsr_core::Result<()> {
        let tok = rsr_pack::tokenizer::RsrTokenizer::train(texts.iter().cycle().take(100), 300, 2)?;
        let tok_path = dir.join("tokenizer.json");
        tok.save(&tok_path)?;
        let cfg = rsr_model::config::ModelConfig {
            max_position_embeddings: context,
            ..rsr_model::config::ModelConfig::tiny(tok.vocab_size())
        };
        let model = rsr_model::model::Model::new(cfg, seed);
        rsr_model::checkpoint::save_model(dir, &model, 0, Some(&tok_path))?;
        rsr_model::checkpoint::seal(dir)?;
        Ok(())
    }

    /// Load a checkpoint directory written by `rsr train` (or any directory
    /// with `config.json`, `model.safetensors` and `tokenizer.json`).
    pub fn from_dir(dir: &std::path::Path) -> rsr_core::Result<Self> {
        let model = rsr_model::checkpoint::load_model(dir)?;
        let tokenizer = rsr_pack::tokenizer::RsrTokenizer::load(&dir.join("tokenizer.json"))?;
        if tokenizer.vocab_size() != model.cfg.vocab_size {
            return Err(rsr_core::Error::input(
                dir,
                format!("tokenizer.json has {} tokens but the model {}", tokenizer.vocab_size(), model.cfg.vocab_size),
                "put the tokenizer the model was trained with beside it (rsr train copies it into every checkpoint)",
            ));
        }
        let vocab = lm::Vocab::from_tokenizer(&tokenizer)?;
        // Fail closed at load: weights that give non-finite logits (corrupt, or a config such as
        // a negative rms_norm_eps) would make every safety score NaN.
        use lm::LanguageModel;
        let mut state = model.start();
        let logits = model.feed(&mut state, &[vocab.endoftext, vocab.reflect_open]);
        if let Some(bad) = logits.iter().find(|x| !x.is_finite()) {
            return Err(rsr_core::Error::input(
                dir,
                format!("the model's forward pass gives non-finite logits ({bad}) on a probe input"),
                "the weights or config.json are damaged: re-save the checkpoint, or use another one",
            ));
        }
        let style = trained::TrainedWith::read(dir)?.style();
        Ok(Self { model, tokenizer, vocab, style })
    }

    pub fn encode(&self, text: &str) -> rsr_core::Result<Vec<u32>> {
        Ok(self.tokenizer.encode_text(text)?.0)
    }

    pub fn generate(&self, prompt: &str, cfg: &generate::GenConfig) -> rsr_core::Result<generate::Generation> {
        Ok(self.generate_ids(&self.encode(prompt)?, cfg))
    }

    /// Generate from an already encoded prompt.
    pub fn generate_ids(&self, prompt: &[u32], cfg: &generate::GenConfig) -> generate::Generation {
        let detok = |t: &[u32]| self.tokenizer.decode(t);
        let d = generate::Decoder { lm: &self.model, vocab: &self.vocab, detok: &detok, style: self.style };
        d.generate(prompt, cfg)
    }

    /// P(unsafe) of `text`; a score that is not a number reads as 1.0 (unsafe): fail closed.
    pub fn probe(&self, text: &str) -> rsr_core::Result<f32> {
        let p = probe::probe(&self.model, &self.vocab, &self.style, &self.encode(text)?);
        Ok(if p.is_nan() { 1.0 } else { p })
    }
}
