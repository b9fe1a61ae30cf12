//! `none`: no monitor (θ = ∞, nothing refused): the variant as trained — for rsr, masking
//! alone.

use super::{Fit, Generated, Monitor, MonitorKind};
use rsr_core::Result;

pub const KIND: MonitorKind = MonitorKind {
    name: "none",
    summary: "no monitor (θ = ∞; for rsr, masking alone)",
    per_model: false,
    fit: |_: &Fit| Ok(Some(Box::new(Unmonitored) as Box<dyn Monitor>)),
};

pub struct Unmonitored;

impl Monitor for Unmonitored {
    fn name(&self) -> &str {
        KIND.name
    }

    fn score(&self, _: &Generated) -> Result<Vec<(usize, f32)>> {
        Ok(vec![])
    }

    fn has_theta(&self) -> bool {
        false
    }
}
