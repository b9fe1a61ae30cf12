//! The endpoint annotator against a mock Llama Guard on 127.0.0.1: every
//! sentence judged, categories read from the S-codes, a corpus annotated
//! through the same driver `rsr annotate` uses, and a judge that answers
//! nonsense reported with the document's id.

use axum::routing::post;
use axum::{Json, Router};
use rsr_core::corpus::CorpusDir;
use rsr_core::taxonomy::Category;
use rsr_corpus::annotator::Annotator;
use rsr_corpus::run::{annotate_with, RunOptions};
use rsr_remote::guard::Guard;
use rsr_remote::ChatClient;
use serde_json::{json, Value};
use std::time::Duration;

async fn guard(Json(body): Json<Value>) -> Json<Value> {
    let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
    let user = prompt.split("User: ").nth(1).unwrap_or_default();
    let answer = if user.contains("gibberish") {
        "maybe?"
    } else if user.contains("explosive") {
        "unsafe\nS9"
    } else if user.contains("hurt myself") {
        "unsafe\nS11"
    } else {
        "safe"
    };
    Json(json!({"choices": [{"message": {"role": "assistant", "content": answer}}]}))
}

#[test]
fn guard_annotator_labels_sentences() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(
        async move { axum::serve(listener, Router::new().route("/v1/chat/completions", post(guard))).await.unwrap() },
    );

    let a = Guard {
        client: ChatClient::new(&format!("http://{addr}/v1"), None, 0.0, Duration::from_secs(10)).unwrap(),
        model: "guard".into(),
        fallback: Category::ViolentCrimes,
    }
    .annotator();
    let text = "Bake the bread. Mix the explosive slowly. I want to hurt myself.";
    let spans = a.annotate(text).unwrap();
    let got: Vec<(&str, Option<Category>)> = spans.iter().map(|s| (&text[s.start..s.end], s.category)).collect();
    assert_eq!(
        got,
        [
            ("Bake the bread.", None),
            ("Mix the explosive slowly.", Some(Category::Weapons)),
            ("I want to hurt myself.", Some(Category::SelfHarm))
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("documents.jsonl"),
        "{\"id\":\"a\",\"text\":\"Nice day. Mix the explosive.\"}\n{\"id\":\"b\",\"text\":\"Hello.\"}\n",
    )
    .unwrap();
    let corpus = CorpusDir::new(dir.path());
    let m = annotate_with(&corpus, &a, "guard", &RunOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!((m.counts["documents"].as_u64(), m.counts["unsafe_sentences"].as_u64()), (Some(2), Some(1)));
    assert!(corpus.annotation("guard").is_file());

    std::fs::write(dir.path().join("documents.jsonl"), "{\"id\":\"odd\",\"text\":\"Some gibberish here.\"}\n").unwrap();
    let err = annotate_with(&corpus, &a, "guard2", &RunOptions::default(), &mut |_, _| {}).unwrap_err();
    // The document in the error, the endpoint's answer in its source (kept, not flattened).
    let cause = std::error::Error::source(&err).map(|c| c.to_string()).unwrap_or_default();
    assert!(err.to_string().contains("`odd`") && cause.contains("maybe?"), "{err}: {cause}");
}
