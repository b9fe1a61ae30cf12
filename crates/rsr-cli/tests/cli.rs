//! End-to-end runs of the `rsr` binary, the way the README uses it: exit
//! code, stdout and stderr together.

mod common;

use common::minilm_available;
use std::path::Path;
use std::process::Output;

fn rsr(args: &[&str]) -> Output {
    common::rsr_at(Path::new("."), args)
}

fn ok(args: &[&str]) -> String {
    common::ok_at(Path::new("."), args)
}

fn fails(args: &[&str]) -> String {
    common::fails_at(Path::new("."), args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn gym_then_transform_as_in_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let w = world.to_str().unwrap();
    let stdout = ok(&["gym", "--out", w, "--docs", "300", "--seed", "4"]);
    assert!(stdout.contains("300 documents"), "{stdout}");
    for f in [
        "documents.jsonl",
        "annotations/ground_truth.jsonl",
        "heldout/documents.jsonl",
        "world.json",
        "manifest.json",
        "prompts/jailbreak.jsonl",
    ] {
        assert!(world.join(f).is_file(), "{f} missing");
    }
    let out = dir.path().join("rsr");
    let stdout = ok(&["transform", "--mode", "rsr", "--input", w, "--out", out.to_str().unwrap(), "--every", "16"]);
    assert!(stdout.contains("300 → 300 documents"), "{stdout}");
    let m = json(&out.join("manifest.json"));
    assert_eq!(m["stage"], "transform");
    assert_eq!(m["knobs"]["transform"]["every"], 16);
    assert_eq!(m["counts"]["docs_in"], 300);
    let refl = m["counts"]["reflections_safe"].as_u64().unwrap() + m["counts"]["reflections_unsafe"].as_u64().unwrap();
    assert!(refl >= 300, "{refl} reflections");

    // Same seed, same bytes; a rerun overwrites cleanly.
    let again = dir.path().join("world2");
    ok(&["gym", "--out", again.to_str().unwrap(), "--docs", "300", "--seed", "4"]);
    assert_eq!(
        std::fs::read(world.join("documents.jsonl")).unwrap(),
        std::fs::read(again.join("documents.jsonl")).unwrap()
    );
    ok(&["gym", "--out", w, "--docs", "300", "--seed", "4", "--zstd"]);
    assert!(world.join("documents.jsonl.zst").is_file() && !world.join("documents.jsonl").exists());
}

#[test]
fn judge_scores_a_generations_file() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let w = world.to_str().unwrap();
    ok(&["gym", "--out", w, "--docs", "50"]);
    let direct: Vec<serde_json::Value> = std::fs::read_to_string(world.join("prompts/harmful_direct.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<String> =
        direct[0]["harm_steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let gens = dir.path().join("gens.jsonl");
    std::fs::write(
        &gens,
        format!(
            "{}\n{}\n",
            serde_json::json!({"id": direct[0]["id"], "generation": format!("Sure. {}.", steps.join(". Then "))}),
            serde_json::json!({"id": direct[1]["id"], "generation": "I will not help with this, because it could hurt people."}),
        ),
    )
    .unwrap();
    let judged = dir.path().join("judged.jsonl");
    let stdout =
        ok(&["gym", "judge", "--world", w, "--generations", gens.to_str().unwrap(), "--out", judged.to_str().unwrap()]);
    assert!(stdout.contains("harmful_direct") && stdout.contains("50.0%"), "{stdout}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&judged).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["delivered_harm"], true);
    assert_eq!(lines[1]["delivered_harm"], false);
    assert_eq!(lines[1]["refused"], true);

    let one = ok(&[
        "gym",
        "judge",
        "--world",
        w,
        "--prompt-id",
        direct[0]["id"].as_str().unwrap(),
        "--generation",
        "I cannot help.",
    ]);
    assert!(one.contains("\"refused\": true"), "{one}");
    let err = fails(&["gym", "judge", "--world", w, "--prompt-id", "nope", "--generation", "x"]);
    assert!(err.contains("no prompt with id `nope`"), "{err}");
}

#[test]
fn annotate_noisy_then_transform_with_those_labels() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let w = world.to_str().unwrap();
    ok(&["gym", "--out", w, "--docs", "400"]);
    ok(&["annotate", "--input", w, "--name", "noisy", "--noise", "miss=1.0"]);
    let m = json(&world.join("annotations/noisy.manifest.json"));
    assert!(m["counts"]["missed"].as_u64().unwrap() > 0);
    assert_eq!(m["counts"]["false_alarms"], 0);
    // Every unsafe span missed: an rsr run on these labels reflects `safe` only.
    let out = dir.path().join("rsr-noisy");
    ok(&["transform", "--mode", "rsr", "--input", w, "--out", out.to_str().unwrap(), "--labels", "noisy"]);
    let t = json(&out.join("manifest.json"));
    assert_eq!(t["counts"]["reflections_unsafe"], 0);
    assert!(t["inputs"][1].as_str().unwrap().ends_with("noisy.jsonl"));
}

#[test]
fn labels_from_an_input_field() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        "{\"doc_id\":\"1\",\"body\":\"A calm day. Nothing happened.\",\"safety\":\"safe\"}\n\
         {\"doc_id\":\"2\",\"body\":\"Bad text here.\",\"safety\":\"unsafe:hate\"}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    ok(&[
        "transform",
        "--mode",
        "rsr",
        "--input",
        docs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--label-field",
        "safety",
        "--text-field",
        "body",
        "--id-field",
        "doc_id",
    ]);
    let text = std::fs::read_to_string(out.join("documents.jsonl")).unwrap();
    assert!(text.contains("Bad text here.<|reflect|><|unsafe|> hate<|/reflect|>"), "{text}");
    assert!(text.contains("\"safety\":\"safe\""), "other fields pass through: {text}");
}

#[test]
fn bad_input_gives_errors_that_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing");
    let err = fails(&["transform", "--mode", "rsr", "--input", missing.to_str().unwrap(), "--out", "x"]);
    assert!(err.contains("no such corpus directory") && err.contains("HINT"), "{err}");
    let err = fails(&["transform", "--mode", "sideways", "--input", "a", "--out", "b"]);
    assert!(err.contains("possible values: rsr, raw, filter, rewrite, refuse, tag"), "{err}");
    let err = fails(&["annotate", "--input", "a", "--name", "n"]);
    assert!(err.contains("choose an annotator"), "{err}");
    let err = fails(&["gym"]);
    assert!(err.contains("--out DIR is required"), "{err}");
    // `rsr eval` without --world: clap's missing-argument error (exit 2), not a panic.
    let r = rsr(&["eval", "--model", "runs/x/checkpoints/step-0000001"]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("--world <WORLD>") && !err.contains("panicked"), "{err}");
}

#[test]
fn exit_status_says_success_skipped_records_or_failure() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs.jsonl");
    std::fs::write(&docs, "{\"id\":\"1\",\"text\":\"A calm day.\"}\n{not json\n{\"id\":\"2\",\"text\":\"Rain.\"}\n")
        .unwrap();
    let d = docs.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    // One malformed record: the others are transformed, the run says so and exits 1.
    let r = rsr(&["transform", "--mode", "raw", "--input", d, "--out", o]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("docs.jsonl:2") && err.contains("skipped 1 malformed record"), "{err}");
    assert_eq!(json(&out.join("manifest.json"))["counts"]["records_skipped"], 1);
    assert_eq!(std::fs::read_to_string(out.join("documents.jsonl")).unwrap().lines().count(), 2);
    // --strict stops at it: a failure, exit 2, like any other error.
    let r = rsr(&["transform", "--mode", "raw", "--input", d, "--out", o, "--strict"]);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(rsr(&["transform", "--mode", "raw", "--input", "missing.jsonl", "--out", o]).status.code(), Some(2));
    // Clean input: 0.
    std::fs::write(&docs, "{\"id\":\"1\",\"text\":\"A calm day.\"}\n").unwrap();
    assert_eq!(rsr(&["transform", "--mode", "raw", "--input", d, "--out", o]).status.code(), Some(0));
}

#[test]
fn demo_builds_every_variant() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = ok(&["demo", "--out", dir.path().to_str().unwrap(), "--docs", "200", "--train-tokens", "0"]);
    for v in ["raw", "filter", "rewrite", "refuse", "tag", "rsr"] {
        assert!(stdout.lines().any(|l| l.starts_with(v)), "{v} row missing:\n{stdout}");
        assert!(dir.path().join("variants").join(v).join("manifest.json").is_file());
    }
    // rsr and filter leave no unsafe text trainable; raw does.
    let row = |v: &str| {
        stdout.lines().find(|l| l.starts_with(v)).unwrap().split_whitespace().last().unwrap().parse::<u64>().unwrap()
    };
    assert_eq!(row("rsr"), 0);
    assert_eq!(row("filter"), 0);
    assert!(row("raw") > 0);
}

#[test]
fn tokenizer_pack_inspect_export_as_in_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s).to_str().unwrap().to_string();
    ok(&["gym", "--out", &p("world"), "--docs", "300"]);
    ok(&["transform", "--mode", "rsr", "--input", &p("world"), "--out", &p("rsr"), "--every", "16"]);
    let out = ok(&["tokenizer", "train", "--input", &p("world"), "--vocab-size", "512", "--out", &p("tok.json")]);
    assert!(out.contains("<|endoftext|> 0, <|reflect|> 1"), "{out}");
    let out = ok(&[
        "pack",
        "--input",
        &p("rsr"),
        "--tokenizer",
        &p("tok.json"),
        "--out",
        &p("packed"),
        "--val-fraction",
        "0.1",
    ]);
    assert!(out.contains("train ") && out.contains("% masked"), "{out}");
    let shard = p("packed/train/shard_00000.bin");
    let out = ok(&["inspect", &shard, "--docs", "40"]);
    assert!(out.contains("format      rsr shard v2") && out.contains("<|reflect|><|unsafe|>"), "{out}");
    assert!(out.contains("⟦"), "masked text is made visible: {out}");
    for f in ["megatron", "olmo", "llmc"] {
        ok(&["export", "--pack", &p("packed"), "--format", f, "--out", &p(f)]);
    }
    assert!(dir.path().join("megatron/train_mask_document.idx").is_file());

    // A damaged shard is named, with what to re-run.
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 5]).unwrap();
    let err = fails(&["inspect", &shard]);
    assert!(err.contains("truncated") && err.contains("HINT: the shard is damaged"), "{err}");
    let err = fails(&["pack", "--input", &p("rsr"), "--tokenizer", &p("missing.json"), "--out", &p("x")]);
    assert!(err.contains("missing.json") && err.contains("HINT"), "{err}");
}

/// DIR/world (`docs` documents), DIR/rsr (its rsr variant), DIR/tok.json, DIR/packed (10% validation).
fn pack_a_world(dir: &Path, docs: usize) {
    let p = |s: &str| dir.join(s).to_str().unwrap().to_string();
    ok(&["gym", "--out", &p("world"), "--docs", &docs.to_string()]);
    ok(&["transform", "--mode", "rsr", "--input", &p("world"), "--out", &p("rsr"), "--every", "16"]);
    ok(&["tokenizer", "train", "--input", &p("world"), "--vocab-size", "400", "--out", &p("tok.json")]);
    ok(&["pack", "--input", &p("rsr"), "--tokenizer", &p("tok.json"), "--out", &p("packed"), "--val-fraction", "0.1"]);
}

#[test]
fn train_then_generate_judge_and_probe_from_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s).to_str().unwrap().to_string();
    pack_a_world(dir.path(), 300);
    let out = ok(&[
        "train",
        "--data",
        &p("packed"),
        "--out",
        &p("run"),
        "--tokens",
        "16384",
        "--batch-size",
        "4",
        "--seq-len",
        "64",
        "--eval-every",
        "0",
        "--checkpoint-every",
        "8192",
    ]);
    assert!(out.contains("trained 64 steps"), "{out}");
    let metrics = std::fs::read_to_string(dir.path().join("run/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 64);
    let ckpt = p("run/checkpoints/step-0000064");
    assert!(dir.path().join("run/checkpoints/step-0000032/state.json").is_file(), "periodic checkpoint");

    // Resume of a finished run is a no-op that still writes its manifest.
    ok(&["train", "--resume", "--out", &p("run")]);

    // Batch generation over a SafetyWorld prompt set, then the oracle judge.
    let gens = p("gens.jsonl");
    ok(&[
        "generate",
        "--model",
        &ckpt,
        "--input",
        &p("world/prompts/harmful_direct.jsonl"),
        "--out",
        &gens,
        "--policy",
        "stop",
        "--every",
        "8",
        "--max-tokens",
        "24",
        "--temperature",
        "0",
    ]);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&gens).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    for g in &lines {
        let text = g["generation"].as_str().unwrap();
        assert!(!text.contains("<|reflect|>") && !text.contains("<|/reflect|>"), "reflection leaked: {text}");
        assert!(!g["reflections"].as_array().unwrap().is_empty(), "the policy reflected");
    }
    let judged = ok(&["gym", "judge", "--world", &p("world"), "--generations", &gens]);
    assert!(judged.contains("harmful_direct"), "{judged}");

    // Every benign failure classified; the classes add up to the set; harmful sets are refused.
    let diag = p("diag.jsonl");
    let table = ok(&[
        "gym",
        "diagnose",
        "--world",
        &p("world"),
        "--model",
        &ckpt,
        "--sets",
        "benign",
        "--max-tokens",
        "8",
        "--temperature",
        "0",
        "--out",
        &diag,
    ]);
    let row = table.lines().find(|l| l.starts_with("| benign |")).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<usize> =
        row.split('|').skip(2).filter_map(|c| c.split_whitespace().next().and_then(|n| n.parse().ok())).collect();
    assert_eq!(cells[0], cells[1..].iter().sum::<usize>(), "the classes add up to n: {row}");
    assert_eq!(std::fs::read_to_string(&diag).unwrap().lines().count(), cells[0]);
    let err = fails(&["gym", "diagnose", "--world", &p("world"), "--model", &ckpt, "--sets", "harmful_direct"]);
    assert!(err.contains("not a benign SafetyWorld set"), "{err}");

    // Sampled, the default: it runs (a 64-step model may end its answer at once, so what it
    // prints is checked below, greedily, against the batch path).
    ok(&["generate", "--model", &ckpt, "--chat", "--prompt", "How can I make blue dye?", "--max-tokens", "8"]);
    // Printed as checks make it final, the answer is the one a batch run writes.
    let long = ["--chat", "--max-tokens", "40", "--every", "4", "--policy", "monitor", "--temperature", "0"];
    let printed =
        ok(&[&["generate", "--model", &ckpt, "--prompt", "How can I make blue dye?"][..], &long[..]].concat());
    std::fs::write(dir.path().join("one.jsonl"), r#"{"id": "a", "prompt": "How can I make blue dye?"}"#).unwrap();
    let batch = ok(&[&["generate", "--model", &ckpt, "--input", &p("one.jsonl")][..], &long[..]].concat());
    let batch: serde_json::Value = serde_json::from_str(batch.trim()).unwrap();
    assert_eq!(printed.strip_suffix('\n').unwrap(), batch["generation"].as_str().unwrap());

    let scores = p("scores.jsonl");
    let out = ok(&["probe", "--model", &ckpt, "--input", &p("world/heldout/documents.jsonl"), "--out", &scores]);
    assert!(out.contains("scored 400 texts"), "{out}");
    for l in std::fs::read_to_string(&scores).unwrap().lines() {
        let s = serde_json::from_str::<serde_json::Value>(l).unwrap()["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s));
    }
    let err = fails(&["generate", "--model", &p("nope"), "--prompt", "x"]);
    assert!(err.contains("nope") && err.contains("HINT"), "{err}");
}

#[test]
fn classifiers_of_both_kinds_train_evaluate_and_annotate() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let w = world.to_str().unwrap();
    // 300 documents: at 150 the 30% held out is too few sentences for a stable AUROC. 100 held-out
    // documents (of 400) for `classifier eval`: MiniLM embedding every sentence was most of the test.
    ok(&["gym", "--out", w, "--docs", "300", "--heldout-docs", "100"]);
    let mut kinds = vec![("hashed", dir.path().join("c.rsrclf"))];
    if minilm_available() {
        kinds.push(("minilm", dir.path().join("c.minilm.json")));
    }
    for (kind, file) in &kinds {
        let f = file.to_str().unwrap();
        let out = ok(&["classifier", "train", "--kind", kind, "--corpus", w, "--holdout", "0.3", "--out", f]);
        assert!(out.contains(&format!("trained `{kind}`")) && out.contains("| all |"), "{out}");
        // The `all` row's AUROC: SafetyWorld's hazards are easy to tell from the rest.
        let all = out.lines().find(|l| l.starts_with("| all |")).unwrap();
        let auroc: f64 = all.split('|').nth(7).unwrap().trim().parse().unwrap();
        assert!(auroc > 0.9, "{kind}: {all}");
        let out = ok(&["classifier", "eval", "--model", f, "--corpus", world.join("heldout").to_str().unwrap()]);
        assert!(out.contains("| weapons |"), "{out}");
        ok(&["annotate", "--input", w, "--name", kind, "--classifier", f]);
        let m = json(&world.join(format!("annotations/{kind}.manifest.json")));
        assert_eq!(m["knobs"]["annotator"], *kind);
        assert!(m["counts"]["unsafe_sentences"].as_u64().unwrap() > 0, "{m}");
        // Labelling as the documents stream by gives the same corpus directory as annotating
        // first: a classifier does not switch a corpus directory to the scaled-out layout.
        let (a, b) = (dir.path().join(format!("{kind}-stream")), dir.path().join(format!("{kind}-annotated")));
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        ok(&["transform", "--mode", "rsr", "--input", w, "--out", a, "--classifier", f, "--every", "16"]);
        ok(&["transform", "--mode", "rsr", "--input", w, "--out", b, "--labels", kind, "--every", "16"]);
        let docs = |d: &str| std::fs::read_to_string(Path::new(d).join("documents.jsonl")).unwrap();
        assert_eq!(docs(a), docs(b), "{kind}: streamed and annotated labels differ");
    }
    // A file of neither kind: an error that names it.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": \"rsr minilm classifier v9\"}").unwrap();
    let err = fails(&["annotate", "--input", w, "--name", "x", "--classifier", bad.to_str().unwrap()]);
    assert!(err.contains("bad.json"), "{err}");
}

/// The GPU code path (candle), run on the CPU, trains the same model to the same losses as
/// rsr's own kernels, and resumes exactly from a checkpoint.
#[test]
fn training_on_the_candle_path_matches_the_cpu_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s).to_str().unwrap().to_string();
    pack_a_world(dir.path(), 200);
    let data = p("packed");
    let train = |run: &str, device: &str, extra: &[&str]| {
        let mut args = vec!["train", "--data", &data, "--out", run, "--tokens", "8192", "--batch-size", "4"];
        args.extend(["--seq-len", "32", "--eval-every", "0", "--device", device]);
        args.extend(extra);
        ok(&args)
    };
    let losses = |run: &str| -> Vec<f64> {
        std::fs::read_to_string(dir.path().join(run).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap())
            .collect()
    };
    train(&p("cpu"), "cpu", &[]);
    let out = train(&p("candle"), "candle-cpu", &["--checkpoint-every", "4096"]);
    assert!(out.contains("on candle cpu"), "{out}");
    let (a, b) = (losses("cpu"), losses("candle"));
    assert_eq!(a.len(), 64);
    assert_eq!(a.len(), b.len());
    let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
    eprintln!("|cpu - candle| loss per step: {:?}", diffs.iter().map(|d| format!("{d:.1e}")).collect::<Vec<_>>());
    // Identical maths, different summation order: equal to rounding at first; later
    // training amplifies the rounding (a clipping decision can flip), so the two runs
    // are compared by their loss level, not step by step.
    assert!(diffs[..16].iter().all(|&d| d < 1e-4), "first steps: {diffs:?}");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ta, tb) = (mean(&a[48..]), mean(&b[48..]));
    assert!((ta - tb).abs() < 0.05, "mean loss over the last 16 steps: cpu {ta}, candle {tb}");
    assert!(b[63] < b[0] - 1.0, "loss goes down: {} → {}", b[0], b[63]);
    // Resume the candle run from its mid-way checkpoint: the same later losses.
    std::fs::remove_dir_all(dir.path().join("candle/checkpoints/step-0000064")).unwrap();
    ok(&["train", "--resume", "--out", &p("candle"), "--device", "candle-cpu"]);
    let c = losses("candle");
    assert_eq!(c.len(), 64);
    for (x, y) in b[32..].iter().zip(&c[32..]) {
        assert!((x - y).abs() < 1e-5, "resumed {y} vs straight {x}");
    }
    let m = json(&dir.path().join("candle/manifest.json"));
    assert_eq!(m["timing"]["device"], "candle cpu");
    // Without the cuda feature, asking for the GPU is an error that says how to build it.
    if !cfg!(feature = "cuda") {
        let err = fails(&["train", "--data", &data, "--out", &p("gpu"), "--tokens", "64", "--device", "cuda"]);
        assert!(err.contains("built without CUDA: `cargo build --release -p rsr-cli --features cuda`"), "{err}");
        assert!(!dir.path().join("gpu").exists(), "nothing is written for a run that cannot start");
    }
}
