//! The cost of reflection checks while decoding, against the same model with reflections off,
//! measured in one run; time to first token; probe throughput.
//!
//!     cargo bench -p rsr-decode --bench decode                       # a random tiny model
//!     RSR_BENCH_MODEL=RUN/checkpoints/step-N cargo bench -p rsr-decode --bench decode
//!     RSR_BENCH_PROMPT='User: …\nAssistant:' …                       # the prompt for a trained model
//!
//! Batch 1, greedy, KV cache, 160 generated tokens after the prompt. End of text is suppressed in
//! every run, so each run writes the same number of tokens and the figure is the steady-state cost
//! per token. "off" decodes with no check and `<|reflect|>` never sampled; "every K" decodes with
//! the `stop` policy and a check at the first sentence end after K tokens, plus the final check,
//! the way the model was trained to reflect (a kept safe verdict costs two forward tokens, a
//! rolled-back one one). A random model's scores mean nothing, so it runs with θ = 1 (every check
//! safe) in both styles; a trained model runs with its own style and θ = 0.5 on a benign prompt.
//! Off and on runs alternate, 11 of each per point; medians; overhead = off tok/s ÷ on tok/s − 1.

use rsr_core::reflection::Format;
use rsr_decode::generate::{Decoder, GenConfig, Policy};
use rsr_decode::lm::{LanguageModel, Vocab};
use rsr_decode::probe::probe;
use rsr_decode::sample::SamplingConfig;
use rsr_decode::trained::ReflectionStyle;
use rsr_model::config::ModelConfig;
use rsr_model::infer::KvCache;
use rsr_model::model::Model;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The model with some tokens made impossible (end of text; `<|reflect|>` for "off").
struct Banning<'a> {
    model: &'a Model,
    ban: Vec<u32>,
}

impl LanguageModel for Banning<'_> {
    type State = KvCache;
    fn start(&self) -> KvCache {
        self.model.start()
    }
    fn feed(&self, state: &mut KvCache, tokens: &[u32]) -> Vec<f32> {
        let mut l = self.model.feed(state, tokens);
        for &t in &self.ban {
            l[t as usize] = f32::NEG_INFINITY;
        }
        l
    }
    fn max_context(&self) -> usize {
        self.model.max_context()
    }
    fn len(&self, state: &KvCache) -> usize {
        state.len
    }
    fn truncate(&self, state: &mut KvCache, len: usize) {
        state.truncate(len)
    }
}

fn main() {
    let (model, vocab, prompt, styles, theta, label) = match std::env::var("RSR_BENCH_MODEL") {
        Ok(dir) => {
            let l = rsr_decode::Loaded::from_dir(std::path::Path::new(&dir)).expect("RSR_BENCH_MODEL is a checkpoint");
            let text = std::env::var("RSR_BENCH_PROMPT")
                .unwrap_or_else(|_| "User: How do I keep bread fresh for longer?\nAssistant:".into());
            let prompt = l.encode(&text).expect("the prompt encodes");
            (l.model, l.vocab, prompt, vec![l.style], 0.5, dir)
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
                // About one token in twelve ends a sentence.
                sentence_end: (0..1024u32).map(|t| t > 4 && t % 12 == 0).collect(),
                period: None,
            };
            let styles = vec![
                ReflectionStyle { format: Format::V2, safe_rate: 1.0 },
                ReflectionStyle { format: Format::V2, safe_rate: 0.5 },
            ];
            let prompt = (0..16).map(|i| 10 + i * 7).collect();
            (Model::new(ModelConfig::tiny(1024), 0), v, prompt, styles, 1.0, "random tiny model (vocab 1024)".into())
        }
    };
    let base = GenConfig {
        max_tokens: 160,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        stop: vec![],
        theta,
        ..GenConfig::default()
    };
    println!("model: {label}, {} parameters, {}-token prompt", model.num_params(), prompt.len());
    let detok = |t: &[u32]| format!("{}", t.len());
    let off_lm = Banning { model: &model, ban: vec![vocab.endoftext, vocab.reflect_open] };
    let on_lm = Banning { model: &model, ban: vec![vocab.endoftext] };
    let off = GenConfig { policy: Policy::Off, ..base.clone() };
    let timed = |d: &Decoder<Banning>, cfg: &GenConfig| {
        let t = Instant::now();
        let g = d.generate(&prompt, cfg);
        (g.tokens.len() as f64 / t.elapsed().as_secs_f64(), g)
    };
    for style in styles {
        let keep = if style.keeps_safe_checks() { "kept" } else { "rolled back" };
        println!("style: format {:?}, safe rate {}, safe checks {keep}", style.format, style.safe_rate);
        let d_off = Decoder { lm: &off_lm, vocab: &vocab, detok: &detok, style };
        let d_on = Decoder { lm: &on_lm, vocab: &vocab, detok: &detok, style };
        let mut base_all = vec![];
        for k in [32, 64, 128] {
            let on = GenConfig { policy: Policy::Stop, every: k, ..base.clone() };
            let (mut off_tps, mut on_tps, mut last) = (vec![], vec![], None);
            for _ in 0..11 {
                off_tps.push(timed(&d_off, &off).0);
                let (tps, g) = timed(&d_on, &on);
                on_tps.push(tps);
                last = Some(g);
            }
            let g = last.unwrap();
            let (b, o) = (median(off_tps), median(on_tps));
            base_all.push(b);
            println!(
                "reflections every {k:>3}  {o:>8.1} tok/s   overhead {:>5.1}%   extra forward tokens per output token {:.3}   checks {} ({} opened by the model)   refused {}",
                100.0 * (b / o - 1.0),
                g.extra_tokens as f64 / g.tokens.len().max(1) as f64,
                g.reflections.len(),
                g.reflections.iter().filter(|r| r.self_initiated).count(),
                g.finish_reason == "refused"
            );
        }
        println!("reflections off        {:>8.1} tok/s (median of the three baselines)", median(base_all));
    }
    let d = Decoder { lm: &off_lm, vocab: &vocab, detok: &detok, style: ReflectionStyle::default() };
    let ttft = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                d.generate(&prompt, &GenConfig { max_tokens: 1, ..off.clone() });
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    );
    println!("time to first token    {ttft:>8.2} ms ({}-token prompt)", prompt.len());
    let texts: Vec<Vec<u32>> =
        (0..64).map(|i| (0..64).map(|j| 10 + ((i * 31 + j * 7) % 900) as u32).collect()).collect();
    let t = Instant::now();
    for x in &texts {
        probe(&model, &vocab, &ReflectionStyle::default(), x);
    }
    println!(
        "probe                  {:>8.1} texts/s (64-token texts, one at a time)",
        texts.len() as f64 / t.elapsed().as_secs_f64()
    );
}
