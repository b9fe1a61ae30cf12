//! Training on real packed SafetyWorld shards: the loss goes down, checkpoints
//! round-trip, and a resumed run continues exactly as an uninterrupted one.

use rsr_core::corpus::CorpusDir;
use rsr_corpus::label::LabelSource;
use rsr_corpus::run::RunOptions;
use rsr_corpus::segment::Whitespace;
use rsr_corpus::transform::{Mode, TransformConfig};
use rsr_model::checkpoint;
use rsr_model::model::Acts;
use rsr_model::train::{TrainConfig, Trainer};
use rsr_pack::pack::{pack, PackConfig};
use rsr_pack::tokenizer::RsrTokenizer;
use std::path::{Path, PathBuf};

/// gym → rsr transform → tokenizer → pack, in `dir`; returns the pack directory.
fn packed(dir: &Path) -> PathBuf {
    let (world, tok) = world_and_tokenizer(dir);
    pack_mode(dir, &world, Mode::Rsr, &tok)
}

/// A small world in `dir/world` and a tokenizer trained on it.
fn world_and_tokenizer(dir: &Path) -> (PathBuf, RsrTokenizer) {
    let world = dir.join("world");
    rsr_world::write::write_world(
        &world,
        1,
        rsr_world::WorldConfig { docs: 600, heldout_docs: 5, ..Default::default() },
        false,
        &mut |_, _| {},
    )
    .unwrap();
    let texts: Vec<String> = rsr_core::jsonl::read_all::<rsr_core::doc::Document>(world.join("documents.jsonl"))
        .unwrap()
        .into_iter()
        .map(|d| d.text)
        .collect();
    (world.clone(), RsrTokenizer::train(texts.iter(), 400, 2).unwrap())
}

/// `world` transformed in `mode` and packed with `tok`, in `dir`; returns the pack directory.
fn pack_mode(dir: &Path, world: &Path, mode: Mode, tok: &RsrTokenizer) -> PathBuf {
    let variant = dir.join(mode.name());
    let cfg = TransformConfig { mode, every: 16, ..Default::default() };
    rsr_corpus::run::transform(
        &CorpusDir::new(world),
        &variant,
        &cfg,
        LabelSource::Annotations("ground_truth"),
        &RunOptions::default(),
        &Whitespace,
        &mut |_, _| {},
    )
    .unwrap();
    let out = dir.join(if mode == Mode::Rsr { "packed".to_string() } else { format!("packed-{}", mode.name()) });
    pack(&CorpusDir::new(&variant), &out, tok, &PackConfig { val_fraction: 0.1, ..Default::default() }, &mut |_| {})
        .unwrap();
    out
}

fn cfg(data: PathBuf, steps: u64) -> TrainConfig {
    TrainConfig {
        data,
        preset: "tiny".into(),
        batch_size: 8,
        seq_len: 64,
        tokens: steps * 8 * 64,
        lr: 3e-3,
        eval_every: 0,
        eval_batches: 4,
        ..Default::default()
    }
}

fn losses(run: &Path) -> Vec<f32> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn training_lowers_the_loss_and_checkpoints_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = packed(dir.path());
    let run = dir.path().join("run");
    let mut t = Trainer::new(&run, cfg(data, 60), false).unwrap();
    let m = t.run(&mut |_| {}).unwrap();
    let l = losses(&run);
    assert_eq!(l.len(), 60);
    let first = l[0];
    let last: f32 = l[55..].iter().sum::<f32>() / 5.0;
    assert!(last < 0.6 * first, "loss {first} → {last}");
    assert!(m.counts.final_val_loss.is_some(), "validation ran at the end");

    // The final checkpoint loads back to the same weights and the same logits.
    let ckpt = m.counts.checkpoint.clone();
    for f in ["model.safetensors", "config.json", "tokenizer.json", "optimizer.safetensors", "state.json"] {
        assert!(ckpt.join(f).is_file(), "{f} missing");
    }
    let back = checkpoint::load_model(&ckpt).unwrap();
    assert_eq!(back.params, t.model.params);
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(ckpt.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "LlamaForCausalLM");
    assert_eq!(config["tie_word_embeddings"], true);
    let tokens: Vec<u32> = (0..64).map(|i| (i * 7 % 300) as u32).collect();
    let (mut a1, mut a2) = (Acts::new(&back.cfg, 1, 64), Acts::new(&back.cfg, 1, 64));
    back.forward(&mut a1, &tokens);
    t.model.forward(&mut a2, &tokens);
    assert_eq!(a1.logits, a2.logits);
}

#[test]
fn a_reshaped_preset_trains_that_shape_and_its_checkpoint_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = packed(dir.path());
    let run = dir.path().join("run");
    let mut t =
        Trainer::new(&run, TrainConfig { preset: "tiny,heads=8,layers=2".into(), ..cfg(data.clone(), 3) }, false)
            .unwrap();
    let m = t.run(&mut |_| {}).unwrap();
    let back = checkpoint::load_model(&m.counts.checkpoint).unwrap();
    assert_eq!((back.cfg.num_attention_heads, back.cfg.num_hidden_layers, back.cfg.hidden_size), (8, 2, 128));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.counts.checkpoint.join("config.json")).unwrap()).unwrap();
    assert_eq!((config["num_attention_heads"].as_u64(), config["head_dim"].as_u64()), (Some(8), Some(16)));
    // A shape that cannot be built is refused before anything is written.
    let bad = dir.path().join("bad");
    let err = Trainer::new(&bad, TrainConfig { preset: "tiny,heads=5".into(), ..cfg(data, 3) }, false).err().unwrap();
    assert!(err.to_string().contains("heads of an even size"), "{err}");
    assert!(!bad.exists(), "nothing written for a refused shape");
}

#[test]
fn a_resumed_run_matches_an_uninterrupted_one_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = packed(dir.path());
    let straight = dir.path().join("straight");
    Trainer::new(&straight, cfg(data.clone(), 12), false).unwrap().run(&mut |_| {}).unwrap();

    let resumed = dir.path().join("resumed");
    {
        let mut t = Trainer::new(&resumed, cfg(data.clone(), 12), false).unwrap();
        t.run_until(6, &mut |_| {}).unwrap();
        t.save_checkpoint().unwrap();
    }
    // "Killed" after step 6's checkpoint; resume continues from there.
    let mut t = Trainer::new(&resumed, TrainConfig::default(), true).unwrap();
    assert_eq!(t.step, 6);
    t.run(&mut |_| {}).unwrap();
    let (a, b) = (losses(&straight), losses(&resumed));
    assert_eq!(a.len(), 12);
    assert_eq!(b.len(), 12);
    assert_eq!(a, b, "losses after resume differ");
    let wa = checkpoint::load_model(&straight.join("checkpoints/step-0000012")).unwrap();
    let wb = checkpoint::load_model(&resumed.join("checkpoints/step-0000012")).unwrap();
    assert_eq!(wa.params, wb.params);
}

/// A run trained to a plateau stops before its cap, with the decay after the plateau; killed
/// during the decay and resumed, it ends exactly where the uninterrupted run ends.
#[test]
fn a_plateau_run_stops_early_and_resumes_into_its_decay_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = packed(dir.path());
    // A peak rate high enough that the validation loss stalls well before the cap.
    let plateau = |data: PathBuf| TrainConfig {
        schedule: rsr_model::optim::Shape::Wsd,
        plateau: Some(1),
        eval_every: 4,
        lr: 2e-2,
        ..cfg(data, 400)
    };
    let straight = dir.path().join("straight");
    let done = Trainer::new(&straight, plateau(data.clone()), false).unwrap().run(&mut |_| {}).unwrap();
    let end = done.counts.steps;
    assert!(end < 400, "the plateau ends the run before the cap ({end} steps)");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(straight.join(format!("checkpoints/step-{end:07}/state.json"))).unwrap())
            .unwrap();
    let from = state["plateau"]["decay_from"].as_u64().expect("the decay began at the plateau");
    assert!(from < end);

    let resumed = dir.path().join("resumed");
    {
        let mut t = Trainer::new(&resumed, plateau(data.clone()), false).unwrap();
        t.run_until(from + (end - from) / 2, &mut |_| {}).unwrap();
        t.save_checkpoint().unwrap();
    }
    let mut t = Trainer::new(&resumed, TrainConfig::default(), true).unwrap();
    assert_eq!(t.end(), end, "the resumed run knows where its decay ends");
    t.run(&mut |_| {}).unwrap();
    assert_eq!(losses(&straight), losses(&resumed), "losses after resume differ");
    let wa = checkpoint::load_model(&straight.join(format!("checkpoints/step-{end:07}"))).unwrap();
    let wb = checkpoint::load_model(&resumed.join(format!("checkpoints/step-{end:07}"))).unwrap();
    assert_eq!(wa.params, wb.params);
}

/// Continued pretraining: the first steps read the first pack — exactly the batches and losses
/// of a run on it alone — then the run goes on with `data`; killed before the switch and resumed,
/// it ends where the uninterrupted run ends. A first pack with another tokenizer is refused.
#[test]
fn a_continued_run_reads_the_first_pack_then_the_data_and_resumes_across_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let (world, tok) = world_and_tokenizer(dir.path());
    let rsr = pack_mode(dir.path(), &world, Mode::Rsr, &tok);
    let raw = pack_mode(dir.path(), &world, Mode::Raw, &tok);
    let first = rsr_model::train::FirstPhase { data: raw.clone(), tokens: 6 * 8 * 64 };
    let continued = |run: &Path| {
        let c = TrainConfig { first: Some(first.clone()), ..cfg(rsr.clone(), 12) };
        Trainer::new(run, c, false).unwrap()
    };
    let straight = dir.path().join("continued");
    let done = continued(&straight).run(&mut |_| {}).unwrap();
    assert_eq!(done.manifest.inputs, [raw.display().to_string(), rsr.display().to_string()]);
    let raw_only = dir.path().join("raw-only");
    Trainer::new(&raw_only, cfg(raw.clone(), 12), false).unwrap().run(&mut |_| {}).unwrap();
    let rsr_only = dir.path().join("rsr-only");
    Trainer::new(&rsr_only, cfg(rsr.clone(), 12), false).unwrap().run(&mut |_| {}).unwrap();
    let (c, r, s) = (losses(&straight), losses(&raw_only), losses(&rsr_only));
    assert_eq!(c[..6], r[..6], "the first six steps are the raw run's");
    assert_ne!(c[0], s[0], "and not the rsr run's");
    assert_ne!(c[6..], r[6..], "the rest reads the rsr pack");

    let resumed = dir.path().join("resumed");
    {
        let mut t = continued(&resumed);
        t.run_until(4, &mut |_| {}).unwrap();
        t.save_checkpoint().unwrap();
    }
    let mut t = Trainer::new(&resumed, TrainConfig::default(), true).unwrap();
    assert_eq!(t.step, 4);
    t.run(&mut |_| {}).unwrap();
    assert_eq!(losses(&resumed), c, "losses after resume differ");
    let wa = checkpoint::load_model(&straight.join("checkpoints/step-0000012")).unwrap();
    let wb = checkpoint::load_model(&resumed.join("checkpoints/step-0000012")).unwrap();
    assert_eq!(wa.params, wb.params);

    // Another tokenizer: refused, naming the first pack's tokenizer.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let texts = ["a completely different corpus", "with other words in it"];
    let other_pack = pack_mode(&other, &world, Mode::Raw, &RsrTokenizer::train(texts.iter(), 300, 1).unwrap());
    let bad = TrainConfig {
        first: Some(rsr_model::train::FirstPhase { data: other_pack.clone(), tokens: 512 }),
        ..cfg(rsr.clone(), 12)
    };
    let err = Trainer::new(&dir.path().join("bad"), bad, false).err().unwrap().to_string();
    assert!(
        err.contains(&other_pack.join("tokenizer.json").display().to_string()) && err.contains("tokenizer"),
        "{err}"
    );
    // A first phase as long as the run leaves nothing of --data.
    let whole =
        TrainConfig { first: Some(rsr_model::train::FirstPhase { data: raw, tokens: 12 * 8 * 64 }), ..cfg(rsr, 12) };
    assert!(whole.validate().unwrap_err().contains("--first-tokens"));
}

/// A run's bits do not depend on how many threads train it: every reduction sums fixed blocks in
/// order and the matrix products split rows and columns, never the summed dimension. So `--jobs`
/// (one thread a model) and `--threads` change a run's speed, not the model it trains — at the
/// demo's shape (batch 8 × 256), where the products are big enough to be split.
#[test]
fn a_run_is_the_same_bits_on_one_thread_and_on_three() {
    let dir = tempfile::tempdir().unwrap();
    let data = packed(dir.path());
    let shape = |data: PathBuf| TrainConfig { seq_len: 256, tokens: 4 * 8 * 256, eval_every: 2, ..cfg(data, 4) };
    let mut trained = Vec::new();
    for threads in [1, 3] {
        let run = dir.path().join(format!("threads-{threads}"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| Trainer::new(&run, shape(data.clone()), false).unwrap().run(&mut |_| {}).unwrap());
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["timing"]["threads"], threads, "trained on {threads} thread(s)");
        trained.push((losses(&run), checkpoint::load_model(&run.join("checkpoints/step-0000004")).unwrap()));
    }
    let ((la, a), (lb, b)) = (&trained[0], &trained[1]);
    assert_eq!(la, lb, "losses differ between 1 and 3 threads");
    let (pa, pb): (Vec<u32>, Vec<u32>) =
        (a.params.iter().map(|x| x.to_bits()).collect(), b.params.iter().map(|x| x.to_bits()).collect());
    assert!(pa == pb, "weights differ between 1 and 3 threads");
}
