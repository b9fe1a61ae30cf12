//! Sentences and segments.
//!
//! A sentence ends at `.`, `!` or `?` (and any closing quotes or brackets)
//! followed by whitespace or the end of the text, or at a newline. A segment
//! is a run of whole sentences that closes at the first sentence end once it
//! holds at least `every` tokens; a sentence that would carry it past
//! `2 * every` is cut at a word boundary (the hard cap). Segments are byte
//! ranges of the text; the whitespace between two segments belongs to
//! neither.
//!
//! Token counts come from a [`TokenCounter`]: a whitespace estimate until a
//! tokenizer exists, exact token counts once one does.

use std::ops::Range;

pub trait TokenCounter {
    fn count(&self, text: &str) -> usize;
    /// What the counts are, for manifests.
    fn name(&self) -> &'static str;
}

/// Counts whitespace-separated words: a cheap stand-in for a tokenizer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Whitespace;

impl TokenCounter for Whitespace {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
    fn name(&self) -> &'static str {
        "whitespace"
    }
}

/// Byte ranges of the sentences of `text`, leading/trailing whitespace excluded.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if start.is_none() {
            if !b.is_ascii_whitespace() {
                start = Some(i);
            }
            i += 1;
            continue;
        }
        let mut end = None;
        if b == b'\n' {
            end = Some(i);
        } else if matches!(b, b'.' | b'!' | b'?') {
            let mut j = i + 1;
            while j < bytes.len() && matches!(bytes[j], b'"' | b'\'' | b')' | b']' | b'.' | b'!' | b'?') {
                j += 1;
            }
            if j == bytes.len() || bytes[j].is_ascii_whitespace() {
                end = Some(j);
            }
        }
        if let Some(e) = end {
            push_trimmed(text, start.take().unwrap(), e, &mut out);
            i = e;
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        push_trimmed(text, s, text.len(), &mut out);
    }
    out
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<Range<usize>>) {
    let trimmed = text[start..end].trim_end();
    if !trimmed.is_empty() {
        out.push(start..start + trimmed.len());
    }
}

/// Group sentences into segments of about `every` tokens (see module docs).
pub fn segments(text: &str, every: usize, counter: &dyn TokenCounter) -> Vec<Range<usize>> {
    assert!(every > 0, "segment size must be positive");
    let cap = 2 * every;
    let mut out = Vec::new();
    let mut cur: Option<(usize, usize)> = None; // (start, tokens so far)
    for sent in sentences(text) {
        let n = counter.count(&text[sent.clone()]);
        let (start, tokens) = cur.unwrap_or((sent.start, 0));
        if tokens + n <= cap {
            if tokens + n >= every {
                out.push(start..sent.end);
                cur = None;
            } else {
                cur = Some((start, tokens + n));
            }
            continue;
        }
        // The sentence would pass the hard cap: cut it at word boundaries.
        let mut seg_start = start;
        let mut seg_tokens = tokens;
        let mut last_end = seg_start;
        for word in words(text, sent.clone()) {
            let w = counter.count(&text[word.clone()]);
            if seg_tokens + w > cap && seg_tokens > 0 {
                out.push(seg_start..last_end);
                seg_start = word.start;
                seg_tokens = 0;
            }
            seg_tokens += w;
            last_end = word.end;
        }
        cur = if seg_tokens >= every {
            out.push(seg_start..last_end);
            None
        } else {
            Some((seg_start, seg_tokens))
        };
    }
    if let Some((start, _)) = cur {
        let end = text.trim_end().len();
        out.push(start..end);
    }
    out
}

/// Byte ranges of the whitespace-separated words within `range`.
fn words(text: &str, range: Range<usize>) -> impl Iterator<Item = Range<usize>> + '_ {
    let base = range.start;
    let s = &text[range];
    s.split_whitespace().map(move |w| {
        let start = base + (w.as_ptr() as usize - s.as_ptr() as usize);
        start..start + w.len()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(t: &'a str, r: &[Range<usize>]) -> Vec<&'a str> {
        r.iter().map(|r| &t[r.clone()]).collect()
    }

    #[test]
    fn splits_sentences_on_ends_and_newlines() {
        let t = "  One two. Three?\"  Four!\nUser: five\nAssistant: 3.5 is six. e.g.x end";
        assert_eq!(
            texts(t, &sentences(t)),
            vec!["One two.", "Three?\"", "Four!", "User: five", "Assistant: 3.5 is six.", "e.g.x end"]
        );
    }

    #[test]
    fn segments_close_at_the_first_sentence_end_past_every() {
        let t = "a b. c d. e f g. h.";
        // every = 3: "a b. c d." has 4 tokens ≥ 3 → closes there.
        assert_eq!(texts(t, &segments(t, 3, &Whitespace)), vec!["a b. c d.", "e f g.", "h."]);
        // every = 100: one segment, trailing content kept.
        assert_eq!(texts(t, &segments(t, 100, &Whitespace)), vec![t]);
    }

    #[test]
    fn hard_cap_cuts_long_sentences_at_twice_every() {
        let t = (0..25).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ") + ".";
        let segs = segments(&t, 5, &Whitespace);
        for s in &segs {
            assert!(Whitespace.count(&t[s.clone()]) <= 10, "{:?}", &t[s.clone()]);
        }
        // Nothing is lost: segments plus the whitespace between them rebuild the text.
        let joined = texts(&t, &segs).join(" ");
        assert_eq!(joined, t);
    }

    #[test]
    fn multibyte_text_segments_on_char_boundaries() {
        let t = "Café über alles. Ça va? Naïve ending";
        for s in segments(t, 2, &Whitespace) {
            assert!(t.is_char_boundary(s.start) && t.is_char_boundary(s.end));
        }
    }
}
