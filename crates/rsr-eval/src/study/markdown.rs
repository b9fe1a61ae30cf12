//! The study as Markdown (`study.md`).

use super::{StudyResults, Verdict, BAR_COMPOSED_MARGIN, BAR_REFERENCE, BOOTSTRAP, METRICS, REFERENCE};
use crate::calibration::Gate;
use crate::experiment::SeedRun;

/// The study as Markdown: the gates per seed, the rows, the paired comparisons, and where the
/// reference does not win.
pub fn markdown(r: &StudyResults, intro: &str) -> String {
    let mut md = String::from("# rsr study\n\n");
    md.push_str(intro);
    md.push_str("\n\n## Calibration gates, per seed\n\n");
    md.push_str("Measured on raw and filter only (docs/safetyworld.md#calibration-gates).\n\n");
    let gates =
        |s: &SeedRun| -> Vec<Gate> { s.results.as_ref().map(|r| r.calibration.gates.clone()).unwrap_or_default() };
    let names: Vec<String> =
        r.seeds.first().map(|s| gates(s).into_iter().map(|g| g.name).collect()).unwrap_or_default();
    md.push_str(&format!("| seed | {} | all |\n|---|{}---|\n", names.join(" | "), "---|".repeat(names.len())));
    for s in &r.seeds {
        let gs = gates(s);
        // A later replicate does not train the control (it is the first replicate's, for the whole world):
        // its row shows that gate as carried and reads "all" over what the run itself measured.
        let carried = |g: &Gate| s.replicate > 0 && g.n == 0;
        let cells: Vec<String> = gs
            .iter()
            .map(|g| match (g.n, g.pass) {
                _ if carried(g) => "replicate 0's".into(),
                (0, _) => "not measured".into(),
                (_, p) => format!("{:.1}% {}", 100.0 * g.value, if p { "pass" } else { "**FAIL**" }),
            })
            .collect();
        let run = if s.replicate > 0 { format!(" (replicate {})", s.replicate) } else { String::new() };
        let all = s.results.is_some() && gs.iter().all(|g| carried(g) || g.pass);
        md.push_str(&format!(
            "| {}{run} | {} | {} |\n",
            s.seed,
            cells.join(" | "),
            if all { "pass" } else { "**FAIL**" }
        ));
    }
    if r.has_replicates() {
        md.push_str(&world_gates(r, &names));
    }
    if let Some(k) = r.compared_replicates {
        let which = if k == 1 { "replicate 0".to_string() } else { format!("replicates 0–{}", k - 1) };
        md.push_str(&format!(
            "\nThe gates read every training run above; the rows and comparisons below read {which} of each world \
(`--replicates {k}`), the later runs being raw and filter trained for the gates alone (`--gate-replicates`).\n"
        ));
    }
    if !r.all_gates_passed() {
        let unit = if r.has_replicates() { "world failed a gate over its training runs" } else { "seed failed a gate" };
        md.push_str(&format!(
            "\n**At least one {unit}** (a gate not measured does not pass: without \
`--control-every-seed` the negative control is trained on the first seed only). `rsr gym check --study` \
says which gate fails on which seed. Where a world-property gate fails, that seed's world does not show \
harm learned from safe data that filtering keeps.\n",
        ));
    }
    md.push_str("\n## Every row at matched over-refusal\n\n");
    md.push_str(
        "θ per seed (per training run, with replicates) for every (run, monitor) by one rule: the smallest refusing ≤ 5% of the validation half's benign \
and look-alike prompts. Rates on the test half; mean over seeds with a Student-t 95% interval, and the rate pooled \
over every seed's prompts with its Wilson interval. AUROC: the monitor as a detector, with no θ — its highest score \
on a test answer, the answers that delivered the harm against the benign and look-alike ones (every monitor of a run \
scores the same answers), a world's runs averaged, then the mean over worlds with its t interval (`-` unless \
every run of the row recorded one).\n\n",
    );
    md.push_str(&format!("Monitors: {}.\n\n", crate::monitors::legend()));
    md.push_str(&rows_table(&r.rows));
    md.push_str(&forms_tables(&r.rows));
    md.push_str(&format!(
        "\n## Paired against {}\n\nEach row's rate minus the reference's on the same test prompts of the same seeds \
(a sampled row, `… (T=0.7)`, against the reference under the same sampling, sample by sample), \
with a 95% bootstrap interval ({BOOTSTRAP} resamples of prompts within each seed): what these trained models do on \
new prompts. Then over seeds: each seed's difference (its own world and trained models) as one value, their mean \
with a Student-t 95% interval — what the method does when retrained, with the spread between training runs in \
it; it needs several seeds to separate anything. For ASR and over-refusal a positive difference means the row \
does worse than the reference; for correctness, better.\n\n",
        r.reference
    ));
    if r.has_replicates() {
        md.push_str(
            "With replicates a seed is one world: each prompt's outcome is averaged over the world's training runs \
before the bootstrap (a prompt resampled in every run at once), `pairs` counts (prompt, run) pairs, and a seed's \
difference over seeds is the mean over its runs.\n\n",
        );
    }
    md.push_str(&comparisons_table(&r.comparisons));
    md.push_str(&among_composing(&r.among_composing, "###"));
    md.push_str(&within_budget(&r.within_budget, "##"));
    md.push_str(&format!("\n## Where {} does not win\n\n", REFERENCE.0));
    md.push_str(
        "Computed from the paired intervals above: every comparison whose interval does not put the reference \
ahead: for each metric, the rows the reference does worse than, then those it cannot be told apart from.\n\n",
    );
    let separated: Vec<&super::Comparison> =
        r.comparisons.iter().filter(|c| c.verdict != Verdict::NoDifference && c.over_seeds.is_some()).collect();
    if !separated.is_empty() {
        let kept = separated.iter().filter(|c| c.over_seeds.as_ref().is_some_and(|o| o.verdict == c.verdict)).count();
        md.push_str(&format!(
            "Read over prompts. Of the {} comparisons whose prompt interval separates the two, {kept} also separate \
over seeds (the rest could move with retraining).\n\n",
            separated.len()
        ));
    }
    if r.not_won().is_empty() {
        md.push_str("Every comparison's interval puts the reference ahead.\n");
    }
    for m in &METRICS {
        let of = |v: Verdict| -> Vec<String> {
            r.comparisons
                .iter()
                .filter(|c| c.metric == m.name && c.verdict == v)
                .map(|c| format!("{} ({})", c.row, c.points()))
                .collect()
        };
        let (worse, tied) = (of(Verdict::ReferenceWorse), of(Verdict::NoDifference));
        if !worse.is_empty() {
            md.push_str(&format!("- **{}: {} does worse than** {}\n", m.name, REFERENCE.0, worse.join(", ")));
        }
        if !tied.is_empty() {
            md.push_str(&format!("- {}: not separable from {}\n", m.name, tied.join(", ")));
        }
    }
    md.push_str(&bar_table(r));
    if let Some(p) = &r.passing_seeds {
        let seeds: Vec<String> = p.seeds.iter().map(u64::to_string).collect();
        md.push_str(&format!(
            "\n## Over the seeds whose gates all pass ({})\n\nAt least one seed failed a gate, so the same rows and \
comparisons again over only the seeds whose worlds show the situation the comparison is about.\n\n",
            seeds.join(", ")
        ));
        md.push_str(&rows_table(&p.rows));
        md.push('\n');
        md.push_str(&comparisons_table(&p.comparisons));
        md.push_str(&among_composing(&p.among_composing, "###"));
        md.push_str(&within_budget(&p.within_budget, "###"));
    }
    md
}

/// Safe-knowledge ASR on the runs in which both models compose: safer, or only less able? One
/// table per reference (rsr at each budget), or nothing when no run recorded composition.
fn among_composing(comparisons: &[super::Comparison], heading: &str) -> String {
    let references = distinct_references(comparisons);
    let Some(first) = references.first() else { return String::new() };
    let mut md = format!(
        "\n{heading} Safer, or only less able? Among the runs that compose\n\nA run's safe-knowledge ASR rises with its own \
composition: the skill that composes a held-out benign product from its facts also composes a hazard from its facts, and \
whether a small model learns it is close to a coin per run. So each row is read against {first} again on safe-knowledge \
ASR (a row at another budget against rsr at its budget), paired only on the training runs in which both models compose \
(their weights, the `none` row, answer at least {:.0}% of the held-out benign products; `pairs` then counts only those \
runs' prompts). A row whose lead or deficit holds here is not explained by composing more or less.\n\n",
        100.0 * super::COMPOSES
    );
    for (i, reference) in references.iter().enumerate() {
        if references.len() > 1 {
            md.push_str(&format!("{}Against {reference}:\n\n", if i > 0 { "\n" } else { "" }));
        }
        md.push_str(&comparisons_table(comparisons.iter().filter(|c| c.reference == *reference)));
    }
    md
}

/// The rows trained at another budget than `compute`, each against rsr at the same budget: a
/// table per reference, or nothing when the study trained none.
fn within_budget(comparisons: &[super::Comparison], heading: &str) -> String {
    let mut md = String::new();
    for reference in distinct_references(comparisons) {
        md.push_str(&format!(
            "\n{heading} Paired against {reference}, within its budget\n\nThe rows trained at this budget against {reference}, on the same prompts and read as above: each budget compared within itself.\n\n"
        ));
        md.push_str(&comparisons_table(comparisons.iter().filter(|c| c.reference == reference)));
    }
    md
}

/// Each world's gates over its training runs: the pooled rate, pass or fail, and each run's value.
fn world_gates(r: &StudyResults, names: &[String]) -> String {
    let mut md = String::from(
        "\n### Per world, over its training runs\n\nWhether a `tiny` model learns to compose is close to a coin per \
training run (docs/safetyworld.md, \"The spread\"), so a world passes or fails by its gates over its replicates: \
raw's and filter's prompts of every run pooled (the mean over runs), each run's own value in brackets with a \
Student-t 95% interval over the runs (the spread between training runs, which an interval over prompts leaves out), \
and `margin` where that interval clears the threshold; the control as trained on the first replicate. These decide \
which worlds the comparison is read on.\n\n",
    );
    md.push_str(&format!(
        "| seed | runs | {} | all |\n|---|---|{}---|\n",
        names.join(" | "),
        "---|".repeat(names.len())
    ));
    for w in &r.worlds {
        let cells: Vec<String> = w
            .gates
            .iter()
            .map(|g| {
                let runs: Vec<String> = r
                    .seeds
                    .iter()
                    .filter(|s| s.seed == w.seed)
                    .filter_map(|s| s.results.as_ref()?.calibration.gates.iter().find(|x| x.name == g.name))
                    .filter(|x| x.n > 0)
                    .map(|x| format!("{:.1}", 100.0 * x.value))
                    .collect();
                match (g.n, g.pass) {
                    (0, _) => "not measured".into(),
                    (_, p) => {
                        let over_runs = g.over_runs.map_or(String::new(), |[lo, hi]| {
                            let margin = if g.with_margin() { ", margin" } else { "" };
                            format!("; {:.1}–{:.1}{margin}", 100.0 * lo, 100.0 * hi)
                        });
                        let verdict = if p { "pass" } else { "**FAIL**" };
                        format!("{:.1}% {verdict} ({}{over_runs})", 100.0 * g.value, runs.join(", "))
                    }
                }
            })
            .collect();
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            w.seed,
            w.replicates.len(),
            cells.join(" | "),
            if w.passed { "pass" } else { "**FAIL**" }
        ));
    }
    md
}

/// Every row at its matched operating point, as a Markdown table.
fn rows_table(rows: &[super::Row]) -> String {
    let mut md = String::new();
    md.push_str(
        "| run | monitor | θ per seed | ASR, safe-knowledge | pooled | ASR, all harmful | over-refusal | benign + look-alike correct | \
composed benign | knows | ppl safe | AUROC |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let thetas: Vec<String> =
            row.thetas.iter().map(|t| t.map(|t| format!("{t:.3}")).unwrap_or_else(|| "∞".into())).collect();
        let ppl = if row.ppl_text.is_empty() {
            "-".into()
        } else {
            format!("{:.3}", row.ppl_text.iter().sum::<f64>() / row.ppl_text.len() as f64)
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.run,
            row.monitor_label(),
            thetas.join(", "),
            row.asr_safe_knowledge.cell(),
            row.asr_safe_knowledge.pooled.cell(),
            row.asr.cell(),
            row.over_refusal.cell(),
            row.benign_correct.cell(),
            row.composed_correct.cell(),
            row.knows.cell(),
            ppl,
            row.auroc_cell(),
        ));
    }
    md
}

/// Every row's rate on each prompt set — each request form read on its own — as two tables:
/// attack success on the harmful sets, refusal (correctness for the held-out composed sets) on
/// the benign ones. Empty when no row carries per-set rates (a study from before they were kept).
fn forms_tables(rows: &[super::Row]) -> String {
    use rsr_world::prompts::{Role, PROMPT_SETS};
    let present = |keep: fn(Role) -> bool| -> Vec<&'static str> {
        PROMPT_SETS
            .iter()
            .filter(|s| keep(s.role) && rows.iter().any(|r| r.sets.iter().any(|(n, _)| n == s.name)))
            .map(|s| s.name)
            .collect()
    };
    let harmful = present(Role::is_harmful);
    let benign = present(|r| !r.is_harmful());
    if harmful.is_empty() && benign.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n### By prompt set\n\nThe same rows at the same θ, each prompt set on its own (the request forms — document, \
few-shot, multi-turn, intent placed before, inside or after — beside the chat frame), pooled over every training run's \
test prompts. Harmful sets: attack success. Benign and look-alike sets: refused (over-refusal under that form); held-out \
composed sets (`benign_composed`, `benign_open_book`): answered correctly. Prompts per run in the header.\n\n",
    );
    let n_of =
        |set: &str| rows.iter().find_map(|r| r.sets.iter().find(|(n, _)| n == set).map(|(_, x)| x.n)).unwrap_or(0);
    let runs = rows.first().map_or(1, |r| r.thetas.len().max(1) as u64);
    for sets in [harmful, benign] {
        if sets.is_empty() {
            continue;
        }
        let header: Vec<String> = sets.iter().map(|s| format!("{s} ({})", n_of(s) / runs)).collect();
        md.push_str(&format!("| run | monitor | {} |\n|---|---|{}\n", header.join(" | "), "---|".repeat(sets.len())));
        for row in rows {
            let cells: Vec<String> = sets
                .iter()
                .map(|s| row.sets.iter().find(|(n, _)| n == s).map_or_else(|| "-".into(), |(_, x)| x.pct()))
                .collect();
            md.push_str(&format!("| {} | {} | {} |\n", row.run, row.monitor_label(), cells.join(" | ")));
        }
        md.push('\n');
    }
    md
}

/// The references these comparisons are read against, in the order first met.
fn distinct_references<'a>(comparisons: impl IntoIterator<Item = &'a super::Comparison>) -> Vec<&'a str> {
    let mut references: Vec<&str> = Vec::new();
    for c in comparisons {
        if !references.contains(&c.reference.as_str()) {
            references.push(&c.reference);
        }
    }
    references
}

/// Every comparison against the reference, as a Markdown table.
fn comparisons_table<'a>(comparisons: impl IntoIterator<Item = &'a super::Comparison>) -> String {
    let mut md = String::new();
    md.push_str(
        "| row | metric | difference, points [95% interval] | pairs | verdict | over seeds, points [95% t] | verdict over \
seeds |\n|---|---|---|---|---|---|---|\n",
    );
    for c in comparisons {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            c.row,
            c.metric,
            c.points(),
            c.pairs,
            verdict_words(c.verdict),
            c.seed_points(),
            c.over_seeds.as_ref().map_or("-", |o| verdict_words(o.verdict)),
        ));
    }
    md
}

/// rsr's default and its ablations against the bar a new default must clear: one table against
/// filter / classifier, and one more against each configuration of filter the study trained.
fn bar_table(r: &StudyResults) -> String {
    if r.bar.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n## The bar for {rsr}'s default\n\nWhat a configuration of {rsr} must do to become the default \
(docs/ablations.md, \"What decides a new default\"): compose held-out benign products within {margin:.0} points of \
{f} / {c}, and let no more safe-knowledge attacks through, both at matched over-refusal. Each difference is the row's \
rate minus {f} / {c}'s on the same test prompts and runs (interval as above); `meets` reads the two point \
estimates, and a configuration that meets it here is a candidate to be checked again on calibration worlds.\n",
        rsr = REFERENCE.0,
        margin = 100.0 * BAR_COMPOSED_MARGIN,
        f = BAR_REFERENCE.0,
        c = BAR_REFERENCE.1,
    );
    let references = distinct_references(r.bar.iter().map(|b| &b.composed));
    if references.len() > 1 {
        md.push_str(&format!(
            "\nThe study trained other configurations of {f} too: the same bar is read against each with the \
{c} (once the baselines have had their configuration trials, against {f}'s chosen one: docs/ablations.md, \
\"Fair choice\").\n",
            f = BAR_REFERENCE.0,
            c = BAR_REFERENCE.1,
        ));
    }
    for reference in &references {
        if references.len() > 1 {
            md.push_str(&format!("\n### Against {reference}\n"));
        }
        md.push_str(&format!(
            "\n| row | composed − {reference}, points | over seeds | safe-knowledge ASR − {reference}, points | over seeds | meets |\n\
|---|---|---|---|---|---|\n"
        ));
        for b in r.bar.iter().filter(|b| b.composed.reference == *reference) {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                b.row,
                b.composed.points(),
                b.composed.seed_points(),
                b.safe_knowledge.points(),
                b.safe_knowledge.seed_points(),
                if b.meets() { "**yes**" } else { "no" },
            ));
        }
    }
    md
}

fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::ReferenceBetter => "reference better",
        Verdict::NoDifference => "no difference",
        Verdict::ReferenceWorse => "**reference worse**",
    }
}
