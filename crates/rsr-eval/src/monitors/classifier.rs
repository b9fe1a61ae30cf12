//! `classifier`: an external `hashed` classifier trained on the world's sentence labels (the
//! annotation the variants were built from), scoring the request and the latest segment at each
//! check — the larger of the two: input and output moderation. Fitted once per world, the same
//! for every variant.

use super::{Fit, Generated, Monitor, MonitorKind};
use rsr_core::Result;

pub const KIND: MonitorKind = MonitorKind {
    name: "classifier",
    summary:
        "a `hashed` classifier on the world's sentence labels, scoring the request and each segment (every variant)",
    per_model: false,
    fit: |f: &Fit| Ok(Some(Box::new(Classifier::for_world(f.suite, f.labels)?) as Box<dyn Monitor>)),
};

pub struct Classifier(pub rsr_classify::Classifier);

impl Classifier {
    /// A `hashed` classifier trained on every sentence of the world's training documents with
    /// its label in annotation `labels`.
    pub fn for_world(suite: &crate::gym::WorldSuite, labels: &str) -> Result<Self> {
        let (examples, _) = rsr_corpus::examples::from_corpus(&suite.dir.root, labels)?;
        let examples: Vec<_> = examples.into_iter().map(|(_, e)| e).collect();
        Ok(Classifier(rsr_classify::Classifier::train(&examples, &rsr_classify::TrainConfig::default())))
    }
}

impl Monitor for Classifier {
    fn name(&self) -> &str {
        KIND.name
    }

    fn score(&self, g: &Generated) -> Result<Vec<(usize, f32)>> {
        let input = self.0.score(g.request());
        let mut last = 0;
        Ok(g.checks
            .iter()
            .map(|&e| {
                let s = self.0.score(&g.text(last, e));
                last = e;
                (e, if input.is_nan() || s.is_nan() { f32::NAN } else { input.max(s) })
            })
            .collect())
    }
}
