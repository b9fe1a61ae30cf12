//! The run summary: what `rsr demo`, `rsr eval --out` and `rsr tamper --out` write and
//! `rsr report` reads, merged by run name (docs/formats.md#run-summaries).

use crate::curve::CurvePoint;
use crate::gym::GymResult;
use crate::tamper::TamperPoint;
use rsr_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Costs of a variant besides its evaluation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Training-corpus tokens, and their ratio to the raw corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_vs_raw: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_tokens_per_s: Option<f64>,
}

/// Everything measured about one model (a variant of the corpus).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    pub name: String,
    /// The decoding configuration the suite ran with.
    #[serde(default)]
    pub decoding: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<GymResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tamper: Vec<TamperPoint>,
    /// The variant at a matched over-refusal, per monitor ([`crate::operating`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operating: Vec<crate::operating::OperatingPoint>,
    /// Real prompt sets (`rsr eval --suite prompts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_suites: Vec<crate::suite::SuiteResult>,
    #[serde(default)]
    pub cost: Cost,
    /// The corpus variant, the budget and the training tokens (`rsr demo` and `rsr study` runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::experiment::Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_tokens: Option<u64>,
}

/// Read summaries from JSON files (one summary, an array, or `rsr demo`'s `{"runs": [...]}`), merging
/// those with the same name in order (later fields fill in what earlier lack).
pub fn load(paths: &[impl AsRef<Path>]) -> Result<Vec<RunSummary>> {
    let mut out: Vec<RunSummary> = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let raw = std::fs::read(p).map_err(|e| Error::io(p, e))?;
        let v: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| {
            Error::input(p, e.to_string(), "pass JSON written by `rsr demo`, `rsr eval --out` or `rsr tamper --out`")
        })?;
        let items = match v {
            serde_json::Value::Array(a) => a,
            // `rsr demo`'s results.json: `{"calibration": …, "runs": […]}`.
            serde_json::Value::Object(mut o) if o.contains_key("runs") && !o.contains_key("name") => {
                match o.remove("runs") {
                    Some(serde_json::Value::Array(a)) => a,
                    _ => return Err(Error::input(p, "`runs` is not an array", "see docs/formats.md#run-summaries")),
                }
            }
            other => vec![other],
        };
        for (i, item) in items.into_iter().enumerate() {
            let s: RunSummary = serde_json::from_value(item).map_err(|e| {
                Error::input(
                    p,
                    format!("entry {i}: {e}"),
                    "each entry needs at least `name`; see docs/formats.md#run-summaries",
                )
            })?;
            match out.iter_mut().find(|o| o.name == s.name) {
                Some(o) => merge(o, s),
                None => out.push(s),
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Invalid("no runs to report on".into()));
    }
    Ok(out)
}

fn merge(into: &mut RunSummary, s: RunSummary) {
    if s.results.is_some() || into.decoding.is_null() {
        into.decoding = s.decoding;
    }
    if s.results.is_some() {
        into.results = s.results;
    }
    if !s.curve.is_empty() {
        into.curve = s.curve;
    }
    if !s.tamper.is_empty() {
        into.tamper = s.tamper;
    }
    if !s.operating.is_empty() {
        into.operating = s.operating;
    }
    into.prompt_suites.extend(s.prompt_suites);
    into.cost.corpus_tokens = s.cost.corpus_tokens.or(into.cost.corpus_tokens);
    into.cost.corpus_vs_raw = s.cost.corpus_vs_raw.or(into.cost.corpus_vs_raw);
    into.cost.train_tokens_per_s = s.cost.train_tokens_per_s.or(into.cost.train_tokens_per_s);
}

/// A decoding configuration in a few words: `policy stop every 16 θ=0.5, greedy, ≤48 tokens`
/// (a local checkpoint's `GenConfig`), `endpoint URL, T=0.7` (an endpoint), or `not recorded`.
pub fn decoding_label(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "not recorded".into();
    }
    let t = v["sampling"]["temperature"].as_f64().or_else(|| v["temperature"].as_f64());
    let sampling = match t {
        Some(t) if t <= 0.0 => "greedy".to_string(),
        Some(t) => format!("T={t:.2}"),
        None => "sampling not recorded".into(),
    };
    let max = v["max_tokens"].as_u64().map(|m| format!(", ≤{m} tokens")).unwrap_or_default();
    if let Some(url) = v["endpoint"].as_str() {
        return format!("endpoint {url}, {sampling}{max}");
    }
    let policy = v["policy"].as_str().unwrap_or("?");
    let mut head = format!("policy {policy}");
    if policy != "off" {
        head.push_str(&format!(
            " every {} θ={}",
            v["every"].as_u64().map(|e| e.to_string()).unwrap_or_else(|| "?".into()),
            v["theta"].as_f64().map(|t| format!("{t:.2}")).unwrap_or_else(|| "?".into())
        ));
    }
    if v["conditioning"].as_str() == Some("tag") {
        head.push_str(", tag-conditioned");
    }
    format!("{head}, {sampling}{max}")
}
