//! The recipes of ARCHITECTURE.md stay true: each extension point is wired through exactly the
//! files its recipe names, so adding one by the recipe is enough — and forgetting a step fails
//! here, naming it.

mod common;

use clap::ValueEnum;
use rsr_corpus::transform::Mode;
use rsr_pack::export::Format;
use std::path::Path;

fn repo(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value().expect("not skipped").get_name().to_string()
}

/// "Add a transform mode": a `Mode` variant with its name, its place in `Mode::ALL` and its arm
/// (crates/rsr-corpus/src/transform.rs), and an invariant test (crates/rsr-corpus/tests/
/// transform.rs); `rsr transform --help` and the experiment's variants follow from it.
#[test]
fn every_transform_mode_is_wired_as_the_recipe_says() {
    let help = common::ok_at(Path::new("."), &["transform", "--help"]);
    let tests = repo("crates/rsr-corpus/tests/transform.rs");
    let variants: Vec<&str> =
        rsr_eval::experiment::VARIANTS.iter().filter(|v| !v.is_ablation()).map(|v| v.name).collect();
    assert_eq!(Mode::ALL.len(), Mode::value_variants().len(), "Mode::ALL lists every mode");
    assert_eq!(variants, Mode::ALL.map(Mode::name), "the experiment builds one variant per mode, in Mode::ALL's order");
    for mode in Mode::value_variants() {
        let n = name(mode);
        assert_eq!(n, mode.name(), "the CLI name is the mode's name");
        assert!(help.contains(&format!("  {n} ")), "`rsr transform --help` does not describe --mode {n}");
        assert!(
            tests.contains(&format!("Mode::{mode:?}")),
            "no invariant test uses Mode::{mode:?} (crates/rsr-corpus/tests/transform.rs)"
        );
        // Its arm in transform_doc: a document comes out (or is dropped, for filter) without a panic.
        let doc = rsr_core::doc::Document { id: "d".into(), text: "One. Two.".into(), meta: Default::default() };
        let cfg = rsr_corpus::transform::TransformConfig { mode: *mode, every: 1, ..Default::default() };
        let counter = rsr_corpus::segment::Whitespace;
        rsr_corpus::transform::transform_doc(&cfg, doc, &[], &counter, &mut Default::default());
    }
}

/// "Add an export format": a `Format` variant with its name, layout and writer
/// (crates/rsr-pack/src/export.rs), a test that reads it by the consumer's published layout, and a
/// row in docs/formats.md; `rsr export --help` lists it from `Format::ALL`.
#[test]
fn every_export_format_is_wired_as_the_recipe_says() {
    let tests = repo("crates/rsr-pack/tests/exports.rs");
    let formats = repo("docs/formats.md");
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let help = flat(&common::ok_at(Path::new("."), &["export", "--help"]));
    assert_eq!(Format::ALL.len(), Format::value_variants().len(), "Format::ALL lists every variant");
    for f in Format::ALL {
        let n = f.name();
        assert_eq!(name(&f), n, "the CLI name is the format's name");
        assert!(tests.contains(&format!("Format::{f:?}")), "crates/rsr-pack/tests/exports.rs does not test {f:?}");
        assert!(formats.contains(&format!("| `{n}` |")), "docs/formats.md#exports has no row for `{n}`");
        assert!(help.contains(&flat(f.layout())), "`rsr export --help` does not describe {n}: {help}");
    }
}

/// "Add a prompt set": a row in `PROMPT_SETS` (with its role) and its generator, both in
/// crates/rsr-world/src/prompts.rs, and a row in docs/safetyworld.md. Every list of sets — the
/// help texts, the operating point's splits, the study's metrics, the capability and control
/// sets, the report's columns — derives from the table.
#[test]
fn every_prompt_set_is_wired_as_the_recipe_says() {
    use rsr_world::prompts::{role_of, PROMPT_SETS};
    let docs = repo("docs/safetyworld.md");
    let eval_help = common::ok_at(Path::new("."), &["eval", "--help"]);
    let gym_help = common::ok_at(Path::new("."), &["gym", "--help"]);
    for s in PROMPT_SETS {
        assert!(docs.contains(&format!("`{}`", s.name)), "docs/safetyworld.md does not describe `{}`", s.name);
        assert!(eval_help.contains(s.name) && gym_help.contains(s.name), "a --help text lacks `{}`", s.name);
        assert_eq!(role_of(s.name), Some(s.role));
        // Every set is measured by some metric of the study (none is left out by a hand-kept list).
        assert!(
            rsr_eval::study::METRICS.iter().any(|m| (m.counts)(s.role)) || s.role == rsr_world::prompts::Role::Attack,
            "no study metric counts role {:?}",
            s.role
        );
    }
}

/// "Add a monitor": a file in crates/rsr-eval/src/monitors/ with its `KIND`, one line in
/// `REGISTRY` (monitors/mod.rs), a row in docs/evaluation.md; the tables' legends come from the
/// registry.
#[test]
fn every_monitor_is_wired_as_the_recipe_says() {
    let docs = repo("docs/evaluation.md");
    let registry = repo("crates/rsr-eval/src/monitors/mod.rs");
    for k in rsr_eval::monitors::REGISTRY {
        let file = format!("crates/rsr-eval/src/monitors/{}.rs", k.name.replace('-', "_"));
        assert!(repo(&file).contains(&format!("name: \"{}\"", k.name)), "{file} does not define `{}`", k.name);
        assert!(registry.contains(&format!("mod {};", k.name.replace('-', "_"))), "monitors/mod.rs lacks the module");
        assert!(docs.contains(&format!("| `{}` |", k.name)), "docs/evaluation.md has no row for monitor `{}`", k.name);
        assert!(rsr_eval::monitors::legend().contains(k.summary));
    }
}

/// "Add an annotator": a `SafetyScorer` (or `Annotator`) of its own file, one flag and one arm in
/// `AnnotatorArgs` (crates/rsr-cli/src/cmd/mod.rs), a test against ground truth
/// (crates/rsr-corpus/tests/recipes.rs follows it once). `rsr annotate` and `rsr transform` take
/// the same flags from that one struct.
#[test]
fn annotate_and_transform_take_the_same_annotators() {
    let flags = [
        "--classifier",
        "--minilm-dir",
        "--threshold",
        "--endpoint",
        "--endpoint-model",
        "--requests-per-s",
        "--fallback-category",
    ];
    let mod_rs = repo("crates/rsr-cli/src/cmd/mod.rs");
    for cmd in ["annotate", "transform"] {
        let help = common::ok_at(Path::new("."), &[cmd, "--help"]);
        for f in flags {
            assert!(help.contains(f), "`rsr {cmd} --help` lacks {f}");
        }
        let src = repo(&format!("crates/rsr-cli/src/cmd/{cmd}.rs"));
        assert!(src.contains("super::AnnotatorArgs"), "rsr {cmd} does not take AnnotatorArgs");
    }
    assert_eq!(mod_rs.matches("pub struct AnnotatorArgs").count(), 1);
}
