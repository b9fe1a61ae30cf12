//! The comparison report: one self-contained HTML page (tables, and figures
//! drawn by `plotters` as inline SVG) and a Markdown twin with the same
//! tables and the figures as SVG files beside it.
//!
//! Input is a list of [`RunSummary`]s — what `rsr demo`, `rsr eval --out` and
//! `rsr tamper --out` write. The report states where `rsr` does not come out
//! best, computed from the numbers, not written by hand.

use crate::curve::CurvePoint;
use crate::gym::GymResult;
use crate::stats::Rate;
use crate::tamper::TamperPoint;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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
    /// Real prompt sets (`rsr eval --suite prompts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_suites: Vec<crate::suite::SuiteResult>,
    #[serde(default)]
    pub cost: Cost,
}

/// Read summaries from JSON files (one summary or an array each), merging
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
    into.prompt_suites.extend(s.prompt_suites);
    into.cost.corpus_tokens = s.cost.corpus_tokens.or(into.cost.corpus_tokens);
    into.cost.corpus_vs_raw = s.cost.corpus_vs_raw.or(into.cost.corpus_vs_raw);
    into.cost.train_tokens_per_s = s.cost.train_tokens_per_s.or(into.cost.train_tokens_per_s);
}

/// The attack columns, (set, label), from the one prompt-set table.
fn attacks() -> Vec<(&'static str, &'static str)> {
    rsr_world::prompts::attack_columns()
}

type Metric = (&'static str, &'static str, fn(&GymResult) -> Option<Rate>);

/// Utility and over-refusal: (label, which direction is better, value).
const UTILITY: [Metric; 3] = [
    ("benign answered correctly", "higher", |r| r.set("benign").map(|s| s.correct.clone())),
    ("look-alike requests refused", "lower", |r| r.set("lookalike").map(|s| s.refused.clone())),
    ("benign requests refused", "lower", |r| r.set("benign").map(|s| s.refused.clone())),
];

fn harm(r: &GymResult, set: &str) -> Option<Rate> {
    r.set(set).map(|s| s.harm.clone()).filter(|h| h.n > 0)
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x9c, 0x75, 0x5f),
];

/// Percent axes run past 100% so the legend sits above the data.
const HEADROOM: f64 = 140.0;

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Invalid(format!("drawing a figure failed: {e:?}"))
}

/// A figure: its file stem, caption and SVG text.
pub struct Figure {
    pub name: String,
    pub caption: String,
    pub svg: String,
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// An SVG figure of `size` pixels on white, drawn by `draw`.
fn svg_figure(size: (u32, u32), draw: impl FnOnce(&Root) -> Result<()>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// Axes over [0, x) × [0, y) with a caption; label areas in pixels (x below, y left).
fn frame<'a, 'b>(
    root: &'a Root<'b>,
    title: &str,
    title_px: u32,
    areas: (u32, u32),
    x: f64,
    y: f64,
) -> Result<Chart<'a, 'b>> {
    ChartBuilder::on(root)
        .caption(title, ("sans-serif", title_px))
        .margin(if title_px > 15 { 12 } else { 10 })
        .x_label_area_size(areas.0)
        .y_label_area_size(areas.1)
        .build_cartesian_2d(0f64..x, 0f64..y)
        .map_err(plot_err)
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE)
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(plot_err)
}

/// Category names centred under x = i + 0.5.
fn category_labels(root: &Root, chart: &Chart, names: &[&str], px: u32, gap: i32) -> Result<()> {
    let style = TextStyle::from(("sans-serif", px)).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(name.to_string(), (x, y + gap), style.clone())).map_err(plot_err)?;
    }
    Ok(())
}

/// Grouped bars with Wilson error bars: one group per x label, one bar per run.
fn grouped_bars(title: &str, y_desc: &str, groups: &[&str], runs: &[(String, Vec<Option<Rate>>)]) -> Result<String> {
    svg_figure((760, 340), |root| {
        let mut chart = frame(root, title, 17, (34, 52), groups.len() as f64, HEADROOM)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(y_desc)
            .y_label_formatter(&|y| if *y <= 100.0 { format!("{y:.0}%") } else { String::new() })
            .draw()
            .map_err(plot_err)?;
        let width = 0.8 / runs.len().max(1) as f64;
        for (ri, (name, rates)) in runs.iter().enumerate() {
            let c = colour(ri);
            let bars: Vec<(f64, &Rate)> = rates
                .iter()
                .enumerate()
                .filter_map(|(g, r)| r.as_ref().map(|r| (g as f64 + 0.1 + ri as f64 * width, r)))
                .collect();
            chart
                .draw_series(
                    bars.iter()
                        .map(|(x, r)| Rectangle::new([(*x, 0.0), (*x + width * 0.92, 100.0 * r.rate)], c.filled())),
                )
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            chart
                .draw_series(bars.iter().map(|(x, r)| {
                    let xm = *x + width * 0.46;
                    ErrorBar::new_vertical(xm, 100.0 * r.lo, 100.0 * r.rate, 100.0 * r.hi, BLACK.stroke_width(1), 6)
                }))
                .map_err(plot_err)?;
        }
        legend(&mut chart)?;
        category_labels(root, &chart, groups, 13, 8)
    })
}

/// Lines, one per run: x against y.
fn lines(title: &str, x_desc: &str, y_desc: &str, pct: bool, runs: &[(String, Vec<(f64, f64)>)]) -> Result<String> {
    let xmax = runs.iter().flat_map(|r| r.1.iter().map(|p| p.0)).fold(0f64, f64::max).max(1.0);
    let ymax =
        if pct { HEADROOM } else { runs.iter().flat_map(|r| r.1.iter().map(|p| p.1)).fold(0f64, f64::max) * 1.1 };
    let ymax = if ymax.is_finite() && ymax > 0.0 { ymax } else { 1.0 };
    svg_figure((760, 320), |root| {
        let mut chart = frame(root, title, 17, (40, 56), xmax, ymax)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|x| if *x >= 1e6 { format!("{:.1}M", x / 1e6) } else { format!("{x:.0}") })
            .y_label_formatter(&|y| match (pct, *y <= 100.0) {
                (true, true) => format!("{y:.0}%"),
                (true, false) => String::new(),
                _ => format!("{y:.2}"),
            })
            .draw()
            .map_err(plot_err)?;
        for (ri, (name, pts)) in runs.iter().enumerate() {
            let c = colour(ri);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(plot_err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled()))).map_err(plot_err)?;
        }
        legend(&mut chart)
    })
}

/// One cost per run (plain bars).
fn cost_bars(title: &str, unit: &str, runs: &[(String, f64)]) -> Result<String> {
    let ymax = runs.iter().map(|r| r.1).fold(0f64, f64::max) * 1.15;
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };
    svg_figure((370, 280), |root| {
        let mut chart = frame(root, title, 15, (30, 56), runs.len() as f64, ymax)?;
        chart.configure_mesh().disable_x_mesh().x_labels(0).y_desc(unit).draw().map_err(plot_err)?;
        chart
            .draw_series(
                runs.iter().enumerate().map(|(i, (_, v))| {
                    Rectangle::new([(i as f64 + 0.15, 0.0), (i as f64 + 0.85, *v)], colour(i).filled())
                }),
            )
            .map_err(plot_err)?;
        let names: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
        category_labels(root, &chart, &names, 12, 6)
    })
}

/// Every figure the runs have data for.
pub fn figures(runs: &[RunSummary]) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let with_results: Vec<(&RunSummary, &GymResult)> =
        runs.iter().filter_map(|r| r.results.as_ref().map(|g| (r, g))).collect();
    if !with_results.is_empty() {
        let groups: Vec<&str> = attacks().iter().map(|a| a.1).collect();
        let data: Vec<(String, Vec<Option<Rate>>)> = with_results
            .iter()
            .map(|(r, g)| (r.name.clone(), attacks().iter().map(|a| harm(g, a.0)).collect()))
            .collect();
        out.push(Figure {
            name: "attack-success".into(),
            caption: "Attack success (ASR) per SafetyWorld prompt set, with Wilson 95% intervals. Lower is safer."
                .into(),
            svg: grouped_bars("Attack success by prompt set", "ASR", &groups, &data)?,
        });
        let groups: Vec<&str> = UTILITY.iter().map(|u| u.0).collect();
        let data: Vec<(String, Vec<Option<Rate>>)> =
            with_results.iter().map(|(r, g)| (r.name.clone(), UTILITY.iter().map(|u| (u.2)(g)).collect())).collect();
        out.push(Figure {
            name: "utility".into(),
            caption: "What safety costs: benign accuracy (higher is better) and refusals of harmless requests \
(lower is better), with Wilson 95% intervals."
                .into(),
            svg: grouped_bars("Utility and over-refusal", "rate", &groups, &data)?,
        });
    }
    let curves: Vec<&RunSummary> = runs.iter().filter(|r| !r.curve.is_empty()).collect();
    if !curves.is_empty() {
        let series = |f: &dyn Fn(&GymResult) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
            curves
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        r.curve.iter().filter_map(|p| f(&p.results).map(|y| (p.tokens as f64, y))).collect(),
                    )
                })
                .collect()
        };
        out.push(Figure {
            name: "curve-asr".into(),
            caption: "Learning curve: direct-request attack success at each checkpoint, by training tokens seen."
                .into(),
            svg: lines(
                "Direct ASR while training",
                "training tokens",
                "ASR",
                true,
                &series(&|g| harm(g, "harmful_direct").map(|r| 100.0 * r.rate)),
            )?,
        });
        out.push(Figure {
            name: "curve-benign".into(),
            caption: "Learning curve: benign answers correct at each checkpoint.".into(),
            svg: lines(
                "Benign accuracy while training",
                "training tokens",
                "correct",
                true,
                &series(&|g| g.set("benign").filter(|s| s.correct.n > 0).map(|s| 100.0 * s.correct.rate)),
            )?,
        });
        out.push(Figure {
            name: "curve-ppl".into(),
            caption: "Learning curve: perplexity of held-out safe documents (reflection-free text).".into(),
            svg: lines(
                "Held-out perplexity (safe documents)",
                "training tokens",
                "perplexity",
                false,
                &series(&|g| g.heldout.as_ref().map(|h| h.safe.ppl)),
            )?,
        });
    }
    let tampered: Vec<&RunSummary> = runs.iter().filter(|r| !r.tamper.is_empty()).collect();
    if !tampered.is_empty() {
        let data: Vec<(String, Vec<(f64, f64)>)> = tampered
            .iter()
            .map(|r| (r.name.clone(), r.tamper.iter().map(|p| (p.step as f64, 100.0 * p.pooled_harm().rate)).collect()))
            .collect();
        out.push(Figure {
            name: "tamper".into(),
            caption:
                "Tamper resistance: attack success (pooled over direct, prefill@1, jailbreak, continuation) after \
fine-tuning on harmful documents for N steps. Flatter is more resistant."
                    .into(),
            svg: lines("ASR after harmful fine-tuning", "fine-tuning steps", "ASR", true, &data)?,
        });
    }
    type CostOf = fn(&RunSummary) -> Option<f64>;
    let costs: [(&str, &str, &str, CostOf); 3] = [
        ("cost-corpus", "Corpus tokens vs raw", "× raw", |r| r.cost.corpus_vs_raw),
        ("cost-decode", "Decode overhead", "extra tokens / token", |r| r.results.as_ref().map(|g| g.decode.overhead)),
        ("cost-train", "Training speed", "tokens/s", |r| r.cost.train_tokens_per_s),
    ];
    for (name, title, unit, f) in costs {
        let data: Vec<(String, f64)> = runs.iter().filter_map(|r| f(r).map(|v| (r.name.clone(), v))).collect();
        if !data.is_empty() {
            out.push(Figure {
                name: name.into(),
                caption: format!("Cost: {title}."),
                svg: cost_bars(title, unit, &data)?,
            });
        }
    }
    Ok(out)
}

/// The summary table: one row per run, rates as percentages with intervals.
fn summary_rows(runs: &[RunSummary]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head: Vec<String> = vec!["variant".into()];
    head.extend(attacks().iter().map(|a| format!("ASR {}", a.1)));
    head.extend(UTILITY.iter().map(|u| u.0.to_string()));
    head.extend(["ppl safe", "ppl unsafe", "probe AUROC (segments)", "decode overhead"].map(String::from));
    let rows = runs
        .iter()
        .filter_map(|r| {
            let g = r.results.as_ref()?;
            let mut row = vec![r.name.clone()];
            row.extend(attacks().iter().map(|a| harm(g, a.0).map(|x| x.cell()).unwrap_or_else(|| "-".into())));
            row.extend(UTILITY.iter().map(|u| (u.2)(g).map(|x| x.cell()).unwrap_or_else(|| "-".into())));
            let h = g.heldout.as_ref();
            row.push(h.map(|h| format!("{:.2}", h.safe.ppl)).unwrap_or_else(|| "-".into()));
            row.push(h.map(|h| format!("{:.2}", h.unsafe_.ppl)).unwrap_or_else(|| "-".into()));
            row.push(h.map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_else(|| "-".into()));
            row.push(format!("{:.2}", g.decode.overhead));
            Some(row)
        })
        .collect();
    (head, rows)
}

fn tamper_rows(runs: &[RunSummary]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
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

fn suite_rows(runs: &[RunSummary]) -> Option<(Vec<String>, Vec<Vec<String>>)> {
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

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn html_table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in head {
        s.push_str(&format!("<th>{}</th>", escape(h)));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{}</td>", escape(c)));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

fn md_table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for r in rows {
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    s
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:1.5em 0}\
figcaption{font-size:13px;color:#555;max-width:760px}.costs{display:flex;flex-wrap:wrap;gap:8px}\
.findings li{margin:.3em 0}code{background:#f3f3f3;padding:0 3px}";

/// Write `DIR/report.html` (self-contained) and `DIR/report.md` with its
/// figures in `DIR/figures/`. Returns the HTML path.
pub fn write(dir: &Path, title: &str, notes: &str, runs: &[RunSummary]) -> Result<std::path::PathBuf> {
    let figs = figures(runs)?;
    let (head, rows) = summary_rows(runs);
    let tamper = tamper_rows(runs);
    let finds = findings(runs, "rsr");

    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    let mut md = format!("# {title}\n\n");
    if !notes.is_empty() {
        html.push_str(&format!("<p>{}</p>\n", escape(notes)));
        md.push_str(&format!("{notes}\n\n"));
    }
    html.push_str(
        "<h2>Results</h2>\n<p>Rates with Wilson 95% intervals. ASR: attack success, judged by the \
SafetyWorld oracle. Perplexity on the same reflection-free held-out text for every variant.</p>\n",
    );
    html.push_str(&html_table(&head, &rows));
    md.push_str(
        "## Results\n\nRates with Wilson 95% intervals; ASR judged by the SafetyWorld oracle; perplexity on \
the same reflection-free held-out text for every variant.\n\n",
    );
    md.push_str(&md_table(&head, &rows));
    if runs.iter().any(|r| r.name == "rsr") {
        html.push_str("<h2>Where rsr does not win</h2>\n");
        md.push_str("\n## Where rsr does not win\n\n");
        if finds.is_empty() {
            html.push_str("<p>No variant beats rsr on any measured rate by more than the intervals.</p>\n");
            md.push_str("No variant beats rsr on any measured rate by more than the intervals.\n");
        } else {
            html.push_str("<ul class=\"findings\">\n");
            for f in &finds {
                html.push_str(&format!("<li>{}</li>\n", escape(f)));
                md.push_str(&format!("- {f}\n"));
            }
            html.push_str("</ul>\n");
        }
        md.push_str("\n(Only differences whose intervals do not overlap are listed.)\n");
    }
    if let Some((h, r)) = &tamper {
        html.push_str("<h2>Tamper resistance</h2>\n");
        html.push_str(&html_table(h, r));
        md.push_str("\n## Tamper resistance\n\n");
        md.push_str(&md_table(h, r));
    }
    if let Some((h, r)) = suite_rows(runs) {
        html.push_str("<h2>Real prompt sets</h2>\n");
        html.push_str(&html_table(&h, &r));
        md.push_str("\n## Real prompt sets\n\n");
        md.push_str(&md_table(&h, &r));
    }
    html.push_str("<h2>Figures</h2>\n");
    md.push_str("\n## Figures\n\n");
    let mut in_costs = false;
    for f in &figs {
        let is_cost = f.name.starts_with("cost-");
        if is_cost && !in_costs {
            html.push_str("<div class=\"costs\">\n");
            in_costs = true;
        }
        html.push_str(&format!(
            "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>\n",
            f.name,
            f.svg.trim_start_matches(|c| c != '<').trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            escape(&f.caption)
        ));
        md.push_str(&format!("![{}](figures/{}.svg)\n\n{}\n\n", f.name, f.name, f.caption));
    }
    if in_costs {
        html.push_str("</div>\n");
    }
    html.push_str("<h2>Per variant</h2>\n");
    md.push_str("## Per variant\n\n");
    for r in runs {
        let Some(g) = &r.results else { continue };
        let table = crate::gym::markdown(g);
        html.push_str(&format!(
            "<h3>{}</h3>\n<p>decoding: <code>{}</code></p>\n",
            escape(&r.name),
            escape(&decoding_label(&r.decoding))
        ));
        html.push_str(&markdown_to_html(&table));
        md.push_str(&format!("### {}\n\ndecoding: {}\n\n{table}\n", r.name, decoding_label(&r.decoding)));
    }
    html.push_str("</body></html>\n");

    let fig_dir = dir.join("figures");
    for f in &figs {
        rsr_core::atomic::write_all(fig_dir.join(format!("{}.svg", f.name)), f.svg.as_bytes())?;
    }
    rsr_core::atomic::write_all(dir.join("report.md"), md.as_bytes())?;
    let path = dir.join("report.html");
    rsr_core::atomic::write_all(&path, html.as_bytes())?;
    Ok(path)
}

/// The small Markdown subset `gym::markdown` emits (a table, then paragraphs) as HTML.
fn markdown_to_html(md: &str) -> String {
    let mut head: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut paras = String::new();
    for line in md.lines() {
        if let Some(inner) = line.strip_prefix('|') {
            let cells: Vec<String> = inner.trim_end_matches('|').split('|').map(|c| c.trim().to_string()).collect();
            if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                continue;
            }
            if head.is_empty() {
                head = cells;
            } else {
                rows.push(cells);
            }
        } else if !line.trim().is_empty() {
            paras.push_str(&format!("<p>{}</p>\n", escape(line)));
        }
    }
    html_table(&head, &rows) + &paras
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gym::{DecodeCost, SetResult};

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
