//! `rsr`: the command-line interface — one subcommand per stage of the data
//! flow, each in its own file under `cmd/`. This file only defines the
//! top-level command and reports errors.

mod cmd;
mod progress;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rsr",
    version,
    about = "Pretraining-stage safety alignment with Regular Safety Reflection",
    long_about = "rsr rewrites a pretraining corpus so that short safety reflections follow the text \
they judge at a regular cadence, and builds the baselines (raw, filter, rewrite, refuse, tag) from the same \
annotations so they can be compared at equal compute and at matched over-refusal.\n\n\
The data flow: gym (or your corpus) → annotate → transform → pack → train → generate/serve → eval → report.\n\n\
Start here:\n  rsr gym --out world          # a SafetyWorld corpus with exact ground truth\n  \
rsr transform --mode rsr --input world --out world-rsr\n  rsr demo                     # every corpus variant, side by side\n  \
rsr study                    # the fair comparison: seeds × budgets, matched over-refusal, paired",
    after_help = "Each subcommand has its own --help with examples.\n\n\
Exit status (as ripgrep's): 0 success; 1 finished, but skipped malformed records (counted in the \
output's manifest, the first few printed; --strict stops at the first instead); 2 failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads for the model's kernels (default: all logical CPUs). Speed only: a model trains
    /// and decodes to the same bits on any number of threads.
    #[arg(long, global = true, env = "RSR_THREADS")]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    Gym(cmd::gym::Args),
    Annotate(cmd::annotate::Args),
    Transform(cmd::transform::Args),
    Tokenizer(cmd::tokenizer::Args),
    Pack(cmd::pack::Args),
    Inspect(cmd::inspect::Args),
    Export(cmd::export::Args),
    Train(cmd::train::Args),
    Generate(cmd::generate::Args),
    Probe(cmd::probe::Args),
    Serve(cmd::serve::Args),
    Eval(cmd::eval::Args),
    Tamper(cmd::tamper::Args),
    Report(cmd::report::Args),
    Classifier(cmd::classifier::Args),
    Stats(cmd::stats::Args),
    Checkpoint(cmd::checkpoint::Args),
    Demo(cmd::demo::Args),
    Study(cmd::study::Args),
}

/// mimalloc, not glibc malloc: the `tokenizers` crate allocates a string per
/// token, and with glibc a third of `rsr pack`'s time went to malloc and
/// free (1.20× faster pack on the 1 GB pipeline bench, docs/benchmarks.md).
/// It also keeps freed model-sized buffers for reuse, so a prefill or a probe
/// does not map and unmap its activations each time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `rsr … | head` should end quietly, as other command-line tools do, not
/// panic in `println!` when the reader goes away.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Exit status: finished, but with skipped records (counted and reported).
const EXIT_SOFT_ERRORS: i32 = 1;
/// Exit status: the command failed (clap uses 2 for bad arguments too).
const EXIT_FAILURE: i32 = 2;

fn main() {
    default_sigpipe();
    rsr_core::jsonl::set_skip_reporter(|msg| eprintln!("warning: {msg}"));
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build_global() {
        eprintln!("error: could not start {threads} worker threads: {e}");
        std::process::exit(EXIT_FAILURE);
    }
    // The command itself runs on a worker of the pool, so the kernels' parallel
    // loops start in-pool: calling into rayon from outside costs a cross-thread
    // hand-off (futex wake and wait) per loop, which dominated token-by-token decoding.
    let result = if matches!(cli.command, Command::Serve(_)) {
        dispatch(cli.command)
    } else {
        rayon::scope(|_| dispatch(cli.command))
    };
    if let Err(e) = result {
        // A closed pipe (`rsr ... | head`) is not an error.
        if e.chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
        {
            std::process::exit(0);
        }
        eprintln!("error: {e:#}");
        std::process::exit(EXIT_FAILURE);
    }
    let skipped = rsr_core::jsonl::skipped_total();
    if skipped > 0 {
        eprintln!(
            "finished, but skipped {skipped} malformed record(s) (see the warnings above; --strict stops instead)"
        );
        std::process::exit(EXIT_SOFT_ERRORS);
    }
}

fn dispatch(c: Command) -> anyhow::Result<()> {
    match c {
        Command::Gym(a) => cmd::gym::run(a),
        Command::Annotate(a) => cmd::annotate::run(a),
        Command::Transform(a) => cmd::transform::run(a),
        Command::Tokenizer(a) => cmd::tokenizer::run(a),
        Command::Pack(a) => cmd::pack::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Probe(a) => cmd::probe::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Tamper(a) => cmd::tamper::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Classifier(a) => cmd::classifier::run(a),
        Command::Stats(a) => cmd::stats::run(a),
        Command::Checkpoint(a) => cmd::checkpoint::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Study(a) => cmd::study::run(a),
    }
}
