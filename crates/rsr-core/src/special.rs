//! The special tokens of the reflection format (docs/design.md#reflection-format) and the guard that
//! keeps data from forging them.
//!
//! Every tokenizer the toolkit trains or loads registers these as special
//! tokens, one id each. Because a tokenizer matches added tokens by their
//! literal text, a document that *contains* `<|reflect|>` could otherwise
//! inject a reflection the annotator never made. [`neutralise`] rewrites any
//! literal special token in input text so that it can no longer match; it keeps
//! the byte length (each `|` becomes `!`), so annotation byte spans stay valid.

pub const ENDOFTEXT: &str = "<|endoftext|>";
pub const REFLECT_OPEN: &str = "<|reflect|>";
pub const REFLECT_CLOSE: &str = "<|/reflect|>";
pub const SAFE_TAG: &str = "<|safe|>";
pub const UNSAFE_TAG: &str = "<|unsafe|>";

/// All special tokens, in the order tokenizers register them (ids ascend).
pub const ALL: [&str; 5] = [ENDOFTEXT, REFLECT_OPEN, REFLECT_CLOSE, SAFE_TAG, UNSAFE_TAG];

/// Does `text` contain the literal text of any special token?
pub fn contains_special(text: &str) -> bool {
    text.contains("<|") && ALL.iter().any(|t| text.contains(t))
}

/// Replace every literal special token in `text` by a look-alike that no
/// tokenizer will match (`<|reflect|>` → `<!reflect!>`). Byte length is
/// unchanged. Returns `None` when the text had nothing to neutralise, so the
/// common case allocates nothing.
pub fn neutralise(text: &str) -> Option<String> {
    if !contains_special(text) {
        return None;
    }
    let mut out = text.to_string();
    for tok in ALL {
        if out.contains(tok) {
            let harmless = tok.replace('|', "!");
            out = out.replace(tok, &harmless);
        }
    }
    Some(out)
}

/// `text` with every literal special token removed, and the spaces around it collapsed: what a
/// person reads (a rationale the model wrote, returned to a client).
pub fn strip(text: &str) -> String {
    if !contains_special(text) {
        return text.to_string();
    }
    let mut out = text.to_string();
    for tok in ALL {
        out = out.replace(tok, " ");
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_leaves_plain_text() {
        assert_eq!(strip("it names a poison."), "it names a poison.");
        assert_eq!(strip("it names<|reflect|> a poison<|unsafe|>."), "it names a poison .");
        assert!(!contains_special(&strip("<|endoftext|><|/reflect|>x")));
    }

    #[test]
    fn neutralise_removes_every_special_token_and_keeps_length() {
        let text = "a <|reflect|>safe<|/reflect|> b <|endoftext|> <|safe|><|unsafe|> é";
        let out = neutralise(text).unwrap();
        assert_eq!(out.len(), text.len());
        for t in ALL {
            assert!(!out.contains(t), "{t} survived in {out}");
        }
        assert!(out.contains("<!reflect!>safe<!/reflect!>"));
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(neutralise("x <| y |> z"), None);
        assert_eq!(neutralise("plain"), None);
    }
}
