//! How a checkpoint's training data placed its reflections, so decoding can
//! check where training did.
//!
//! `rsr transform` records its knobs (mode, `every`, …) in its manifest;
//! `rsr pack` carries them into the pack's manifest; `rsr train` writes them
//! into every checkpoint's `state.json` under `transform`. A model trained on
//! reflections every 32 tokens and forced to reflect every 16 ends its answers
//! mid-sentence, so decoding defaults to the recorded cadence and warns when
//! told otherwise.

use crate::generate::Policy;
use rsr_core::reflection::Format;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The cadence used when neither the user nor the checkpoint gives one.
pub const DEFAULT_EVERY: usize = 64;

/// What a checkpoint records of its training data's transform.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainedWith {
    /// The transform mode (`rsr`, `raw`, `tag`, …), when recorded.
    pub mode: Option<String>,
    /// The reflection cadence in tokens, when recorded.
    pub every: Option<usize>,
    /// The reflection format, when recorded (a transform record without one is v1).
    pub format: Option<Format>,
    /// The fraction of safe segments that got a reflection, when recorded.
    pub safe_rate: Option<f64>,
    /// The checkpoint it was read from.
    pub checkpoint: Option<PathBuf>,
}

/// What `state.json` holds that decoding reads (typed: a file that does not parse is an error).
#[derive(Debug, Deserialize)]
struct State {
    #[serde(default)]
    transform: Option<TransformRecord>,
}

/// The transform's knobs as the checkpoint carries them.
#[derive(Debug, Deserialize)]
struct TransformRecord {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    every: Option<usize>,
    #[serde(default)]
    format: Option<Format>,
    #[serde(default)]
    safe_rate: Option<f64>,
}

impl TrainedWith {
    /// Read `state.json` of a checkpoint directory, or of the latest checkpoint of a run
    /// directory. A checkpoint without one, or one whose `state.json` records no transform (a
    /// checkpoint from elsewhere, an older rsr), gives `None` fields. A `state.json` that cannot
    /// be read or parsed, or whose knobs cannot be what a transform wrote (a cadence of 0, a safe
    /// rate outside [0, 1]), is an error naming it: decoding never falls back to defaults over a
    /// damaged record of how the model was trained.
    pub fn read(dir: &Path) -> rsr_core::Result<Self> {
        let checkpoint = if dir.join("state.json").is_file() {
            Some(dir.to_path_buf())
        } else {
            std::fs::read_dir(dir.join("checkpoints")).ok().and_then(|d| {
                let mut c: Vec<PathBuf> =
                    d.flatten().map(|e| e.path()).filter(|p| rsr_model::checkpoint::is_complete(p)).collect();
                c.sort();
                c.pop()
            })
        };
        let Some(ckpt) = checkpoint else { return Ok(Self::default()) };
        let path = ckpt.join("state.json");
        let bytes = std::fs::read(&path).map_err(|e| rsr_core::Error::io(&path, e))?;
        let bad = |what: String| {
            rsr_core::Error::input(&path, what, "the checkpoint is damaged: re-save it, or use another checkpoint")
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a checkpoint state: {e}")))?;
        let Some(t) = state.transform else { return Ok(Self { checkpoint: Some(ckpt), ..Self::default() }) };
        if t.every == Some(0) {
            return Err(bad("transform.every is 0".into()));
        }
        if let Some(r) = t.safe_rate.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(bad(format!("transform.safe_rate is {r}, outside [0, 1]")));
        }
        let format = match t.format {
            Some(f) => Some(f),
            None if t.mode.is_some() => Some(Format::unrecorded()),
            None => None,
        };
        Ok(Self { mode: t.mode, every: t.every, format, safe_rate: t.safe_rate, checkpoint: Some(ckpt) })
    }

    /// How the model's reflections read and what a safe check leaves behind.
    pub fn style(&self) -> ReflectionStyle {
        ReflectionStyle { format: self.format.unwrap_or_default(), safe_rate: self.safe_rate.unwrap_or(1.0) }
    }

    /// The cadence to decode with: `requested` if given, else the recorded one,
    /// else [`DEFAULT_EVERY`]; plus a warning when a reflecting policy is asked
    /// to check at another cadence than training used.
    pub fn cadence(&self, requested: Option<usize>, policy: Policy) -> (usize, Option<String>) {
        let every = requested.or(self.every).unwrap_or(DEFAULT_EVERY);
        let warning = match (requested, self.every) {
            (Some(r), Some(t)) if r != t && policy != Policy::Off => Some(format!(
                "decoding with a reflection every {r} tokens, but {} was trained on reflections every {t} \
                 (transform --every {t}): checks the model never saw in training can cut its answers short; \
                 leave --every out to use {t}",
                self.checkpoint.as_deref().map(|p| p.display().to_string()).unwrap_or_else(|| "the model".into())
            )),
            _ => None,
        };
        (every, warning)
    }
}

/// How a model was trained to reflect, which decides how the decoder checks
/// (docs/design.md#decoding-with-reflections).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReflectionStyle {
    pub format: Format,
    /// The fraction of safe segments that carried a safe reflection in training.
    pub safe_rate: f64,
}

impl Default for ReflectionStyle {
    fn default() -> Self {
        Self { format: Format::default(), safe_rate: 1.0 }
    }
}

impl ReflectionStyle {
    /// Keep a safe verdict in the context (training wrote one after every safe segment), or roll
    /// the check back (training sampled them, so text usually runs on without one).
    pub fn keeps_safe_checks(&self) -> bool {
        self.format == Format::V1 || self.safe_rate >= 1.0
    }

    /// P(unsafe) corrected for sampled safe reflections. A model trained with a fraction `r` of
    /// safe reflections has seen `<|reflect|>` open on unsafe text 1/r times more often than the
    /// text itself is unsafe, so its odds of unsafe are multiplied by r.
    pub fn calibrate(&self, p_unsafe: f64, p_safe: f64) -> f64 {
        let r = self.safe_rate.clamp(f64::MIN_POSITIVE, 1.0);
        r * p_unsafe / (r * p_unsafe + p_safe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadence_prefers_the_request_then_training_then_the_default() {
        let t = TrainedWith { mode: Some("rsr".into()), every: Some(32), ..TrainedWith::default() };
        assert_eq!(t.cadence(None, Policy::Stop), (32, None));
        let (every, warn) = t.cadence(Some(16), Policy::Stop);
        assert_eq!(every, 16);
        assert!(warn.unwrap().contains("every 32"));
        assert_eq!(t.cadence(Some(16), Policy::Off), (16, None));
        assert_eq!(t.cadence(Some(32), Policy::Stop), (32, None));
        assert_eq!(TrainedWith::default().cadence(None, Policy::Stop), (DEFAULT_EVERY, None));
    }

    #[test]
    fn reads_the_latest_checkpoint_of_a_run() {
        let dir = std::env::temp_dir().join(format!("rsr-trained-{}", std::process::id()));
        for (step, every) in [("step-0000010", 16), ("step-0000020", 32)] {
            let c = dir.join("checkpoints").join(step);
            std::fs::create_dir_all(&c).unwrap();
            let state = serde_json::json!({"step": 1, "transform": {"mode": "rsr", "every": every}});
            std::fs::write(c.join("state.json"), state.to_string()).unwrap();
            // Complete (sealed); what the seal covers is checked by loading, not here.
            std::fs::write(c.join(rsr_model::checkpoint::SEAL), "{}").unwrap();
        }
        let t = TrainedWith::read(&dir).unwrap();
        assert_eq!((t.mode.as_deref(), t.every), (Some("rsr"), Some(32)));
        // Recorded before format v2 existed: v1, every safe segment reflected.
        assert_eq!(t.style(), ReflectionStyle { format: Format::V1, safe_rate: 1.0 });
        assert_eq!(TrainedWith::read(&dir.join("checkpoints/step-0000010")).unwrap().every, Some(16));
        assert_eq!(TrainedWith::read(&dir.join("nowhere")).unwrap(), TrainedWith::default());
        assert_eq!(TrainedWith::default().style(), ReflectionStyle::default());
        let c = dir.join("checkpoints/step-0000030");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join(rsr_model::checkpoint::SEAL), "{}").unwrap();
        let state = serde_json::json!({"transform": {"mode": "rsr", "every": 24, "format": "v2", "safe_rate": 0.5}});
        std::fs::write(c.join("state.json"), state.to_string()).unwrap();
        let s = TrainedWith::read(&dir).unwrap().style();
        assert_eq!(s, ReflectionStyle { format: Format::V2, safe_rate: 0.5 });
        assert!(!s.keeps_safe_checks());
        // Seen unsafe twice as often as it is: odds halved back.
        assert!((s.calibrate(0.5, 0.5) - 1.0 / 3.0).abs() < 1e-12);
        // A damaged record is an error naming the file, never the defaults.
        let c = dir.join("checkpoints/step-0000040");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join(rsr_model::checkpoint::SEAL), "{}").unwrap();
        for state in [
            "{not json".to_string(),
            serde_json::json!({"transform": {"mode": "rsr", "every": "24"}}).to_string(),
            serde_json::json!({"transform": {"mode": "rsr", "format": "v9"}}).to_string(),
            serde_json::json!({"transform": {"mode": "rsr", "safe_rate": -3.0}}).to_string(),
            serde_json::json!({"transform": {"mode": "rsr", "every": 0}}).to_string(),
        ] {
            std::fs::write(c.join("state.json"), &state).unwrap();
            let err = TrainedWith::read(&dir).unwrap_err().to_string();
            assert!(err.contains("step-0000040") && err.contains("state.json"), "{state}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
