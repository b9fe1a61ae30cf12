//! How a run was decoded, in a few words, for the report's tables.

/// A decoding configuration in a few words: `policy stop every 16 θ=0.5, greedy, ≤48 tokens`
/// (a local checkpoint's `GenConfig`), `endpoint URL, T=0.7` (an endpoint), or `not recorded`.
pub fn decoding_label(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "not recorded".into();
    }
    let t = v["sampling"]["temperature"].as_f64().or_else(|| v["temperature"].as_f64());
    let sampling = match t {
        Some(t) if t <= 0.0 => "greedy".to_string(),
        Some(t) => format!("T={t:.2}"),
        None => "sampling not recorded".into(),
    };
    let max = v["max_tokens"].as_u64().map(|m| format!(", ≤{m} tokens")).unwrap_or_default();
    if let Some(url) = v["endpoint"].as_str() {
        return format!("endpoint {url}, {sampling}{max}");
    }
    let policy = v["policy"].as_str().unwrap_or("?");
    let mut head = format!("policy {policy}");
    if policy != "off" {
        head.push_str(&format!(
            " every {} θ={}",
            v["every"].as_u64().map(|e| e.to_string()).unwrap_or_else(|| "?".into()),
            v["theta"].as_f64().map(|t| format!("{t:.2}")).unwrap_or_else(|| "?".into())
        ));
    }
    if v["conditioning"].as_str() == Some("tag") {
        head.push_str(", tag-conditioned");
    }
    format!("{head}, {sampling}{max}")
}
