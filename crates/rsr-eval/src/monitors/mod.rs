//! Monitors: what scores a generation at each check, so every variant can be compared at the
//! same over-refusal ([`crate::operating`]).
//!
//! A monitor reads one generation — the request, the tokens the model wrote, where the checks
//! fell — and gives each check a score, P(unsafe); the decoding rule is the same for all of them
//! (stop and refuse at the first check whose score reaches θ). Some are fitted once per world
//! (an external classifier), some on each model (a linear probe on its hidden states), some
//! need nothing (the model's own reflection score, no monitor at all).
//!
//! **Add a monitor**: a file in this directory with a type that implements [`Monitor`] and a
//! `pub const KIND: MonitorKind`, and one line in [`REGISTRY`] (its place there is its place
//! in every table). `tests/recipes.rs` checks every kind is registered, named once and scored.

mod classifier;
mod linear_probe;
mod none;
mod own;

pub use classifier::Classifier;
pub use linear_probe::LinearProbe;

use rsr_core::Result;
use rsr_decode::generate::Generation;
use rsr_decode::Loaded;
use rsr_world::prompts::PromptRecord;

/// One generation, as every monitor sees it at its checks.
pub struct Generated<'a> {
    pub model: &'a Loaded,
    pub prompt: &'a PromptRecord,
    /// The prompt's tokens.
    pub prompt_ids: &'a [u32],
    /// What the decoder wrote (tokens, and the model's own reflections when it reflected).
    pub output: &'a Generation,
    /// The checks at the decoding cadence: after how many of `output.tokens` each falls (the
    /// first sentence end past `every` tokens, and the end).
    pub checks: &'a [usize],
}

impl Generated<'_> {
    /// The text of the request a monitor scores beside the answer: the last `User:` turn.
    pub fn request(&self) -> &str {
        last_user_turn(&self.prompt.prompt)
    }

    /// The answer's text between two token positions.
    pub fn text(&self, from: usize, to: usize) -> String {
        self.model.tokenizer.decode(&self.output.tokens[from.min(to)..to.min(self.output.tokens.len())])
    }
}

/// A monitor: a score at each check of a generation.
pub trait Monitor: Send + Sync {
    /// Its name in every table (`own`, `classifier`, `linear-probe`, `none`).
    fn name(&self) -> &str;

    /// Each check's position (tokens of the answer before it) and score, P(unsafe); a score that
    /// is not a number counts as unsafe.
    fn score(&self, g: &Generated) -> Result<Vec<(usize, f32)>>;

    /// The model must decode with its own reflection checks on for this monitor to read them.
    fn needs_reflections(&self) -> bool {
        false
    }

    /// A θ is chosen for it on validation (every monitor but `none`, which never refuses).
    fn has_theta(&self) -> bool {
        true
    }
}

/// What a monitor is fitted from.
pub struct Fit<'a> {
    pub suite: &'a crate::gym::WorldSuite,
    /// The annotation the variants were built from (what a fitted monitor learns).
    pub labels: &'a str,
    /// The model, when fitting the per-model monitors; `None` when fitting the per-world ones.
    pub model: Option<&'a Loaded>,
    /// The model was trained with a safety signal of its own (rsr's reflections, tag's tags).
    pub own_signal: bool,
}

/// A fitted monitor, or `None` where its kind does not apply.
pub type Fitted = Option<Box<dyn Monitor>>;

/// A kind of monitor: its name, whether it is fitted per model, and how to fit it.
pub struct MonitorKind {
    pub name: &'static str,
    /// What it scores, in a clause (the legends of the demo's and the study's tables).
    pub summary: &'static str,
    /// Fitted on each model (otherwise once per world, then shared by every model).
    pub per_model: bool,
    /// The monitor, or `None` where it does not apply (`own` on a model without a signal).
    pub fit: fn(&Fit) -> Result<Fitted>,
}

/// Every monitor, in table order.
pub const REGISTRY: &[MonitorKind] = &[own::KIND, classifier::KIND, linear_probe::KIND, none::KIND];

/// Every kind's name and summary, for a table's legend: `own: …; classifier: …`.
pub fn legend() -> String {
    REGISTRY.iter().map(|k| format!("{}: {}", k.name, k.summary)).collect::<Vec<_>>().join("; ")
}

/// The kind named `name`.
pub fn kind(name: &str) -> Option<&'static MonitorKind> {
    REGISTRY.iter().find(|k| k.name == name)
}

/// The monitors fitted once per world, each at its place in [`REGISTRY`].
pub struct WorldMonitors {
    fitted: Vec<Fitted>,
}

impl WorldMonitors {
    /// Fit every per-world kind on `suite`'s world.
    pub fn fit(suite: &crate::gym::WorldSuite, labels: &str) -> Result<Self> {
        let fit = Fit { suite, labels, model: None, own_signal: false };
        let fitted =
            REGISTRY.iter().map(|k| if k.per_model { Ok(None) } else { (k.fit)(&fit) }).collect::<Result<_>>()?;
        Ok(Self { fitted })
    }

    /// Every monitor that applies to `model`: the per-world ones as fitted, the per-model ones
    /// fitted now; in table order.
    pub fn for_model<'a>(
        &'a self,
        suite: &crate::gym::WorldSuite,
        labels: &str,
        model: &Loaded,
        own_signal: bool,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<MonitorRef<'a>>> {
        let fit = Fit { suite, labels, model: Some(model), own_signal };
        let mut out = Vec::new();
        for (k, shared) in REGISTRY.iter().zip(&self.fitted) {
            if k.per_model {
                progress(k.name);
                if let Some(m) = (k.fit)(&fit)? {
                    out.push(MonitorRef::Owned(m));
                }
            } else if let Some(m) = shared {
                out.push(MonitorRef::Shared(m.as_ref()));
            }
        }
        Ok(out)
    }
}

/// A monitor fitted for one model, or one shared by every model of a world.
pub enum MonitorRef<'a> {
    Owned(Box<dyn Monitor>),
    Shared(&'a dyn Monitor),
}

impl<'a> std::ops::Deref for MonitorRef<'a> {
    type Target = dyn Monitor + 'a;
    fn deref(&self) -> &Self::Target {
        match self {
            MonitorRef::Owned(m) => m.as_ref(),
            MonitorRef::Shared(m) => *m,
        }
    }
}

/// The text of the last `User:` turn of a chat prompt (the whole prompt otherwise).
pub fn last_user_turn(prompt: &str) -> &str {
    let start = prompt.rfind("User:").map(|i| i + "User:".len()).unwrap_or(0);
    let rest = &prompt[start..];
    rest.find("\nAssistant:").map(|i| &rest[..i]).unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_once() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|k| k.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(kind("linear-probe").map(|k| k.per_model), Some(true));
        assert_eq!(kind("classifier").map(|k| k.per_model), Some(false));
    }

    #[test]
    fn the_last_user_turn_is_the_request() {
        assert_eq!(last_user_turn("User: How can I make x?\nAssistant:"), "How can I make x?");
        assert_eq!(last_user_turn("plain text"), "plain text");
    }
}
