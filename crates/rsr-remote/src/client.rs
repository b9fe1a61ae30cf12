//! A client for OpenAI-compatible chat endpoints (vLLM, llama.cpp, TGI,
//! `rsr serve`, hosted APIs): retries with exponential back-off on
//! connection errors, 429 and 5xx, and a rate limit shared by every thread.

use rsr_core::{Error, Result};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct ChatClient {
    /// Base URL up to `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    pub base: String,
    api_key: Option<String>,
    http: reqwest::blocking::Client,
    pub retries: usize,
    /// Minimum gap between two requests (0: no limit).
    min_gap: Duration,
    next_slot: Mutex<Instant>,
}

impl ChatClient {
    /// `requests_per_s` 0 means unlimited. The key comes from `api_key`, else `OPENAI_API_KEY`.
    pub fn new(base: &str, api_key: Option<String>, requests_per_s: f64, timeout: Duration) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.or_else(|| std::env::var("OPENAI_API_KEY").ok()),
            http,
            retries: 4,
            min_gap: if requests_per_s > 0.0 { Duration::from_secs_f64(1.0 / requests_per_s) } else { Duration::ZERO },
            next_slot: Mutex::new(Instant::now()),
        })
    }

    fn wait_for_slot(&self) {
        if self.min_gap.is_zero() {
            return;
        }
        let wait = {
            let mut next = self.next_slot.lock().unwrap();
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.min_gap;
            at - now
        };
        std::thread::sleep(wait);
    }

    /// One chat completion; returns the assistant message's text.
    pub fn chat(&self, model: &str, messages: &[(&str, &str)], max_tokens: usize, temperature: f32) -> Result<String> {
        let url = format!("{}/chat/completions", self.base);
        let body = json!({
            "model": model,
            "messages": messages.iter().map(|(r, c)| json!({"role": r, "content": c})).collect::<Vec<_>>(),
            "max_tokens": max_tokens,
            "temperature": temperature,
        });
        let mut delay = Duration::from_millis(250);
        let mut last_err = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(delay);
                delay *= 2;
            }
            self.wait_for_slot();
            let mut req = self.http.post(&url).json(&body);
            if let Some(k) = &self.api_key {
                req = req.bearer_auth(k);
            }
            match req.send() {
                Err(e) => last_err = format!("request failed: {e}"),
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().unwrap_or_default();
                    if status.is_success() {
                        let v: Value = serde_json::from_str(&text).map_err(|e| {
                            Error::remote(&url, format!("the reply is not JSON ({e}): {}", clip(&text)))
                        })?;
                        return v["choices"][0]["message"]["content"].as_str().map(str::to_string).ok_or_else(|| {
                            Error::remote(&url, format!("no choices[0].message.content in the reply: {}", clip(&text)))
                        });
                    }
                    last_err = format!("HTTP {status}: {}", clip(&text));
                    // Client errors other than rate limiting will not get better by retrying.
                    if status.is_client_error() && status.as_u16() != 429 {
                        break;
                    }
                }
            }
        }
        Err(Error::remote(url, format!("{last_err} (after {} attempts)", self.retries + 1)))
    }
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
