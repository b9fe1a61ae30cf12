//! # rsr-serve
//!
//! Brief overview: an OpenAI-compatible HTTP server for one rsr checkpoint, so
//! existing harnesses and client libraries can call it.
//!
//! - `POST /v1/completions`, `POST /v1/chat/completions` (with `"stream": true`
//!   as server-sent events), `GET /v1/models`, `GET /health`;
//! - every response carries `reflections`: position, verdict, category, score,
//!   action — the reflections never appear in the text;
//! - rsr extensions in the request body: `policy` (off, monitor, stop,
//!   backtrack, redirect), `every`, `theta`, `retries`, `conditioning`;
//! - limits: request body size (413), `max_tokens` cap, concurrent generations
//!   (others wait their turn up to the timeout, then 503), a per-request timeout
//!   (504); graceful shutdown on Ctrl-C / SIGTERM.
//!
//! Chat format: each message becomes one line, `User: …` for `user`,
//! `Assistant: …` for `assistant`, and a `system` message is put first as plain
//! text; the prompt ends with `Assistant:` and generation stops at `\nUser:` —
//! the layout of the dialogues the models were trained on.
//!
//! Streaming sends the text once the reflection policy has judged it (a `stop`
//! or `backtrack` can retract text until then): the chunks arrive after the
//! generation, not token by token.

// Handlers' helpers return a ready HTTP error response as their `Err`: idiomatic axum.
#![allow(clippy::result_large_err)]

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rsr_decode::generate::{Conditioning, GenConfig, Generation, Policy};
use rsr_decode::sample::SamplingConfig;
use rsr_decode::Loaded;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_tokens: usize,
    pub concurrency: usize,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_body_bytes: 1 << 20, max_tokens: 512, concurrency: 4, timeout: Duration::from_secs(120) }
    }
}

pub struct AppState {
    pub model: Loaded,
    /// The name clients must use in `model`.
    pub name: String,
    pub limits: Limits,
    /// Decoding defaults for requests that do not set them (e.g. the policy).
    pub defaults: GenConfig,
    slots: Semaphore,
}

impl AppState {
    pub fn new(model: Loaded, name: String, limits: Limits, defaults: GenConfig) -> Self {
        let slots = Semaphore::new(limits.concurrency.max(1));
        Self { model, name, limits, defaults, slots }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.limits.max_body_bytes;
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/v1/models", get(models))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat_completions))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serve until Ctrl-C or SIGTERM, finishing requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// An OpenAI-style error.
fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"message": message.into(), "type": kind, "code": status.as_u16()}}))).into_response()
}

async fn models(State(s): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": s.name, "object": "model", "created": 0, "owned_by": "rsr"}]}))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StopField {
    One(String),
    Many(Vec<String>),
}

/// The request fields both endpoints share (OpenAI names + rsr extensions).
#[derive(Debug, Deserialize)]
struct Common {
    model: String,
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<usize>,
    seed: Option<u64>,
    stop: Option<StopField>,
    #[serde(default)]
    stream: bool,
    policy: Option<Policy>,
    every: Option<usize>,
    theta: Option<f32>,
    retries: Option<usize>,
    conditioning: Option<Conditioning>,
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    prompt: String,
    #[serde(flatten)]
    common: Common,
}

#[derive(Debug, Deserialize)]
struct Message {
    role: String,
    content: String,
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    messages: Vec<Message>,
    #[serde(flatten)]
    common: Common,
}

/// The chat layout the models were trained on.
pub fn chat_prompt(messages: &[(String, String)]) -> String {
    let mut out = String::new();
    for (role, content) in messages {
        let line = match role.as_str() {
            "user" => format!("User: {content}"),
            "assistant" => format!("Assistant: {content}"),
            _ => content.clone(),
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out.push_str("\nAssistant:");
    out
}

impl AppState {
    fn config(&self, c: &Common, chat: bool) -> Result<GenConfig, Response> {
        if c.model != self.name {
            return Err(error(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!("no model `{}`; this server has `{}`", c.model, self.name),
            ));
        }
        let max_tokens = c.max_completion_tokens.or(c.max_tokens).unwrap_or(self.defaults.max_tokens);
        if max_tokens > self.limits.max_tokens {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("max_tokens {max_tokens} exceeds this server's limit of {}", self.limits.max_tokens),
            ));
        }
        let d = &self.defaults;
        let mut stop = match &c.stop {
            Some(StopField::One(s)) => vec![s.clone()],
            Some(StopField::Many(v)) => v.clone(),
            None => vec![],
        };
        if chat {
            stop.push("\nUser:".into());
        }
        Ok(GenConfig {
            max_tokens,
            sampling: SamplingConfig {
                temperature: c.temperature.unwrap_or(d.sampling.temperature),
                top_k: c.top_k.unwrap_or(d.sampling.top_k),
                top_p: c.top_p.unwrap_or(d.sampling.top_p),
            },
            seed: c.seed.unwrap_or(d.seed),
            stop,
            policy: c.policy.unwrap_or(d.policy),
            every: c.every.unwrap_or(d.every),
            theta: c.theta.unwrap_or(d.theta),
            retries: c.retries.unwrap_or(d.retries),
            conditioning: c.conditioning.unwrap_or(d.conditioning),
        })
    }

    /// Run one generation on the blocking pool, within the concurrency and time limits.
    async fn run(self: &Arc<Self>, prompt: String, cfg: GenConfig) -> Result<(Generation, usize), Response> {
        let timeout = self.limits.timeout;
        let permit = match tokio::time::timeout(timeout, self.slots.acquire()).await {
            Ok(Ok(p)) => p,
            _ => {
                return Err(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "too many concurrent requests; retry later",
                ))
            }
        };
        let me = Arc::clone(self);
        let job = tokio::task::spawn_blocking(move || {
            me.model.encode(&prompt).map(|ids| (me.model.generate_ids(&ids, &cfg), ids.len()))
        });
        let out = tokio::time::timeout(timeout, job).await;
        drop(permit);
        match out {
            Err(_) => {
                Err(error(StatusCode::GATEWAY_TIMEOUT, "timeout", format!("generation took longer than {timeout:?}")))
            }
            Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string())),
            Ok(Ok(Err(e))) => Err(error(StatusCode::BAD_REQUEST, "invalid_request_error", e.to_string())),
            Ok(Ok(Ok(g))) => Ok(g),
        }
    }
}

fn finish_reason(g: &Generation) -> &'static str {
    match g.finish_reason.as_str() {
        "length" => "length",
        "refused" => "content_filter",
        _ => "stop",
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn request_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", now(), N.fetch_add(1, Ordering::Relaxed))
}

/// Body problems: too large stays 413; anything else about the JSON is a 400.
fn bad_json(rej: JsonRejection) -> Response {
    if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", "request body too large");
    }
    error(StatusCode::BAD_REQUEST, "invalid_request_error", format!("malformed request: {}", rej.body_text()))
}

fn sse(chunks: Vec<Value>) -> Response {
    let events: Vec<Result<Event, std::convert::Infallible>> = chunks
        .into_iter()
        .map(|c| Ok(Event::default().data(c.to_string())))
        .chain(std::iter::once(Ok(Event::default().data("[DONE]"))))
        .collect();
    Sse::new(futures_util::stream::iter(events)).into_response()
}

/// Split a text into word-sized pieces for streaming.
fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

async fn completions(State(s): State<Arc<AppState>>, body: Result<Json<CompletionRequest>, JsonRejection>) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(rej) => return bad_json(rej),
    };
    let cfg = match s.config(&req.common, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (g, n_prompt) = match s.run(req.prompt, cfg).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let id = request_id("cmpl");
    let created = now();
    if req.common.stream {
        let mut chunks: Vec<Value> = pieces(&g.text)
            .into_iter()
            .map(|p| {
                json!({"id": id, "object": "text_completion", "created": created, "model": s.name,
                            "choices": [{"index": 0, "text": p, "finish_reason": null, "logprobs": null}]})
            })
            .collect();
        chunks.push(json!({"id": id, "object": "text_completion", "created": created, "model": s.name,
                           "choices": [{"index": 0, "text": "", "finish_reason": finish_reason(&g), "logprobs": null}],
                           "reflections": g.reflections}));
        return sse(chunks);
    }
    Json(json!({
        "id": id, "object": "text_completion", "created": created, "model": s.name,
        "choices": [{"index": 0, "text": g.text, "finish_reason": finish_reason(&g), "logprobs": null}],
        "usage": {"prompt_tokens": n_prompt, "completion_tokens": g.tokens.len(), "total_tokens": n_prompt + g.tokens.len()},
        "reflections": g.reflections,
    }))
    .into_response()
}

async fn chat_completions(State(s): State<Arc<AppState>>, body: Result<Json<ChatRequest>, JsonRejection>) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(rej) => return bad_json(rej),
    };
    if req.messages.is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", "messages must not be empty");
    }
    let cfg = match s.config(&req.common, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let msgs: Vec<(String, String)> = req.messages.into_iter().map(|m| (m.role, m.content)).collect();
    let (g, n_prompt) = match s.run(chat_prompt(&msgs), cfg).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let id = request_id("chatcmpl");
    let created = now();
    let content = g.text.trim().to_string();
    if req.common.stream {
        let mut chunks = vec![json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": s.name,
                                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})];
        chunks.extend(pieces(&content).into_iter().map(|p| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": s.name,
                   "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})
        }));
        chunks.push(json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": s.name,
                           "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason(&g)}],
                           "reflections": g.reflections}));
        return sse(chunks);
    }
    Json(json!({
        "id": id, "object": "chat.completion", "created": created, "model": s.name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason(&g)}],
        "usage": {"prompt_tokens": n_prompt, "completion_tokens": g.tokens.len(), "total_tokens": n_prompt + g.tokens.len()},
        "reflections": g.reflections,
    }))
    .into_response()
}
