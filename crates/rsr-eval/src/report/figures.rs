//! The report's figures, drawn by `plotters` as SVG.

use super::tables::{attacks, harm, UTILITY};
use crate::gym::GymResult;
use crate::results::RunSummary;
use crate::stats::Rate;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rsr_core::{Error, Result};

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
                &series(&|g| {
                    g.role(rsr_world::prompts::Role::Benign).filter(|s| s.correct.n > 0).map(|s| 100.0 * s.correct.rate)
                }),
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
    let operating: Vec<(String, Vec<(f64, f64)>)> = runs
        .iter()
        .flat_map(|r| {
            r.operating.iter().map(move |o| {
                let mut pts: Vec<(f64, f64)> =
                    o.curve.iter().map(|&(_, refused, asr)| (100.0 * refused, 100.0 * asr)).collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
                // Many thresholds give the same point: draw each point once.
                pts.dedup_by(|a, b| (a.0 - b.0).abs() < 0.5 && (a.1 - b.1).abs() < 0.5);
                (format!("{} ({})", r.name, o.monitor), pts)
            })
        })
        .collect();
    if !operating.is_empty() {
        out.push(Figure {
            name: "operating-points".into(),
            caption: "Attack success against over-refusal on the test half, every threshold θ of each variant's \
monitor (one greedy pass replayed at each θ): lower and further left is better; a curve below another is \
safer at every over-refusal."
                .into(),
            svg: lines(
                "ASR vs over-refusal",
                "benign + look-alike refused (%)",
                "ASR (all harmful sets)",
                true,
                &operating,
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
