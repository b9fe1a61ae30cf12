//! Llama Guard-style safety judgements from a chat endpoint: the prompt (task,
//! the MLCommons hazard categories S1–S14, the conversation, the answer
//! format), reading the answer (`safe`, or `unsafe` and a category line), and
//! the judge as a [`SafetyScorer`], which labels every sentence of a document.

use crate::client::ChatClient;
use rayon::prelude::*;
use rsr_core::taxonomy::Category;
use rsr_core::{Error, Result};
use rsr_corpus::annotator::{SafetyScorer, SentenceAnnotator};

/// The hazard categories in Llama Guard 3's order: S1 is `Category::ALL[0]`.
const CATEGORY_NAMES: [&str; 14] = [
    "Violent Crimes",
    "Non-Violent Crimes",
    "Sex-Related Crimes",
    "Child Sexual Exploitation",
    "Defamation",
    "Specialized Advice",
    "Privacy",
    "Intellectual Property",
    "Indiscriminate Weapons",
    "Hate",
    "Suicide & Self-Harm",
    "Sexual Content",
    "Elections",
    "Code Interpreter Abuse",
];

fn categories_block() -> String {
    CATEGORY_NAMES.iter().enumerate().map(|(i, n)| format!("S{}: {n}.\n", i + 1)).collect()
}

/// Judge the last `role` turn of a conversation (`User` for text, `Agent` for a response).
pub fn prompt(turns: &[(&str, &str)], role: &str) -> String {
    let conv: String = turns.iter().map(|(r, t)| format!("{r}: {t}\n\n")).collect();
    format!(
        "Task: Check if there is unsafe content in '{role}' messages in conversations according to our safety \
policy with the below categories.\n\n<BEGIN UNSAFE CONTENT CATEGORIES>\n{}<END UNSAFE CONTENT CATEGORIES>\n\n\
<BEGIN CONVERSATION>\n\n{conv}<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST {role} \
message in the above conversation:\n - First line must read 'safe' or 'unsafe'.\n - If unsafe, a second line \
must include a comma-separated list of violated categories.",
        categories_block()
    )
}

/// A judge's answer: `Some(None)` safe, `Some(Some(category))` unsafe (the first
/// category named, `fallback` if none), `None` when the answer is neither.
pub fn parse(answer: &str, fallback: Category) -> Option<Option<Category>> {
    let mut words = answer.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty());
    match words.next()?.to_lowercase().as_str() {
        "safe" => Some(None),
        "unsafe" => {
            let cat = words
                .find_map(|w| w.strip_prefix(['S', 's']).and_then(|n| n.parse::<usize>().ok()))
                .and_then(|n| Category::ALL.get(n.wrapping_sub(1)).copied())
                .unwrap_or(fallback);
            Some(Some(cat))
        }
        _ => None,
    }
}

/// Ask the judge `model` at `client` about the last `role` turn of `turns`: `None` when it
/// says safe, the category (or `fallback`) when unsafe; any other answer is an error.
pub fn judge(
    client: &ChatClient,
    model: &str,
    turns: &[(&str, &str)],
    role: &str,
    fallback: Category,
) -> Result<Option<Category>> {
    let answer = client.chat(model, &[("user", &prompt(turns, role))], 16, 0.0)?;
    parse(&answer, fallback).ok_or_else(|| {
        Error::remote("the guard endpoint", format!("the judge answered {answer:?}; expected `safe` or `unsafe` first"))
    })
}

/// A Llama Guard-style endpoint as a [`SafetyScorer`]: P(unsafe) is 1 when the judge says
/// `unsafe` (with its category, else `fallback`), 0 when it says `safe`; texts are judged in
/// parallel (the client retries and rate-limits). Wrapped in a
/// [`rsr_corpus::annotator::SentenceAnnotator`] it labels every sentence of a document.
pub struct Guard {
    pub client: ChatClient,
    pub model: String,
    /// Category when the judge says `unsafe` without naming one.
    pub fallback: Category,
}

/// The `endpoint` annotator: the judge on every sentence.
pub type GuardAnnotator = SentenceAnnotator<Guard>;

impl Guard {
    /// The judge on every sentence, unsafe at its `unsafe` verdicts.
    pub fn annotator(self) -> GuardAnnotator {
        let fallback = self.fallback;
        SentenceAnnotator { scorer: self, threshold: 0.5, fallback }
    }
}

impl SafetyScorer for Guard {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "annotator": "endpoint", "url": self.client.base, "model": self.model, "prompt": "llama-guard-3" })
    }

    fn score(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> Result<Vec<(f32, Option<String>)>> {
        let out = texts
            .par_iter()
            .map(|t| {
                let verdict = judge(&self.client, &self.model, &[("User", t)], "User", self.fallback)?;
                Ok((if verdict.is_some() { 1.0 } else { 0.0 }, verdict.map(|c| c.slug().to_string())))
            })
            .collect::<Result<Vec<_>>>()?;
        progress(texts.len());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_to_categories() {
        assert_eq!(parse("safe", Category::Hate), Some(None));
        assert_eq!(parse("unsafe\nS9", Category::Hate), Some(Some(Category::Weapons)));
        assert_eq!(parse(" Unsafe\nS1,S10", Category::Hate), Some(Some(Category::ViolentCrimes)));
        assert_eq!(parse("unsafe", Category::Hate), Some(Some(Category::Hate)));
        assert_eq!(parse("unsafe\nS99", Category::Hate), Some(Some(Category::Hate)));
        assert_eq!(parse("I think so", Category::Hate), None);
        assert_eq!(Category::ALL[10], Category::SelfHarm, "S11 is self-harm");
        assert!(prompt(&[("User", "hi")], "User").contains("S14: Code Interpreter Abuse."));
    }
}
