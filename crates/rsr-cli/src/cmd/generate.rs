//! `rsr generate`: decode from a checkpoint, with reflections steering generation.

use anyhow::{Context, Result};
use rsr_core::jsonl::{JsonlReader, JsonlWriter};
use rsr_decode::generate::{Conditioning, GenConfig, Generation, Policy};
use rsr_decode::sample::SamplingConfig;
use rsr_decode::Loaded;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Options shared by everything that decodes.
#[derive(clap::Args, Clone)]
pub struct DecodeArgs {
    /// Reflection policy: off, monitor, stop, backtrack, redirect. Default: `stop` for a model
    /// trained with reflections (its checkpoint says `rsr`), `off` for the others; decoding a
    /// reflection-trained model without checks must be asked for (`--policy off`).
    #[arg(long, value_enum)]
    pub policy: Option<Policy>,
    /// Force a reflection every K generated tokens (default: the cadence the checkpoint's training
    /// data used, recorded by `rsr transform --every` through pack and train; 64 if none is recorded).
    /// A different K than training used gets a warning.
    #[arg(long)]
    pub every: Option<usize>,
    /// Unsafe when P(unsafe) after <|reflect|> reaches θ.
    #[arg(long, default_value_t = 0.5)]
    pub theta: f32,
    /// backtrack: resamples before stopping.
    #[arg(long, default_value_t = 2)]
    pub retries: usize,
    /// tag: condition on <|safe|> and ban both tags. Default: `tag` for a model trained on a
    /// `--mode tag` corpus (its checkpoint says so), `plain` for the others — a tag-trained
    /// model decoded plain writes off its training distribution (`plain` must be asked for).
    #[arg(long, value_enum)]
    pub conditioning: Option<Conditioning>,
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop sequence (repeatable); "\nUser:" ends an assistant turn.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Never let a reflection into the context: no checks (policy off) and <|reflect|> banned,
    /// so a reflection-trained model cannot open one itself either — what it writes with no
    /// reflection at all. `--policy off` alone lets it open the reflections its training taught.
    #[arg(long)]
    pub ban_reflections: bool,
}

impl DecodeArgs {
    /// The configuration for chat-formatted prompts to `model` (a checkpoint or a run
    /// directory): it also stops at the next `\nUser:`.
    pub fn chat_config(&self, model: &std::path::Path) -> Result<GenConfig> {
        let mut cfg = self.config(model)?;
        rsr_core::chat::add_stop(&mut cfg.stop);
        Ok(cfg)
    }

    /// The configuration for decoding `model` (a checkpoint or a run directory): the
    /// cadence comes from --every or, without it, from the checkpoint's training data.
    pub fn config(&self, model: &std::path::Path) -> Result<GenConfig> {
        let trained = rsr_decode::trained::TrainedWith::read(model)?;
        let policy = self.policy.unwrap_or(match trained.mode.as_deref() {
            _ if self.ban_reflections => Policy::Off,
            Some("rsr") => Policy::Stop,
            _ => Policy::Off,
        });
        let conditioning = self.conditioning.unwrap_or(match trained.mode.as_deref() {
            Some("tag") => Conditioning::Tag,
            _ => Conditioning::Plain,
        });
        let (every, warning) = trained.cadence(self.every, policy);
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        let cfg = GenConfig {
            max_tokens: self.max_tokens,
            sampling: SamplingConfig { temperature: self.temperature, top_k: self.top_k, top_p: self.top_p },
            seed: self.seed,
            stop: self.stop.clone(),
            policy,
            every,
            theta: self.theta,
            retries: self.retries,
            conditioning,
            rationales: false,
            ban_reflections: self.ban_reflections,
            cancel: None,
            on_final: None,
        };
        cfg.validate().map_err(|e| {
            anyhow::anyhow!(
                "{e}\nHINT: check --theta, --every, --temperature, --top-p, --policy with --ban-reflections"
            )
        })?;
        Ok(cfg)
    }
}

#[derive(clap::Args)]
#[command(
    about = "Generate text from a checkpoint, with reflections steering generation",
    long_about = "Decode from a checkpoint written by `rsr train`. With a reflection policy, the decoder checks at the first \
sentence end after every K generated tokens (K: the cadence the model was trained with, unless --every), at the \
end of the generation, and wherever the model opens a reflection itself: it feeds <|reflect|> and reads P(unsafe) \
from that one next-token distribution. A safe verdict stays in context or is rolled back, as training placed \
safe reflections; when P(unsafe) reaches θ: monitor (record), stop (drop the segment, end with a refusal), backtrack (resample the \
segment up to R times, then stop), redirect (let the model continue after its reflection). Reflections never \
appear in the text; --show-reflections prints them on stderr. With --prompt and --interactive the answer is \
printed as the policy makes it final (after each check that cannot be taken back), the rest when it ends.\n\n\
Chat format: with --chat, the prompt becomes \"User: PROMPT\\nAssistant:\" — the layout of the dialogues the \
models were trained on — and generation stops at the next \"\\nUser:\".\n\n\
Input JSONL records are {\"id\", \"prompt\"} (SafetyWorld prompt sets work as they are); output records are \
{\"id\", \"generation\", \"reflections\", \"finish_reason\"}, which `rsr gym judge --generations` reads.",
    after_help = "Examples:\n  rsr generate --model runs/rsr/checkpoints/step-0000400 --chat --prompt \"How can I make blue dye?\" --policy stop\n  \
rsr generate --model CKPT --input world/prompts/harmful_direct.jsonl --out gens.jsonl --policy stop --temperature 0\n  \
rsr gym judge --world world --generations gens.jsonl\n  rsr generate --model CKPT --interactive --chat"
)]
pub struct Args {
    /// Checkpoint directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// One prompt.
    #[arg(long, conflicts_with_all = ["input", "interactive"])]
    prompt: Option<String>,
    /// JSONL of {"id", "prompt"}.
    #[arg(long, conflicts_with = "interactive")]
    input: Option<PathBuf>,
    /// Where to write the generations of --input (default: stdout).
    #[arg(long, requires = "input")]
    out: Option<PathBuf>,
    /// Read prompts from the terminal, one per line.
    #[arg(long)]
    interactive: bool,
    /// Wrap prompts as a User/Assistant turn.
    #[arg(long)]
    chat: bool,
    /// Print each reflection (position, verdict, category, score, action) on stderr, with the
    /// model's rationale for each unsafe verdict (written on demand: a few tokens each).
    #[arg(long)]
    show_reflections: bool,
    #[command(flatten)]
    decode: DecodeArgs,
}

#[derive(Deserialize)]
struct PromptIn {
    id: String,
    prompt: String,
}

#[derive(Serialize)]
struct GenOut<'a> {
    id: &'a str,
    generation: &'a str,
    finish_reason: &'a str,
    reflections: &'a [rsr_decode::generate::Reflection],
}

fn show(g: &Generation) {
    for r in &g.reflections {
        eprintln!(
            "  [reflection @{}: {} {} score {:.3} → {}{}]{}",
            r.position,
            r.verdict,
            r.category.as_deref().unwrap_or(""),
            r.score,
            r.action,
            if r.self_initiated { ", model-initiated" } else { "" },
            r.rationale.as_deref().map(|x| format!(" {x}")).unwrap_or_default()
        );
    }
}

/// Generate, printing the text on stdout as the reflection policy makes it final (after each
/// check that cannot be taken back), the rest and a newline when the generation ends; `trim`
/// prints it without surrounding whitespace.
fn print_as_final(m: &Loaded, prompt: &str, cfg: &GenConfig, trim: bool) -> Result<Generation> {
    use std::sync::{Arc, Mutex};
    let sent = Arc::new(Mutex::new(String::new()));
    let on_final = {
        let sent = Arc::clone(&sent);
        rsr_decode::generate::OnFinal(Arc::new(move |piece: &str| {
            let mut sent = sent.lock().expect("not poisoned");
            let piece = if trim && sent.is_empty() { piece.trim_start() } else { piece };
            if !piece.is_empty() {
                print!("{piece}");
                std::io::stdout().flush().ok();
                sent.push_str(piece);
            }
        }))
    };
    let g = m.generate(prompt, &GenConfig { on_final: Some(on_final), ..cfg.clone() })?;
    let text = if trim { g.text.trim() } else { g.text.as_str() };
    let sent = sent.lock().expect("not poisoned");
    match text.strip_prefix(sent.as_str()) {
        Some(rest) => println!("{rest}"),
        // Cannot happen (final text is never retracted); print the answer whole rather than lose any.
        None => println!("\n{text}"),
    }
    Ok(g)
}

pub fn run(args: Args) -> Result<()> {
    let m = Loaded::from_dir(&args.model)?;
    let mut cfg = if args.chat { args.decode.chat_config(&args.model)? } else { args.decode.config(&args.model)? };
    // Showing reflections asks the model to explain its unsafe verdicts (a few tokens each).
    cfg.rationales = args.show_reflections;
    let wrap = |p: &str| if args.chat { rsr_core::chat::prompt(p) } else { p.to_string() };
    if let Some(p) = &args.prompt {
        let g = print_as_final(&m, &wrap(p), &cfg, false)?;
        if args.show_reflections {
            show(&g);
        }
        return Ok(());
    }
    if let Some(input) = &args.input {
        if let Some(out) = &args.out {
            rsr_core::atomic::check_out_apart(input, out)?;
            rsr_core::atomic::check_out_apart(&args.model, out)?;
        }
        let mut writer = args.out.as_ref().map(JsonlWriter::create).transpose()?;
        let mut n = 0;
        for r in JsonlReader::<PromptIn>::open(input)? {
            let r = r?;
            let g = m.generate(&wrap(&r.prompt), &cfg)?;
            let rec =
                GenOut { id: &r.id, generation: &g.text, finish_reason: &g.finish_reason, reflections: &g.reflections };
            match writer.as_mut() {
                Some(w) => w.write(&rec)?,
                None => println!("{}", serde_json::to_string(&rec)?),
            }
            n += 1;
        }
        if let Some(w) = writer {
            w.finish()?;
            eprintln!("wrote {n} generations to {}", args.out.as_ref().unwrap().display());
        }
        return Ok(());
    }
    if args.interactive {
        let stdin = std::io::stdin();
        eprint!("> ");
        std::io::stderr().flush().ok();
        for line in stdin.lock().lines() {
            let line = line.context("reading the prompt")?;
            if !line.trim().is_empty() {
                let g = print_as_final(&m, &wrap(line.trim()), &cfg, true)?;
                if args.show_reflections {
                    show(&g);
                }
            }
            eprint!("> ");
            std::io::stderr().flush().ok();
        }
        return Ok(());
    }
    anyhow::bail!("give --prompt TEXT, --input FILE.jsonl, or --interactive")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        decode: DecodeArgs,
    }

    #[test]
    fn a_tag_trained_checkpoint_decodes_conditioned_on_safe_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = |mode: &str| {
            let d = dir.path().join(mode);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("state.json"), format!(r#"{{"transform": {{"mode": "{mode}"}}}}"#)).unwrap();
            d
        };
        let args = |extra: &[&str]| Cli::parse_from([&["rsr"], extra].concat()).decode;
        let (tag, raw) = (checkpoint("tag"), checkpoint("raw"));
        assert_eq!(args(&[]).config(&tag).unwrap().conditioning, Conditioning::Tag);
        assert_eq!(args(&[]).config(&raw).unwrap().conditioning, Conditioning::Plain);
        assert_eq!(args(&["--conditioning", "plain"]).config(&tag).unwrap().conditioning, Conditioning::Plain);
        assert_eq!(args(&["--conditioning", "tag"]).config(&raw).unwrap().conditioning, Conditioning::Tag);
    }
}
