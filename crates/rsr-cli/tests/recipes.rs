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

/// "Add a transform": a `Mode` variant with its arm, exposed by `rsr transform`, covered by an
/// invariant test, and compared by the experiment when it is a baseline.
#[test]
fn every_transform_mode_is_wired_as_the_recipe_says() {
    let help = common::ok_at(Path::new("."), &["transform", "--help"]);
    let tests = repo("crates/rsr-corpus/tests/transform.rs");
    let variants: Vec<&str> = rsr_eval::experiment::VARIANTS.iter().map(|(n, _)| *n).collect();
    for mode in Mode::value_variants() {
        let n = name(mode);
        assert!(help.contains(&format!("  {n} ")), "`rsr transform --help` does not describe --mode {n}");
        assert!(
            tests.contains(&format!("Mode::{mode:?}")),
            "no invariant test uses Mode::{mode:?} (crates/rsr-corpus/tests/transform.rs)"
        );
        assert!(
            variants.contains(&n.as_str()),
            "the experiment's VARIANTS lack `{n}` (crates/rsr-eval/src/experiment.rs)"
        );
        // Its arm in transform_doc: a document comes out (or is dropped, for filter) without a panic.
        let doc = rsr_core::doc::Document { id: "d".into(), text: "One. Two.".into(), meta: Default::default() };
        let cfg = rsr_corpus::transform::TransformConfig { mode: *mode, every: 1, ..Default::default() };
        let counter = rsr_corpus::segment::Whitespace;
        rsr_corpus::transform::transform_doc(&cfg, doc, &[], &counter, &mut Default::default());
    }
}

/// "Add an export format": a `Format` variant, a test that reads it by the consumer's layout, a
/// numpy reader, and a row in docs/formats.md.
#[test]
fn every_export_format_is_wired_as_the_recipe_says() {
    let tests = repo("crates/rsr-pack/tests/exports.rs");
    let python = repo("tests/python/read_exports.py");
    let formats = repo("docs/formats.md");
    assert_eq!(Format::ALL.len(), Format::value_variants().len(), "Format::ALL lists every variant");
    for f in Format::ALL {
        let n = f.name();
        assert_eq!(name(&f), n, "the CLI name is the format's name");
        assert!(tests.contains(&format!("Format::{f:?}")), "crates/rsr-pack/tests/exports.rs does not test {f:?}");
        assert!(python.contains(n), "tests/python/read_exports.py does not read `{n}`");
        assert!(formats.contains(&format!("| `{n}` |")), "docs/formats.md#exports has no row for `{n}`");
    }
}
