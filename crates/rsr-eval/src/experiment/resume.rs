//! What a demo directory was made with, so that `rsr demo --resume` keeps only what a demo of
//! the same settings finished there (`rsr study` guards its directories the same way, with
//! `study.json`: [`crate::study::same_settings`]).
//!
//! A demo writes its settings to `demo.json` before it makes anything. Run again with
//! `--resume`, it keeps the corpora, each trained model and each model's evaluation that the
//! earlier run finished (a training stopped part-way continues from its latest checkpoint,
//! exactly), and refuses a directory made with other settings or with none recorded. Run again
//! without it, it starts over: it first forgets what the directory kept, so a later `--resume`
//! can never keep a part that this run did not make.

use super::ExperimentConfig;
use rsr_core::{Error, Result};
use std::path::PathBuf;

/// The settings file of a demo directory.
pub const SETTINGS: &str = "demo.json";

/// What a demo's results depend on: [`ExperimentConfig::fixed`], its seed, and what it measures
/// beyond the suite (the learning curve and the tamper attack, which a kept summary holds).
pub fn settings(cfg: &ExperimentConfig) -> serde_json::Value {
    let mut v = cfg.fixed();
    let extra = serde_json::json!({
        "seed": cfg.seed, "curve_points": cfg.curve_points, "curve_per_set": cfg.curve_per_set,
        "tamper_steps": cfg.tamper_steps,
    });
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    v
}

/// Make `cfg.out` ready for a demo: with `cfg.resume`, refuse a directory made with other
/// settings (or holding kept results with no settings recorded); without, forget everything
/// it kept. Then record this demo's settings.
pub fn prepare(cfg: &ExperimentConfig) -> Result<()> {
    let path = cfg.out.join(SETTINGS);
    let now = settings(cfg);
    if cfg.resume && path.is_file() {
        let raw = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let was: serde_json::Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::input(&path, e.to_string(), "leave out --resume to start over"))?;
        if was != now {
            return Err(Error::input(
                &path,
                format!("this directory holds a demo made with other settings ({})", differences(&was, &now)),
                "pass another --out, the settings it was made with, or leave out --resume to start over",
            ));
        }
        return Ok(());
    }
    let kept: Vec<PathBuf> = kept_results(cfg).into_iter().filter(|p| p.is_file()).collect();
    if cfg.resume {
        if let Some(first) = kept.first() {
            return Err(Error::input(
                first,
                format!("{} holds results but no {SETTINGS}: what they were made with is unknown", cfg.out.display()),
                "leave out --resume to start over, or pass another --out",
            ));
        }
    } else {
        for p in &kept {
            std::fs::remove_file(p).map_err(|e| Error::io(p, e))?;
        }
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    rsr_core::atomic::write_all(&path, serde_json::to_string_pretty(&now).expect("serialises").as_bytes())
}

/// The settings two directories' records differ in, each as `knob: X in the directory, Y asked`
/// (a knob one side lacks reads as `none`).
pub fn differences(was: &serde_json::Value, now: &serde_json::Value) -> String {
    let none = serde_json::Value::Null;
    let (Some(a), Some(b)) = (was.as_object(), now.as_object()) else {
        return format!("{was} in the directory, {now} asked");
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let shown = |v: &serde_json::Value| if v.is_null() { "none".to_string() } else { v.to_string() };
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (a.get(k).unwrap_or(&none), b.get(k).unwrap_or(&none));
            (x != y).then(|| format!("{k}: {} in the directory, {} asked", shown(x), shown(y)))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every file whose presence tells a resumed experiment to keep a part: the corpora's table,
/// each run's summary (of any variant, selected now or not) and the negative control's result.
/// A trained model is not among them: training keeps a run only when its recorded
/// configuration is this one ([`rsr_model::train::finished`]).
fn kept_results(cfg: &ExperimentConfig) -> Vec<PathBuf> {
    let mut out = vec![cfg.out.join("corpora.json"), cfg.control_result_path()];
    if let Ok(entries) = std::fs::read_dir(cfg.replicate_dir().join("runs")) {
        out.extend(entries.flatten().map(|e| e.path().join("summary.json")));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(dir: &std::path::Path, resume: bool) -> ExperimentConfig {
        ExperimentConfig { out: dir.to_path_buf(), resume, ..ExperimentConfig::default() }
    }

    #[test]
    fn a_resumed_demo_keeps_only_what_a_demo_of_its_settings_made() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        // A fresh directory: nothing to keep, the settings recorded.
        prepare(&demo(&dir, true)).unwrap();
        assert!(dir.join(SETTINGS).is_file());
        let summary = dir.join("runs/raw/summary.json");
        std::fs::create_dir_all(summary.parent().unwrap()).unwrap();
        std::fs::write(&summary, "{}").unwrap();
        std::fs::write(dir.join("corpora.json"), "[]").unwrap();
        // The same settings again: everything kept.
        prepare(&demo(&dir, true)).unwrap();
        assert!(summary.is_file() && dir.join("corpora.json").is_file());
        // Other settings: refused, naming the file and the knob; nothing touched.
        let other = ExperimentConfig { train_tokens: 1_000_000, ..demo(&dir, true) };
        let err = prepare(&other).unwrap_err().to_string();
        assert!(
            err.contains(SETTINGS) && err.contains("train_tokens: 4000000 in the directory, 1000000 asked"),
            "{err}"
        );
        assert!(!err.contains("lr"), "only what differs is named: {err}");
        let curve = ExperimentConfig { curve_per_set: 10, ..demo(&dir, true) };
        assert!(prepare(&curve).unwrap_err().to_string().contains("curve_per_set"));
        assert!(summary.is_file());
        // Without --resume: a new demo forgets what was kept, and records its own settings.
        prepare(&ExperimentConfig { resume: false, ..other.clone() }).unwrap();
        assert!(!summary.exists() && !dir.join("corpora.json").exists());
        prepare(&other).unwrap();
        assert!(prepare(&demo(&dir, true)).is_err(), "the directory is now the other demo's");
    }

    #[test]
    fn results_with_no_settings_recorded_are_not_resumed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("control")).unwrap();
        std::fs::write(dir.join("control/result.json"), "{}").unwrap();
        let err = prepare(&demo(&dir, true)).unwrap_err().to_string();
        assert!(err.contains("result.json") && err.contains("no demo.json"), "{err}");
        // A damaged settings file is an error too, never a match.
        std::fs::write(dir.join(SETTINGS), "{not json").unwrap();
        assert!(prepare(&demo(&dir, true)).unwrap_err().to_string().contains(SETTINGS));
    }
}
