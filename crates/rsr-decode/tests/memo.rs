//! `memo::Generations` on a real checkpoint (a random `tiny` model): every answer it gives is
//! the answer the model decodes, and it decodes a (prompt, decoding) once.

use rsr_decode::generate::{GenConfig, OnFinal, Policy};
use rsr_decode::memo::Generations;
use rsr_decode::sample::SamplingConfig;
use rsr_decode::Loaded;
use std::sync::Arc;

fn loaded() -> (Loaded, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let texts = ["The weeds grow near the old bridge.", "First, grind the velorine. Next, add the tarquil."];
    Loaded::write_random(dir.path(), &texts, 64, 7).unwrap();
    (Loaded::from_dir(dir.path()).unwrap(), dir)
}

fn json(g: &rsr_decode::generate::Generation) -> String {
    serde_json::to_string(g).unwrap()
}

#[test]
fn a_kept_answer_is_the_models_answer_and_is_decoded_once() {
    let (model, _dir) = loaded();
    let gens = Generations::new(&model);
    let greedy = GenConfig {
        max_tokens: 12,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        policy: Policy::Off,
        ..GenConfig::default()
    };
    let sampled =
        GenConfig { sampling: SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0 }, seed: 3, ..greedy.clone() };
    let stop = GenConfig { policy: Policy::Stop, theta: 0.5, ..greedy.clone() };
    let prompts = ["The weeds", "First, grind", "The weeds"];
    let mut expected_reused = 0;
    for c in [&greedy, &sampled, &stop] {
        for (i, p) in prompts.iter().enumerate() {
            let (g, kept) = gens.generate_once(p, c).unwrap();
            assert_eq!(json(&g), json(&model.generate(p, c).unwrap()), "{p} under {c:?}");
            assert_eq!(kept, i == 2, "the repeated prompt, and only it, is kept");
            expected_reused += kept as usize;
        }
    }
    assert_eq!(gens.reused(), expected_reused);
    // Another seed is another decoding.
    let (_, kept) = gens.generate_once("The weeds", &GenConfig { seed: 4, ..sampled.clone() }).unwrap();
    assert!(!kept);
    // Under `off`, θ is reused across only when the answer recorded no check; under any other
    // policy, never.
    for p in ["The weeds", "First, grind"] {
        let first = model.generate(p, &greedy).unwrap();
        let (g, kept) = gens.generate_once(p, &GenConfig { theta: 1.0, retries: 0, ..greedy.clone() }).unwrap();
        assert_eq!(kept, first.reflections.is_empty(), "{p}: {:?}", first.reflections);
        assert_eq!(
            json(&g),
            json(&model.generate(p, &GenConfig { theta: 1.0, retries: 0, ..greedy.clone() }).unwrap())
        );
        let (_, kept) = gens.generate_once(p, &GenConfig { theta: 0.6, ..stop.clone() }).unwrap();
        assert!(!kept, "a check reads θ under `stop`");
    }
}

#[test]
fn a_streamed_generation_is_decoded_every_time_and_never_kept() {
    let (model, _dir) = loaded();
    let gens = Generations::new(&model);
    let plain = GenConfig { max_tokens: 24, policy: Policy::Monitor, ..GenConfig::default() };
    let streamed = GenConfig { on_final: Some(OnFinal(Arc::new(|_| {}))), ..plain.clone() };
    let (a, kept_a) = gens.generate_once("The weeds", &streamed).unwrap();
    let (b, kept_b) = gens.generate_once("The weeds", &streamed).unwrap();
    assert!(!kept_a && !kept_b, "its side effects are the point");
    assert_eq!(json(&a), json(&b));
    let (c, kept_c) = gens.generate_once("The weeds", &plain).unwrap();
    assert!(!kept_c, "a streamed answer is not kept for a later ask");
    assert_eq!(json(&c), json(&a));
    assert_eq!(gens.reused(), 0);
}
