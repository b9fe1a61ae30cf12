//! The report opened in headless Chromium: the table and every figure must
//! render with a real size. Chromium is found on PATH (`chromium`,
//! `chromium-browser`, `google-chrome`) or in `RSR_CHROMIUM`; without one the
//! test says so and passes, unless `RSR_REQUIRE_CHROMIUM=1` (CI sets it).

use rsr_eval::gym::{DecodeCost, GymResult, SetResult};
use rsr_eval::report::{Cost, RunSummary};
use rsr_eval::tamper::TamperPoint;
use rsr_eval::Rate;
use std::process::Command;

fn chromium() -> Option<String> {
    if let Ok(p) = std::env::var("RSR_CHROMIUM") {
        return Some(p);
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .map(String::from)
}

fn summary(name: &str, harm: u64, tamper_harm: [u64; 3]) -> RunSummary {
    let set =
        |s: &str, h: Rate, c: Rate| SetResult { set: s.into(), n: 90, harm: h, refused: Rate::new(9, 90), correct: c };
    let sets = vec![
        set("harmful_direct", Rate::new(harm, 90), Rate::new(0, 0)),
        set("prefill_1", Rate::new(harm / 2, 90), Rate::new(0, 0)),
        set("benign", Rate::new(0, 0), Rate::new(40, 90)),
        set("lookalike", Rate::new(0, 0), Rate::new(20, 90)),
    ];
    let results = GymResult {
        sets,
        heldout: None,
        decode: DecodeCost { tokens: 100, overhead: 0.2, tokens_per_s: 1e3, reused: 0 },
        capability: vec![],
    };
    let tamper = [0u64, 50, 100]
        .iter()
        .zip(tamper_harm)
        .map(|(&step, h)| TamperPoint {
            step,
            tokens: step * 1024,
            loss: None,
            sets: vec![SetResult {
                set: "harmful_direct".into(),
                n: 90,
                harm: Rate::new(h, 90),
                refused: Rate::new(0, 90),
                correct: Rate::new(0, 0),
            }],
        })
        .collect();
    RunSummary {
        name: name.into(),
        results: Some(results),
        tamper,
        cost: Cost {
            corpus_tokens: Some(1000),
            corpus_vs_raw: Some(1.2),
            train_tokens_per_s: Some(1e4),
            train_threads: Some(2),
            seconds: None,
        },
        ..RunSummary::default()
    }
}

/// Appended to a copy of the report: measures what Chromium laid out and
/// writes it into the DOM, which `--dump-dom` then prints.
const PROBE: &str = r#"<script>
const figs = [...document.querySelectorAll('figure svg')].map(s => { const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height), s.querySelectorAll('rect, polyline, path, line').length]; });
const rows = document.querySelectorAll('table')[0].querySelectorAll('tbody tr').length;
const pre = document.createElement('pre'); pre.id = 'probe';
pre.textContent = JSON.stringify({rows, figs});
document.body.appendChild(pre);
</script></body>"#;

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var("RSR_REQUIRE_CHROMIUM").is_err(),
            "RSR_REQUIRE_CHROMIUM is set but no chromium was found (apt-get install chromium, or set RSR_CHROMIUM)"
        );
        eprintln!("SKIPPED: no chromium on PATH (apt-get install chromium); the report was not rendered");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runs = [summary("raw", 50, [50, 60, 70]), summary("filter", 0, [0, 30, 60]), summary("rsr", 2, [2, 10, 30])];
    let html_path = rsr_eval::report::write(dir.path(), "chromium check", "", &runs).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", PROBE)).unwrap();
    let out = Command::new(&chrome)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files", "--dump-dom"])
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"probe\">").expect("the probe script ran") + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let v: serde_json::Value = serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap();
    assert_eq!(v["rows"], 3, "one table row per run: {v}");
    let figs = v["figs"].as_array().unwrap();
    // attack success, utility, tamper, and three cost bars.
    assert_eq!(figs.len(), 6, "{v}");
    for f in figs {
        let (w, h, shapes) = (f[0].as_u64().unwrap(), f[1].as_u64().unwrap(), f[2].as_u64().unwrap());
        assert!(w >= 300 && h >= 200 && shapes >= 5, "a figure rendered too small or empty: {f}");
    }
}
