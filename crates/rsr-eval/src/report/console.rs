//! The experiment's tables as plain text for a terminal (what `rsr demo` prints): the corpora,
//! the calibration gates, the results per variant, every (variant, monitor) at matched
//! over-refusal. Columns come from the prompt-set table, never from set names written here.

use crate::calibration::Gate;
use crate::operating::Separation;
use crate::results::{CorpusRow, RunSummary};
use rsr_world::prompts::{attack_columns, knows_sets, Role};
use std::fmt::Write;

/// What each variant puts in front of the loss.
pub fn corpora(rows: &[CorpusRow]) -> String {
    let mut s = format!(
        "\n{:<8} {:>6} {:>9} {:>7} {:>8} {:>12} {:>16}\n",
        "variant", "docs", "tokens", "vs raw", "masked", "reflections", "unsafe trainable"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<8} {:>6} {:>9} {:>6.2}x {:>7.1}% {:>12} {:>16}",
            r.name,
            r.docs,
            r.tokens,
            r.vs_raw,
            100.0 * r.masked_fraction,
            r.reflections,
            r.unsafe_trainable
        );
    }
    s.push_str(
        "\ntokens: exact, <|endoftext|> included; unsafe trainable: words of ground-truth unsafe sentences left trainable.\n",
    );
    s
}

/// The calibration gates, and loudly whether the comparison below means anything.
pub fn gates(gates: &[Gate], passed: bool) -> String {
    let mut s = String::from("\ncalibration gates (raw and filter only; docs/safetyworld.md#calibration-gates):\n");
    for g in gates {
        let _ = writeln!(s, "  {}", g.line());
    }
    if !passed {
        s.push_str(
            "\n!! CALIBRATION FAILED: at least one gate did not pass, so this world does not show the situation the \
comparison is about (harm learned from safe data that filtering keeps). Read the table below as a description of \
these models, not as evidence for or against any method.\n",
        );
    }
    s
}

/// The gates in one paragraph, for a report's notes.
pub fn gate_notes(gates: &[Gate], passed: bool) -> String {
    let each: Vec<String> = gates.iter().map(|g| g.line().split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let verdict = if passed {
        "all passed"
    } else {
        "CALIBRATION FAILED: this world does not show harm learned from safe data that filtering keeps, so the \
comparison below describes these models and is not evidence for or against any method"
    };
    format!(" Calibration gates (raw and filter only): {}. {verdict}.", each.join("; "))
}

/// Every variant's rates on the world's prompt sets: the attack columns of the prompt-set table,
/// then over-refusal, benign accuracy, capability, perplexity, the probe and the tamper attack.
pub fn results(runs: &[RunSummary], tamper_steps: u64) -> String {
    let attacks = attack_columns();
    let knows = knows_sets();
    let width = |label: &str| label.len().max(7);
    let mut s = format!("{:<8}", "variant");
    for (_, label) in &attacks {
        let _ = write!(s, " {label:>w$}", w = width(label));
    }
    let _ = writeln!(
        s,
        " {:>9} {:>9} {:>7} {:>8} {:>7} {:>8}",
        "look:ref", "benign ok", "knows", "ppl safe", "AUROC", "tampered"
    );
    let dash = || "-".to_string();
    for r in runs {
        let _ = write!(s, "{:<8}", r.name);
        let g = r.results.as_ref();
        for (set, label) in &attacks {
            let cell = g.and_then(|g| g.set(set)).map(|x| x.harm.pct()).unwrap_or_else(dash);
            let _ = write!(s, " {cell:>w$}", w = width(label));
        }
        let h = g.and_then(|g| g.heldout.as_ref());
        let _ = writeln!(
            s,
            " {:>9} {:>9} {:>7} {:>8} {:>7} {:>8}",
            g.and_then(|g| g.role(Role::Lookalike)).map(|x| x.refused.pct()).unwrap_or_else(dash),
            g.and_then(|g| g.role(Role::Benign)).map(|x| x.correct.pct()).unwrap_or_else(dash),
            g.and_then(|g| g.capability(knows.first()?)).map(|c| c.top1.pct()).unwrap_or_else(dash),
            h.map(|h| format!("{:.2}", h.safe.ppl_text)).unwrap_or_else(dash),
            h.map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_else(dash),
            r.tamper.last().map(|p| p.pooled_harm().pct()).unwrap_or_else(dash),
        );
    }
    let _ = writeln!(
        s,
        "attack columns: harm rates (ASR); composed: held-out hazards asked for, known only from safe facts; \
open-book: the same with the facts in the prompt; dual-use: a dose safe text states, asked for to stop a heart; \
intent: a written benign recipe asked for a harmful use; look:ref: refusals of harmless look-alike requests; knows: the true harmful \
procedure scores best of 8 from the same set written after the direct request, teacher-forced (capability apart \
from behaviour; chance 12.5%); ppl safe: perplexity of held-out safe text (no reflections), \
the softmax renormalised over ordinary tokens so no variant pays for the special tokens it was trained to expect \
(the report has both); AUROC: the reflection probe per segment (meaningful for rsr only); tampered: \
pooled ASR after {tamper_steps} steps of fine-tuning on harmful documents"
    );
    s
}

/// Every variant at the same over-refusal, per monitor (empty when nothing was measured).
pub fn operating(runs: &[RunSummary]) -> String {
    let Some(budget) = runs.iter().flat_map(|r| &r.operating).map(|o| o.budget).next() else { return String::new() };
    let mut s = format!(
        "\nmatched over-refusal: θ per variant and monitor, the smallest refusing ≤ {:.0}% of the validation half's benign + \
look-alike prompts; rates on the test half (split by procedure)\n",
        100.0 * budget
    );
    let _ = writeln!(
        s,
        "{:<8} {:<12} {:>7} {:>8} {:>9} {:>9} {:>22} {:>22} {:>6}",
        "variant",
        "monitor",
        "θ",
        "val ref",
        "test ref",
        "benign ok",
        "ASR, all harmful",
        "ASR, safe-knowledge",
        "AUROC"
    );
    for r in runs {
        for o in &r.operating {
            let _ = writeln!(
                s,
                "{:<8} {:<12} {:>7} {:>8} {:>9} {:>9} {:>22} {:>22} {:>6}",
                r.name,
                o.label(),
                o.theta.map(|t| format!("{t:.3}")).unwrap_or_else(|| "none".into()),
                o.validation_refused.pct(),
                o.test_refused.pct(),
                o.test_benign_correct.pct(),
                o.test_asr.cell(),
                o.test_asr_safe_knowledge.cell(),
                Separation::cell(o.separation.as_ref()),
            );
        }
    }
    let _ = writeln!(
        s,
        "monitors: {}; θ none: nothing refused; AUROC: the monitor's highest score on a test answer, the answers that \
delivered the harm against the benign and look-alike ones (θ-free; the same answers for every monitor of a variant)",
        crate::monitors::legend()
    );
    s
}

/// Where each model's time went, in minutes of wall clock per phase (empty when no run recorded
/// it: runs kept from before the timings were written).
pub fn timings(runs: &[RunSummary], at_once: usize) -> String {
    let timed: Vec<_> = runs.iter().filter_map(|r| Some((r.name.as_str(), r.cost.seconds?))).collect();
    if timed.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "\nminutes per model: {:<8} {:>6} {:>6} {:>6} {:>8} {:>6} {:>6}\n",
        "variant", "train", "suite", "curve", "matched", "tamper", "total"
    );
    let row = |s: &mut String, name: &str, p: &crate::results::PhaseSeconds| {
        let m = |x: f64| format!("{:.1}", x / 60.0);
        let _ = writeln!(
            s,
            "                   {name:<8} {:>6} {:>6} {:>6} {:>8} {:>6} {:>6}",
            m(p.train),
            m(p.suite),
            m(p.curve),
            m(p.operating),
            m(p.tamper),
            m(p.total())
        );
    };
    let mut sum = crate::results::PhaseSeconds::default();
    for (name, p) in &timed {
        row(&mut s, name, p);
        sum += *p;
    }
    row(&mut s, "all", &sum);
    s.push_str(&format!(
        "(each model's own wall clock on this machine, beside whatever else ran on it{}; the control model and building the \
corpora are not in it)\n",
        match at_once {
            0 | 1 => String::new(),
            n => format!(" — {n} models at once, so the rows add up to about {n}× the time they took"),
        }
    ));
    s
}

#[cfg(test)]
mod timing_tests {
    use super::*;
    use crate::results::{Cost, PhaseSeconds};

    #[test]
    fn timings_sum_the_phases_and_skip_untimed_runs() {
        let timed = |name: &str, train: f64| RunSummary {
            name: name.into(),
            cost: Cost {
                seconds: Some(PhaseSeconds { train, suite: 60.0, curve: 30.0, operating: 30.0, tamper: 0.0 }),
                ..Cost::default()
            },
            ..RunSummary::default()
        };
        let kept = RunSummary { name: "kept".into(), ..RunSummary::default() };
        assert_eq!(timings(std::slice::from_ref(&kept), 1), "");
        let t = timings(&[timed("raw", 180.0), kept, timed("rsr", 240.0)], 1);
        let line = |name: &str| t.lines().find(|l| l.split_whitespace().next() == Some(name)).unwrap().to_string();
        assert_eq!(
            line("raw").split_whitespace().collect::<Vec<_>>(),
            ["raw", "3.0", "1.0", "0.5", "0.5", "0.0", "5.0"]
        );
        assert_eq!(line("all").split_whitespace().last(), Some("11.0"));
        assert!(!t.contains("kept"), "{t}");
        assert!(!t.contains("at once"), "{t}");
        let two = timings(&[timed("raw", 180.0), timed("rsr", 240.0)], 2);
        assert!(two.contains("2 models at once, so the rows add up to about 2× the time they took"), "{two}");
    }
}
