//! Tokenizers: train a byte-level BPE with the reflection special tokens, or
//! load any Hugging Face `tokenizer.json` and add the ones it lacks.
//!
//! The special tokens of docs/design.md#reflection-format are registered as *special* added tokens,
//! one id each (a trained tokenizer gives them ids 0–4). Ordinary text is
//! always encoded with special-token matching switched off
//! ([`RsrTokenizer::encode_text`]), so text that spells `<|reflect|>` can never
//! become the reflection token; specials enter a sequence only where the
//! packer puts them.

use rsr_core::special;
use rsr_core::{Error, Result};
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// Byte offsets `(start, end)` of each token in the encoded text.
pub type Offsets = Vec<(usize, usize)>;

/// Ids of the special tokens in one tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpecialIds {
    pub endoftext: u32,
    pub reflect_open: u32,
    pub reflect_close: u32,
    pub safe: u32,
    pub unsafe_: u32,
}

impl SpecialIds {
    pub fn all(&self) -> [u32; 5] {
        [self.endoftext, self.reflect_open, self.reflect_close, self.safe, self.unsafe_]
    }

    /// The id of a special token's literal text.
    pub fn id_of(&self, literal: &str) -> Option<u32> {
        special::ALL.iter().position(|t| *t == literal).map(|i| self.all()[i])
    }
}

/// A tokenizer plus what rsr needs to know about it.
pub struct RsrTokenizer {
    inner: Tokenizer,
    pub special: SpecialIds,
    /// Special tokens this toolkit had to add to a loaded tokenizer.
    pub added_specials: Vec<String>,
    /// The faster encode path, when it reproduces this tokenizer exactly ([`crate::fastbpe`]).
    fast: Option<crate::fastbpe::FastBpe>,
}

fn tok_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::input(
        path,
        format!("{what}: {e}"),
        "pass a Hugging Face tokenizer.json, or train one with `rsr tokenizer train`",
    )
}

fn special_tokens() -> Vec<AddedToken> {
    special::ALL.iter().map(|t| AddedToken::from(t.to_string(), true)).collect()
}

impl RsrTokenizer {
    /// Train a byte-level BPE of `vocab_size` (specials included) on `texts`, plus the
    /// reflection vocabulary (the category words; [`rsr_core::reflection::vocabulary`]) repeated
    /// in proportion to the corpus, so that a category costs one or two tokens in a reflection.
    pub fn train<I, S>(texts: I, vocab_size: usize, min_frequency: u64) -> Result<Self>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let floor = special::ALL.len() + ByteLevel::alphabet().len();
        if vocab_size <= floor {
            return Err(Error::Invalid(format!(
                "--vocab-size {vocab_size} is too small: a byte-level BPE needs more than {floor} (256 bytes + {} special tokens)",
                special::ALL.len()
            )));
        }
        let trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(min_frequency)
            .special_tokens(special_tokens())
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .show_progress(false)
            .build();
        let mut trainer = tokenizers::models::TrainerWrapper::from(trainer);
        let mut tok = Tokenizer::new(BPE::default());
        tok.with_pre_tokenizer(Some(ByteLevel::new(false, false, true)));
        tok.with_decoder(Some(ByteLevel::default()));
        tok.with_post_processor(Some(ByteLevel::new(false, false, true)));
        // Literal special tokens in training text are not words to learn.
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = seen.clone();
        let texts = texts.map(move |t| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            strip_specials(t.as_ref())
        });
        // Evaluated once the corpus is exhausted, so the repeats can follow its size.
        let vocabulary =
            std::iter::once(()).flat_map(move |_| reflection_texts(seen.load(std::sync::atomic::Ordering::Relaxed)));
        tok.train(&mut trainer, texts.chain(vocabulary))
            .map_err(|e| Error::Invalid(format!("tokenizer training failed: {e}")))?;
        Self::wrap(tok, Path::new("<trained>"))
    }

    /// Load a `tokenizer.json`, adding any missing special token.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::input(
                path,
                format!("cannot load tokenizer: {e}"),
                "pass a Hugging Face tokenizer.json, or train one with `rsr tokenizer train`",
            )
        })?;
        let damaged =
            |why: String| Error::input(path, why, "the tokenizer file is damaged: copy it again, or retrain it");
        // Valid JSON first (a clear message for a damaged file), then the tokenizers crate, which
        // panics on some malformed sections instead of returning an error: that is an error here.
        serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| damaged(format!("not valid JSON: {e}")))?;
        let parsed = std::panic::catch_unwind(|| Tokenizer::from_bytes(&bytes))
            .map_err(|_| damaged("the tokenizers library could not read it (it panicked)".into()))?;
        let tok = parsed.map_err(|e| tok_err(path, "cannot load tokenizer", e))?;
        Self::wrap(tok, path)
    }

    fn wrap(mut tok: Tokenizer, path: &Path) -> Result<Self> {
        let mut added_specials = Vec::new();
        for t in special::ALL {
            let existing = tok.token_to_id(t);
            let is_special = tok.get_added_vocabulary().is_special_token(t);
            match (existing, is_special) {
                (Some(_), true) => {}
                (None, _) => added_specials.push(t.to_string()),
                (Some(id), false) => {
                    return Err(Error::input(
                        path,
                        format!("`{t}` is already an ordinary token (id {id}) in this tokenizer, so it cannot be a reflection marker"),
                        "use a tokenizer without that token, or retrain one with `rsr tokenizer train`",
                    ))
                }
            }
        }
        if !added_specials.is_empty() {
            tok.add_special_tokens(added_specials.iter().map(|t| AddedToken::from(t.clone(), true)))
                .map_err(|e| tok_err(path, "cannot add the special tokens", e))?;
        }
        let id = |t: &str| tok.token_to_id(t).expect("special token registered above");
        let special = SpecialIds {
            endoftext: id(special::ENDOFTEXT),
            reflect_open: id(special::REFLECT_OPEN),
            reflect_close: id(special::REFLECT_CLOSE),
            safe: id(special::SAFE_TAG),
            unsafe_: id(special::UNSAFE_TAG),
        };
        let mut ids = special.all().to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != special::ALL.len() {
            return Err(Error::input(
                path,
                format!("special tokens share ids: {special:?}"),
                "every special token needs its own id; retrain the tokenizer",
            ));
        }
        // Each special must encode, as a special, to exactly its own id.
        for t in special::ALL {
            let enc = tok.encode(t, false).map_err(|e| tok_err(path, "encoding failed", e))?;
            if enc.get_ids() != [id(t)] {
                return Err(Error::input(
                    path,
                    format!("special token `{t}` encodes to {:?}, not to its one id {}", enc.get_ids(), id(t)),
                    "the tokenizer's normalizer or added tokens clash with the rsr special tokens; retrain with `rsr tokenizer train`",
                ));
            }
        }
        // From here on, text never turns into special tokens.
        tok.set_encode_special_tokens(true);
        let fast = crate::fastbpe::FastBpe::for_tokenizer(&tok).filter(|f| agrees(&tok, f));
        Ok(Self { inner: tok, special, added_specials, fast })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Encode ordinary text (special-token literals stay text). Returns ids
    /// and byte offsets into `text`.
    pub fn encode_text(&self, text: &str) -> Result<(Vec<u32>, Offsets)> {
        match &self.fast {
            Some(f) => f.encode(&self.inner, text).map_err(Error::Invalid),
            None => self.encode_reference(text),
        }
    }

    /// The same as [`encode_text`](Self::encode_text) through `tokenizers` alone (never the fast
    /// path): the reference the fast path is tested against.
    pub fn encode_reference(&self, text: &str) -> Result<(Vec<u32>, Offsets)> {
        let enc = self.inner.encode(text, false).map_err(|e| Error::Invalid(format!("encoding failed: {e}")))?;
        Ok((enc.get_ids().to_vec(), enc.get_offsets().to_vec()))
    }

    /// Whether encoding takes the fast path ([`crate::fastbpe`]).
    pub fn uses_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// Token ids only (no offsets): the raw-encoding baseline of the pack bench.
    pub fn encode_ids(&self, text: &str) -> Result<Vec<u32>> {
        if let Some(f) = &self.fast {
            return Ok(f.encode(&self.inner, text).map_err(Error::Invalid)?.0);
        }
        let enc = self.inner.encode_fast(text, false).map_err(|e| Error::Invalid(format!("encoding failed: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_else(|e| format!("<undecodable: {e}>"))
    }

    /// Save as `tokenizer.json` (special-token matching restored for users of the file).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tok = self.inner.clone();
        tok.set_encode_special_tokens(false);
        let json = tok.to_string(true).map_err(|e| Error::Invalid(format!("cannot serialise tokenizer: {e}")))?;
        rsr_core::atomic::write_all(path, json.as_bytes())
    }
}

/// Multilingual text with the shapes that trip pre-tokenizers (contractions, digits, runs of
/// spaces and newlines, tabs, combining marks, scripts without spaces, emoji, NBSP): the fast
/// path is used only if it encodes this exactly as `tokenizers` does.
const AGREEMENT_SAMPLE: &str = "It's 3.14159, isn't it?  Two  spaces,\ttabs\r\n\nand\n\n  indented lines.\u{a0}NBSP \
    naïve café Ünïcödé; Ελληνικά κείμενα; русский текст; 日本語のテキスト、中文文本。 हिन्दी पाठ \
    عربي 😀👍🏽 ¼ ½ Ⅻ 1,000,000 'S 'LL we'd they'll I'M   \n";

/// Does the fast path encode [`AGREEMENT_SAMPLE`] (and its halves) exactly as `tokenizers` does?
fn agrees(tok: &Tokenizer, fast: &crate::fastbpe::FastBpe) -> bool {
    let mid = AGREEMENT_SAMPLE.char_indices().nth(AGREEMENT_SAMPLE.chars().count() / 2).map(|(i, _)| i).unwrap_or(0);
    [AGREEMENT_SAMPLE, &AGREEMENT_SAMPLE[..mid], &AGREEMENT_SAMPLE[mid..], " ", ""].iter().all(|t| {
        let slow = tok.encode(*t, false).map(|e| (e.get_ids().to_vec(), e.get_offsets().to_vec()));
        matches!((slow, fast.encode(tok, t)), (Ok(a), Ok(b)) if a == b)
    })
}

/// The reflection vocabulary for a corpus of `n` texts: each category's words about once per 16
/// texts (at least 8 times) — enough for the BPE to merge them whole, few enough merges (a few
/// dozen) not to crowd out the corpus.
fn reflection_texts(n: usize) -> Vec<String> {
    let reps = (n / 16).max(8);
    rsr_core::reflection::vocabulary().into_iter().flat_map(|t| std::iter::repeat_n(t, reps)).collect()
}

fn strip_specials(text: &str) -> String {
    let mut s = text.to_string();
    for t in special::ALL {
        if s.contains(t) {
            s = s.replace(t, " ");
        }
    }
    s
}

/// Exact token counts for segmentation (replaces the whitespace estimate).
impl rsr_corpus::segment::TokenCounter for RsrTokenizer {
    fn count(&self, text: &str) -> usize {
        self.encode_ids(text).map(|v| v.len()).unwrap_or_else(|_| text.split_whitespace().count())
    }
    fn name(&self) -> &'static str {
        "tokenizer"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> RsrTokenizer {
        let texts =
            ["First, grind the velorine. Next, add the tarquil.", "The weeds grow near the old bridge. Café élan."];
        RsrTokenizer::train(texts.iter().cycle().take(200), 300, 2).unwrap()
    }

    #[test]
    fn a_trained_tokenizer_writes_each_category_in_one_or_two_tokens() {
        let texts = ["The weeds grow near the old bridge.", "Grind the stone, then heat it slowly."];
        let tok = RsrTokenizer::train(texts.iter().cycle().take(400), 1024, 2).unwrap();
        for c in rsr_core::taxonomy::Category::ALL {
            let ids = tok.encode_ids(&format!(" {}", c.words())).unwrap();
            assert!(ids.len() <= 2, "{c}: {} tokens", ids.len());
        }
    }

    #[test]
    fn each_special_token_is_one_id_and_trained_ids_come_first() {
        let t = small();
        assert_eq!(t.special.all(), [0, 1, 2, 3, 4]);
        assert!(t.added_specials.is_empty());
        assert!(t.vocab_size() <= 300 && t.vocab_size() > 261);
    }

    #[test]
    fn text_spelling_a_special_token_never_encodes_to_it() {
        let t = small();
        for s in special::ALL {
            let (ids, _) = t.encode_text(&format!("see {s} here")).unwrap();
            for sid in t.special.all() {
                assert!(!ids.contains(&sid), "`{s}` in text became special id {sid}");
            }
            assert!(t.decode(&ids).contains(s));
        }
    }

    #[test]
    fn saved_tokenizer_reloads_with_the_same_ids_and_hf_tokenizers_read_it() {
        let t = small();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        t.save(&p).unwrap();
        let back = RsrTokenizer::load(&p).unwrap();
        assert_eq!(back.special, t.special);
        assert!(back.added_specials.is_empty());
        let text = "Next, add the tarquil. Café";
        assert_eq!(back.encode_text(text).unwrap(), t.encode_text(text).unwrap());
    }

    #[test]
    fn loading_a_tokenizer_without_specials_adds_them_and_records_it() {
        let mut tok = Tokenizer::new(BPE::default());
        tok.with_pre_tokenizer(Some(ByteLevel::default()));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain.json");
        tok.save(&p, false).unwrap();
        let t = RsrTokenizer::load(&p).unwrap();
        assert_eq!(t.added_specials.len(), 5);
        assert_eq!(t.special.all().iter().collect::<std::collections::BTreeSet<_>>().len(), 5);
    }

    #[test]
    fn a_special_token_that_is_an_ordinary_token_is_a_clash() {
        let mut tok = Tokenizer::new(BPE::default());
        tok.add_tokens([AddedToken::from("<|reflect|>", false)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clash.json");
        tok.save(&p, false).unwrap();
        let err = RsrTokenizer::load(&p).err().unwrap().to_string();
        assert!(err.contains("already an ordinary token") && err.contains("HINT"), "{err}");
    }

    #[test]
    fn too_small_a_vocabulary_is_refused() {
        assert!(RsrTokenizer::train(["a"].iter(), 100, 1).err().unwrap().to_string().contains("too small"));
    }
}
