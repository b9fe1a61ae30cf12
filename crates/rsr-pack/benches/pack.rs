//! Packing throughput beside the `tokenizers` crate's raw encoding of the same
//! text, in the same run, on one core.
//!
//!     cargo bench -p rsr-pack --bench pack [-- DOCS RUNS]
//!
//! Text: a SafetyWorld `rsr` variant (reflections included). "raw encode" is
//! `Tokenizer::encode_fast` over each document — ids only, the cheapest call a
//! trainer's data loader makes. "pack" is `pack_doc`: specials split out,
//! encoding with byte offsets, the loss mask from the masked ranges, and the
//! guards. Prints the median of RUNS and the ratio (target: pack ≤ 1.3× raw).

use rsr_corpus::segment::Whitespace;
use rsr_corpus::transform::{transform_doc, Counts, TransformConfig};
use rsr_pack::pack::pack_doc;
use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::{generate_in_memory, WorldConfig};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let docs = args.first().copied().unwrap_or(40_000);
    let runs = args.get(1).copied().unwrap_or(5);
    let g = generate_in_memory(0, WorldConfig { docs, heldout_docs: 1, ..WorldConfig::default() });
    let cfg = TransformConfig { every: 24, ..TransformConfig::default() };
    let mut counts = Counts::default();
    let variant: Vec<_> =
        g.train.iter().filter_map(|(d, s)| transform_doc(&cfg, d.clone(), s, &Whitespace, &mut counts)).collect();
    let texts: Vec<String> = g.train.iter().map(|(d, _)| d.text.clone()).collect();
    // SafetyWorld has ~400 word types: a larger vocabulary saturates near 1.3k.
    for vocab in [1024] {
        let tok = RsrTokenizer::train(texts.iter(), vocab, 2).expect("tokenizer trains");
        // The baseline is the tokenizers crate as any user loads it: specials matched as usual.
        let path = std::env::temp_dir().join(format!("rsr-bench-tokenizer-{vocab}.json"));
        tok.save(&path).unwrap();
        let plain = tokenizers::Tokenizer::from_file(&path).unwrap();
        let (mut raw, mut pack) = (Vec::new(), Vec::new());
        let mut n_tokens = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let mut n = 0;
            for d in &variant {
                n += plain.encode_fast(d.text.as_str(), false).unwrap().get_ids().len();
            }
            raw.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let mut m = 0;
            for d in &variant {
                m += pack_doc(d, &tok).unwrap().tokens.len();
            }
            pack.push(t.elapsed().as_secs_f64());
            n_tokens = m;
            assert_eq!(m, n + variant.len(), "same tokens, plus one <|endoftext|> per document");
        }
        let (r, p) = (median(raw), median(pack));
        println!(
            "vocab {:>5} ({} tokens, {} docs, median of {runs}): raw encode {:>9.0} tok/s | pack {:>9.0} tok/s | pack/raw time {:.2}x",
            tok.vocab_size(),
            n_tokens,
            variant.len(),
            n_tokens as f64 / r,
            n_tokens as f64 / p,
            p / r
        );
    }
}
