//! `rsr report`: run summaries → one self-contained HTML page and a Markdown twin.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Compare runs in one self-contained HTML page (and a Markdown twin)",
    long_about = "Read run summaries — `rsr demo`'s results.json, `rsr eval --out`, `rsr tamper --out` (summaries \
with the same name are merged) — and write OUT/report.html: the results table with Wilson intervals, where rsr \
does not come out best (from the numbers), attack success and utility bars, learning curves, tamper curves and cost \
bars, drawn as inline SVG so the page needs no server and no network. OUT/report.md has the same tables, with the \
figures as OUT/figures/*.svg.",
    after_help = "Examples:\n  rsr report --input rsr-demo/results.json --out rsr-demo\n  \
rsr report --input raw.json rsr.json rsr-tamper.json --out report --title \"rsr vs raw, 4M tokens\""
)]
pub struct Args {
    /// Run summary JSON files.
    #[arg(long, num_args = 1.., required = true)]
    input: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "rsr report")]
    title: String,
}

pub fn run(args: Args) -> Result<()> {
    let runs = rsr_eval::report::load(&args.input)?;
    let path = rsr_eval::report::write(&args.out, &args.title, "", &runs)?;
    println!(
        "report: {} ({} runs); Markdown twin: {}",
        path.display(),
        runs.len(),
        args.out.join("report.md").display()
    );
    Ok(())
}
