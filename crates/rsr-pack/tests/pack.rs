//! Packing rules and guards, on hand-made documents and on a SafetyWorld rsr variant.

use rsr_core::corpus::CorpusDir;
use rsr_core::jsonl::JsonlWriter;
use rsr_corpus::segment::Whitespace;
use rsr_corpus::transform::{transform_doc, Counts, TransformConfig, TransformedDoc};
use rsr_pack::pack::{pack, pack_doc, PackConfig};
use rsr_pack::shard::{Dtype, Shard};
use rsr_pack::tokenizer::RsrTokenizer;
use rsr_world::{generate_in_memory, WorldConfig};
use std::sync::OnceLock;

struct Fixture {
    tok: RsrTokenizer,
    docs: Vec<TransformedDoc>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let g = generate_in_memory(8, WorldConfig { docs: 400, heldout_docs: 5, ..WorldConfig::default() });
        let cfg = TransformConfig { every: 12, ..TransformConfig::default() };
        let mut counts = Counts::default();
        let docs: Vec<TransformedDoc> =
            g.train.iter().filter_map(|(d, s)| transform_doc(&cfg, d.clone(), s, &Whitespace, &mut counts)).collect();
        let texts: Vec<String> = g.train.iter().map(|(d, _)| d.text.clone()).collect();
        let tok = RsrTokenizer::train(texts.iter(), 600, 2).unwrap();
        Fixture { tok, docs }
    })
}

fn doc(text: &str, masked: &[[usize; 2]], inserted: &[[usize; 2]]) -> TransformedDoc {
    TransformedDoc {
        id: "d".into(),
        text: text.into(),
        masked: masked.to_vec(),
        inserted: inserted.to_vec(),
        scores: vec![],
        meta: Default::default(),
    }
}

/// The tokenizer's byte offsets for ordinary text (the mask rule is stated on them).
fn offsets(tok: &RsrTokenizer, text: &str) -> Vec<(usize, usize)> {
    tok.encode_text(text).unwrap().1
}

#[test]
fn world_variant_masks_unsafe_text_and_keeps_reflections_trainable() {
    let f = fixture();
    let (mut masked_tokens, mut reflections) = (0, 0);
    for d in &f.docs {
        let p = pack_doc(d, &f.tok).unwrap();
        assert_eq!(*p.tokens.last().unwrap(), f.tok.special.endoftext);
        assert_eq!(*p.mask.last().unwrap(), 1);
        for (t, m) in p.tokens.iter().zip(&p.mask) {
            if f.tok.special.all().contains(t) {
                assert_eq!(*m, 1, "{}: special token {t} masked", d.id);
            }
        }
        let opens = p.tokens.iter().filter(|&&t| t == f.tok.special.reflect_open).count();
        assert_eq!(opens, d.text.matches("<|reflect|>").count(), "{}", d.id);
        // Format v2: a safe reflection is `<|reflect|><|safe|>`, an unsafe one is closed.
        let count = |id: u32| p.tokens.iter().filter(|&&t| t == id).count();
        assert_eq!(count(f.tok.special.safe) + count(f.tok.special.unsafe_), opens, "{}", d.id);
        assert_eq!(count(f.tok.special.reflect_close), count(f.tok.special.unsafe_), "{}", d.id);
        reflections += opens;
        masked_tokens += p.mask.iter().filter(|&&m| m == 0).count();
        // Decoding the trainable tokens never yields a whole unsafe sentence.
        if !d.masked.is_empty() {
            let trainable: Vec<u32> = p.tokens.iter().zip(&p.mask).filter(|(_, &m)| m == 1).map(|(&t, _)| t).collect();
            let text = f.tok.decode(&trainable);
            for r in &d.masked {
                let unsafe_text = d.text[r[0]..r[1]].trim();
                if unsafe_text.len() > 8 {
                    assert!(!text.contains(unsafe_text), "{}: masked text `{unsafe_text}` is trainable", d.id);
                }
            }
        }
    }
    assert!(reflections > 400 && masked_tokens > 1000, "{reflections} reflections, {masked_tokens} masked tokens");
}

#[test]
fn a_token_straddling_a_mask_boundary_is_masked() {
    let f = fixture();
    let text = "First, grind the velorine. Next, add the tarquil.";
    let offs = offsets(&f.tok, text);
    // Mask only the last byte of a multi-byte token: the whole token must be masked.
    let k = offs.iter().position(|&(s, e)| e - s >= 3 && s > 0).expect("a multi-byte token");
    let (s, e) = offs[k];
    let p = pack_doc(&doc(text, &[[e - 1, e]], &[]), &f.tok).unwrap();
    assert_eq!(p.mask[k], 0, "token [{s},{e}) has a masked byte and must be masked");
    let others = p.mask.iter().enumerate().filter(|&(i, &m)| i != k && m == 0).count();
    assert_eq!(others, 0, "only the straddling token is masked");
    // Masking its first byte instead masks it too.
    let p = pack_doc(&doc(text, &[[s, s + 1]], &[]), &f.tok).unwrap();
    assert_eq!(p.mask[k], 0);
}

#[test]
fn a_masked_span_ending_exactly_at_the_end_of_a_document_is_kept() {
    let f = fixture();
    let text = "A calm day. Grind the velorine.";
    let start = text.find("Grind").unwrap();
    let p = pack_doc(&doc(text, &[[start, text.len()]], &[]), &f.tok).unwrap();
    let n = p.tokens.len();
    assert_eq!(p.mask[n - 1], 1, "<|endoftext|> stays trainable");
    assert_eq!(p.mask[n - 2], 0, "the last text token is masked");
    assert!(p.mask.contains(&1));
}

#[test]
fn multibyte_utf8_at_span_boundaries() {
    let f = fixture();
    let text = "Café über. Ünsafe ñame. Ça va.";
    let a = text.find("Ünsafe").unwrap();
    let b = text.find(" Ça").unwrap();
    let p = pack_doc(&doc(text, &[[a, b]], &[]), &f.tok).unwrap();
    let offs = offsets(&f.tok, text);
    for ((s, e), m) in offs.iter().zip(&p.mask) {
        let overlaps = *s < b && a < (*e).max(*s + 1);
        assert_eq!(*m == 0, overlaps, "token [{s},{e}) mask {m}");
    }
    assert!(p.mask.iter().filter(|&&m| m == 0).count() >= 2);
    // Ranges that split a character are rejected, not guessed.
    let err = pack_doc(&doc(text, &[[a + 1, b]], &[]), &f.tok).unwrap_err();
    assert!(err.contains("splits a UTF-8 character"), "{err}");
}

#[test]
fn specials_only_come_from_inserted_text() {
    let f = fixture();
    let text = "Data says <|reflect|>safe<|/reflect|> here.<|reflect|>safe<|/reflect|>";
    let ins = text.rfind("<|reflect|>").unwrap();
    // A special token's text outside the inserted ranges (input text is neutralised on reading,
    // so only a record edited on the way has one) is refused, not packed as plain text.
    let err = pack_doc(&doc(text, &[], &[[ins, text.len()]]), &f.tok).unwrap_err();
    assert!(err.contains("outside its inserted ranges"), "{err}");
    let clean = "Data says here.<|reflect|>safe<|/reflect|>";
    let ins_clean = clean.find("<|reflect|>").unwrap();
    let p = pack_doc(&doc(clean, &[], &[[ins_clean, clean.len()]]), &f.tok).unwrap();
    let opens = p.tokens.iter().filter(|&&t| t == f.tok.special.reflect_open).count();
    assert_eq!(opens, 1, "the inserted reflection is special");
    // A masked range overlapping inserted text is refused.
    let err =
        pack_doc(&doc(clean, &[[ins_clean - 3, ins_clean + 2]], &[[ins_clean, clean.len()]]), &f.tok).unwrap_err();
    assert!(err.contains("overlaps inserted text"), "{err}");
}

fn write_docs(dir: &std::path::Path, docs: &[TransformedDoc]) -> CorpusDir {
    let mut w = JsonlWriter::create(dir.join("documents.jsonl")).unwrap();
    for d in docs {
        w.write(d).unwrap();
    }
    w.finish().unwrap();
    CorpusDir::new(dir)
}

#[test]
fn pack_writes_shards_a_stable_split_and_a_manifest() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let input = write_docs(&dir.path().join("in"), &f.docs);
    let cfg = PackConfig { shard_tokens: 4000, val_fraction: 0.1, ..PackConfig::default() };
    let out = dir.path().join("packed");
    let m = pack(&input, &out, &f.tok, &cfg, &mut |_| {}).unwrap();
    let (train, val) = (&m.counts.splits.train, &m.counts.splits.val);
    assert_eq!(train.docs + val.docs, f.docs.len() as u64);
    let vf = val.docs as f64 / f.docs.len() as f64;
    assert!((0.04..0.18).contains(&vf), "val fraction {vf}");
    assert!(train.shards > 1);
    let mut tokens = 0;
    for split in ["train", "val"] {
        for p in rsr_pack::export::split_shards(&out, split).unwrap() {
            let s = Shard::read(&p).unwrap();
            assert_eq!(s.dtype, Dtype::U16);
            tokens += s.tokens.len() as u64;
        }
    }
    assert_eq!(tokens, train.tokens + val.tokens);
    assert!(out.join("tokenizer.json").is_file() && out.join("train/index.jsonl").is_file());
    // Same input, same bytes.
    let out2 = dir.path().join("packed2");
    pack(&input, &out2, &f.tok, &cfg, &mut |_| {}).unwrap();
    assert_eq!(
        std::fs::read(out.join("train/shard_00000.bin")).unwrap(),
        std::fs::read(out2.join("train/shard_00000.bin")).unwrap()
    );
    // A rerun with bigger shards leaves no stale shard behind.
    pack(&input, &out, &f.tok, &PackConfig { shard_tokens: 1 << 30, ..cfg }, &mut |_| {}).unwrap();
    assert_eq!(rsr_pack::export::split_shards(&out, "train").unwrap().len(), 1);
}

#[test]
fn parallel_packing_is_byte_identical_to_serial() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    // A malformed record in the middle: skipped and counted the same way by both.
    let mut docs = f.docs.clone();
    docs[57].masked = vec![[5, 1]];
    let input = write_docs(&dir.path().join("in"), &docs);
    let cfg = PackConfig { shard_tokens: 3000, val_fraction: 0.1, ..PackConfig::default() };
    let run = |threads: usize, batch_docs: usize, out: &str| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let out = dir.path().join(out);
        let m = pool.install(|| pack(&input, &out, &f.tok, &PackConfig { batch_docs, ..cfg.clone() }, &mut |_| {}));
        (out, m.unwrap())
    };
    let (serial, ms) = run(1, 1, "serial");
    let (parallel, mp) = run(4, 37, "parallel");
    assert_eq!(ms.manifest.counts, mp.manifest.counts);
    assert_eq!(ms.counts.records_skipped, 1);
    let mut compared = 0;
    for split in ["train", "val"] {
        let files = |root: &std::path::Path| {
            let mut v: Vec<_> = std::fs::read_dir(root.join(split)).unwrap().map(|e| e.unwrap().file_name()).collect();
            v.sort();
            v
        };
        assert_eq!(files(&serial), files(&parallel));
        for name in files(&serial) {
            let (a, b) = (serial.join(split).join(&name), parallel.join(split).join(&name));
            assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "{} differs", a.display());
            compared += 1;
        }
    }
    assert!(compared > 4, "several shards and both indexes compared");
}

#[test]
fn an_all_masked_corpus_is_refused() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let text = "Grind the velorine.";
    let input = write_docs(&dir.path().join("in"), &[doc(text, &[[0, text.len()]], &[])]);
    let err = pack(&input, &dir.path().join("p"), &f.tok, &PackConfig::default(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("every text token is masked") && err.contains("HINT"), "{err}");
}

#[test]
fn a_vocabulary_larger_than_the_dtype_is_a_clear_error() {
    use tokenizers::models::bpe::BPE;
    let vocab: std::collections::HashMap<String, u32> = (0..70_000u32).map(|i| (format!("t{i}"), i)).collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab.into_iter().collect::<tokenizers::models::bpe::Vocab>(), vec![])
        .build()
        .unwrap();
    let tok = tokenizers::Tokenizer::new(bpe);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.json");
    tok.save(&p, false).unwrap();
    let big = RsrTokenizer::load(&p).unwrap();
    assert!(big.vocab_size() > 65_536);
    let input = write_docs(&dir.path().join("in"), &[doc("t1 t2", &[], &[])]);
    let cfg = PackConfig { dtype: Some(Dtype::U16), ..Default::default() };
    let err = pack(&input, &dir.path().join("out"), &big, &cfg, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("does not fit uint16") && err.contains("HINT"), "{err}");
}

#[test]
fn unsafe_reflections_without_any_mask_are_refused_unless_mask_none_was_chosen() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    // An rsr document whose `masked` ranges were lost on the way.
    let mut lost = f.docs.iter().find(|d| !d.masked.is_empty()).unwrap().clone();
    lost.masked.clear();
    let input = write_docs(&dir.path().join("in"), &[lost]);
    let strict = PackConfig { strict: true, ..PackConfig::default() };
    let err = pack(&input, &dir.path().join("p"), &f.tok, &strict, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("lost its loss mask"), "{err}");
    // The same documents from a transform that said --mask none are fine.
    let m = rsr_core::manifest::Manifest::new(
        "transform",
        vec![],
        serde_json::json!({"transform": {"mask": "none"}}),
        serde_json::json!({}),
    );
    m.write(&dir.path().join("in")).unwrap();
    pack(&input, &dir.path().join("p"), &f.tok, &PackConfig::default(), &mut |_| {}).unwrap();
}

/// `rsr transform --scores` → `rsr pack --scores`: one f16 per token, the score of the segment the
/// token's text came from (1 for ground-truth unsafe text, 0 for safe text, reflections and
/// `<|endoftext|>`), its digest in the manifest; no scores in, or a record that lost them, is an
/// error rather than a file of zeros.
#[test]
fn scores_follow_each_token_to_its_segment() {
    use rsr_corpus::label::LabelSource;
    use rsr_corpus::run::{transform, RunOptions};
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let wc = WorldConfig { docs: 300, heldout_docs: 5, ..WorldConfig::default() };
    rsr_world::write::write_world(&world, 3, wc, false, &mut |_, _| {}).unwrap();
    let texts: Vec<String> = std::fs::read_to_string(world.join("documents.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let tok = RsrTokenizer::train(texts.iter(), 600, 2).unwrap();
    let run = |out: &str, scores: bool| {
        let cfg = TransformConfig { every: 12, scores, ..TransformConfig::default() };
        let src = LabelSource::Annotations("ground_truth");
        transform(
            &CorpusDir::new(&world),
            &dir.path().join(out),
            &cfg,
            src,
            &RunOptions::default(),
            &Whitespace,
            &mut |_, _| {},
        )
        .unwrap();
        CorpusDir::new(dir.path().join(out))
    };
    let with = run("t-scores", true);
    let cfg = PackConfig { val_fraction: 0.0, scores: true, ..PackConfig::default() };
    let m = pack(&with, &dir.path().join("p"), &tok, &cfg, &mut |_| {}).unwrap();
    assert!(m.counts.splits.train.scores_sha256.is_some());
    let shard = Shard::read(&dir.path().join("p/train/shard_00000.bin")).unwrap();
    let raw = std::fs::read(dir.path().join("p/train/shard_00000.scores.f16")).unwrap();
    let scores: Vec<f32> = raw.chunks(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
    assert_eq!(scores.len(), shard.tokens.len());
    let specials = tok.special.all();
    let (mut unsafe_text, mut masked) = (0, 0);
    for ((&t, &m), &x) in shard.tokens.iter().zip(&shard.mask).zip(&scores) {
        if specials.contains(&t) {
            assert_eq!(x, 0.0, "a special token scored {x}");
        }
        // Ground truth: a masked token came from an unsafe segment, so it scores 1; what scores 1
        // is masked (the transform masks exactly the unsafe segments' text).
        if m == 0 {
            masked += 1;
            assert_eq!(x, 1.0);
        }
        unsafe_text += (x == 1.0) as usize;
    }
    assert!(masked > 100 && unsafe_text >= masked, "{masked} masked, {unsafe_text} scored unsafe");
    // The mask a trainer derives at threshold 0.5 is the transform's mask, up to the whitespace
    // between an unsafe segment and the next (masked only inside an unsafe span).
    let derived = scores.iter().filter(|&&x| x >= 0.5).count();
    assert!(derived >= masked && derived - masked < masked / 5 + 10, "{derived} vs {masked}");

    // No scores in: an error naming what to do.
    let without = run("t-plain", false);
    let err = pack(&without, &dir.path().join("p2"), &tok, &cfg, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("--scores"), "{err}");
    // A record that lost its scores is refused (strict: the first bad record stops the pack).
    let docs = with.root.join("documents.jsonl");
    let body = std::fs::read_to_string(&docs).unwrap();
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    let mut first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert!(first.as_object_mut().unwrap().remove("scores").is_some());
    lines[0] = first.to_string();
    std::fs::write(&docs, lines.join("\n") + "\n").unwrap();
    let strict = PackConfig { strict: true, ..cfg };
    let err = pack(&with, &dir.path().join("p3"), &tok, &strict, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("no `scores`"), "{err}");
}
