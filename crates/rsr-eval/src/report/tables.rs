//! The report's tables and its findings, computed from the run summaries.

use super::decoding::decoding_label;
use crate::gym::GymResult;
use crate::operating::Separation;
use crate::results::RunSummary;
use crate::stats::Rate;
use rsr_world::prompts::Role;
use std::path::Path;

/// The attack columns, (set, label), from the one prompt-set table.
pub(super) fn attacks() -> Vec<(&'static str, &'static str)> {
    rsr_world::prompts::attack_columns()
}

pub(super) type Metric = (&'static str, &'static str, fn(&GymResult) -> Option<Rate>);

/// Utility and over-refusal: (label, which direction is better, value).
pub(super) const UTILITY: [Metric; 3] = [
    ("benign answered correctly", "higher", |r| r.role(Role::Benign).map(|s| s.correct)),
    ("look-alike requests refused", "lower", |r| r.role(Role::Lookalike).map(|s| s.refused)),
    ("benign requests refused", "lower", |r| r.role(Role::Benign).map(|s| s.refused)),
];

pub(super) fn harm(r: &GymResult, set: &str) -> Option<Rate> {
    r.set(set).map(|s| s.harm.clone()).filter(|h| h.n > 0)
}

/// The summary table: one row per run, rates as percentages with intervals.
pub(super) fn summary_rows(runs: &[RunSummary]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head: Vec<String> = vec!["variant".into()];
    head.extend(attacks().iter().map(|a| format!("ASR {}", a.1)));
    head.extend(UTILITY.iter().map(|u| u.0.to_string()));
    head.extend(rsr_world::prompts::knows_sets().iter().map(|s| format!("knows {s} procedure (top-1)")));
    head.extend(
        ["ppl safe", "ppl safe (text tokens)", "ppl unsafe", "probe AUROC (segments)", "decode overhead"]
            .map(String::from),
    );
    let rows = runs
        .iter()
        .filter_map(|r| {
            let g = r.results.as_ref()?;
            let mut row = vec![r.name.clone()];
            row.extend(attacks().iter().map(|a| harm(g, a.0).map(|x| x.cell()).unwrap_or_else(|| "-".into())));
            row.extend(UTILITY.iter().map(|u| (u.2)(g).map(|x| x.cell()).unwrap_or_else(|| "-".into())));
            row.extend(
                rsr_world::prompts::knows_sets()
                    .iter()
                    .map(|s| g.capability(s).map(|c| c.top1.cell()).unwrap_or_else(|| "-".into())),
            );
            let h = g.heldout.as_ref();
            row.push(h.map(|h| format!("{:.2}", h.safe.ppl)).unwrap_or_else(|| "-".into()));
            row.push(h.map(|h| format!("{:.2}", h.safe.ppl_text)).unwrap_or_else(|| "-".into()));
            row.push(h.map(|h| format!("{:.2}", h.unsafe_.ppl)).unwrap_or_else(|| "-".into()));
            row.push(h.map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_else(|| "-".into()));
            row.push(format!("{:.2}", g.decode.overhead));
            Some(row)
        })
        .collect();
    (head, rows)
}

pub(super) fn tamper_rows(runs: &[RunSummary]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let steps: Vec<u64> = runs.iter().find(|r| !r.tamper.is_empty())?.tamper.iter().map(|p| p.step).collect();
    let mut head = vec!["variant".to_string()];
    head.extend(steps.iter().map(|s| format!("ASR after {s} steps")));
    head.push("decoding".into());
    let rows = runs
        .iter()
        .filter(|r| !r.tamper.is_empty())
        .map(|r| {
            let mut row = vec![r.name.clone()];
            row.extend(steps.iter().map(|s| {
                r.tamper.iter().find(|p| p.step == *s).map(|p| p.pooled_harm().cell()).unwrap_or_else(|| "-".into())
            }));
            row.push(decoding_label(&r.decoding));
            row
        })
        .collect();
    Some((head, rows))
}

/// Every variant at the matched over-refusal, one row per (variant, monitor).
pub(super) fn operating_rows(runs: &[RunSummary]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    runs.iter().find(|r| !r.operating.is_empty())?;
    let head = [
        "variant",
        "monitor",
        "θ (chosen on validation)",
        "validation refused",
        "test: benign + look-alike refused",
        "test: benign + look-alike correct",
        "test: ASR, all harmful sets",
        "test: ASR, safe-knowledge sets",
        "test: AUROC, harm delivered vs benign",
    ]
    .map(String::from)
    .to_vec();
    let rows = runs
        .iter()
        .flat_map(|r| r.operating.iter().map(move |o| (r, o)))
        .map(|(r, o)| {
            vec![
                r.name.clone(),
                o.monitor.clone(),
                o.theta.map(|t| format!("{t:.3}")).unwrap_or_else(|| "none".into()),
                o.validation_refused.cell(),
                o.test_refused.cell(),
                o.test_benign_correct.cell(),
                o.test_asr.cell(),
                o.test_asr_safe_knowledge.cell(),
                Separation::cell(o.separation.as_ref()),
            ]
        })
        .collect();
    Some((head, rows))
}

pub(super) fn suite_rows(runs: &[RunSummary]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let head = ["variant", "prompts", "kind", "judge", "n", "harmful", "refused", "contrast refused", "decoding"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = runs
        .iter()
        .flat_map(|r| {
            r.prompt_suites.iter().map(|s| {
                let what = match &s.templates {
                    Some(t) => format!("{} × {}", file_name(&s.prompts), file_name(t)),
                    None => file_name(&s.prompts),
                };
                vec![
                    r.name.clone(),
                    what,
                    s.kind.clone(),
                    s.judge.clone(),
                    s.n.to_string(),
                    s.harmful.cell(),
                    s.refused.cell(),
                    s.contrast.as_ref().map(|c| c.refused.cell()).unwrap_or_else(|| "-".into()),
                    decoding_label(&s.decoding),
                ]
            })
        })
        .collect();
    (!rows.is_empty()).then_some((head, rows))
}

fn file_name(p: &str) -> String {
    Path::new(p).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| p.to_string())
}

/// Sentences that say where the run called `focus` is not the best, from the numbers.
pub fn findings(runs: &[RunSummary], focus: &str) -> Vec<String> {
    let Some(me) = runs.iter().find(|r| r.name == focus).and_then(|r| r.results.as_ref()) else {
        return vec![];
    };
    let others: Vec<(&str, &GymResult)> = runs
        .iter()
        .filter(|r| r.name != focus)
        .filter_map(|r| r.results.as_ref().map(|g| (r.name.as_str(), g)))
        .collect();
    let mut out = Vec::new();
    let mut check = |what: &str, higher_better: bool, mine: Option<Rate>, theirs: Vec<(&str, Option<Rate>)>| {
        let Some(m) = mine else { return };
        // Only a clear difference counts: the intervals do not overlap.
        let better: Vec<String> = theirs
            .into_iter()
            .filter_map(|(name, t)| {
                let t = t?;
                let worse = if higher_better { m.hi < t.lo } else { m.lo > t.hi };
                worse.then(|| format!("{name} {}", t.cell()))
            })
            .collect();
        if !better.is_empty() {
            let dir = if higher_better { "higher is better" } else { "lower is better" };
            out.push(format!("{what} ({dir}): {focus} {}; clearly better: {}", m.cell(), better.join(", ")));
        }
    };
    for (set, label) in attacks() {
        check(&format!("ASR {label}"), false, harm(me, set), others.iter().map(|(n, g)| (*n, harm(g, set))).collect());
    }
    for (label, dir, f) in UTILITY {
        check(label, dir == "higher", f(me), others.iter().map(|(n, g)| (*n, f(g))).collect());
    }
    out
}
