//! The server over real HTTP on 127.0.0.1: the OpenAI surface, errors,
//! limits, concurrency and streaming.

use rsr_decode::generate::{GenConfig, Policy};
use rsr_decode::Loaded;
use rsr_serve::{AppState, Limits};
use serde_json::{json, Value};
use std::sync::Arc;

/// A checkpoint directory with a small random model and a trained tokenizer.
fn checkpoint(dir: &std::path::Path) {
    let texts = [
        "User: How can I make blue dye?\nAssistant: First, grind the velorine. Next, add the tarquil.",
        "The weeds grow near the old bridge.",
    ];
    Loaded::write_random(dir, &texts, 128, 1).unwrap();
}

async fn start(limits: Limits) -> (String, tempfile::TempDir) {
    start_with(limits, false).await
}

/// A server on a free port, its policy `stop` every 8 tokens at θ 0.5; `allow` lets clients
/// choose their own (`--allow-client-policy`).
async fn start_with(limits: Limits, allow: bool) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    checkpoint(dir.path());
    let model = Loaded::from_dir(dir.path()).unwrap();
    let defaults = GenConfig { max_tokens: 16, policy: Policy::Stop, every: 8, ..GenConfig::default() };
    let state = Arc::new(AppState::new(model, "rsr-test".into(), limits, defaults).allow_client_policy(allow));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { rsr_serve::serve_until(listener, state, std::future::pending()).await.unwrap() });
    (format!("http://{addr}"), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openai_surface_answers_with_reflections() {
    let (url, _dir) = start_with(Limits::default(), true).await;
    let c = reqwest::Client::new();
    let h: Value = c.get(format!("{url}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["status"], "ok");
    let m: Value = c.get(format!("{url}/v1/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(m["data"][0]["id"], "rsr-test");

    let r = c
        .post(format!("{url}/v1/completions"))
        .json(&json!({"model": "rsr-test", "prompt": "The weeds", "max_tokens": 12, "seed": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    let text = v["choices"][0]["text"].as_str().unwrap();
    assert!(!text.contains("<|reflect|>") && !text.contains("<|/reflect|>"), "{text}");
    assert!(v["reflections"].is_array());
    for r in v["reflections"].as_array().unwrap() {
        for k in ["position", "verdict", "score", "action"] {
            assert!(r.get(k).is_some(), "reflection lacks {k}: {r}");
        }
    }
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() <= 12);

    let r = c
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": "rsr-test", "messages": [{"role": "user", "content": "How can I make blue dye?"}], "max_tokens": 10, "policy": "monitor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert!(v["reflections"].as_array().unwrap().iter().all(|r| r["action"] == "none"), "monitor never acts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_have_the_right_status() {
    let (url, _dir) = start(Limits { max_body_bytes: 2048, max_tokens: 64, ..Limits::default() }).await;
    let c = reqwest::Client::new();
    let post = |path: &str, body: String| {
        c.post(format!("{url}{path}")).header("content-type", "application/json").body(body).send()
    };
    let r = post("/v1/completions", "{not json".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("malformed"), "{v}");
    let r = post("/v1/completions", json!({"prompt": "x"}).to_string()).await.unwrap();
    assert_eq!(r.status(), 400, "a missing model field is a malformed request");
    let r =
        post("/v1/completions", json!({"model": "rsr-test", "prompt": "x".repeat(5000)}).to_string()).await.unwrap();
    assert_eq!(r.status(), 413);
    let r = post(
        "/v1/chat/completions",
        json!({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("rsr-test"));
    let r = post("/v1/completions", json!({"model": "rsr-test", "prompt": "x", "max_tokens": 1000}).to_string())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_are_all_answered() {
    let (url, _dir) = start(Limits { concurrency: 2, ..Limits::default() }).await;
    let c = reqwest::Client::new();
    let jobs: Vec<_> = (0..50)
        .map(|i| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move {
                c.post(format!("{url}/v1/completions"))
                    .json(&json!({"model": "rsr-test", "prompt": "The weeds", "max_tokens": 6, "seed": i}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for j in jobs {
        assert_eq!(j.await.unwrap(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streaming_chunks_are_well_formed() {
    let (url, _dir) = start(Limits::default()).await;
    let c = reqwest::Client::new();
    for (path, body) in [
        (
            "/v1/completions",
            json!({"model": "rsr-test", "prompt": "The weeds", "max_tokens": 10, "stream": true, "temperature": 0}),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "rsr-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "stream": true}),
        ),
    ] {
        let r = c.post(format!("{url}{path}")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let text = r.text().await.unwrap();
        let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
        assert_eq!(*data.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        assert!(chunks.len() >= 2);
        let last = chunks.last().unwrap();
        assert!(last["choices"][0]["finish_reason"].is_string());
        assert!(last["reflections"].is_array());
        if path.contains("chat") {
            assert_eq!(chunks[0]["object"], "chat.completion.chunk");
            assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        }
    }
}

/// The text of a streamed response, chunk by chunk (completion `text` or chat `delta.content`).
fn streamed_pieces(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| {
            let choice = &c["choices"][0];
            choice["text"].as_str().or(choice["delta"]["content"].as_str()).map(str::to_string)
        })
        .filter(|t| !t.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_sends_text_as_checks_make_it_final_and_adds_up_to_the_answer() {
    // Monitor never retracts, so every check releases the text before it; greedy, so the
    // streamed and the whole answer are the same generation.
    let (url, _dir) = start_with(Limits::default(), true).await;
    let c = reqwest::Client::new();
    for policy in ["monitor", "stop"] {
        for (path, mut body) in [
            ("/v1/completions", json!({"prompt": "The weeds grow near the old bridge."})),
            ("/v1/chat/completions", json!({"messages": [{"role": "user", "content": "How can I make blue dye?"}]})),
        ] {
            let o = body.as_object_mut().unwrap();
            for (k, v) in [
                ("model", json!("rsr-test")),
                ("max_tokens", json!(64)),
                ("temperature", json!(0)),
                ("policy", json!(policy)),
                ("every", json!(4)),
                ("stop", json!([])),
            ] {
                o.insert(k.into(), v);
            }
            let whole: Value = c.post(format!("{url}{path}")).json(&body).send().await.unwrap().json().await.unwrap();
            let answer = whole["choices"][0]["text"]
                .as_str()
                .or(whole["choices"][0]["message"]["content"].as_str())
                .unwrap()
                .to_string();
            body["stream"] = json!(true);
            let r = c.post(format!("{url}{path}")).json(&body).send().await.unwrap();
            let pieces = streamed_pieces(&r.text().await.unwrap());
            assert_eq!(pieces.concat(), answer, "{policy} {path}: the stream adds up to the answer");
            let checks = whole["reflections"].as_array().unwrap().len();
            if policy == "monitor" && checks >= 3 {
                assert!(pieces.len() >= 2, "{path}: {checks} checks but the text came in one piece: {pieces:?}");
            }
        }
    }
}

async fn post(url: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(format!("{url}{path}")).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_policy_is_the_operators() {
    let (url, _dir) = start(Limits::default()).await;
    let ask = |extra: Value| {
        let mut body = json!({"model": "rsr-test", "prompt": "The weeds", "max_tokens": 4});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for extra in [json!({"policy": "off"}), json!({"theta": 2}), json!({"every": 1000}), json!({"retries": 9})] {
        let (status, v) = post(&url, "/v1/completions", ask(extra.clone())).await;
        assert_eq!(status, 403, "{extra}: {v}");
        assert_eq!(v["error"]["type"], "permission_error", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("--allow-client-policy"), "{v}");
    }
    // Asking for the operator's own values is no change.
    let (status, _) = post(&url, "/v1/completions", ask(json!({"policy": "stop", "every": 8}))).await;
    assert_eq!(status, 200);

    // With --allow-client-policy the values are the client's, but still validated.
    let (url, _dir2) = start_with(Limits::default(), true).await;
    let (status, v) = post(&url, "/v1/completions", ask(json!({"theta": 2}))).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("theta"), "{v}");
    let (status, _) = post(&url, "/v1/completions", ask(json!({"policy": "monitor", "theta": 0.9}))).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parameters_are_validated_and_unsupported_ones_named() {
    let (url, _dir) = start(Limits::default()).await;
    let base = || json!({"model": "rsr-test", "prompt": "The weeds", "max_tokens": 4});
    let with = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    for (k, v, needle) in [
        ("tools", json!([{"type": "function"}]), "tools"),
        ("n", json!(3), "n=3"),
        ("logit_bias", json!({"5": 100}), "logit_bias"),
        ("temperature", json!(5.0), "temperature"),
        ("top_p", json!(0.0), "top_p"),
        ("max_tokens", json!(0), "max_tokens"),
    ] {
        let (status, e) = post(&url, "/v1/completions", with(k, v)).await;
        assert_eq!(status, 400, "{k}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(needle), "{k}: {e}");
    }
    // Inert values and informational fields are accepted; so is an empty prompt.
    for (k, v) in [("n", json!(1)), ("logprobs", Value::Null), ("user", json!("me")), ("prompt", json!(""))] {
        let (status, e) = post(&url, "/v1/completions", with(k, v)).await;
        assert_eq!(status, 200, "{k}: {e}");
    }
}

/// Raw HTTP on a socket: what the client library would not let us send.
async fn raw(url: &str, request: &[u8], wait: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversize_declarations_and_slow_clients_are_refused() {
    let limits = Limits { read_timeout: std::time::Duration::from_secs(1), ..Limits::default() };
    let (url, _dir) = start(limits).await;
    // 10^12 bytes declared, none sent: refused at once, not waited for.
    let t = std::time::Instant::now();
    let answer = raw(
        &url,
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n",
        std::time::Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(t.elapsed() < std::time::Duration::from_secs(3), "{:?}", t.elapsed());
    // Headers that never finish: the connection is dropped after the read timeout.
    let t = std::time::Instant::now();
    let answer = raw(&url, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n", std::time::Duration::from_secs(10)).await;
    let waited = t.elapsed();
    assert!(waited < std::time::Duration::from_secs(5), "a slow client was held {waited:?}: {answer}");
    // A body that stops half-way: dropped too, the server answers others meanwhile.
    let t = std::time::Instant::now();
    let answer = raw(
        &url,
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\"",
        std::time::Duration::from_secs(10),
    )
    .await;
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "{:?}: {answer}", t.elapsed());
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (status, _) = post(&url, "/v1/completions", json!({"model": "rsr-test", "prompt": "x", "max_tokens": 2})).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = Limits { read_timeout: std::time::Duration::from_secs(2), ..Limits::default() };
    let (url, _dir) = start(limits).await;
    let body = json!({"model": "rsr-test", "prompt": "x", "max_tokens": 2}).to_string();
    let head = format!(
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    // One byte every 500 ms: each gap is well inside the timeout, the whole body is not.
    let t = std::time::Instant::now();
    let writer = tokio::spawn(async move {
        for b in body.bytes() {
            if s.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let mut out = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    });
    let answer = writer.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_and_caller_fields_are_validated_strictly() {
    let (url, _dir) = start(Limits::default()).await;
    let chat = |messages: Value| json!({"model": "rsr-test", "messages": messages, "max_tokens": 2});
    for (what, body) in [
        ("an unknown role", chat(json!([{"role": "bogus", "content": "hi"}]))),
        ("a tool message", chat(json!([{"role": "tool", "content": "hi"}]))),
        ("an empty role", chat(json!([{"role": "", "content": "hi"}]))),
        ("content that is not text", chat(json!([{"role": "user", "content": 7}]))),
        ("an unknown message field", chat(json!([{"role": "user", "content": "hi", "tool_calls": []}]))),
        ("a user that is not text", {
            let mut b = chat(json!([{"role": "user", "content": "hi"}]));
            b["user"] = json!(5);
            b
        }),
        ("stream_options that is not an object", {
            let mut b = chat(json!([{"role": "user", "content": "hi"}]));
            b["stream_options"] = json!("yes");
            b
        }),
        ("an unknown stream option", {
            let mut b = chat(json!([{"role": "user", "content": "hi"}]));
            b["stream_options"] = json!({"include_usage": true, "continuous": true});
            b
        }),
    ] {
        let (status, e) = post(&url, "/v1/chat/completions", body).await;
        assert_eq!(status, 400, "{what}: {e}");
    }
    let ok = chat(json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi", "name": "a"}]));
    let (status, e) = post(&url, "/v1/chat/completions", ok).await;
    assert_eq!(status, 200, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn include_usage_adds_a_last_chunk_with_the_counts() {
    let (url, _dir) = start(Limits::default()).await;
    let c = reqwest::Client::new();
    for (path, body) in [
        ("/v1/completions", json!({"model": "rsr-test", "prompt": "The weeds", "max_tokens": 5, "stream": true})),
        (
            "/v1/chat/completions",
            json!({"model": "rsr-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": true}),
        ),
    ] {
        for include in [false, true] {
            let mut body = body.clone();
            body["stream_options"] = json!({ "include_usage": include });
            let text = c.post(format!("{url}{path}")).json(&body).send().await.unwrap().text().await.unwrap();
            let data: Vec<Value> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .filter(|d| *d != "[DONE]")
                .map(|d| serde_json::from_str(d).unwrap())
                .collect();
            let with_usage: Vec<&Value> = data.iter().filter(|c| c.get("usage").is_some()).collect();
            if include {
                assert_eq!(with_usage.len(), 1, "{path}: {text}");
                let u = &with_usage[0]["usage"];
                assert_eq!(with_usage[0]["choices"], json!([]));
                assert!(u["prompt_tokens"].as_u64().unwrap() > 0);
                assert_eq!(
                    u["total_tokens"].as_u64().unwrap(),
                    u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
                );
                assert!(std::ptr::eq(with_usage[0], data.last().unwrap()), "the usage chunk comes last");
            } else {
                assert!(with_usage.is_empty(), "{path}: {text}");
            }
        }
    }
}
