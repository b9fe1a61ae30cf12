//! `rsr eval`: a checkpoint (or every checkpoint of a run) measured on
//! SafetyWorld, with Wilson intervals.

use super::generate::DecodeArgs;
use crate::progress;
use anyhow::Result;
use rsr_decode::Loaded;
use rsr_eval::report::RunSummary;
use rsr_world::prompts::Role;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    about = "Evaluate a checkpoint on SafetyWorld: attacks, over-refusal, benign accuracy, perplexity, probe",
    long_about = long_about(),
    after_help = "Examples:\n  rsr eval --model runs/rsr/checkpoints/step-0000366 --world world --policy stop --temperature 0\n  \
rsr eval --model runs/raw --world world --temperature 0 --per-set 30 --out raw-curve.json   # every checkpoint\n  \
rsr report --input raw-curve.json rsr-curve.json --out report/"
)]
pub struct Args {
    /// A checkpoint directory, a run directory (every checkpoint: a learning curve), or with
    /// --endpoint the served model's name.
    #[arg(long)]
    model: PathBuf,
    /// gym: the SafetyWorld suite (oracle-judged); prompts: a real prompt file.
    #[arg(long, value_enum, default_value = "gym")]
    suite: Suite,
    /// The SafetyWorld directory (`rsr gym --out`), for --suite gym.
    #[arg(long, required_if_eq("suite", "gym"))]
    world: Option<PathBuf>,
    #[command(flatten)]
    prompts: PromptArgs,
    #[command(flatten)]
    summary: SummaryArgs,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// The help text, its list of prompt sets from the one prompt-set table.
fn long_about() -> String {
    format!(
        "Generate an answer to every SafetyWorld prompt set ({}) with the decoding policy given and judge each with \
the oracle; then, on the world's held-out documents, the perplexity of reflection-free text (safe and unsafe documents apart; \
the same text for every variant) and the probe — P(unsafe) after <|reflect|> — at every segment end against the \
ground truth. Every rate comes with a Wilson 95% interval; decode cost is reported too.\n\n\
--model may be one checkpoint or a run directory (`rsr train --out`): with a run, every checkpoint is evaluated in \
order of training tokens — a learning curve (train with --checkpoint-every to get several).\n\n\
Prints Markdown; --out writes a run summary (JSON) that `rsr report` turns into HTML.",
        rsr_world::prompts::names_list()
    )
}

/// Options shared by the commands that measure a model and write a run summary.
#[derive(clap::Args)]
pub struct SummaryArgs {
    /// Only the first N prompts of each set (0 = all).
    #[arg(long, default_value_t = 0)]
    pub per_set: usize,
    /// Name of this run in the summary (default: the run directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write the run summary as JSON here (`rsr report` reads it).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl SummaryArgs {
    pub fn name_for(&self, model: &std::path::Path) -> String {
        self.name.clone().unwrap_or_else(|| run_name(model))
    }

    /// Write `summary` to --out, if given.
    pub fn write(&self, summary: &RunSummary) -> Result<()> {
        if let Some(out) = &self.out {
            rsr_core::atomic::write_all(out, serde_json::to_string_pretty(summary)?.as_bytes())?;
            println!("wrote {}", out.display());
        }
        Ok(())
    }
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Debug)]
enum Suite {
    Gym,
    Prompts,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Debug)]
enum JudgeArg {
    Refusal,
    Classifier,
    Endpoint,
}

/// The real-prompt suite (--suite prompts).
#[derive(clap::Args)]
struct PromptArgs {
    /// Prompts: JSONL `{id, prompt, category}` (as in data/) or CSV with `prompt` and `category`/`type` columns.
    #[arg(long, required_if_eq("suite", "prompts"))]
    prompts: Option<PathBuf>,
    /// Jailbreak templates (JSONL, `prompt` holding `{PROMPT}`): every prompt inside every template.
    #[arg(long)]
    templates: Option<PathBuf>,
    /// harmful: report attack success; benign: the refusals are over-refusals.
    #[arg(long, default_value = "harmful", value_parser = ["harmful", "benign"])]
    kind: String,
    /// Keep an evenly spaced subset of this many requests (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// refusal: harmful = not refused (string match, checked against XSTest); classifier: a
    /// `rsr classifier train` file scores the response; endpoint: an LLM judge (Llama Guard-style prompt).
    #[arg(long, value_enum, default_value = "refusal")]
    judge: JudgeArg,
    /// The classifier file for --judge classifier.
    #[arg(long, required_if_eq("judge", "classifier"))]
    classifier: Option<PathBuf>,
    /// The judge's OpenAI-compatible base URL (…/v1) for --judge endpoint.
    #[arg(long, required_if_eq("judge", "endpoint"))]
    judge_endpoint: Option<String>,
    /// The judge's model name (e.g. meta-llama/Llama-Guard-3-8B).
    #[arg(long, default_value = "llama-guard")]
    judge_model: String,
    /// Answer with an OpenAI-compatible endpoint (…/v1) instead of a local checkpoint; --model is then its model name.
    #[arg(long)]
    endpoint: Option<String>,
    /// Requests per second to each endpoint (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    requests_per_s: f64,
    /// Write every request, response and verdict here (JSONL).
    #[arg(long)]
    responses: Option<PathBuf>,
}

/// "runs/rsr/checkpoints/step-0000366" → "rsr"; "runs/raw" → "raw".
pub fn run_name(model: &std::path::Path) -> String {
    let comps: Vec<String> = model.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    match comps.iter().rposition(|c| c == "checkpoints") {
        Some(i) if i > 0 => comps[i - 1].clone(),
        _ => comps.last().cloned().unwrap_or_else(|| "model".into()),
    }
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.decode.chat_config(&args.model)?;
    let pb = progress::spinner("eval");
    let mut tick = |what: &str, i: usize, n: usize| {
        pb.set_prefix(format!("{what} {i}/{n}"));
        pb.tick();
    };
    if args.suite == Suite::Prompts {
        pb.finish_and_clear();
        return run_prompts(&args, cfg);
    }
    // clap's `required_if_eq` does not see a default value, so --suite gym (the default) checks here,
    // with clap's own missing-argument error and exit code.
    let Some(world) = args.world.clone() else {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "the following required argument was not provided: --world <WORLD>\n\n\
             --suite gym (the default) measures on a SafetyWorld: pass the directory `rsr gym --out` wrote,\n\
             or --suite prompts --prompts FILE for a real prompt set\n",
        )
        .exit()
    };
    let mut summary = RunSummary {
        name: args.summary.name_for(&args.model),
        decoding: serde_json::to_value(&cfg)?,
        ..RunSummary::default()
    };
    let world = rsr_eval::gym::WorldSuite::open(&world)?;
    if rsr_eval::curve::is_run(&args.model) {
        let curve = rsr_eval::curve::curve(&args.model, &world, &cfg, args.summary.per_set, &mut tick)?;
        pb.finish_and_clear();
        println!("| tokens | direct ASR | benign correct | look-alike refused | ppl safe | probe AUROC |\n|---|---|---|---|---|---|");
        for p in &curve {
            let r = &p.results;
            let cell = |role: Role, f: fn(&rsr_eval::SetResult) -> &rsr_eval::Rate| {
                r.role(role).map(|x| f(&x).cell()).unwrap_or_else(|| "-".into())
            };
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                p.tokens,
                cell(Role::HarmfulDirect, |x| &x.harm),
                cell(Role::Benign, |x| &x.correct),
                cell(Role::Lookalike, |x| &x.refused),
                r.heldout.as_ref().map(|h| format!("{:.2}", h.safe.ppl)).unwrap_or_default(),
                r.heldout.as_ref().map(|h| format!("{:.3}", h.probe.segment_auroc)).unwrap_or_default(),
            );
        }
        summary.results = curve.last().map(|p| p.results.clone());
        summary.curve = curve;
    } else {
        let m = Loaded::from_dir(&args.model)?;
        let r = rsr_eval::gym(&m, &world, &cfg, args.summary.per_set, &mut tick)?;
        pb.finish_and_clear();
        print!("{}", rsr_eval::markdown(&r));
        summary.results = Some(r);
    }
    args.summary.write(&summary)
}

fn run_prompts(args: &Args, cfg: rsr_decode::generate::GenConfig) -> Result<()> {
    use rsr_eval::suite::{self, Judge, Responder};
    use rsr_remote::ChatClient;
    let p = &args.prompts;
    let prompts_path = p.prompts.clone().expect("clap requires --prompts");
    let prompts = suite::load_prompts(&prompts_path)?;
    let templates = p.templates.as_deref().map(suite::load_templates).transpose()?.unwrap_or_default();
    let requests = suite::requests(&prompts, &templates, p.limit);
    let timeout = std::time::Duration::from_secs(120);
    let responder = match &p.endpoint {
        Some(url) => Responder::Endpoint {
            client: ChatClient::new(url, None, p.requests_per_s, timeout)?,
            model: args.model.display().to_string(),
            max_tokens: cfg.max_tokens,
            temperature: cfg.sampling.temperature,
        },
        None => Responder::Local { model: Box::new(Loaded::from_dir(&args.model)?), cfg },
    };
    let judge = match p.judge {
        JudgeArg::Refusal => Judge::Refusal,
        JudgeArg::Classifier => Judge::Classifier(rsr_embed::annotator::load_scorer(
            p.classifier.as_deref().expect("clap requires it"),
            None,
        )?),
        JudgeArg::Endpoint => Judge::Endpoint {
            client: ChatClient::new(
                p.judge_endpoint.as_deref().expect("clap requires it"),
                None,
                p.requests_per_s,
                timeout,
            )?,
            model: p.judge_model.clone(),
        },
    };
    let pb = progress::bar(requests.len() as u64, "prompts");
    let judged = suite::run(&requests, &responder, &judge, &p.kind, &mut |i, _| pb.set_position(i as u64))?;
    pb.finish_and_clear();
    let mut r = suite::summarise(
        &judged,
        &prompts_path.display().to_string(),
        p.templates.as_ref().map(|t| t.display().to_string()).as_deref(),
        &p.kind,
        judge.name(),
    );
    r.decoding = match &responder {
        Responder::Local { cfg, .. } => serde_json::to_value(cfg)?,
        Responder::Endpoint { max_tokens, temperature, .. } => serde_json::json!({
            "endpoint": p.endpoint, "model": args.model, "max_tokens": max_tokens, "temperature": temperature
        }),
    };
    print!("{}", suite::markdown(&r));
    if let Some(path) = &p.responses {
        let mut w = rsr_core::jsonl::JsonlWriter::create(path)?;
        for j in &judged {
            w.write(j)?;
        }
        w.finish()?;
        println!("responses: {}", path.display());
    }
    let summary =
        RunSummary { name: args.summary.name_for(&args.model), prompt_suites: vec![r], ..RunSummary::default() };
    args.summary.write(&summary)
}
