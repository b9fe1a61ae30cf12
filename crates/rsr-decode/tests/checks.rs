//! What a check leaves behind, on a real (random) model with its KV cache: a rolled-back safe
//! check leaves the continuation exactly as if it had never happened, and a kept one leaves it
//! exactly as if the verdict had been written into the text — so decoding sees what training
//! showed, whichever way training placed its safe reflections.

use rsr_core::reflection::Format;
use rsr_decode::generate::{Decoder, GenConfig, Generation, Policy};
use rsr_decode::lm::{LanguageModel, Vocab};
use rsr_decode::sample::{argmax, SamplingConfig};
use rsr_decode::trained::ReflectionStyle;
use rsr_model::config::ModelConfig;
use rsr_model::model::Model;

const VOCAB: usize = 64;

fn vocab() -> Vocab {
    Vocab {
        endoftext: 0,
        reflect_open: 1,
        reflect_close: 2,
        safe_tag: 3,
        unsafe_tag: 4,
        safe_body: vec![5],
        unsafe_body: vec![6],
        // Every third ordinary token ends a sentence.
        sentence_end: (0..VOCAB as u32).map(|t| t > 4 && t % 3 == 0).collect(),
        period: None,
    }
}

fn model() -> Model {
    Model::new(ModelConfig { max_position_embeddings: 256, ..ModelConfig::tiny(VOCAB) }, 11)
}

fn generate(m: &Model, style: ReflectionStyle, policy: Policy) -> Generation {
    let v = vocab();
    let detok = |t: &[u32]| t.iter().map(|x| format!("t{x} ")).collect::<String>();
    let d = Decoder { lm: m, vocab: &v, detok: &detok, style };
    let cfg = GenConfig {
        max_tokens: 60,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        policy,
        every: 6,
        theta: 1.0, // every check safe
        ..GenConfig::default()
    };
    d.generate(&[7, 8, 9, 10], &cfg)
}

/// Greedy choice among tokens the decoder may show.
fn visible_argmax(logits: &[f32], v: &Vocab) -> u32 {
    let mut l = logits.to_vec();
    for t in v.hidden() {
        l[t as usize] = f32::NEG_INFINITY;
    }
    argmax(&l)
}

#[test]
fn a_rolled_back_check_leaves_the_continuation_as_if_it_never_happened() {
    let m = model();
    let plain = generate(&m, ReflectionStyle::default(), Policy::Off);
    let sampled = ReflectionStyle { format: Format::V2, safe_rate: 0.5 };
    let checked = generate(&m, sampled, Policy::Monitor);
    let forced = checked.reflections.iter().filter(|r| !r.self_initiated).count();
    assert!(forced >= 3, "the test needs checks to happen: {:?}", checked.reflections);
    assert!(checked.reflections.iter().all(|r| r.verdict == "safe"));
    assert_eq!(checked.tokens, plain.tokens, "rolled-back checks changed the continuation");
    assert_eq!(forced, checked.reflections.len(), "a sampled-safe model never opens a check itself while checking");
    assert_eq!(checked.extra_tokens, forced, "one forward token per rolled-back check");
}

#[test]
fn a_kept_check_leaves_the_continuation_as_if_the_verdict_were_in_the_text() {
    let m = model();
    let v = vocab();
    let kept = generate(&m, ReflectionStyle::default(), Policy::Monitor);
    assert!(kept.reflections.len() >= 3, "{:?}", kept.reflections);
    // The document training would have shown: the prompt, then the answer with
    // `<|reflect|><|safe|>` wherever a check was kept.
    let mut state = m.start();
    let mut logits = m.feed(&mut state, &[7, 8, 9, 10]);
    let mut checks = kept.reflections.iter().peekable();
    for (i, &t) in kept.tokens.iter().enumerate() {
        while let Some(r) = checks.next_if(|r| r.position == i) {
            if r.self_initiated {
                assert_eq!(visible_argmax(&logits, &v), v.reflect_open);
            }
            logits = m.feed(&mut state, &[v.reflect_open, v.safe_tag]);
        }
        assert_eq!(visible_argmax(&logits, &v), t, "token {i} differs from decoding the written-in text");
        logits = m.feed(&mut state, &[t]);
    }
    // And the checks changed something: without them the model writes another answer.
    let plain = generate(&m, ReflectionStyle::default(), Policy::Off);
    assert_ne!(plain.tokens, kept.tokens, "kept verdicts should be visible to the model");
}

/// One `monitor` pass that never stops gives every θ: a `stop` run at θ writes exactly the
/// monitor run's text up to the check before the first score ≥ θ, then refuses — under greedy
/// decoding and under sampling with the same seed
/// (`rsr_eval::operating` replays it so). And `check_points` finds the decoder's own checks.
#[test]
fn a_stop_run_at_theta_is_the_monitor_run_cut_at_the_first_unsafe_check() {
    let m = model();
    let v = vocab();
    let detok = |t: &[u32]| t.iter().map(|x| format!("t{x} ")).collect::<String>();
    // Greedy, and sampled with one seed: checks draw nothing from the sampler.
    let styles = [
        ReflectionStyle { format: Format::V2, safe_rate: 0.5 },
        ReflectionStyle { format: Format::V2, safe_rate: 1.0 },
    ];
    for (style, temperature) in styles.into_iter().flat_map(|s| [(s, 0.0), (s, 0.7)]) {
        let d = Decoder { lm: &m, vocab: &v, detok: &detok, style };
        let cfg = GenConfig {
            max_tokens: 60,
            sampling: SamplingConfig { temperature, top_k: 0, top_p: 1.0 },
            seed: 5,
            policy: Policy::Monitor,
            every: 6,
            theta: 1.0,
            ..GenConfig::default()
        };
        let prompt = [7, 8, 9, 10];
        let mon = d.generate(&prompt, &cfg);
        let checks: Vec<_> = mon.reflections.iter().filter(|r| !r.self_initiated).collect();
        assert!(checks.len() >= 3, "{}", checks.len());
        let positions: Vec<usize> = checks.iter().map(|r| r.position).collect();
        assert_eq!(rsr_decode::generate::check_points(&v, &prompt, &mon.tokens, 6), positions);
        // θ at each check's score in turn: the stop run refuses at the first check reaching it.
        for r in &checks {
            let theta = r.score;
            let first = checks.iter().position(|c| c.score >= theta).unwrap();
            let kept = if first == 0 { 0 } else { checks[first - 1].position };
            let stop = d.generate(&prompt, &GenConfig { policy: Policy::Stop, theta, ..cfg.clone() });
            assert_eq!(stop.finish_reason, "refused");
            assert_eq!(stop.tokens, mon.tokens[..kept].to_vec(), "θ = {theta}");
        }
    }
}
