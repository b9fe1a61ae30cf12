//! Fault injection through the binary: each way a safety toolkit could fail
//! open, tried as a hostile but fair user would, must end in an error (or
//! "unsafe"), never a silent pass. docs/security.md lists what is checked.
//! The server's limits are in crates/rsr-serve/tests/http.rs.

mod common;

use common::{fails_at as fails, ok_at as ok};
use std::path::{Path, PathBuf};

/// world/, rsr/ (its rsr variant), tok.json, packed/, and a trained run/ in `dir`.
fn fixture(dir: &Path) -> PathBuf {
    ok(dir, &["gym", "--out", "world", "--docs", "200"]);
    ok(dir, &["transform", "--mode", "rsr", "--input", "world", "--out", "rsr", "--every", "16"]);
    ok(dir, &["tokenizer", "train", "--input", "world", "--vocab-size", "400", "--out", "tok.json"]);
    ok(dir, &["pack", "--input", "rsr", "--tokenizer", "tok.json", "--out", "packed", "--val-fraction", "0.1"]);
    let train = ["--tokens", "2048", "--batch-size", "2", "--seq-len", "64", "--eval-every", "0"];
    ok(dir, &[&["train", "--data", "packed", "--out", "run"][..], &train[..]].concat());
    dir.join("run/checkpoints/step-0000016")
}

#[test]
fn decoding_and_checkpoints_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ckpt = fixture(d);
    let c = ckpt.to_str().unwrap();

    // A NaN θ would judge everything safe: refused.
    let err = fails(d, &["generate", "--model", c, "--prompt", "x", "--policy", "stop", "--theta", "NaN"]);
    assert!(err.contains("theta"), "{err}");
    // A model trained with reflections decodes with its checks unless `--policy off` is asked
    // for: the default is never the unchecked model.
    std::fs::write(d.join("one.jsonl"), "{\"id\":\"a\",\"prompt\":\"The weeds\"}\n").unwrap();
    let checks = |extra: &[&str]| -> usize {
        let args = [
            &["generate", "--model", c, "--input", "one.jsonl", "--out", "one-out.jsonl", "--max-tokens", "8"][..],
            extra,
        ]
        .concat();
        ok(d, &args);
        let g: serde_json::Value =
            serde_json::from_str(std::fs::read_to_string(d.join("one-out.jsonl")).unwrap().lines().next().unwrap())
                .unwrap();
        g["reflections"].as_array().map_or(0, Vec::len)
    };
    assert!(checks(&[]) > 0, "no checks by default on a model trained with reflections");
    assert_eq!(checks(&["--policy", "off"]), 0);
    // No command writes over its own input (or into the checkpoint it reads).
    for args in [
        vec!["generate", "--model", c, "--input", "one.jsonl", "--out", "one.jsonl"],
        vec!["probe", "--model", c, "--input", "one.jsonl", "--out", "one.jsonl"],
        vec!["probe", "--model", c, "--input", "one.jsonl", "--out", &format!("{c}/scores.jsonl")],
        vec!["train", "--data", "packed", "--out", "packed", "--overwrite", "--tokens", "256"],
        vec!["classifier", "train", "--input", "one.jsonl", "--out", "one.jsonl"],
    ] {
        let err = fails(d, &args);
        assert!(err.contains("the output is") || err.contains("inside"), "{args:?}: {err}");
    }
    assert!(d.join("packed/manifest.json").is_file() && d.join("one.jsonl").is_file());
    ok(d, &["checkpoint", "verify", c]);
    // θ = 1 would refuse nothing (no score reaches 1): refused under a checking policy.
    let err = fails(d, &["generate", "--model", c, "--prompt", "x", "--policy", "stop", "--theta", "1.0"]);
    assert!(err.contains("refuses nothing") && err.contains("--policy off"), "{err}");
    let err = fails(d, &["generate", "--model", c, "--prompt", "x", "--policy", "stop", "--every", "0"]);
    assert!(err.contains("every"), "{err}");

    // Empty prompts: a generation, not a panic; one empty prompt costs no other generation.
    ok(d, &["generate", "--model", c, "--prompt", "", "--max-tokens", "4"]);
    std::fs::write(
        d.join("prompts.jsonl"),
        "{\"id\":\"a\",\"prompt\":\"The weeds\"}\n{\"id\":\"b\",\"prompt\":\"\"}\n{\"id\":\"c\",\"prompt\":\"How\"}\n",
    )
    .unwrap();
    ok(d, &["generate", "--model", c, "--input", "prompts.jsonl", "--out", "gens.jsonl", "--max-tokens", "4"]);
    assert_eq!(std::fs::read_to_string(d.join("gens.jsonl")).unwrap().lines().count(), 3);

    // Configs that lie: a negative epsilon, zero or indivisible heads, fewer layers than the weights.
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(ckpt.join("config.json")).unwrap()).unwrap();
    let bad = d.join("bad");
    for (field, value, needle) in [
        ("rms_norm_eps", serde_json::json!(-1.0), "rms_norm_eps"),
        ("num_attention_heads", serde_json::json!(0), "num_attention_heads"),
        ("num_attention_heads", serde_json::json!(3), "heads"),
        ("max_position_embeddings", serde_json::json!(1_000_000_000u64), "max_position_embeddings"),
        ("max_position_embeddings", serde_json::json!(1), "max_position_embeddings"),
        ("num_hidden_layers", serde_json::json!(2), "does not describe"),
    ] {
        std::fs::create_dir_all(&bad).unwrap();
        for f in ["model.safetensors", "tokenizer.json"] {
            std::fs::copy(ckpt.join(f), bad.join(f)).unwrap();
        }
        let mut cfg = config.clone();
        cfg[field] = value;
        std::fs::write(bad.join("config.json"), cfg.to_string()).unwrap();
        // Sealed on purpose (as an operator would after a deliberate edit): the config's own
        // checks still refuse it.
        ok(d, &["checkpoint", "seal", bad.to_str().unwrap()]);
        let err = fails(d, &["generate", "--model", bad.to_str().unwrap(), "--prompt", "x"]);
        assert!(err.contains(needle) && err.contains("HINT"), "{field}: {err}");
    }

    // Corrupt weights that give NaN logits are refused at load, even when sealed.
    std::fs::write(bad.join("config.json"), config.to_string()).unwrap();
    let mut weights = std::fs::read(ckpt.join("model.safetensors")).unwrap();
    let n = weights.len();
    for b in &mut weights[n - 4096..] {
        *b = 0xff; // 0xffffffff is a NaN
    }
    std::fs::write(bad.join("model.safetensors"), &weights).unwrap();
    ok(d, &["checkpoint", "seal", bad.to_str().unwrap()]);
    let err = fails(d, &["generate", "--model", bad.to_str().unwrap(), "--prompt", "x"]);
    assert!(err.contains("non-finite"), "{err}");
}

/// A checkpoint is one verified unit: any change to any of its files after `rsr train` sealed
/// it — one exponent bit of one weight, the reflection tokens swapped in its tokenizer, another
/// safe rate in its state.json, a file added or removed — is refused by every command that loads
/// it, naming the file; `rsr checkpoint seal` is the one way to accept an edit, and says so.
#[test]
fn a_checkpoint_changed_after_its_seal_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ckpt = fixture(d);
    ok(d, &["checkpoint", "verify", ckpt.to_str().unwrap()]);
    std::fs::write(d.join("texts.jsonl"), "{\"id\":\"a\",\"text\":\"Mix the powder.\"}\n").unwrap();
    let copy = |name: &str| -> PathBuf {
        let to = d.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(&ckpt).unwrap().flatten() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
        to
    };
    type Edit = Box<dyn Fn(&Path)>;
    let edits: Vec<(&str, &str, Edit)> = vec![
        (
            "weight-bit",
            "model.safetensors",
            Box::new(|c: &Path| {
                let p = c.join("model.safetensors");
                let mut w = std::fs::read(&p).unwrap();
                let n = w.len();
                w[n - 2] ^= 0x40; // one exponent bit of the last weight
                std::fs::write(&p, w).unwrap();
            }),
        ),
        (
            "tokens-swapped",
            "tokenizer.json",
            Box::new(|c: &Path| {
                let p = c.join("tokenizer.json");
                let t = std::fs::read_to_string(&p).unwrap();
                let t =
                    t.replace("<|safe|>", "<|TMP|>").replace("<|unsafe|>", "<|safe|>").replace("<|TMP|>", "<|unsafe|>");
                std::fs::write(&p, t).unwrap();
            }),
        ),
        (
            "safe-rate",
            "state.json",
            Box::new(|c: &Path| {
                let p = c.join("state.json");
                let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                v["transform"]["safe_rate"] = serde_json::json!(1e-6);
                std::fs::write(&p, v.to_string()).unwrap();
            }),
        ),
        (
            "optimizer-gone",
            "optimizer.safetensors",
            Box::new(|c: &Path| {
                std::fs::remove_file(c.join("optimizer.safetensors")).unwrap();
            }),
        ),
        (
            "unsealed",
            "checksums.json",
            Box::new(|c: &Path| {
                std::fs::remove_file(c.join("checksums.json")).unwrap();
            }),
        ),
    ];
    for (name, file, edit) in &edits {
        let c = copy(name);
        edit(&c);
        for args in [
            vec!["generate", "--model", c.to_str().unwrap(), "--prompt", "x", "--max-tokens", "2"],
            vec!["probe", "--model", c.to_str().unwrap(), "--input", "texts.jsonl", "--out", "scores.jsonl"],
        ] {
            let err = fails(d, &args);
            let named = err.contains(file) || (*file == "checksums.json" && err.contains("unsealed"));
            assert!(named && err.contains("rsr checkpoint seal"), "{name} via {}: {err}", args[0]);
        }
    }
    // Re-sealed on purpose: accepted, and the command says what it did.
    let c = d.join("safe-rate");
    let out = ok(d, &["checkpoint", "seal", c.to_str().unwrap()]);
    assert!(out.contains("SEALED AS IT NOW IS"), "{out}");
    ok(d, &["generate", "--model", c.to_str().unwrap(), "--prompt", "x", "--max-tokens", "2"]);

    // NaN AdamW moments, re-sealed on purpose: the resumed run refuses them instead of writing
    // a NaN checkpoint.
    let p = ckpt.join("optimizer.safetensors");
    let mut o = std::fs::read(&p).unwrap();
    let hl = u64::from_le_bytes(o[..8].try_into().unwrap()) as usize;
    o[8 + hl..8 + hl + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&p, o).unwrap();
    ok(d, &["checkpoint", "seal", ckpt.to_str().unwrap()]);
    let err = fails(d, &["train", "--resume", "--out", "run", "--tokens", "4096"]);
    assert!(err.contains("AdamW moment") && err.contains("optimizer.safetensors"), "{err}");
}

#[test]
fn shards_packs_and_runs_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fixture(d);
    let train = ["--tokens", "2048", "--batch-size", "2", "--seq-len", "64", "--eval-every", "0"];
    fn train_on<'a>(data: &'a str, out: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
        [&["train", "--data", data, "--out", out][..], rest].concat()
    }

    // Every mask byte set to 1 (unsafe text made trainable): the checksum catches it.
    let shard = d.join("packed/train/shard_00000.bin");
    let good = std::fs::read(&shard).unwrap();
    let n = u64::from_le_bytes(good[16..24].try_into().unwrap()) as usize;
    let width = u32::from_le_bytes(good[12..16].try_into().unwrap()) as usize;
    let mask = 64 + n * width..64 + n * width + n;
    let mut all_ones = good.clone();
    all_ones[mask.clone()].fill(1);
    std::fs::write(&shard, &all_ones).unwrap();
    let err = fails(d, &["inspect", shard.to_str().unwrap()]);
    assert!(err.contains("checksum mismatch"), "{err}");
    let err = fails(d, &train_on("packed", "run-tampered", &train));
    assert!(err.contains("checksum mismatch"), "{err}");
    // The same with the checksum recomputed: the pack's manifest still disagrees.
    let crc = crc32(&all_ones[64..]);
    all_ones[36..40].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&shard, &all_ones).unwrap();
    let err = fails(d, &train_on("packed", "run-tampered", &train));
    assert!(err.contains("manifest.json says") && err.contains("masked"), "{err}");
    assert!(!d.join("run-tampered/checkpoints").exists(), "nothing trained");
    for format in ["megatron", "olmo", "llmc"] {
        let err = fails(d, &["export", "--pack", "packed", "--format", format, "--out", "exported"]);
        assert!(err.contains("manifest.json says") && err.contains("masked"), "{format}: {err}");
    }
    assert!(!d.join("exported").exists(), "nothing exported");
    // The mask's masked positions moved with their count kept, the checksum recomputed: counts
    // agree, the mask's sha256 in the pack's manifest does not.
    let mut moved = good.clone();
    let bytes = &mut moved[mask.clone()];
    let (first_masked, first_open) =
        (bytes.iter().position(|&m| m == 0).unwrap(), bytes.iter().position(|&m| m == 1).unwrap());
    bytes.swap(first_masked, first_open);
    let crc = crc32(&moved[64..]);
    moved[36..40].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&shard, &moved).unwrap();
    let err = fails(d, &["inspect", shard.to_str().unwrap()]);
    assert!(err.contains("loss mask has sha256"), "{err}");
    let err = fails(d, &train_on("packed", "run-tampered", &train));
    assert!(err.contains("loss mask has sha256"), "{err}");
    for format in ["megatron", "olmo", "llmc"] {
        let err = fails(d, &["export", "--pack", "packed", "--format", format, "--out", "exported"]);
        assert!(err.contains("loss mask has sha256"), "{format}: {err}");
    }
    assert!(!d.join("exported").exists() && !d.join("run-tampered/checkpoints").exists());
    std::fs::write(&shard, &good).unwrap();
    let out = ok(d, &["inspect", shard.to_str().unwrap()]);
    assert!(out.contains("matches the pack's manifest"), "{out}");
    // The pack manifest's transform knobs (which every checkpoint inherits) read strictly.
    let manifest = d.join("packed/manifest.json");
    let good_manifest = std::fs::read(&manifest).unwrap();
    for (knob, value, says) in [
        ("safe_rate", serde_json::json!(-3), "outside [0, 1]"),
        ("every", serde_json::json!(0), "every is 0"),
        ("format", serde_json::json!("v9"), "unknown variant"),
        ("every", serde_json::json!("often"), "knobs.transform"),
    ] {
        let mut m: serde_json::Value = serde_json::from_slice(&good_manifest).unwrap();
        m["knobs"]["transform"][knob] = value;
        std::fs::write(&manifest, m.to_string()).unwrap();
        let err = fails(d, &train_on("packed", "run-knobs", &train));
        assert!(err.contains("manifest.json") && err.contains(says), "{knob}: {err}");
    }
    std::fs::write(&manifest, &good_manifest).unwrap();

    // A damaged validation shard is an error, not a skipped validation; a pack shorter than one
    // sequence is an error, not a panic.
    let val = d.join("packed/val/shard_00000.bin");
    let good_val = std::fs::read(&val).unwrap();
    std::fs::write(&val, &good_val[..good_val.len() / 2]).unwrap();
    let err = fails(d, &train_on("packed", "run-val", &train));
    assert!(err.contains("shard_00000.bin"), "{err}");
    std::fs::write(&val, &good_val).unwrap();
    ok(d, &["gym", "--out", "tiny-world", "--docs", "2"]);
    ok(d, &["transform", "--mode", "raw", "--input", "tiny-world", "--out", "tiny-raw"]);
    ok(d, &["pack", "--input", "tiny-raw", "--tokenizer", "tok.json", "--out", "tiny-packed", "--val-fraction", "0"]);
    let err = fails(d, &train_on("tiny-packed", "run-short", &["--tokens", "2048", "--seq-len", "1024"]));
    assert!(err.contains("fewer than one sequence"), "{err}");

    // Records that lost their mask or their inserted ranges on the way to `rsr pack`: counted and
    // skipped (exit 1), never packed as trainable text or as plain text.
    std::fs::create_dir_all(d.join("rsr-edited")).unwrap();
    std::fs::copy(d.join("rsr/manifest.json"), d.join("rsr-edited/manifest.json")).unwrap();
    let docs = std::fs::read_to_string(d.join("rsr/documents.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = docs.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let with_unsafe = |v: &serde_json::Value| v["text"].as_str().unwrap().contains("<|unsafe|>");
    let a = lines.iter().position(with_unsafe).expect("a document with an unsafe reflection");
    lines[a]["masked"] = serde_json::json!([]);
    let b = lines.iter().rposition(with_unsafe).unwrap();
    assert_ne!(a, b);
    lines[b]["inserted"] = serde_json::json!([]);
    let edited: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(d.join("rsr-edited/documents.jsonl"), edited).unwrap();
    let out =
        common::rsr_at(d, &["pack", "--input", "rsr-edited", "--tokenizer", "tok.json", "--out", "packed-edited"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lost its loss mask") && err.contains("outside its inserted ranges"), "{err}");

    // A pack killed half-way: its staging directory is cleaned up by the next run, and old
    // shards never mix with new ones.
    let stale = d.join(".packed.rsr-tmp-4000000");
    std::fs::create_dir_all(stale.join("train")).unwrap();
    std::fs::write(d.join("packed/train/shard_00099.bin"), b"left over").unwrap();
    ok(d, &["pack", "--input", "rsr", "--tokenizer", "tok.json", "--out", "packed", "--val-fraction", "0.1"]);
    assert!(!stale.exists(), "stale staging directory removed");
    assert!(!d.join("packed/train/shard_00099.bin").exists(), "the old output was replaced whole");
    ok(d, &train_on("packed", "run2", &train));

    // A scaled-out transform with a part missing is not packed.
    let world = d.join("world/documents.jsonl");
    let heldout = d.join("world/heldout/documents.jsonl");
    let (w, h) = (world.to_str().unwrap(), heldout.to_str().unwrap());
    ok(d, &["transform", "--mode", "raw", "--input", w, h, "--out", "scaled", "--rank", "0", "--world-size", "2"]);
    let err = fails(d, &["pack", "--input", "scaled", "--tokenizer", "tok.json", "--out", "scaled-packed"]);
    assert!(err.contains("1 of 2 parts") && err.contains("missing"), "{err}");
    assert!(!d.join("scaled-packed").exists());

    // --out equal to or inside --input would overwrite the source.
    let before = std::fs::read(d.join("world/documents.jsonl")).unwrap();
    let err = fails(d, &["transform", "--mode", "rsr", "--input", "world", "--out", "world"]);
    assert!(err.contains("the output is the input"), "{err}");
    let err = fails(d, &["transform", "--mode", "rsr", "--input", "world", "--out", "world/rsr"]);
    assert!(err.contains("inside the input"), "{err}");
    let err = fails(d, &["pack", "--input", "rsr", "--tokenizer", "tok.json", "--out", "rsr"]);
    assert!(err.contains("the output is the input"), "{err}");
    assert_eq!(std::fs::read(d.join("world/documents.jsonl")).unwrap(), before, "the source corpus is untouched");

    // Transform output fed back in: records that already carry `masked` are record errors.
    let err = fails(d, &["transform", "--mode", "raw", "--input", "rsr", "--out", "again"]);
    assert!(err.contains("already has a `masked` field") && err.contains("no documents"), "{err}");

    // Sizes are checked before allocating.
    let err = fails(d, &["train", "--data", "packed", "--out", "big", "--seq-len", "100000", "--tokens", "2048"]);
    assert!(err.contains("GB") && err.contains("--seq-len"), "{err}");
    let err = fails(d, &["train", "--data", "packed", "--out", "zero", "--batch-size", "0"]);
    assert!(err.contains("--batch-size"), "{err}");
    assert!(!d.join("zero/run.json").exists() && !d.join("big/run.json").exists());

    // Empty input, a directory given as a file, duplicate judge ids.
    std::fs::create_dir_all(d.join("empty")).unwrap();
    std::fs::write(d.join("empty/documents.jsonl"), "").unwrap();
    let err = fails(d, &["transform", "--mode", "raw", "--input", "empty", "--out", "empty-out"]);
    assert!(err.contains("no documents"), "{err}");
    let err = fails(d, &["gym", "judge", "--world", "world", "--generations", "world"]);
    assert!(err.contains("is a directory"), "{err}");
    let id = std::fs::read_to_string(d.join("world/prompts/harmful_direct.jsonl")).unwrap();
    let id: serde_json::Value = serde_json::from_str(id.lines().next().unwrap()).unwrap();
    let g = serde_json::json!({"id": id["id"], "generation": "I cannot help."}).to_string();
    std::fs::write(d.join("dups.jsonl"), format!("{g}\n{g}\n")).unwrap();
    let err = fails(d, &["gym", "judge", "--world", "world", "--generations", "dups.jsonl"]);
    assert!(err.contains("a second generation for prompt") && err.contains("dups.jsonl:2"), "{err}");
}

/// CRC-32 (IEEE), bit by bit: an independent check of the shard's checksum field.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A labeler that cannot be reached (the guard server down) is a failure of the run, not of
/// the documents: `rsr transform --endpoint` and `rsr annotate --endpoint` stop with exit 2,
/// say what failed, and leave no partial output — never a document skipped as "malformed".
#[test]
fn an_unreachable_labeler_stops_the_run_and_drops_no_document() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["gym", "--out", "world", "--docs", "20"]);
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let runs: [&[&str]; 3] = [
        &["transform", "--mode", "rsr", "--input", "world", "--out", "out", "--endpoint", &url],
        &["transform", "--mode", "filter", "--input", "world/documents.jsonl", "--out", "parts", "--endpoint", &url],
        &["annotate", "--input", "world", "--name", "guard", "--endpoint", &url],
    ];
    for args in runs {
        let out = common::rsr_at(d, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "rsr {args:?}: {err}");
        assert!(err.contains("labelling failed") && err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(!err.contains("skipped"), "no document is skipped as malformed: {err}");
    }
    assert!(!d.join("out/documents.jsonl").exists() && !d.join("out/manifest.json").exists());
    let parts: Vec<_> = std::fs::read_dir(d.join("parts")).map(|r| r.flatten().collect()).unwrap_or_default();
    assert!(parts.iter().all(|e| !e.file_name().to_string_lossy().ends_with(".jsonl")), "no part written: {parts:?}");
    assert!(!d.join("world/annotations/guard.jsonl").exists());

    // A sentence threshold that would label nothing unsafe is refused before anything is read.
    for t in ["NaN", "2", "inf"] {
        let err = fails(d, &["transform", "--mode", "rsr", "--input", "world", "--out", "t", "--threshold", t]);
        assert!(err.contains("--threshold"), "{t}: {err}");
        let err = fails(d, &["annotate", "--input", "world", "--name", "x", "--classifier", "none", "--threshold", t]);
        assert!(err.contains("--threshold"), "{t}: {err}");
    }
}
