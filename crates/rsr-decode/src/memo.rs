//! Generations kept for reuse. A model asked the same prompt under the same decoding writes the
//! same answer — greedy decoding has no randomness, and sampling draws from the configuration's
//! seed — so an evaluation that asks again takes the kept answer instead of decoding it twice.
//! The experiment asks its final model the same prompts several times: the full suite, the
//! learning curve's last point (the same checkpoint, the first prompts of each set), the tamper
//! attack's step 0 (before any fine-tuning) and the matched operating point's traces.
//!
//! [`Generations`] borrows the model, so what it keeps can never outlive or follow a change of
//! the weights: fine-tuning needs the model mutably, which ends the borrow first.

use crate::generate::{GenConfig, Generation, Policy};
use crate::Loaded;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One model's generations, each (prompt, decoding) decoded once.
pub struct Generations<'m> {
    model: &'m Loaded,
    /// By the whole decoding configuration.
    exact: Mutex<HashMap<(String, String), Generation>>,
    /// Under [`Policy::Off`], the answers that consulted no check, by the configuration less
    /// the settings only a check reads ([`check_free_key`]).
    check_free: Mutex<HashMap<(String, String), Generation>>,
    reused: AtomicUsize,
}

impl<'m> Generations<'m> {
    pub fn new(model: &'m Loaded) -> Self {
        Self { model, exact: Mutex::default(), check_free: Mutex::default(), reused: AtomicUsize::new(0) }
    }

    /// The model every generation here is of.
    pub fn model(&self) -> &'m Loaded {
        self.model
    }

    /// How many generations were answered from what was kept.
    pub fn reused(&self) -> usize {
        self.reused.load(Ordering::Relaxed)
    }

    /// [`Loaded::generate`], once per (prompt, decoding). A configuration with a streaming
    /// callback or a cancel flag is decoded every time (its side effects are the point).
    pub fn generate(&self, prompt: &str, cfg: &GenConfig) -> rsr_core::Result<Generation> {
        Ok(self.generate_once(prompt, cfg)?.0)
    }

    /// [`Self::generate`], and whether the answer was kept from an earlier ask (`true`) or
    /// decoded now.
    pub fn generate_once(&self, prompt: &str, cfg: &GenConfig) -> rsr_core::Result<(Generation, bool)> {
        if cfg.on_final.is_some() || cfg.cancel.is_some() {
            return Ok((self.model.generate(prompt, cfg)?, false));
        }
        let exact = (config_key(cfg), prompt.to_string());
        let loose = check_free_key(cfg).map(|k| (k, prompt.to_string()));
        let found = lock(&self.exact).get(&exact).cloned().or_else(|| {
            let loose = loose.as_ref()?;
            lock(&self.check_free).get(loose).cloned()
        });
        if let Some(g) = found {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return Ok((g, true));
        }
        let g = self.model.generate(prompt, cfg)?;
        if let Some(loose) = loose.filter(|_| g.reflections.is_empty()) {
            lock(&self.check_free).insert(loose, g.clone());
        }
        lock(&self.exact).insert(exact, g.clone());
        Ok((g, false))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a half-written entry: inserts are whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn config_key(cfg: &GenConfig) -> String {
    serde_json::to_string(cfg).expect("a GenConfig serialises")
}

/// Under [`Policy::Off`] a check happens only where the model opens a reflection itself (or, for
/// a tag model, at each segment start, where `off` neither records nor reads a threshold), and
/// every such plain check is recorded. So an answer with no recorded reflection read none of
/// `theta`, `retries` and `rationales`: it is the answer under any of their values. `None`
/// under any other policy, where every check reads them.
fn check_free_key(cfg: &GenConfig) -> Option<String> {
    (cfg.policy == Policy::Off)
        .then(|| config_key(&GenConfig { theta: 0.0, retries: 0, rationales: false, ..cfg.clone() }))
}
