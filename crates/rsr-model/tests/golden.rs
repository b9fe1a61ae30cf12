//! The forward pass and loss against an independent float64 numpy reference
//! (`tests/golden/make_golden.py`, Hugging Face Llama semantics).

use rsr_model::config::ModelConfig;
use rsr_model::model::{Acts, Layout, Model};
use serde_json::Value;

fn case(name: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("golden/golden.json")).unwrap();
    all[name].clone()
}

fn model_from(case: &Value) -> Model {
    let cfg: ModelConfig = serde_json::from_value(case["config"].clone()).unwrap();
    let layout = Layout::new(&cfg);
    let mut params = vec![0f32; layout.total];
    for (k, (_, off, shape)) in layout.entries.iter().enumerate() {
        let n: usize = shape.iter().product();
        for i in 0..n {
            let (i, k) = (i as f64, k as f64);
            params[off + i as usize] =
                if shape.len() == 1 { 1.0 + 0.1 * (0.7 * i + k).cos() } else { 0.08 * (1.3 * i + k).sin() } as f32;
        }
    }
    Model::from_params(cfg, layout, params)
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn logits_and_loss_match_the_numpy_reference() {
    for name in ["untied", "tied"] {
        let c = case(name);
        let m = model_from(&c);
        let (b, t) = (c["batch"].as_u64().unwrap() as usize, c["time"].as_u64().unwrap() as usize);
        let mut acts = Acts::new(&m.cfg, b, t);
        let tokens = u32s(&c["tokens"]);
        m.forward(&mut acts, &tokens);
        let want: Vec<f64> = c["logits"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(acts.logits.len(), want.len());
        let worst = acts.logits.iter().zip(&want).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-4, "{name}: max |logit − reference| = {worst}");
        let mask: Vec<u8> = u32s(&c["mask"]).into_iter().map(|x| x as u8).collect();
        let (loss, _) = m.loss(&mut acts, &tokens, &u32s(&c["targets"]), &mask);
        let want_loss = c["loss"].as_f64().unwrap();
        assert!((loss as f64 - want_loss).abs() < 1e-4, "{name}: loss {loss} vs reference {want_loss}");
    }
}
