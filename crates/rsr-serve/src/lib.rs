//! # rsr-serve
//!
//! Brief overview: an OpenAI-compatible HTTP server for one rsr checkpoint, so
//! existing harnesses and client libraries can call it.
//!
//! - `POST /v1/completions`, `POST /v1/chat/completions` (with `"stream": true`
//!   as server-sent events), `GET /v1/models`, `GET /health`;
//! - every response carries `reflections`: position, verdict, category, score,
//!   action (and `rationale` when the request sets `"rationales": true`) — the
//!   reflections never appear in the text;
//! - the reflection policy (`policy`, `every`, `theta`, `retries`,
//!   `conditioning`) is the operator's: a request that asks for other values
//!   gets 403 unless the server was started with `--allow-client-policy`
//!   (then the request's values are validated and used);
//! - parameters are validated as the OpenAI API defines them (400 naming the
//!   field); ones this server does not implement (`tools`, `logit_bias`, `n` > 1,
//!   …) are a 400 naming them, never silently ignored;
//! - limits: request body size (413, refused from `Content-Length` before the
//!   body is read), `max_tokens` cap, concurrent generations (others wait their
//!   turn up to the timeout, then 503), a per-request timeout (504), a read
//!   timeout on request headers and bodies (slow clients are dropped), and a
//!   generation stops when its client disconnects; graceful shutdown on
//!   Ctrl-C / SIGTERM.
//!
//! Chat format: each message becomes one line, `User: …` for `user`,
//! `Assistant: …` for `assistant`, and a `system` message is put first as plain
//! text; the prompt ends with `Assistant:` and generation stops at `\nUser:` —
//! the layout of the dialogues the models were trained on.
//!
//! Streaming sends text as soon as the reflection policy has judged it: after
//! each check, everything before the last check that cannot be taken back
//! (under `stop` and `backtrack`, the last safe one; under the other policies,
//! the last one), minus trailing whitespace, a partial stop sequence and an
//! incomplete character. What it holds back — the text since that check, at
//! most about `every` tokens — follows when the generation ends, then the
//! finish reason and the reflections. A `stop` can therefore never retract
//! text a client has already been sent.

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
    /// How long a client may take to send its request headers, and its body.
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_tokens: 512,
            concurrency: 4,
            timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(10),
        }
    }
}

pub struct AppState {
    pub model: Loaded,
    /// The name clients must use in `model`.
    pub name: String,
    pub limits: Limits,
    /// Decoding defaults for requests that do not set them; the reflection policy in it is the
    /// operator's and binds every request unless `allow_client_policy`.
    pub defaults: GenConfig,
    /// Whether requests may choose their own policy, cadence, θ, retries and conditioning.
    pub allow_client_policy: bool,
    slots: Arc<Semaphore>,
}

impl AppState {
    /// A server whose reflection policy is fixed to the one in `defaults`.
    pub fn new(model: Loaded, name: String, limits: Limits, defaults: GenConfig) -> Self {
        let slots = Arc::new(Semaphore::new(limits.concurrency.max(1)));
        Self { model, name, limits, defaults, allow_client_policy: false, slots }
    }

    /// Let requests set the reflection policy fields themselves (`--allow-client-policy`).
    pub fn allow_client_policy(mut self, allow: bool) -> Self {
        self.allow_client_policy = allow;
        self
    }
}

/// Request fields this server accepts but does not implement, and the one value of each that
/// changes nothing (anything else is a 400 naming the field).
const INERT: &[(&str, &str)] = &[
    ("n", "1"),
    ("logprobs", "false"),
    ("echo", "false"),
    ("presence_penalty", "0"),
    ("frequency_penalty", "0"),
    ("best_of", "1"),
];

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.limits.max_body_bytes;
    let read_timeout = state.limits.read_timeout;
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/v1/models", get(models))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat_completions))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state((limit, read_timeout), read_whole_body))
        // Outermost: a declared size over the limit is refused before anything is read.
        .layer(axum::middleware::from_fn_with_state(limit, refuse_declared_oversize))
        .with_state(state)
}

/// The whole request body must arrive within `read_timeout` (a client trickling a byte at a
/// time is cut off at the deadline, not granted a fresh timeout per frame), and within `limit`.
async fn read_whole_body(
    State((limit, read_timeout)): State<(usize, Duration)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(read_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            format!("the request body did not arrive within {read_timeout:?}"),
        ),
        Ok(Err(_)) => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body is over this server's limit of {limit} bytes, or broken off"),
        ),
        Ok(Ok(bytes)) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await,
    }
}

/// A body that declares more than the limit is refused before a byte of it is read.
async fn refuse_declared_oversize(
    State(limit): State<usize>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    match declared.map(|v| v.trim().parse::<u64>()) {
        Some(Ok(n)) if n > limit as u64 => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body of {n} bytes is over this server's limit of {limit}"),
        ),
        Some(Err(_)) => error(StatusCode::BAD_REQUEST, "invalid_request_error", "Content-Length is not a number"),
        _ => next.run(req).await,
    }
}

/// Serve until Ctrl-C or SIGTERM, finishing requests in flight. Each connection must send
/// its request headers within `limits.read_timeout` (slow clients are dropped).
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<AppState>) -> std::io::Result<()> {
    serve_until(listener, state, shutdown_signal()).await
}

/// [`serve`] until `shutdown` completes.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let header_timeout = state.limits.read_timeout;
    let app = router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(c) => c,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = watched.await;
        });
    }
    graceful.shutdown().await;
    Ok(())
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
    /// rsr extension: have the model write a rationale for each unsafe verdict (returned in
    /// `reflections[].rationale`; costs a few tokens per unsafe check).
    #[serde(default)]
    rationales: bool,
    /// Describes the caller; not used.
    #[allow(dead_code)]
    user: Option<String>,
    stream_options: Option<StreamOptions>,
    /// Everything else the client sent.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct CompletionRequest {
    prompt: String,
    #[serde(flatten)]
    common: Common,
}

/// `stream_options`: only `include_usage` (a last chunk with the token counts).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// A chat message: a known role and text content; anything else is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    role: Role,
    content: String,
    /// The speaker's name (OpenAI's field); not used.
    #[allow(dead_code)]
    name: Option<String>,
}

/// The roles the chat layout has (`rsr_core::chat`); tools are not served.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Deserialize)]
struct ChatRequest {
    messages: Vec<Message>,
    #[serde(flatten)]
    common: Common,
}

/// The chat layout the models were trained on (`rsr_core::chat`).
pub fn chat_prompt(messages: &[(String, String)]) -> String {
    rsr_core::chat::conversation(messages.iter().map(|(r, c)| (r.as_str(), c.as_str())))
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
        let unsupported: Vec<String> = c
            .other
            .iter()
            .filter(|(k, v)| {
                if v.is_null() {
                    return false;
                }
                match INERT.iter().find(|(name, _)| name == k) {
                    Some((_, inert)) => v.to_string().trim_end_matches(".0") != *inert,
                    None => true,
                }
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !unsupported.is_empty() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("this server does not support {}", unsupported.join(", ")),
            ));
        }
        if !self.allow_client_policy {
            let mut asked = Vec::new();
            if c.policy.is_some_and(|p| p != d.policy) {
                asked.push("policy");
            }
            if c.every.is_some_and(|e| e != d.every) {
                asked.push("every");
            }
            if c.theta.is_some_and(|t| t != d.theta) {
                asked.push("theta");
            }
            if c.retries.is_some_and(|r| r != d.retries) {
                asked.push("retries");
            }
            if c.conditioning.is_some_and(|x| x != d.conditioning) {
                asked.push("conditioning");
            }
            if !asked.is_empty() {
                return Err(error(
                    StatusCode::FORBIDDEN,
                    "permission_error",
                    format!(
                        "the reflection policy of this server is set by its operator (policy {:?}, every {}, theta {}); \
                         a request may not change {} (the operator can start `rsr serve --allow-client-policy`)",
                        d.policy,
                        d.every,
                        d.theta,
                        asked.join(", ")
                    ),
                ));
            }
        }
        if max_tokens == 0 {
            return Err(error(StatusCode::BAD_REQUEST, "invalid_request_error", "max_tokens must be at least 1"));
        }
        if let Some(t) = c.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("temperature must be between 0 and 2, got {t}"),
            ));
        }
        let mut stop = match &c.stop {
            Some(StopField::One(s)) => vec![s.clone()],
            Some(StopField::Many(v)) => v.clone(),
            None => vec![],
        };
        if chat {
            rsr_core::chat::add_stop(&mut stop);
        }
        let cfg = GenConfig {
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
            rationales: c.rationales || d.rationales,
            // The operator's, never a request's (a request cannot change what the context holds).
            ban_reflections: d.ban_reflections,
            cancel: None,
            on_final: None,
        };
        cfg.validate().map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_request_error", e))?;
        Ok(cfg)
    }

    /// Run one generation on the blocking pool, within the concurrency and time limits.
    /// A generation slot, waited for up to the request timeout; 503 when none frees up.
    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
        match tokio::time::timeout(self.limits.timeout, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(error(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "too many concurrent requests; retry later")),
        }
    }

    async fn run(self: &Arc<Self>, prompt: String, cfg: GenConfig) -> Result<(Generation, usize), Response> {
        let timeout = self.limits.timeout;
        let permit = self.slot().await?;
        let me = Arc::clone(self);
        // When this future is dropped — the client disconnected, or the timeout fired — the
        // guard tells the generation to stop instead of running on for nobody.
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _guard = CancelOnDrop(Arc::clone(&cancel));
        let cfg = GenConfig { cancel: Some(cancel), ..cfg };
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

/// What a streamed response's chunks look like.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Completion,
    Chat,
}

impl AppState {
    /// One chunk of a streamed response (`text` new, `finish` on the last).
    fn chunk(&self, shape: Shape, id: &str, created: u64, text: Option<&str>, g: Option<&Generation>) -> Value {
        match shape {
            Shape::Completion => {
                let mut v = json!({"id": id, "object": "text_completion", "created": created, "model": self.name,
                    "choices": [{"index": 0, "text": text.unwrap_or(""), "finish_reason": g.map(finish_reason), "logprobs": null}]});
                if let Some(g) = g {
                    v["reflections"] = json!(g.reflections);
                }
                v
            }
            Shape::Chat => {
                let delta = match (text, g) {
                    (Some(t), _) => json!({"content": t}),
                    (None, None) => json!({"role": "assistant", "content": ""}),
                    (None, Some(_)) => json!({}),
                };
                let mut v = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": self.name,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": g.map(finish_reason)}]});
                if let Some(g) = g {
                    v["reflections"] = json!(g.reflections);
                }
                v
            }
        }
    }

    /// A streamed generation: text is sent as the reflection policy makes it final (after each
    /// check that cannot be taken back), the rest when the generation ends, then the finish
    /// reason and the reflections. A full server still answers 503 before the stream starts;
    /// a client that goes away stops the generation.
    async fn stream(self: &Arc<Self>, prompt: String, cfg: GenConfig, shape: Shape, usage: bool) -> Response {
        let timeout = self.limits.timeout;
        let permit = match self.slot().await {
            Ok(p) => p,
            Err(r) => return r,
        };
        let id = request_id(if shape == Shape::Chat { "chatcmpl" } else { "cmpl" });
        let created = now();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
        if shape == Shape::Chat {
            let _ = tx.send(self.chunk(shape, &id, created, None, None));
        }
        // What the client has been sent, as it sees it (chat content is trimmed at the start).
        let sent = Arc::new(std::sync::Mutex::new(String::new()));
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = CancelOnDrop(Arc::clone(&cancel));
        let on_final = {
            let (me, tx, sent, id) = (Arc::clone(self), tx.clone(), Arc::clone(&sent), id.clone());
            rsr_decode::generate::OnFinal(Arc::new(move |piece: &str| {
                let mut sent = sent.lock().expect("not poisoned");
                let piece = if shape == Shape::Chat && sent.is_empty() { piece.trim_start() } else { piece };
                if !piece.is_empty() {
                    sent.push_str(piece);
                    let _ = tx.send(me.chunk(shape, &id, created, Some(piece), None));
                }
            }))
        };
        let cfg = GenConfig { cancel: Some(cancel), on_final: Some(on_final), ..cfg };
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let model = Arc::clone(&me);
            let job = tokio::task::spawn_blocking(move || {
                model.model.encode(&prompt).map(|ids| (model.model.generate_ids(&ids, &cfg), ids.len()))
            });
            let out = tokio::time::timeout(timeout, job).await;
            drop(permit);
            match out {
                Ok(Ok(Ok((g, n_prompt)))) => {
                    let text = if shape == Shape::Chat { g.text.trim() } else { g.text.as_str() };
                    let sent = sent.lock().expect("not poisoned").clone();
                    let rest = text.strip_prefix(sent.as_str()).unwrap_or("");
                    if !rest.is_empty() {
                        let _ = tx.send(me.chunk(shape, &id, created, Some(rest), None));
                    }
                    let _ = tx.send(me.chunk(shape, &id, created, None, Some(&g)));
                    if usage {
                        // OpenAI's form: a last chunk with no choices and the counts.
                        let object = if shape == Shape::Chat { "chat.completion.chunk" } else { "text_completion" };
                        let _ = tx.send(json!({"id": id, "object": object, "created": created, "model": me.name,
                            "choices": [], "usage": usage_of(n_prompt, &g)}));
                    }
                }
                Err(_) => {
                    let _ = tx.send(json!({"error": {"type": "timeout", "message": format!("generation took longer than {timeout:?}")}}));
                }
                Ok(Err(e)) => {
                    let _ = tx.send(json!({"error": {"type": "server_error", "message": e.to_string()}}));
                }
                Ok(Ok(Err(e))) => {
                    let _ = tx.send(json!({"error": {"type": "invalid_request_error", "message": e.to_string()}}));
                }
            }
        });
        // The stream owns the cancel guard: when the client goes, the response is dropped and
        // the generation told to stop.
        let events = futures_util::stream::unfold((rx, Some(guard), false), |(mut rx, guard, done)| async move {
            if done {
                return None;
            }
            match rx.recv().await {
                Some(v) => {
                    Some((Ok::<_, std::convert::Infallible>(Event::default().data(v.to_string())), (rx, guard, false)))
                }
                None => Some((Ok(Event::default().data("[DONE]")), (rx, None, true))),
            }
        });
        Sse::new(events).into_response()
    }
}

/// Sets its flag when dropped.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn finish_reason(g: &Generation) -> &'static str {
    match g.finish_reason.as_str() {
        "length" => "length",
        "refused" => "content_filter",
        _ => "stop",
    }
}

fn usage_of(n_prompt: usize, g: &Generation) -> Value {
    json!({"prompt_tokens": n_prompt, "completion_tokens": g.tokens.len(), "total_tokens": n_prompt + g.tokens.len()})
}

fn include_usage(c: &Common) -> bool {
    c.stream_options.as_ref().is_some_and(|o| o.include_usage)
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

async fn completions(State(s): State<Arc<AppState>>, body: Result<Json<CompletionRequest>, JsonRejection>) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(rej) => return bad_json(rej),
    };
    let cfg = match s.config(&req.common, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if req.common.stream {
        return s.stream(req.prompt, cfg, Shape::Completion, include_usage(&req.common)).await;
    }
    let (g, n_prompt) = match s.run(req.prompt, cfg).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let id = request_id("cmpl");
    let created = now();
    Json(json!({
        "id": id, "object": "text_completion", "created": created, "model": s.name,
        "choices": [{"index": 0, "text": g.text, "finish_reason": finish_reason(&g), "logprobs": null}],
        "usage": usage_of(n_prompt, &g),
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
    let msgs: Vec<(String, String)> =
        req.messages.into_iter().map(|m| (m.role.name().to_string(), m.content)).collect();
    if req.common.stream {
        return s.stream(chat_prompt(&msgs), cfg, Shape::Chat, include_usage(&req.common)).await;
    }
    let (g, n_prompt) = match s.run(chat_prompt(&msgs), cfg).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let id = request_id("chatcmpl");
    let created = now();
    let content = g.text.trim().to_string();
    Json(json!({
        "id": id, "object": "chat.completion", "created": created, "model": s.name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason(&g)}],
        "usage": usage_of(n_prompt, &g),
        "reflections": g.reflections,
    }))
    .into_response()
}
