//! What the decoder needs from a model: feed tokens into a forkable state,
//! get the logits of the next token.

use rsr_model::infer::KvCache;
use rsr_model::model::Model;

pub trait LanguageModel {
    /// Everything the model remembers of a context; cloning forks it.
    type State: Clone;
    fn start(&self) -> Self::State;
    /// Feed `tokens` after `state`; returns the logits after the last one.
    fn feed(&self, state: &mut Self::State, tokens: &[u32]) -> Vec<f32>;
    /// How many tokens a context may hold.
    fn max_context(&self) -> usize;
    /// How many tokens `state` holds.
    fn len(&self, state: &Self::State) -> usize;
    /// Forget everything after the first `len` tokens (a rollback without a copy).
    fn truncate(&self, state: &mut Self::State, len: usize);
}

impl LanguageModel for Model {
    type State = KvCache;
    fn start(&self) -> KvCache {
        KvCache::new(self)
    }
    fn feed(&self, state: &mut KvCache, tokens: &[u32]) -> Vec<f32> {
        self.extend(state, tokens)
    }
    fn max_context(&self) -> usize {
        self.cfg.max_position_embeddings
    }
    fn len(&self, state: &KvCache) -> usize {
        state.len
    }
    fn truncate(&self, state: &mut KvCache, len: usize) {
        state.truncate(len)
    }
}

/// The token ids the decoder treats specially.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub endoftext: u32,
    pub reflect_open: u32,
    pub reflect_close: u32,
    pub safe_tag: u32,
    pub unsafe_tag: u32,
    /// Format v1: the reflection body words, as the tokenizer splits them.
    pub safe_body: Vec<u32>,
    pub unsafe_body: Vec<u32>,
    /// Per token id: does its text end a sentence (`.`, `!`, `?`, optionally followed by closing
    /// quotes or brackets, or a newline anywhere)? Checks happen there, as training placed them.
    pub sentence_end: Vec<bool>,
    /// The token of `.` (when it is one token): what opens a rationale asked for on demand.
    pub period: Option<u32>,
}

impl Vocab {
    pub fn from_tokenizer(tok: &rsr_pack::tokenizer::RsrTokenizer) -> rsr_core::Result<Self> {
        Ok(Vocab {
            endoftext: tok.special.endoftext,
            reflect_open: tok.special.reflect_open,
            reflect_close: tok.special.reflect_close,
            safe_tag: tok.special.safe,
            unsafe_tag: tok.special.unsafe_,
            safe_body: tok.encode_text("safe")?.0,
            unsafe_body: tok.encode_text("unsafe")?.0,
            sentence_end: (0..tok.vocab_size() as u32).map(|id| ends_sentence(&tok.decode(&[id]))).collect(),
            period: Some(tok.encode_text(".")?.0).filter(|p| p.len() == 1).map(|p| p[0]),
        })
    }

    pub fn ends_sentence(&self, token: u32) -> bool {
        self.sentence_end.get(token as usize).copied().unwrap_or(false)
    }

    /// Tokens that may appear only inside a reflection or as a tag, never in visible text.
    pub fn hidden(&self) -> [u32; 3] {
        [self.reflect_close, self.safe_tag, self.unsafe_tag]
    }
}

/// Does a token's text close a sentence, by the segmenter's rule (`rsr_corpus::segment`)?
pub fn ends_sentence(piece: &str) -> bool {
    piece.contains('\n') || piece.trim_end_matches(['"', '\'', ')', ']']).ends_with(['.', '!', '?'])
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let s: f32 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= s);
    p
}
