//! Small text helpers shared by segmenters and judges.

/// Lower-case `s`, turn every non-alphanumeric character into a space and
/// collapse runs of spaces, so phrase matching ignores case and punctuation:
/// `"First, GRIND the velorine!"` → `"first grind the velorine"`.
pub fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Does normalised `hay` contain normalised phrase `needle` on word boundaries?
/// Both arguments must already be normalised. Returns the byte offset.
pub fn find_phrase(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(i) = hay.get(pos..)?.find(needle) {
        let at = pos + i;
        let end = at + needle.len();
        let left_ok = at == 0 || hay.as_bytes()[at - 1] == b' ';
        let right_ok = end == hay.len() || hay.as_bytes()[end] == b' ';
        if left_ok && right_ok {
            return Some(at);
        }
        pos = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_folds_case_and_punctuation() {
        assert_eq!(normalise("  First, GRIND the velorine!\n"), "first grind the velorine");
        assert_eq!(normalise("I won't."), "i won t");
    }

    #[test]
    fn phrases_match_on_word_boundaries_only() {
        let h = normalise("heat the mixtures then heat the mixture");
        assert_eq!(find_phrase(&h, "heat the mixture", 0), Some(h.rfind("heat the mixture").unwrap()));
        assert_eq!(find_phrase(&h, "eat the", 0), None);
    }
}
