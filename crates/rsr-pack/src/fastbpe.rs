//! A faster encode path for byte-level BPE tokenizers (GPT-2 style, what `rsr tokenizer train`
//! writes), giving exactly the ids and byte offsets of `tokenizers`' own `encode`.
//!
//! Profiling `rsr pack` on real prose showed most of its time outside the BPE merges: the
//! GPT-2 split pattern run by `fancy-regex`'s backtracking VM (for one look-ahead,
//! `\s+(?!\S)`), and an `Encoding` that allocates a `String` per token that packing never
//! reads. This path:
//! - splits with the same pattern minus the look-ahead on the `regex` crate's automata, and
//!   applies the look-ahead by hand (a whitespace run followed by text gives back its last
//!   character, which then starts the next piece — what the look-ahead does);
//! - maps each piece's bytes to the byte-level alphabet and asks the tokenizer's own BPE model
//!   for its tokens, remembering the answer per piece (ids and byte lengths) in a per-thread
//!   cache, so repeated words cost a hash lookup;
//! - computes offsets from the byte lengths — widened to whole characters, as `tokenizers`
//!   reports a token that holds part of a multi-byte character — trimming spaces as the
//!   `ByteLevel` post-processor does when its `trim_offsets` is set.
//!
//! It is used only when the tokenizer is exactly that shape (no normalizer, a `ByteLevel`
//! pre-tokenizer with the regex and no prefix space, a deterministic BPE model, no added token
//! matched in text) and when it agrees with `tokenizers` on a built-in multilingual sample at
//! load; otherwise everything goes through `tokenizers`. `tests/fastbpe.rs` compares the two
//! on SafetyWorld, the shipped real prompt data and Unicode edge cases.

use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;
use tokenizers::models::ModelWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{Model, Tokenizer};

/// GPT-2's split pattern without its look-ahead alternative (`\s+(?!\S)`), which
/// [`pieces`] applies by hand.
static SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+").expect("valid pattern")
});

/// GPT-2's byte → character table (the byte-level alphabet).
static BYTE_CHAR: LazyLock<[char; 256]> = LazyLock::new(|| {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[b as usize] = if printable {
            b as char
        } else {
            n += 1;
            char::from_u32(255 + n).expect("in the Latin Extended range")
        };
    }
    table
});

/// Byte ranges of the pre-tokenized pieces of `text`, as `ByteLevel`'s regex split gives them.
pub fn pieces(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let m = SPLIT.find_at(text, pos)?;
        let (start, mut end) = (m.start(), m.end());
        // `\s+(?!\S)`: a whitespace run followed by text keeps its last character for the next
        // piece (when the run has more than one).
        if end < text.len() && text[start..end].chars().all(char::is_whitespace) {
            let last = text[start..end].char_indices().last().map(|(i, _)| start + i).unwrap_or(start);
            if last > start {
                end = last;
            }
        }
        pos = end;
        Some((start, end))
    })
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The offsets rule of the tokenizer's `ByteLevel` post-processor, if any.
#[derive(Debug, Clone, Copy)]
struct Trim {
    /// Keep one leading space on the first token (the post-processor's `add_prefix_space`).
    keep_first_space: bool,
}

/// The fast path for one tokenizer, when it applies.
#[derive(Debug, Clone)]
pub struct FastBpe {
    trim: Option<Trim>,
    /// Which tokenizer the per-thread caches belong to.
    key: usize,
}

/// Token ids and their byte offsets, as `tokenizers` gives them.
pub type Encoded = (Vec<u32>, Vec<(usize, usize)>);

/// Tokens of one piece: (id, length in original bytes).
type Entry = Box<[(u32, u32)]>;

thread_local! {
    static CACHE: RefCell<(usize, HashMap<Box<str>, Entry>)> = RefCell::new((usize::MAX, HashMap::new()));
}

/// Pieces remembered per thread before the cache starts over.
const CACHE_ENTRIES: usize = 1 << 20;

static NEXT_KEY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl FastBpe {
    /// The fast path for `tok`, or `None` when its shape is not the one this path reproduces.
    pub fn for_tokenizer(tok: &Tokenizer) -> Option<FastBpe> {
        if tok.get_normalizer().is_some() {
            return None;
        }
        match tok.get_pre_tokenizer() {
            Some(PreTokenizerWrapper::ByteLevel(b)) if b.use_regex && !b.add_prefix_space => {}
            _ => return None,
        }
        let trim = match tok.get_post_processor() {
            None => None,
            Some(PostProcessorWrapper::ByteLevel(b)) if b.trim_offsets => {
                Some(Trim { keep_first_space: b.add_prefix_space })
            }
            Some(PostProcessorWrapper::ByteLevel(_)) => None,
            Some(_) => return None,
        };
        match tok.get_model() {
            ModelWrapper::BPE(bpe) if bpe.dropout.is_none_or(|d| d == 0.0) => {}
            _ => return None,
        }
        let added = tok.get_added_vocabulary();
        let matched_in_text =
            !added.get_encode_special_tokens() || added.get_added_tokens_decoder().values().any(|t| !t.special);
        if matched_in_text {
            return None;
        }
        let key = NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(FastBpe { trim, key })
    }

    /// Ids and byte offsets of `text`, as `tok.encode(text, false)` gives them.
    pub fn encode(&self, tok: &Tokenizer, text: &str) -> Result<Encoded, String> {
        let model = tok.get_model();
        let mut ids = Vec::with_capacity(text.len() / 4 + 1);
        let mut offsets = Vec::with_capacity(ids.capacity());
        CACHE.with(|cell| -> Result<(), String> {
            let mut cell = cell.borrow_mut();
            if cell.0 != self.key {
                *cell = (self.key, HashMap::new());
            }
            let cache = &mut cell.1;
            let mut mapped = String::new();
            for (start, end) in pieces(text) {
                let piece = &text[start..end];
                let entry = match cache.get(piece) {
                    Some(entry) => entry,
                    None => {
                        mapped.clear();
                        mapped.extend(piece.bytes().map(|b| BYTE_CHAR[b as usize]));
                        let tokens = model.tokenize(&mapped).map_err(|e| format!("encoding failed: {e}"))?;
                        let entry: Entry = tokens.iter().map(|t| (t.id, t.value.chars().count() as u32)).collect();
                        if cache.len() >= CACHE_ENTRIES {
                            cache.clear();
                        }
                        cache.entry(piece.into()).or_insert(entry)
                    }
                };
                let mut at = start;
                for &(id, len) in entry.iter() {
                    // A token holding part of a multi-byte character reports the whole character.
                    let (s, e) = (floor_char(text, at), ceil_char(text, at + len as usize));
                    ids.push(id);
                    offsets.push(self.trimmed(text, s, e, ids.len() == 1));
                    at += len as usize;
                }
            }
            Ok(())
        })?;
        Ok((ids, offsets))
    }

    /// `ByteLevel`'s `process_offsets`: spaces at either end of a token leave its offsets.
    fn trimmed(&self, text: &str, s: usize, e: usize, first: bool) -> (usize, usize) {
        let Some(trim) = self.trim else { return (s, e) };
        let bytes = &text.as_bytes()[s..e];
        let mut leading = bytes.iter().take_while(|&&b| b == b' ').count();
        let trailing = bytes.iter().rev().take_while(|&&b| b == b' ').count();
        let (mut s2, mut e2) = (s, e);
        if leading > 0 {
            if (first || s == 0) && trim.keep_first_space && leading == 1 {
                leading = 0;
            }
            s2 = (s + leading).min(e);
        }
        if trailing > 0 && e >= trailing {
            e2 = (e - trailing).max(s2);
        }
        (s2, e2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_table_is_gpt2s() {
        assert_eq!(BYTE_CHAR[b' ' as usize], 'Ġ');
        assert_eq!(BYTE_CHAR[b'\n' as usize], 'Ċ');
        assert_eq!(BYTE_CHAR[b'a' as usize], 'a');
        let mut all: Vec<char> = BYTE_CHAR.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 256);
    }

    #[test]
    fn whitespace_runs_give_back_their_last_character() {
        let text = "Hello  world\n\nnext   ";
        let got: Vec<&str> = pieces(text).map(|(s, e)| &text[s..e]).collect();
        assert_eq!(got, vec!["Hello", " ", " world", "\n", "\n", "next", "   "]);
    }
}
