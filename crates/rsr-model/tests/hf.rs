//! Hugging Face transformers loads an rsr checkpoint as `LlamaForCausalLM`
//! and computes the same logits. Runs when `RSR_TORCH_PYTHON` names a python
//! with torch + transformers (a bench environment; CI does not install them),
//! and says it was skipped otherwise.

use rsr_model::checkpoint::save_model;
use rsr_model::config::ModelConfig;
use rsr_model::model::{Acts, Model};
use std::process::Command;

#[test]
fn transformers_loads_the_checkpoint_and_agrees_on_logits() {
    let Ok(python) = std::env::var("RSR_TORCH_PYTHON") else {
        eprintln!("skipped: set RSR_TORCH_PYTHON to a python with torch and transformers");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/hf_check.py");
    for tied in [true, false] {
        let cfg = ModelConfig { tie_word_embeddings: tied, max_position_embeddings: 64, ..ModelConfig::tiny(300) };
        let model = Model::new(cfg.clone(), 11);
        let dir = tempfile::tempdir().unwrap();
        save_model(dir.path(), &model, 0, None).unwrap();
        let tokens: Vec<u32> = (0..48).map(|i| (i * 37 + 5) % 300).collect();
        let mut acts = Acts::new(&cfg, 1, tokens.len());
        model.forward(&mut acts, &tokens);
        let expected = dir.path().join("expected.json");
        std::fs::write(
            &expected,
            serde_json::to_vec(&serde_json::json!({"tokens": tokens, "logits": acts.logits})).unwrap(),
        )
        .unwrap();
        let out = Command::new(&python)
            .args([script, dir.path().to_str().unwrap(), expected.to_str().unwrap()])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "tied={tied}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("LlamaForCausalLM"), "{stdout}");
        eprintln!("tied={tied}: {stdout}");
    }
}
