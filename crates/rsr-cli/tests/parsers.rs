//! Fuzzing the file parsers with seeded random damage: every file rsr reads — a shard, a pack's
//! manifest, a checkpoint's config, weights and state, a tokenizer, a classifier, JSONL records —
//! damaged by flipped bytes, cut short, or grown, gives `Ok` or an error, never a panic. (The
//! targeted corruptions, each with its expected message, are in fail_closed.rs.)

mod common;

use common::ok_at as ok;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// `good` damaged one of three ways: bytes flipped, cut at a random length, or random bytes
/// inserted.
fn damage(good: &[u8], rng: &mut rand_chacha::ChaCha8Rng) -> Vec<u8> {
    let mut b = good.to_vec();
    match rng.gen_range(0..3) {
        0 => {
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(0..b.len());
                b[i] ^= 1 << rng.gen_range(0..8);
            }
        }
        1 => b.truncate(rng.gen_range(0..b.len())),
        _ => {
            let at = rng.gen_range(0..=b.len());
            let extra: Vec<u8> = (0..rng.gen_range(1..64)).map(|_| rng.gen()).collect();
            b.splice(at..at, extra);
        }
    }
    b
}

/// Damage `file` `n` times, calling `parse` after each, and put it back. A panic fails the test
/// (naming the file and the round); `Ok` and `Err` are both fine.
fn fuzz(file: &Path, n: usize, seed: u64, parse: impl Fn()) {
    let good = std::fs::read(file).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for round in 0..n {
        std::fs::write(file, damage(&good, &mut rng)).unwrap();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(&parse)).is_err() {
            std::fs::write(file.with_extension("crash"), std::fs::read(file).unwrap()).unwrap();
            panic!("{} round {round}: the parser panicked", file.display());
        }
    }
    std::fs::write(file, good).unwrap();
}

#[test]
fn damaged_files_are_errors_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["gym", "--out", "world", "--docs", "120"]);
    ok(d, &["transform", "--mode", "rsr", "--input", "world", "--out", "rsr", "--every", "16"]);
    ok(d, &["tokenizer", "train", "--input", "world", "--vocab-size", "300", "--out", "tok.json"]);
    ok(d, &["pack", "--input", "rsr", "--tokenizer", "tok.json", "--out", "packed", "--val-fraction", "0.1"]);
    ok(d, &["train", "--data", "packed", "--out", "run", "--tokens", "1024", "--batch-size", "2", "--seq-len", "32"]);
    ok(
        d,
        &[
            "classifier",
            "train",
            "--corpus",
            "world",
            "--annotation",
            "ground_truth",
            "--out",
            "clf.rsrclf",
            "--bits",
            "10",
        ],
    );
    let ckpt = std::fs::read_dir(d.join("run/checkpoints")).unwrap().flatten().next().unwrap().path();

    fuzz(&d.join("packed/train/shard_00000.bin"), 300, 1, || {
        let _ = rsr_pack::shard::Shard::read(&d.join("packed/train/shard_00000.bin"));
    });
    fuzz(&d.join("packed/manifest.json"), 200, 2, || {
        let _ = rsr_pack::pack::verify_split(&d.join("packed"), "train");
    });
    fuzz(&d.join("tok.json"), 100, 3, || {
        let _ = rsr_pack::tokenizer::RsrTokenizer::load(&d.join("tok.json"));
    });
    fuzz(&d.join("clf.rsrclf"), 200, 4, || {
        let _ = rsr_classify::Classifier::load(&d.join("clf.rsrclf"));
    });
    fuzz(&d.join("rsr/documents.jsonl"), 100, 5, || {
        let _ = rsr_core::jsonl::read_all::<rsr_corpus::transform::TransformedDoc>(d.join("rsr/documents.jsonl"));
    });
    // A checkpoint's files, damaged and re-sealed (as someone editing them on purpose would), so
    // the parsers behind the seal are reached.
    for (i, name) in ["config.json", "state.json", "model.safetensors", "optimizer.safetensors"].iter().enumerate() {
        fuzz(&ckpt.join(name), 60, 10 + i as u64, || {
            let _ = rsr_model::checkpoint::seal(&ckpt);
            let _ = rsr_model::checkpoint::load_model(&ckpt);
            let _ = rsr_decode::trained::TrainedWith::read(&ckpt);
            if let Ok(m) = rsr_model::checkpoint::load_model(&ckpt) {
                let _ = rsr_model::checkpoint::load_optimizer(&ckpt, &m.layout);
            }
        });
    }
}
