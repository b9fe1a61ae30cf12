//! The `hashed` annotator, trained on one SafetyWorld's sentence labels and
//! applied to its held-out documents: checked against their ground truth.

use rsr_classify::metrics::quality;
use rsr_classify::{Classifier, TrainConfig};
use rsr_core::taxonomy::Category;
use rsr_corpus::annotator::{sentence_examples, Annotator, SentenceAnnotator};
use rsr_corpus::label::label_segment;
use rsr_corpus::segment::sentences;
use rsr_world::{generate_in_memory, WorldConfig};

#[test]
fn hashed_annotator_recovers_heldout_labels() {
    let g = generate_in_memory(5, WorldConfig { docs: 1500, heldout_docs: 300, ..WorldConfig::default() });
    let train: Vec<_> = g.train.iter().flat_map(|(d, s)| sentence_examples(&d.text, s)).collect();
    let classifier = Classifier::train(&train, &TrainConfig::default());
    assert!(classifier.heads.len() > 2, "category heads: {:?}", classifier.heads);
    let a = SentenceAnnotator { scorer: classifier, threshold: 0.5, fallback: Category::ViolentCrimes };
    let (mut scores, mut labels, mut cat_right, mut cat_n) = (vec![], vec![], 0, 0);
    for (d, truth) in &g.heldout {
        let spans = a.annotate(&d.text).unwrap();
        // One span per sentence, covering exactly the sentences.
        assert_eq!(spans.iter().map(|s| s.start..s.end).collect::<Vec<_>>(), sentences(&d.text));
        for s in &spans {
            let t = label_segment(&(s.start..s.end), truth);
            scores.push(s.score());
            labels.push(t.is_unsafe());
            if t.is_unsafe() && s.is_unsafe() {
                cat_n += 1;
                cat_right += (s.category == t.category) as usize;
            }
        }
    }
    let q = quality(&scores, &labels);
    eprintln!("held-out sentences: {q:?}; category right {cat_right}/{cat_n}");
    assert!(q.positives > 50 && q.n > 500, "{q:?}");
    // SafetyWorld labels some benign-looking sentences unsafe by their context (a recipe's steps
    // after a request to blind someone; a dose after a request to stop a heart): a sentence
    // classifier cannot see that context, so precision and recall sit near 0.83–0.85 on the v2
    // sizes rather than above 0.9, and precision near 0.77 on today's (twice the doses and a
    // third more recipes, so more such sentences; recall 0.89, AUROC 0.97 on this seed).
    assert!(q.auroc > 0.95 && q.precision > 0.74 && q.recall > 0.8, "{q:?}");
    assert!(cat_right as f64 > 0.9 * cat_n as f64, "category right {cat_right}/{cat_n}");
}
