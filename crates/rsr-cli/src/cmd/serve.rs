//! `rsr serve`: an OpenAI-compatible HTTP server for a checkpoint.

use super::generate::DecodeArgs;
use anyhow::{Context, Result};
use rsr_decode::Loaded;
use rsr_serve::{AppState, Limits};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
#[command(
    about = "Serve a checkpoint over an OpenAI-compatible HTTP API, reflections included",
    long_about = "Serve POST /v1/completions and /v1/chat/completions (\"stream\": true for server-sent events), \
GET /v1/models and GET /health. Every response carries a `reflections` list (position, verdict, category, \
score, action); reflections never appear in the text. The reflection policy (--policy, --every, --theta, \
--retries, --conditioning) is the operator's: a request that asks for other values gets 403, unless the server \
runs with --allow-client-policy. Parameters the server does not implement (tools, logit_bias, n > 1, …) get a \
400 naming them.\n\n\
Chat format: messages become \"User: …\" / \"Assistant: …\" lines (a system message first, as plain text), \
the prompt ends with \"Assistant:\", and generation stops at \"\\nUser:\". Streaming sends the text once the \
reflection policy has judged it.",
    after_help = "Examples:\n  rsr serve --model runs/rsr/checkpoints/step-0000400 --policy stop\n  \
curl localhost:8000/v1/chat/completions -H 'content-type: application/json' -d '{\"model\":\"rsr\",\"messages\":[{\"role\":\"user\",\"content\":\"How can I make blue dye?\"}]}'\n  \
python -c \"import openai; c=openai.OpenAI(base_url='http://localhost:8000/v1', api_key='-'); print(c.completions.create(model='rsr', prompt='Velorine is'))\""
)]
pub struct Args {
    /// Checkpoint directory.
    #[arg(long)]
    model: PathBuf,
    /// The model name clients send.
    #[arg(long, default_value = "rsr")]
    name: String,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Largest request body, in bytes (larger: 413).
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body: usize,
    /// Largest max_tokens a request may ask for.
    #[arg(long, default_value_t = Limits::default().max_tokens)]
    max_tokens_limit: usize,
    /// Generations running at once (others wait).
    #[arg(long, default_value_t = Limits::default().concurrency)]
    concurrency: usize,
    /// Seconds a request may wait and run (then 503/504).
    #[arg(long, default_value_t = Limits::default().timeout.as_secs())]
    timeout: u64,
    /// Seconds a client may take to send its request headers, and its body (then it is dropped).
    #[arg(long, default_value_t = Limits::default().read_timeout.as_secs())]
    read_timeout: u64,
    /// Let requests choose their own reflection policy, cadence, θ, retries and conditioning
    /// (rsr's request extensions). Off by default: the decoding flags below bind every request,
    /// and a request asking for other values gets 403 — a client must not be able to switch
    /// the safety policy off.
    #[arg(long)]
    allow_client_policy: bool,
    #[command(flatten)]
    decode: DecodeArgs,
}

pub fn run(args: Args) -> Result<()> {
    let model = Loaded::from_dir(&args.model)?;
    let limits = Limits {
        max_body_bytes: args.max_body,
        max_tokens: args.max_tokens_limit,
        concurrency: args.concurrency,
        timeout: Duration::from_secs(args.timeout),
        read_timeout: Duration::from_secs(args.read_timeout),
    };
    let cfg = args.decode.config(&args.model)?;
    // Say which policy binds every request (a reflection-trained model defaults to its checks).
    eprintln!(
        "policy: {} (every {} tokens, θ {}){}",
        serde_json::to_value(cfg.policy)?.as_str().unwrap_or("?"),
        cfg.every,
        cfg.theta,
        if args.decode.policy.is_none() { "; the checkpoint's default (--policy to choose)" } else { "" }
    );
    let state =
        Arc::new(AppState::new(model, args.name.clone(), limits, cfg).allow_client_policy(args.allow_client_policy));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let addr = format!("{}:{}", args.host, args.port);
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        eprintln!(
            "serving `{}` from {} on http://{} (Ctrl-C to stop)",
            args.name,
            args.model.display(),
            listener.local_addr()?
        );
        rsr_serve::serve(listener, state).await?;
        eprintln!("stopped");
        Ok(())
    })
}
