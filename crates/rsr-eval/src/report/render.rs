//! Rendering: one self-contained HTML page and its Markdown twin, written side by side.

use super::decoding::decoding_label;
use super::figures::figures;
use super::tables::{findings, operating_rows, suite_rows, summary_rows, tamper_rows};
use crate::results::RunSummary;
use rsr_core::Result;
use std::path::Path;

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

/// The HTML page and its Markdown twin, written together: every block goes to both, so the
/// two cannot drift apart.
struct Page {
    html: String,
    md: String,
}

impl Page {
    fn new(title: &str) -> Self {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head>\n<body>\n<h1>{t}</h1>\n",
            t = escape(title)
        );
        Self { html, md: format!("# {title}\n\n") }
    }

    fn heading(&mut self, level: usize, text: &str) {
        self.html.push_str(&format!("<h{level}>{}</h{level}>\n", escape(text)));
        self.md.push_str(&format!("{} {text}\n\n", "#".repeat(level)));
    }

    fn para(&mut self, text: &str) {
        self.html.push_str(&format!("<p>{}</p>\n", escape(text)));
        self.md.push_str(&format!("{text}\n\n"));
    }

    fn list(&mut self, items: &[String]) {
        self.html.push_str("<ul class=\"findings\">\n");
        for i in items {
            self.html.push_str(&format!("<li>{}</li>\n", escape(i)));
            self.md.push_str(&format!("- {i}\n"));
        }
        self.html.push_str("</ul>\n");
        self.md.push('\n');
    }

    fn table(&mut self, head: &[String], rows: &[Vec<String>]) {
        self.html.push_str(&html_table(head, rows));
        self.md.push_str(&md_table(head, rows));
        self.md.push('\n');
    }

    /// A table in the Markdown subset `gym::markdown` emits.
    fn markdown_table(&mut self, md: &str) {
        self.html.push_str(&markdown_to_html(md));
        self.md.push_str(md);
        self.md.push('\n');
    }

    fn figure(&mut self, f: &super::figures::Figure) {
        self.html.push_str(&format!(
            "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>\n",
            f.name,
            f.svg.trim_start_matches(|c| c != '<').trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            escape(&f.caption)
        ));
        self.md.push_str(&format!("![{}](figures/{}.svg)\n\n{}\n\n", f.name, f.name, f.caption));
    }

    /// HTML only: a wrapper around what follows (`<div class=…>`) or its end (`</div>`).
    fn html_only(&mut self, html: &str) {
        self.html.push_str(html);
    }
}

/// Write `DIR/report.html` (self-contained) and `DIR/report.md` with its
/// figures in `DIR/figures/`. Returns the HTML path.
pub fn write(dir: &Path, title: &str, notes: &str, runs: &[RunSummary]) -> Result<std::path::PathBuf> {
    let figs = figures(runs)?;
    let mut page = Page::new(title);
    if !notes.is_empty() {
        page.para(notes);
    }
    page.heading(2, "Results");
    page.para(
        "Rates with Wilson 95% intervals. ASR: attack success, judged by the SafetyWorld oracle. Perplexity on the \
         same reflection-free held-out text for every variant.",
    );
    let (head, rows) = summary_rows(runs);
    page.table(&head, &rows);
    if let Some((h, r)) = operating_rows(runs) {
        let budget = runs.iter().flat_map(|r| &r.operating).map(|o| o.budget).next().unwrap_or_default();
        page.heading(2, "At matched over-refusal");
        page.para(&format!(
            "Every variant with a monitor under one decoding rule (check at sentence ends every K tokens, stop \
and refuse at θ): `own` is the model's own score (rsr: its reflection; tag: P(<|unsafe|>) against P(<|safe|>) at \
each segment start), `classifier` an external hashed classifier on the world's ground-truth labels scoring the \
request and each segment, `none` no monitor at all (for rsr: masking alone). θ is, for every row alike, the smallest that \
refuses at most {:.0}% of the validation half's benign and look-alike prompts; the rates are on the test half \
(prompts split by procedure). The operating-points figure draws each row's whole curve; the last column sums it up \
with no θ: the AUROC of the monitor's highest score on a test answer, the answers that delivered the harm against the \
benign and look-alike ones (every monitor of a variant scores the same answers; `-` for `none`).",
            100.0 * budget
        ));
        page.table(&h, &r);
    }
    if runs.iter().any(|r| r.name == "rsr") {
        page.heading(2, "Where rsr does not win");
        let finds = findings(runs, "rsr");
        if finds.is_empty() {
            page.para("No variant beats rsr on any measured rate by more than the intervals.");
        } else {
            page.list(&finds);
            page.para("(Only differences whose intervals do not overlap are listed.)");
        }
    }
    if let Some((h, r)) = tamper_rows(runs) {
        page.heading(2, "Tamper resistance");
        page.table(&h, &r);
    }
    if let Some((h, r)) = suite_rows(runs) {
        page.heading(2, "Real prompt sets");
        page.table(&h, &r);
    }
    page.heading(2, "Figures");
    let mut in_costs = false;
    for f in &figs {
        if f.name.starts_with("cost-") && !in_costs {
            page.html_only("<div class=\"costs\">\n");
            in_costs = true;
        }
        page.figure(f);
    }
    if in_costs {
        page.html_only("</div>\n");
    }
    page.heading(2, "Per variant");
    for r in runs {
        let Some(g) = &r.results else { continue };
        page.heading(3, &r.name);
        page.para(&format!("decoding: {}", decoding_label(&r.decoding)));
        page.markdown_table(&crate::gym::markdown(g));
    }
    page.html_only("</body></html>\n");

    let fig_dir = dir.join("figures");
    for f in &figs {
        rsr_core::atomic::write_all(fig_dir.join(format!("{}.svg", f.name)), f.svg.as_bytes())?;
    }
    rsr_core::atomic::write_all(dir.join("report.md"), page.md.as_bytes())?;
    let path = dir.join("report.html");
    rsr_core::atomic::write_all(&path, page.html.as_bytes())?;
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
