//! Decoding speed with reflections off and on, time to first token, and probe throughput.
//!
//!     cargo bench -p rsr-decode --bench decode                       # a random tiny model
//!     RSR_BENCH_MODEL=RUN/checkpoints/step-N cargo bench -p rsr-decode --bench decode
//!
//! Batch 1, greedy, KV cache, 160 generated tokens after a 16-token prompt,
//! median of 5 runs. "Reflections on" is the `monitor` policy (every
//! reflection scored and written, nothing cut), so the overhead is the pure
//! cost of reflecting: the forced `<|reflect|>`, the verdict scoring, and the
//! body the model writes. A random model never closes its reflection, so its
//! bodies run to the budget (worst case); a trained model's are short.

use rsr_decode::generate::{Decoder, GenConfig, Policy};
use rsr_decode::lm::Vocab;
use rsr_decode::probe::probe;
use rsr_decode::sample::SamplingConfig;
use rsr_model::config::ModelConfig;
use rsr_model::model::Model;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (model, vocab, label) = match std::env::var("RSR_BENCH_MODEL") {
        Ok(dir) => {
            let l = rsr_decode::Loaded::from_dir(std::path::Path::new(&dir)).expect("RSR_BENCH_MODEL is a checkpoint");
            (l.model, l.vocab, dir)
        }
        Err(_) => {
            let v = Vocab {
                endoftext: 0,
                reflect_open: 1,
                reflect_close: 2,
                safe_tag: 3,
                unsafe_tag: 4,
                safe_body: vec![300],
                unsafe_body: vec![301, 302],
            };
            (Model::new(ModelConfig::tiny(1024), 0), v, "random tiny model (vocab 1024)".to_string())
        }
    };
    let detok = |t: &[u32]| format!("{}", t.len());
    let d = Decoder { lm: &model, vocab: &vocab, detok: &detok };
    let prompt: Vec<u32> = (0..16).map(|i| 10 + i * 7).collect();
    let base = GenConfig {
        max_tokens: 160,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        stop: vec![],
        ..GenConfig::default()
    };
    println!("model: {label}, {} parameters", model.num_params());
    let run = |cfg: &GenConfig| -> (f64, usize, usize) {
        let t = Instant::now();
        let g = d.generate(&prompt, cfg);
        (t.elapsed().as_secs_f64(), g.tokens.len(), g.extra_tokens)
    };
    let off = GenConfig { policy: Policy::Off, ..base.clone() };
    // Generations end at <|endoftext|> for a trained model: report tokens/s, not seconds.
    let measure = |cfg: &GenConfig| {
        let runs: Vec<(f64, usize, usize)> = (0..5).map(|_| run(cfg)).collect();
        let tps = median(runs.iter().map(|(s, n, _)| *n as f64 / s).collect());
        let extra = runs[0].2 as f64 / runs[0].1.max(1) as f64;
        (tps, extra)
    };
    let (base_tps, _) = measure(&off);
    println!("reflections off        {base_tps:>8.1} tok/s");
    for k in [32, 64, 128] {
        let (tps, extra) = measure(&GenConfig { policy: Policy::Monitor, every: k, ..base.clone() });
        println!(
            "reflections every {k:>3}  {tps:>8.1} tok/s   overhead {:>5.1}%   extra forward tokens per output token {extra:.2}",
            100.0 * (base_tps / tps - 1.0)
        );
    }
    let ttft = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                d.generate(&prompt, &GenConfig { max_tokens: 1, ..off.clone() });
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    println!("time to first token    {ttft:>8.2} ms (16-token prompt)");
    let texts: Vec<Vec<u32>> =
        (0..64).map(|i| (0..64).map(|j| 10 + ((i * 31 + j * 7) % 900) as u32).collect()).collect();
    let t = Instant::now();
    for x in &texts {
        probe(&model, &vocab, x);
    }
    println!(
        "probe                  {:>8.1} texts/s (64-token texts, one at a time)",
        texts.len() as f64 / t.elapsed().as_secs_f64()
    );
}
