//! The backward pass against finite differences, for every parameter tensor
//! (an op without a backward shows up as a zero or wrong gradient), and the
//! loss mask's exactness.

use rand::{Rng, SeedableRng};
use rsr_model::config::ModelConfig;
use rsr_model::model::{Acts, Model};

fn cfg(tied: bool) -> ModelConfig {
    ModelConfig {
        vocab_size: 29,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        max_position_embeddings: 8,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: tied,
    }
}

fn batch(seed: u64, n: usize, v: u32) -> (Vec<u32>, Vec<u32>, Vec<u8>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let tokens = (0..n).map(|_| rng.gen_range(0..v)).collect();
    let targets = (0..n).map(|_| rng.gen_range(0..v)).collect();
    let mask = (0..n).map(|i| (i % 3 != 1) as u8).collect();
    (tokens, targets, mask)
}

/// A model with larger weights than the training init, so gradients are well above f32 noise.
fn model(tied: bool) -> Model {
    let mut m = Model::new(cfg(tied), 3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for (name, off, shape) in m.layout.entries.clone() {
        let n: usize = shape.iter().product();
        for x in &mut m.params[off..off + n] {
            *x = if shape.len() == 1 { 1.0 + rng.gen_range(-0.3..0.3) } else { rng.gen_range(-0.4..0.4) };
        }
        let _ = name;
    }
    m
}

#[test]
fn every_parameter_gradient_matches_finite_differences() {
    for tied in [true, false] {
        let mut m = model(tied);
        let (b, t) = (2, 8);
        let mut acts = Acts::new(&m.cfg, b, t);
        let (tokens, targets, mask) = batch(1, b * t, m.cfg.vocab_size as u32);
        m.zero_grad();
        m.forward_backward(&mut acts, &tokens, &targets, &mask);
        let grads = m.grads.clone();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (name, off, shape) in m.layout.entries.clone() {
            let n: usize = shape.iter().product();
            let g = &grads[off..off + n];
            assert!(g.iter().any(|x| x.abs() > 1e-6), "{name}: no gradient at all (tied={tied})");
            let mut checked = 0;
            let mut worst = 0f32;
            for _ in 0..12 {
                let i = off + rng.gen_range(0..n);
                let eps = 1e-2;
                let orig = m.params[i];
                m.params[i] = orig + eps;
                let (lp, _) = m.loss(&mut acts, &tokens, &targets, &mask);
                m.params[i] = orig - eps;
                let (lm, _) = m.loss(&mut acts, &tokens, &targets, &mask);
                m.params[i] = orig;
                let fd = (lp - lm) / (2.0 * eps);
                let err = (fd - grads[i]).abs();
                worst = worst.max(err / (fd.abs().max(grads[i].abs()) + 1e-3));
                assert!(
                    err <= 2e-3 + 0.05 * fd.abs().max(grads[i].abs()),
                    "{name}[{}]: analytic {} vs numeric {fd} (tied={tied})",
                    i - off,
                    grads[i]
                );
                checked += 1;
            }
            assert_eq!(checked, 12);
            assert!(worst < 0.5, "{name}: worst relative error {worst}");
        }
    }
}

#[test]
fn masked_positions_contribute_nothing() {
    let mut m = model(true);
    let (b, t) = (2, 8);
    let mut acts = Acts::new(&m.cfg, b, t);
    let (tokens, targets, mask) = batch(7, b * t, m.cfg.vocab_size as u32);
    m.zero_grad();
    let (loss, n) = m.forward_backward(&mut acts, &tokens, &targets, &mask);
    assert_eq!(n, mask.iter().filter(|&&x| x == 1).count());
    let g1 = m.grads.clone();
    // Change every masked target: loss and every gradient stay the same.
    let other: Vec<u32> = targets.iter().zip(&mask).map(|(&t, &k)| if k == 0 { (t + 5) % 29 } else { t }).collect();
    m.zero_grad();
    let (loss2, _) = m.forward_backward(&mut acts, &tokens, &other, &mask);
    assert_eq!(loss, loss2);
    assert_eq!(g1, m.grads);
    // The gradient reaching the logits of masked rows is exactly zero.
    m.forward(&mut acts, &tokens);
    rsr_model::ops::cross_entropy(&mut acts.logits, &targets, &mask, 29);
    for (row, &k) in acts.logits.chunks(29).zip(&mask) {
        if k == 0 {
            assert!(row.iter().all(|&x| x == 0.0));
        } else {
            assert!(row.iter().any(|&x| x != 0.0));
        }
    }
    // An all-masked batch: zero loss, zero gradient (never NaN).
    m.zero_grad();
    let (l0, n0) = m.forward_backward(&mut acts, &tokens, &targets, &vec![0; b * t]);
    assert_eq!((l0, n0), (0.0, 0));
    assert!(m.grads.iter().all(|&g| g == 0.0));
}
