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
