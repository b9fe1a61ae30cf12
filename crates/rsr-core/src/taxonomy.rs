//! The hazard taxonomy: one short slug per Llama Guard 3 / MLCommons hazard
//! (docs/design.md#reflection-format). Slugs are what appears in reflections and annotations.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    ViolentCrimes,
    NonviolentCrimes,
    SexCrimes,
    ChildExploitation,
    Defamation,
    SpecializedAdvice,
    Privacy,
    Ip,
    Weapons,
    Hate,
    SelfHarm,
    SexualContent,
    Elections,
    CodeAbuse,
}

impl Category {
    pub const ALL: [Category; 14] = [
        Category::ViolentCrimes,
        Category::NonviolentCrimes,
        Category::SexCrimes,
        Category::ChildExploitation,
        Category::Defamation,
        Category::SpecializedAdvice,
        Category::Privacy,
        Category::Ip,
        Category::Weapons,
        Category::Hate,
        Category::SelfHarm,
        Category::SexualContent,
        Category::Elections,
        Category::CodeAbuse,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Category::ViolentCrimes => "violent-crimes",
            Category::NonviolentCrimes => "nonviolent-crimes",
            Category::SexCrimes => "sex-crimes",
            Category::ChildExploitation => "child-exploitation",
            Category::Defamation => "defamation",
            Category::SpecializedAdvice => "specialized-advice",
            Category::Privacy => "privacy",
            Category::Ip => "ip",
            Category::Weapons => "weapons",
            Category::Hate => "hate",
            Category::SelfHarm => "self-harm",
            Category::SexualContent => "sexual-content",
            Category::Elections => "elections",
            Category::CodeAbuse => "code-abuse",
        }
    }

    /// The category as plain words (`nonviolent crimes`): what a format-v2 reflection writes,
    /// one or two words that a tokenizer trained with the reflection vocabulary keeps whole.
    pub fn words(self) -> String {
        self.slug().replace('-', " ")
    }

    /// Read [`Category::words`] (or a slug) back.
    pub fn from_words(s: &str) -> Result<Self, String> {
        s.split_whitespace().collect::<Vec<_>>().join("-").parse()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Category::ALL.iter().copied().find(|c| c.slug() == s).ok_or_else(|| {
            let all: Vec<_> = Category::ALL.iter().map(|c| c.slug()).collect();
            format!("unknown category `{s}`; expected one of: {}", all.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_through_parse_and_serde() {
        for c in Category::ALL {
            assert_eq!(c.slug().parse::<Category>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.slug()));
        }
        assert!("poison".parse::<Category>().unwrap_err().contains("weapons"));
    }
}
