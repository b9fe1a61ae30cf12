//! ARCHITECTURE.md's "Add an annotator" recipe, followed once: a new classifier implements
//! `SafetyScorer`, `SentenceAnnotator` applies it to every sentence, and `rsr transform`'s
//! library path labels a corpus with it as documents stream by (`LabelSource::Annotator`) —
//! no other file changes. Its labels are checked against SafetyWorld's ground truth.

use rsr_core::annotation::AnnotationRecord;
use rsr_core::corpus::CorpusDir;
use rsr_core::jsonl::read_all;
use rsr_core::taxonomy::Category;
use rsr_corpus::annotator::{Annotator, SafetyScorer, SentenceAnnotator};
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::{self, RunOptions};
use rsr_corpus::segment::Whitespace;
use rsr_corpus::transform::{TransformConfig, TransformedDoc};
use rsr_world::lexicon::TRIGGER_WORDS;
use rsr_world::WorldConfig;

/// The recipe's new classifier: unsafe when a sentence holds one of SafetyWorld's overt
/// trigger words. Crude on purpose — a classifier that is right only on overt text.
struct KeywordScorer;

impl SafetyScorer for KeywordScorer {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "annotator": "keywords", "words": TRIGGER_WORDS.len() })
    }
    fn score(&self, texts: &[&str], progress: &mut dyn FnMut(usize)) -> rsr_core::Result<Vec<(f32, Option<String>)>> {
        let out = texts
            .iter()
            .map(|t| {
                let lower = t.to_lowercase();
                let hit = lower.split(|c: char| !c.is_alphanumeric()).any(|w| TRIGGER_WORDS.contains(&w));
                (if hit { 1.0 } else { 0.0 }, hit.then(|| "violent-crimes".to_string()))
            })
            .collect();
        progress(texts.len());
        Ok(out)
    }
}

#[test]
fn a_new_scorer_labels_a_corpus_through_the_sentence_annotator() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let config = WorldConfig { docs: 400, heldout_docs: 5, ..WorldConfig::default() };
    rsr_world::write::write_world(&world, 2, config, false, &mut |_, _| {}).unwrap();
    let annotator = SentenceAnnotator { scorer: KeywordScorer, threshold: 0.5, fallback: Category::ViolentCrimes };
    let out = dir.path().join("out");
    let m = run::transform(
        &CorpusDir::new(&world),
        &out,
        &TransformConfig { every: 16, ..TransformConfig::default() },
        LabelSource::Annotator(&annotator),
        &RunOptions::default(),
        &Whitespace,
        &mut |_, _| {},
    )
    .unwrap();
    let knobs = &m.manifest.knobs;
    assert_eq!(knobs["labels"]["annotator"], "keywords", "the manifest names the annotator: {knobs}");
    assert!(m.counts.transform.reflections_unsafe > 0, "{:?}", m.counts);
    // Against ground truth, sentence by sentence: the keyword labels flag unsafe sentences more
    // than twice as often as safe ones (the transform above used exactly these labels). Keywords
    // catch only overt text: SafetyWorld codes most of its hazards on purpose.
    let truth =
        read_all::<AnnotationRecord>(CorpusDir::new(&world).annotation(rsr_world::write::GROUND_TRUTH)).unwrap();
    let originals: Vec<rsr_core::doc::Document> = read_all(CorpusDir::new(&world).documents().unwrap()).unwrap();
    let (mut hit_unsafe, mut n_unsafe, mut hit_safe, mut n_safe) = (0, 0, 0, 0);
    for (o, a) in originals.iter().zip(&truth) {
        assert_eq!(o.id, a.id);
        let flagged = annotator.annotate(&o.text).unwrap();
        for s in &a.spans {
            let hit = flagged.iter().any(|f| f.is_unsafe() && f.start < s.end && s.start < f.end);
            if s.is_unsafe() {
                n_unsafe += 1;
                hit_unsafe += hit as usize;
            } else {
                n_safe += 1;
                hit_safe += hit as usize;
            }
        }
    }
    let (ru, rs) = (hit_unsafe as f64 / n_unsafe as f64, hit_safe as f64 / n_safe.max(1) as f64);
    eprintln!("flagged: {hit_unsafe}/{n_unsafe} unsafe sentences, {hit_safe}/{n_safe} safe ones");
    assert!(n_unsafe > 50 && hit_unsafe > 20 && ru > 2.0 * rs, "unsafe {ru:.2} vs safe {rs:.2}");
    let docs: Vec<TransformedDoc> = read_all(CorpusDir::new(&out).documents().unwrap()).unwrap();
    assert_eq!(docs.len(), originals.len());
}
