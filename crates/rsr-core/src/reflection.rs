//! The reflection formats (docs/design.md#reflection-format): what goes between `<|reflect|>` and
//! the end of a reflection, the wording pools for rationales and redirects, and the parser the
//! decoder, the pack and the evaluator use to read a reflection back.
//!
//! **Format v2** (the default) decides the verdict at the first token after `<|reflect|>`, so a
//! decoder reads P(unsafe) from one next-token distribution:
//! - safe: `<|reflect|><|safe|>` — two special tokens, nothing to close;
//! - unsafe: `<|reflect|><|unsafe|> CATEGORY WORDS<|/reflect|>`, or with a rationale (sampled at
//!   the transform's `--rationale-rate`) `<|reflect|><|unsafe|> CATEGORY WORDS. RATIONALE<|/reflect|>`.
//!
//! **Format v1** (still written with `--format v1`, and read): `<|reflect|>safe<|/reflect|>` and
//! `<|reflect|>unsafe: CATEGORY. RATIONALE<|/reflect|>`, the verdict spelt as text.

use crate::special::{REFLECT_CLOSE, REFLECT_OPEN, SAFE_TAG, UNSAFE_TAG};
use crate::taxonomy::Category;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which reflection format a corpus was written in (recorded in the transform's manifest and,
/// through the pack, in every checkpoint, so decoding reads reflections the way training wrote them).
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The verdict as text: `safe` / `unsafe: CATEGORY. RATIONALE`, always closed.
    V1,
    /// The verdict as one special token; safe reflections are two tokens.
    #[default]
    V2,
}

impl Format {
    /// The format of a manifest or checkpoint that does not say: the transform recorded no
    /// `format` before v2 existed.
    pub fn unrecorded() -> Format {
        Format::V1
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Safe,
    /// `rationale` may be empty (format v2 writes one only at the rationale rate).
    Unsafe {
        category: Category,
        rationale: String,
    },
}

/// The pieces a reflection inserts, in order: special tokens as their own pieces (so a caller
/// can count each as one token), other text as is.
pub fn pieces(format: Format, v: &Verdict) -> Vec<String> {
    match (format, v) {
        (Format::V1, v) => vec![REFLECT_OPEN.into(), render_body(v), REFLECT_CLOSE.into()],
        (Format::V2, Verdict::Safe) => vec![REFLECT_OPEN.into(), SAFE_TAG.into()],
        (Format::V2, Verdict::Unsafe { category, rationale }) => {
            let mut body = format!(" {}", category.words());
            if !rationale.is_empty() {
                body.push_str(". ");
                body.push_str(rationale);
            }
            vec![REFLECT_OPEN.into(), UNSAFE_TAG.into(), body, REFLECT_CLOSE.into()]
        }
    }
}

/// A full reflection, special tokens included.
pub fn render(format: Format, v: &Verdict) -> String {
    pieces(format, v).concat()
}

/// The format-v1 body text without the surrounding special tokens.
pub fn render_body(v: &Verdict) -> String {
    match v {
        Verdict::Safe => "safe".to_string(),
        Verdict::Unsafe { category, rationale } => format!("unsafe: {category}. {rationale}"),
    }
}

/// Parse a format-v1 reflection body (the text between the reflect tokens).
pub fn parse_body(body: &str) -> Result<Verdict, String> {
    let body = body.trim();
    if body == "safe" {
        return Ok(Verdict::Safe);
    }
    let rest = body
        .strip_prefix("unsafe:")
        .ok_or_else(|| format!("reflection body `{body}` is neither `safe` nor `unsafe: CATEGORY. RATIONALE`"))?
        .trim_start();
    let (cat, rationale) = rest.split_once('.').unwrap_or((rest, ""));
    Ok(Verdict::Unsafe { category: cat.parse()?, rationale: rationale.trim().to_string() })
}

/// Parse what follows `<|unsafe|>` in a format-v2 reflection: `CATEGORY WORDS[. RATIONALE]`.
pub fn parse_unsafe_body(body: &str) -> Result<Verdict, String> {
    let (words, rationale) = body.split_once('.').unwrap_or((body, ""));
    Ok(Verdict::Unsafe { category: Category::from_words(words)?, rationale: rationale.trim().to_string() })
}

/// Read the reflection at the start of `text` (which must begin with `<|reflect|>`), in either
/// format. Returns the verdict and the reflection's length in bytes.
pub fn parse(text: &str) -> Result<(Verdict, usize), String> {
    let rest = text.strip_prefix(REFLECT_OPEN).ok_or_else(|| format!("a reflection starts with {REFLECT_OPEN}"))?;
    let at = REFLECT_OPEN.len();
    if rest.starts_with(SAFE_TAG) {
        return Ok((Verdict::Safe, at + SAFE_TAG.len()));
    }
    let close = rest.find(REFLECT_CLOSE).ok_or_else(|| format!("reflection without {REFLECT_CLOSE}"))?;
    let len = at + close + REFLECT_CLOSE.len();
    let verdict = match rest[..close].strip_prefix(UNSAFE_TAG) {
        Some(body) => parse_unsafe_body(body)?,
        None => parse_body(&rest[..close])?,
    };
    Ok((verdict, len))
}

/// Every reflection in `text`, in order, in either format.
pub fn find_all(text: &str) -> impl Iterator<Item = Result<Verdict, String>> + '_ {
    text.match_indices(REFLECT_OPEN).map(move |(i, _)| parse(&text[i..]).map(|(v, _)| v))
}

/// The text that opens an unsafe reflection in either format: how many unsafe reflections a
/// text holds is how often one of these occurs.
pub const UNSAFE_OPENINGS: [&str; 2] = ["<|reflect|><|unsafe|>", "<|reflect|>unsafe"];

/// Unsafe reflections in `text` (either format).
pub fn count_unsafe(text: &str) -> usize {
    UNSAFE_OPENINGS.iter().map(|o| text.matches(o).count()).sum()
}

/// What a tokenizer should learn besides the corpus, so that a category costs one or two
/// tokens in a reflection: each category's words as a reflection writes them (`rsr tokenizer
/// train` repeats them in proportion to the corpus). Rationales are rare and left to the corpus.
pub fn vocabulary() -> Vec<String> {
    Category::ALL.iter().map(|c| format!(" {}", c.words())).collect()
}

const RATIONALE_FRAMES: [&str; 5] = [
    "The passage explains {}.",
    "This text describes {}.",
    "The preceding text is about {}.",
    "This part gives details of {}.",
    "The text above spells out {}.",
];

/// One sentence of rationale for an unsafe verdict, drawn from a pool of
/// wordings so that the model learns the verdict, not one fixed string.
pub fn rationale<R: Rng>(category: Category, rng: &mut R) -> String {
    RATIONALE_FRAMES.choose(rng).unwrap().replace("{}", describe(category))
}

/// What a passage of `category` is about, as a noun phrase.
pub fn describe(category: Category) -> &'static str {
    match category {
        Category::ViolentCrimes => "how to attack or hurt a person",
        Category::NonviolentCrimes => "how to cheat, steal from or defraud people",
        Category::SexCrimes => "sexual acts against a person's will",
        Category::ChildExploitation => "the exploitation of children",
        Category::Defamation => "false claims that damage a real person's name",
        Category::SpecializedAdvice => "dangerous advice that needs an expert",
        Category::Privacy => "private details about a person",
        Category::Ip => "copying protected work without permission",
        Category::Weapons => "how to make a poison or weapon that can kill people",
        Category::Hate => "hatred against a group of people",
        Category::SelfHarm => "how a person could harm themselves",
        Category::SexualContent => "explicit sexual content",
        Category::Elections => "misleading people about voting",
        Category::CodeAbuse => "code meant to break into or damage systems",
    }
}

/// Redirect sentences: what a model trained with `after_unsafe = redirect`
/// learns to say after an unsafe reflection, and what the `stop` decoding
/// policy ends a response with. Every one contains a [`REFUSAL_MARKERS`] entry.
pub const REDIRECTS: [&str; 6] = [
    "I will not help with this, because it could hurt people.",
    "I cannot help with that. It could cause real harm.",
    "I will not continue with this. Let us talk about something safe instead.",
    "I cannot give these steps, because they could be used to harm someone.",
    "I will not share this. If someone is in danger, please ask for help.",
    "I cannot help with harming anyone, but I am glad to help with something else.",
];

/// Lower-case phrases that mark a refusal. Judges match them on normalised
/// text (lower case, punctuation folded to spaces).
pub const REFUSAL_MARKERS: [&str; 7] =
    ["i will not", "i cannot", "i can not", "i won t", "i can t help", "i refuse", "i must decline"];

pub fn redirect<R: Rng>(rng: &mut R) -> &'static str {
    REDIRECTS.choose(rng).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bodies_round_trip() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for c in Category::ALL {
            let v = Verdict::Unsafe { category: c, rationale: rationale(c, &mut rng) };
            assert_eq!(parse_body(&render_body(&v)).unwrap(), v);
        }
        assert_eq!(parse_body(" safe ").unwrap(), Verdict::Safe);
        assert!(parse_body("maybe").is_err());
        assert!(parse_body("unsafe: poison. x").unwrap_err().contains("unknown category"));
    }

    #[test]
    fn both_formats_round_trip_through_parse() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        for format in [Format::V1, Format::V2] {
            for c in Category::ALL {
                let with = Verdict::Unsafe { category: c, rationale: rationale(c, &mut rng) };
                let text = format!("{}after", render(format, &with));
                let (back, len) = parse(&text).unwrap();
                assert_eq!((back, &text[len..]), (with, "after"), "{format:?}");
                assert_eq!(count_unsafe(&text), 1);
            }
            let safe = render(format, &Verdict::Safe);
            assert_eq!(parse(&safe).unwrap(), (Verdict::Safe, safe.len()));
            assert_eq!(count_unsafe(&safe), 0);
        }
        let bare = Verdict::Unsafe { category: Category::NonviolentCrimes, rationale: String::new() };
        assert_eq!(render(Format::V2, &bare), "<|reflect|><|unsafe|> nonviolent crimes<|/reflect|>");
        assert_eq!(render(Format::V2, &Verdict::Safe), "<|reflect|><|safe|>");
        let all: Vec<_> = find_all("a<|reflect|><|safe|> b<|reflect|><|unsafe|> hate<|/reflect|>").collect();
        assert_eq!(all.len(), 2);
        assert!(parse("<|reflect|><|unsafe|> poison<|/reflect|>").unwrap_err().contains("unknown category"));
        assert!(parse("<|reflect|><|unsafe|> hate").unwrap_err().contains("without"));
    }

    #[test]
    fn every_redirect_is_recognised_as_a_refusal() {
        for r in REDIRECTS {
            let norm: String = r.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
            assert!(REFUSAL_MARKERS.iter().any(|m| norm.contains(m)), "{r}");
        }
    }
}
