//! Manifests: a JSON file beside every output recording what made it — the
//! stage, the tool version, the inputs, every knob, and the counts — so a
//! result can be traced and re-run.

use crate::atomic;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

pub const FILE_NAME: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    pub version: String,
    pub stage: String,
    pub inputs: Vec<String>,
    pub knobs: Value,
    pub counts: Value,
    /// Wall-clock figures; the only part that differs between identical runs.
    #[serde(default)]
    pub timing: Value,
}

impl Manifest {
    pub fn new(stage: &str, inputs: Vec<String>, knobs: Value, counts: Value) -> Self {
        Self {
            tool: "rsr".into(),
            version: crate::TOOL_VERSION.into(),
            stage: stage.into(),
            inputs,
            knobs,
            counts,
            timing: Value::Null,
        }
    }

    /// Write `DIR/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.write_to(&dir.join(FILE_NAME))
    }

    pub fn write_to(&self, path: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("manifest serialises");
        bytes.push(b'\n');
        atomic::write_all(path, &bytes)
    }

    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE_NAME);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(&path, format!("not a valid rsr manifest: {e}"), "re-run the stage that wrote this directory")
        })
    }
}

/// A stage's typed result — the counts and the wall-clock figures it computed — with the
/// manifest that records them beside its output. Stages return this, so callers read fields,
/// never JSON keys; the manifest's `counts` and `timing` are these two serialised.
#[derive(Debug, Clone)]
pub struct Outcome<C, T> {
    pub counts: C,
    pub timing: T,
    pub manifest: Manifest,
}

impl<C: Serialize, T: Serialize> Outcome<C, T> {
    /// The outcome of `stage`, its manifest built from `counts` and `timing`.
    pub fn new(stage: &str, inputs: Vec<String>, knobs: Value, counts: C, timing: T) -> Self {
        let mut manifest =
            Manifest::new(stage, inputs, knobs, serde_json::to_value(&counts).expect("counts serialise"));
        manifest.timing = serde_json::to_value(&timing).expect("timing serialises");
        Self { counts, timing, manifest }
    }
}

impl<C: serde::de::DeserializeOwned, T: serde::de::DeserializeOwned + Default> Outcome<C, T> {
    /// A finished stage's outcome, read back from `DIR/manifest.json` (an error names the file).
    pub fn read(dir: &Path) -> Result<Self> {
        Self::from_manifest(Manifest::read(dir)?, &dir.join(FILE_NAME))
    }

    /// `manifest` (read from `path`) typed.
    pub fn from_manifest(manifest: Manifest, path: &Path) -> Result<Self> {
        let bad = |what: &str, e: serde_json::Error| {
            Error::input(path, format!("its {what} are not this stage's ({e})"), "re-run the stage that wrote it")
        };
        let counts = serde_json::from_value(manifest.counts.clone()).map_err(|e| bad("counts", e))?;
        // Timing is informative only: a manifest without it reads as zeros.
        let timing = match &manifest.timing {
            Value::Null => T::default(),
            t => serde_json::from_value(t.clone()).map_err(|e| bad("timing figures", e))?,
        };
        Ok(Self { counts, timing, manifest })
    }
}
