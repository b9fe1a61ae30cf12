//! Training throughput on this machine, beside PyTorch in the same run.
//!
//!     cargo bench -p rsr-model --bench train [-- STEPS [ROUNDS [PRESET…]]]
//!     RSR_TORCH_PYTHON=/path/to/python cargo bench -p rsr-model --bench train
//!
//! For the `tiny` (vocab 2048) and `small` (vocab 4096) presets at batch
//! 16 × 256, f32, AdamW with clipping: median tokens/s of full steps
//! (forward, masked loss, backward, optimizer), achieved GFLOP/s, and the
//! machine's measured f32 GEMM peak (so the fraction of peak shows), then the
//! same model, batch and optimizer in PyTorch (`bench/torch_train.py`) when a
//! python with torch is found, and the ratio. Peak RSS is reported for both.

use rand::{Rng, SeedableRng};
use rsr_model::config::ModelConfig;
use rsr_model::model::{Acts, Model};
use rsr_model::ops::{matmul, parallelism, View};
use rsr_model::optim::{clip_grad_norm, AdamW};
use std::process::Command;
use std::time::Instant;

const B: usize = 16;
const T: usize = 256;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// f32 GEMM peak: 1024³ products with all threads, median of 7.
fn gemm_peak() -> f64 {
    let n = 1024;
    let a = vec![1.0f32; n * n];
    let b = vec![0.5f32; n * n];
    let mut c = vec![0.0f32; n * n];
    let times: Vec<f64> = (0..8)
        .map(|_| {
            let t = Instant::now();
            matmul(&mut c, View::rows(n), &a, View::rows(n), &b, View::rows(n), n, n, n, false, parallelism());
            t.elapsed().as_secs_f64()
        })
        .skip(1)
        .collect();
    2.0 * (n * n * n) as f64 / median(times) / 1e9
}

/// Training FLOPs per token: 6 × matmul parameters (lm head included) + attention (QKᵀ and PV, forward and backward).
fn flops_per_token(c: &ModelConfig) -> f64 {
    let (l, d, f, v) =
        (c.num_hidden_layers as f64, c.hidden_size as f64, c.intermediate_size as f64, c.vocab_size as f64);
    6.0 * (l * (4.0 * d * d + 3.0 * d * f) + v * d) + 12.0 * l * T as f64 * d
}

fn torch(preset: &str, vocab: usize, steps: usize) -> Option<(f64, f64)> {
    let python = std::env::var("RSR_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/torch_train.py");
    let threads = rayon::current_num_threads().to_string();
    let out =
        Command::new(&python).args([script, preset, &vocab.to_string(), &steps.to_string(), &threads]).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch run skipped ({python}): {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((v["tok_per_s"].as_f64()?, v["peak_rss_mb"].as_f64()?))
}

/// Median tokens/s of `steps` full training steps (after 3 warm-up steps).
fn rsr_tok_per_s(cfg: &ModelConfig, steps: usize) -> f64 {
    let vocab = cfg.vocab_size as u32;
    let mut model = Model::new(cfg.clone(), 0);
    let mut acts = Acts::new(cfg, B, T);
    let n = model.num_params();
    let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
    let decay = vec![true; n];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let tokens: Vec<u32> = (0..B * T).map(|_| rng.gen_range(0..vocab)).collect();
    let targets: Vec<u32> = (0..B * T).map(|_| rng.gen_range(0..vocab)).collect();
    let mask: Vec<u8> = (0..B * T).map(|_| rng.gen_bool(0.8) as u8).collect();
    let opt = AdamW::default();
    let mut times = Vec::new();
    for step in 0..steps + 3 {
        let t = Instant::now();
        model.zero_grad();
        model.forward_backward(&mut acts, &tokens, &targets, &mask);
        clip_grad_norm(&mut model.grads, 1.0);
        opt.step(&mut model.params, &model.grads, &mut m, &mut v, &decay, 1e-3, step as u64 + 1);
        if step >= 3 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    (B * T) as f64 / median(times)
}

fn main() {
    // Usage: [STEPS] [ROUNDS] [PRESET…]. Rounds alternate rsr and PyTorch so
    // that a noisy neighbour hits both; the ratio is the median of per-round
    // ratios. Naming presets (tiny, small) runs only those.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let nums: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let only: Vec<&str> = args.iter().filter(|a| a.parse::<usize>().is_err()).map(|a| a.as_str()).collect();
    let steps = nums.first().copied().unwrap_or(15);
    let rounds = nums.get(1).copied().unwrap_or(3);
    let threads = rayon::current_num_threads();
    let peak = gemm_peak();
    println!("threads {threads}; measured f32 GEMM peak {peak:.1} GFLOP/s (1024³, median of 7); batch {B}×{T}; {rounds} rounds of {steps} steps");
    for (preset, vocab) in [("tiny", 2048), ("small", 4096)] {
        if !only.is_empty() && !only.contains(&preset) {
            continue;
        }
        let cfg = ModelConfig::by_name(preset, vocab).unwrap();
        let n = Model::new(cfg.clone(), 0).num_params();
        let (mut ours, mut theirs, mut ratios, mut torch_rss) = (vec![], vec![], vec![], 0.0f64);
        for _ in 0..rounds {
            let tps = rsr_tok_per_s(&cfg, steps);
            ours.push(tps);
            if let Some((ttps, rss)) = torch(preset, vocab, steps) {
                theirs.push(ttps);
                ratios.push(tps / ttps);
                torch_rss = torch_rss.max(rss);
            }
        }
        let tps = median(ours);
        let gflops = tps * flops_per_token(&cfg) / 1e9;
        print!(
            "{preset:<6} {n:>9} params  rsr {tps:>7.0} tok/s  {gflops:>5.1} GFLOP/s ({:>4.1}% of peak)  peak RSS {:>5.0} MB",
            100.0 * gflops / peak,
            peak_rss_mb()
        );
        if ratios.is_empty() {
            println!("  | PyTorch not available (set RSR_TORCH_PYTHON)");
        } else {
            println!(
                "  | PyTorch {:>7.0} tok/s, peak RSS {torch_rss:>5.0} MB  | rsr/PyTorch {:.2}x",
                median(theirs),
                median(ratios)
            );
        }
    }
}
