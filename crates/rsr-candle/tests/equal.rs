//! The candle model and rsr-model's CPU kernels are one definition: on the
//! same weights they give the same logits, the same masked loss and the same
//! gradient for every parameter (which also catches a candle op without a
//! backward: its parameters' gradients would be missing or zero).

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rsr_candle::CandleLlama;
use rsr_model::config::ModelConfig;
use rsr_model::model::{Acts, Model};

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Two layers of width 32, four heads: small enough to compare every number.
fn small_config(vocab_size: usize, intermediate_size: usize, tie_word_embeddings: bool) -> ModelConfig {
    ModelConfig {
        vocab_size,
        hidden_size: 32,
        intermediate_size,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        max_position_embeddings: 16,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings,
    }
}

fn check(tie: bool, dev: Device) {
    let cfg = small_config(96, 56, tie);
    let (b, t) = (2, 12);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let tokens: Vec<u32> = (0..b * t).map(|_| rng.gen_range(0..96)).collect();
    let targets: Vec<u32> = (0..b * t).map(|_| rng.gen_range(0..96)).collect();
    // A third of the positions masked out, as reflection bodies are.
    let mask: Vec<u8> = (0..b * t).map(|i| u8::from(i % 3 != 1)).collect();
    let mut model = Model::new(cfg.clone(), 11);

    let mut acts = Acts::new(&cfg, b, t);
    model.forward(&mut acts, &tokens);
    let logits_cpu = acts.logits.clone();
    model.zero_grad();
    let (loss_cpu, _) = model.forward_backward(&mut acts, &tokens, &targets, &mask);

    let c = CandleLlama::from_model(&model, &dev).unwrap();
    let tok = Tensor::from_vec(tokens, (b, t), &dev).unwrap();
    let tgt = Tensor::from_vec(targets, (b, t), &dev).unwrap();
    let msk = Tensor::from_vec(mask.iter().map(|&m| m as u32).collect::<Vec<_>>(), (b, t), &dev).unwrap();
    let logits = c.forward(&tok).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let dl = max_abs_diff(&logits, &logits_cpu);
    assert!(dl < 1e-4, "logits differ by {dl}");
    let loss = c.loss(&tok, &tgt, &msk).unwrap();
    let loss_c = loss.to_scalar::<f32>().unwrap();
    assert!((loss_c - loss_cpu).abs() < 1e-5, "loss {loss_c} vs {loss_cpu}");
    let grads = c.grads(&loss).unwrap();
    assert_eq!(grads.len(), model.grads.len());
    for (name, off, shape) in &model.layout.entries {
        let n: usize = shape.iter().product();
        let (g, want) = (&grads[*off..off + n], &model.grads[*off..off + n]);
        let scale = want.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(scale > 0.0, "{name}: no gradient on the CPU side");
        let d = max_abs_diff(g, want);
        assert!(d <= 1e-3 * scale + 1e-7, "{name}: gradients differ by {d} (largest {scale})");
    }
    assert_eq!(c.params().unwrap(), model.params);
}

#[test]
fn candle_equals_the_cpu_kernels_tied() {
    check(true, Device::Cpu);
}

#[test]
fn candle_equals_the_cpu_kernels_untied() {
    check(false, Device::Cpu);
}

/// On a GPU: `cargo test -p rsr-candle --features cuda` (needs CUDA; not run in CI).
#[cfg(feature = "cuda")]
#[test]
fn cuda_equals_the_cpu_kernels() {
    check(false, rsr_candle::device(true).expect("a CUDA device"));
}

/// Several AdamW steps with clipping on candle land on the weights rsr-model's trainer reaches.
#[test]
fn training_steps_match_the_cpu_trainer() {
    training_steps(Device::Cpu);
}

/// The same on a GPU (`cargo test -p rsr-candle --features cuda`; not run in CI).
#[cfg(feature = "cuda")]
#[test]
fn cuda_training_steps_match_the_cpu_trainer() {
    training_steps(rsr_candle::device(true).expect("a CUDA device"));
}

fn training_steps(dev: Device) {
    use rsr_model::optim::{clip_grad_norm, AdamW};
    let cfg = small_config(64, 48, true);
    let (b, t) = (2, 8);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut model = Model::new(cfg.clone(), 3);
    // Clip at 0.5 so clipping is exercised; a weight decay big enough to matter.
    let opt = AdamW { weight_decay: 0.1, ..AdamW::default() };
    let mut trainer =
        rsr_candle::Trainer::new(CandleLlama::from_model(&model, &dev).unwrap(), opt.clone(), 0.5).unwrap();
    let (mut m, mut v) = (vec![0f32; model.num_params()], vec![0f32; model.num_params()]);
    let decay = model.decay_mask();
    let mut acts = Acts::new(&cfg, b, t);
    let mut clipped = false;
    for step in 1..=4u64 {
        let tokens: Vec<u32> = (0..b * t).map(|_| rng.gen_range(0..64)).collect();
        let targets: Vec<u32> = (0..b * t).map(|_| rng.gen_range(0..64)).collect();
        let mask: Vec<u8> = (0..b * t).map(|i| u8::from(i % 4 != 0)).collect();
        let lr = 1e-2;
        model.zero_grad();
        let (loss_cpu, _) = model.forward_backward(&mut acts, &tokens, &targets, &mask);
        let norm_cpu = clip_grad_norm(&mut model.grads, 0.5);
        opt.step(&mut model.params, &model.grads, &mut m, &mut v, &decay, lr, step);
        let tok = Tensor::from_vec(tokens, (b, t), &dev).unwrap();
        let tgt = Tensor::from_vec(targets, (b, t), &dev).unwrap();
        let msk = Tensor::from_vec(mask.iter().map(|&x| x as u32).collect::<Vec<_>>(), (b, t), &dev).unwrap();
        let (loss, norm) = trainer.step(&tok, &tgt, &msk, lr).unwrap();
        assert!((loss - loss_cpu).abs() < 1e-4, "step {step}: loss {loss} vs {loss_cpu}");
        assert!((norm - norm_cpu).abs() < 1e-3 * norm_cpu, "step {step}: grad norm {norm} vs {norm_cpu}");
        clipped |= norm > 0.5;
    }
    assert!(clipped, "the test should exercise clipping");
    let d = max_abs_diff(&trainer.model.params().unwrap(), &model.params);
    assert!(d < 1e-4, "weights after 4 steps differ by {d}");
}
