//! `own`: the model's own score at each check — rsr's reflection, P(`<|unsafe|>`) after
//! `<|reflect|>`; tag's, P(`<|unsafe|>`) against P(`<|safe|>`) at each segment start. Only
//! for the models trained with a safety signal of their own.

use super::{Fit, Generated, Monitor, MonitorKind};
use rsr_core::Result;

pub const KIND: MonitorKind = MonitorKind {
    name: "own",
    summary:
        "the model's own score (rsr: its reflection; tag: P(<|unsafe|>) against P(<|safe|>) at each segment start)",
    // Nothing to fit, but it exists only for a model with its own signal.
    per_model: true,
    fit: |f: &Fit| Ok(f.own_signal.then(|| Box::new(Own) as Box<dyn Monitor>)),
};

pub struct Own;

impl Monitor for Own {
    fn name(&self) -> &str {
        KIND.name
    }

    fn score(&self, g: &Generated) -> Result<Vec<(usize, f32)>> {
        // The checks the decoder ran at its cadence (not those the model opened by itself).
        Ok(g.output.reflections.iter().filter(|r| !r.self_initiated).map(|r| (r.position, r.score)).collect())
    }

    fn needs_reflections(&self) -> bool {
        true
    }
}
