//! The fast encode path gives exactly the ids and byte offsets of `tokenizers`' own encode, on
//! SafetyWorld, on the real prompt and response data shipped in `data/`, and on Unicode edge
//! cases; tokenizers of another shape fall back to `tokenizers`.

use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::{generate_in_memory, WorldConfig};

/// Every string in every record of the JSONL files under `data/` (prompts, responses,
/// jailbreak templates: real text from public packages).
fn real_texts() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "jsonl")) {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            collect_strings(&v, &mut out);
        }
    }
    out
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

const EDGES: &[&str] = &[
    "",
    " ",
    "  ",
    "\n",
    " \n ",
    "a  b",
    "a \n b",
    "end   ",
    "   start",
    "tab\tsep\t\tx",
    "crlf\r\nline",
    "It's 'S 'll we'd I'M 're've'm",
    "'''''",
    "3.14 1,000 ½ Ⅻ ٣",
    "naïve e\u{301} cafe\u{301}",
    "हिन्दी",
    "日本語のテキスト、中文。",
    "😀👍🏽👨‍👩‍👧",
    "\u{a0}nbsp\u{2003}em\u{3000}ideo",
    "<|reflect|> literal specials <|endoftext|>",
    "x\u{85}y\u{2028}z",
];

fn assert_same(tok: &RsrTokenizer, texts: &[String]) {
    assert!(tok.uses_fast_path(), "this tokenizer should take the fast path");
    let mut tokens = 0;
    for t in texts {
        let fast = tok.encode_text(t).unwrap();
        let reference = tok.encode_reference(t).unwrap();
        assert!(fast == reference, "differs on {t:?}:\n fast {fast:?}\n  ref {reference:?}");
        tokens += fast.0.len();
    }
    assert!(tokens > 0);
}

fn corpus() -> Vec<String> {
    let g = generate_in_memory(3, WorldConfig { docs: 300, heldout_docs: 5, ..WorldConfig::default() });
    let mut texts: Vec<String> = g.train.iter().map(|(d, _)| d.text.clone()).collect();
    texts.extend(real_texts());
    texts.extend(EDGES.iter().map(|s| s.to_string()));
    texts
}

#[test]
fn the_fast_path_encodes_exactly_as_tokenizers_does() {
    let texts = corpus();
    assert!(texts.len() > 5000, "{} texts", texts.len());
    let tok = RsrTokenizer::train(texts.iter().step_by(3), 3000, 2).unwrap();
    assert_same(&tok, &texts);
}

/// Our tokenizer with its post-processor changed, saved and loaded back.
fn variant(edit: impl Fn(&mut serde_json::Value)) -> RsrTokenizer {
    let texts = corpus();
    let tok = RsrTokenizer::train(texts.iter().step_by(5), 1500, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tok.save(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(&path, json.to_string()).unwrap();
    RsrTokenizer::load(&path).unwrap()
}

#[test]
fn trimmed_offsets_as_gpt2s_post_processor_gives_them() {
    let texts = corpus();
    for prefix in [false, true] {
        let tok = variant(|j| {
            j["post_processor"] = serde_json::json!({"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": true, "use_regex": true});
        });
        assert_same(&tok, &texts);
    }
}

#[test]
fn other_shapes_fall_back_to_tokenizers() {
    let nfc = variant(|j| j["normalizer"] = serde_json::json!({"type": "NFC"}));
    assert!(!nfc.uses_fast_path());
    let prefix = variant(|j| j["pre_tokenizer"]["add_prefix_space"] = true.into());
    assert!(!prefix.uses_fast_path());
    let added = variant(|j| {
        j["added_tokens"].as_array_mut().unwrap().push(serde_json::json!({
            "id": 1500, "content": "zork", "single_word": false, "lstrip": false, "rstrip": false,
            "normalized": false, "special": false}));
    });
    assert!(!added.uses_fast_path(), "an added token matched in text");
}
