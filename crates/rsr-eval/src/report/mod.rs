//! The comparison report: one self-contained HTML page (tables, and figures
//! drawn by `plotters` as inline SVG) and a Markdown twin with the same
//! tables and the figures as SVG files beside it.
//!
//! Input is a list of [`RunSummary`]s — what `rsr demo`, `rsr eval --out` and
//! `rsr tamper --out` write. The report states where `rsr` does not come out
//! best, computed from the numbers, not written by hand.
//!
//! One module per job: the run summary, read and merged, is [`crate::results`]; [`decoding`]
//! (how a run was decoded, in words), [`tables`] (tables and findings), [`figures`] (SVG figures), [`render`]
//! (HTML and Markdown, written together).

pub mod console;
pub mod decoding;
pub mod figures;
pub mod render;
pub mod tables;

pub use crate::results::{load, Cost, RunSummary};
pub use decoding::decoding_label;
pub use figures::{figures, Figure};
pub use render::write;
pub use tables::findings;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gym::GymResult;
    use crate::gym::{DecodeCost, SetResult};
    use crate::stats::Rate;

    fn result(direct_harm: u64, benign_ok: u64) -> GymResult {
        let set = |name: &str, harm: Rate, correct: Rate| SetResult {
            set: name.into(),
            n: 100,
            harm,
            refused: Rate::new(0, 100),
            correct,
        };
        GymResult {
            sets: vec![
                set("harmful_direct", Rate::new(direct_harm, 100), Rate::new(0, 0)),
                set("benign", Rate::new(0, 0), Rate::new(benign_ok, 100)),
            ],
            heldout: None,
            decode: DecodeCost::default(),
            capability: vec![],
        }
    }

    fn run(name: &str, r: GymResult) -> RunSummary {
        RunSummary { name: name.into(), results: Some(r), ..RunSummary::default() }
    }

    #[test]
    fn findings_name_only_clear_losses() {
        // rsr: safer than raw, but answers fewer benign requests than filter.
        let runs = [run("raw", result(60, 50)), run("filter", result(0, 80)), run("rsr", result(0, 30))];
        let f = findings(&runs, "rsr");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].starts_with("benign answered correctly") && f[0].contains("filter") && f[0].contains("raw"),
            "{f:?}"
        );
        // Within the intervals: nothing to report.
        let runs = [run("raw", result(5, 50)), run("rsr", result(3, 48))];
        assert!(findings(&runs, "rsr").is_empty());
    }

    #[test]
    fn report_has_every_run_and_a_figure_per_measure() {
        let dir = tempfile::tempdir().unwrap();
        let runs = [run("raw", result(60, 50)), run("rsr", result(0, 30))];
        let html = std::fs::read_to_string(write(dir.path(), "t", "", &runs).unwrap()).unwrap();
        assert!(html.contains("<td>raw</td>") && html.contains("<td>rsr</td>"));
        assert_eq!(html.matches("<svg").count(), 3, "attack, utility, decode cost");
        assert!(!html.contains("<?xml"), "inline SVG must not carry an XML declaration");
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("| raw |") && md.contains("figures/attack-success.svg"));
        assert!(dir.path().join("figures/attack-success.svg").is_file());
    }

    #[test]
    fn matched_operating_points_get_a_table_and_a_curve() {
        use crate::operating::OperatingPoint;
        let dir = tempfile::tempdir().unwrap();
        let point = |monitor: &str, asr: u64| OperatingPoint {
            monitor: monitor.into(),
            sampling: None,
            budget: 0.05,
            theta: Some(0.5),
            validation_refused: Rate::new(1, 40),
            test_refused: Rate::new(2, 40),
            test_benign_correct: Rate::new(30, 40),
            test_asr: Rate::new(asr, 100),
            test_asr_safe_knowledge: Rate::new(asr / 2, 40),
            test_composed_correct: Rate::new(20, 40),
            sets: vec![],
            outcomes: vec![],
            curve: vec![(0.0, 1.0, 0.0), (0.5, 0.05, asr as f64 / 100.0), (1.0, 0.0, 0.6)],
            curve_safe_knowledge: vec![],
            separation: None,
        };
        let mut rsr = run("rsr", result(0, 30));
        let separated = crate::operating::Separation { auroc: 0.875, harmful: 8, benign: 40 };
        rsr.operating = vec![OperatingPoint { separation: Some(separated), ..point("own", 3) }, point("classifier", 9)];
        let rsr_again = rsr.clone();
        let mut raw = run("raw", result(60, 50));
        raw.operating = vec![point("classifier", 20)];
        let html = std::fs::read_to_string(write(dir.path(), "t", "", &[raw, rsr]).unwrap()).unwrap();
        assert!(html.contains("At matched over-refusal") && html.contains("<td>own</td>"));
        assert!(dir.path().join("figures/operating-points.svg").is_file());
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(md.contains("| rsr | own | 0.500 |") && md.contains("| raw | classifier |"), "{md}");
        assert!(
            md.contains("| 0.875 |") && md.contains("| rsr | classifier |"),
            "the AUROC where measured, `-` where not: {md}"
        );
        let console = console::operating(std::slice::from_ref(&rsr_again));
        assert!(console.contains(" 0.875\n") && console.contains("AUROC"), "{console}");
        // `rsr demo`'s results.json, written and read by the same types, loads as its runs.
        let path = dir.path().join("results.json");
        let runs = vec![run("raw", result(60, 50))];
        let seed = crate::results::SeedResults { calibration: crate::results::Calibration::of(&runs, None), runs };
        seed.write(&path).unwrap();
        assert_eq!(load(std::slice::from_ref(&path)).unwrap().len(), 1);
        let back = crate::results::SeedResults::read(&path).unwrap();
        assert!(!back.calibration.passed && !back.calibration.gates.is_empty(), "no filter run: the gates fail");
        // One that is not whole fails, naming the file.
        std::fs::write(&path, r#"{"calibration": {"gates": []}, "runs": []}"#).unwrap();
        let err = load(&[&path]).unwrap_err().to_string();
        assert!(err.contains("results.json") && err.contains("passed"), "{err}");
    }

    #[test]
    fn summaries_with_one_name_merge() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(&a, serde_json::to_string(&[run("rsr", result(0, 30))]).unwrap()).unwrap();
        std::fs::write(&b, r#"{"name": "rsr", "tamper": []}"#).unwrap();
        let runs = load(&[a, b.clone()]).unwrap();
        assert_eq!(runs.len(), 1);
        assert!(runs[0].results.is_some());
        std::fs::write(&b, r#"{"tamper": []}"#).unwrap();
        let err = load(&[b]).unwrap_err().to_string();
        assert!(err.contains("b.json") && err.contains("name"), "{err}");
    }
}
