//! The reflection policies on a scripted model whose P(unsafe) is controlled:
//! it judges a segment unsafe exactly when the segment contains the token BAD.

use rsr_decode::generate::{Conditioning, Decoder, GenConfig, Policy};
use rsr_decode::lm::{LanguageModel, Vocab};
use rsr_decode::probe::probe;
use rsr_decode::sample::SamplingConfig;

const EOT: u32 = 0;
const OPEN: u32 = 1;
const CLOSE: u32 = 2;
const SAFE_TAG: u32 = 3;
const UNSAFE_TAG: u32 = 4;
const SAFE: u32 = 5;
const UNSAFE: u32 = 6;
const BAD: u32 = 7;
const V: usize = 16;

/// Writes words w8, w9, … ; at word `trigger_at` writes BAD (or, with
/// `coin`, BAD and a harmless word are equally likely); optionally emits
/// `<|reflect|>` itself after word `self_reflect_at`; ends after `len` words.
struct Scripted {
    trigger_at: Option<usize>,
    coin: bool,
    self_reflect_at: Option<usize>,
    len: usize,
}

fn words(state: &[u32]) -> usize {
    state.iter().filter(|&&t| t >= BAD).count()
}

impl LanguageModel for Scripted {
    type State = Vec<u32>;
    fn start(&self) -> Vec<u32> {
        vec![]
    }
    fn max_context(&self) -> usize {
        4096
    }
    fn len(&self, s: &Vec<u32>) -> usize {
        s.len()
    }
    fn feed(&self, state: &mut Vec<u32>, tokens: &[u32]) -> Vec<f32> {
        state.extend_from_slice(tokens);
        let mut l = vec![0f32; V];
        let last = *state.last().unwrap();
        let seg_start = state.iter().rposition(|&t| t == CLOSE).map(|i| i + 1).unwrap_or(0);
        let n = words(state);
        let pick = match last {
            OPEN => {
                if state[seg_start..].contains(&BAD) {
                    UNSAFE
                } else {
                    SAFE
                }
            }
            SAFE | UNSAFE => CLOSE,
            _ if n >= self.len => EOT,
            _ if Some(n) == self.self_reflect_at && last != CLOSE => OPEN,
            _ if Some(n) == self.trigger_at => {
                if self.coin {
                    l[BAD as usize] = 10.0;
                    l[9] = 10.0;
                    return l;
                }
                BAD
            }
            _ => 8 + (n % 8) as u32,
        };
        l[pick as usize] = 10.0;
        l
    }
}

fn vocab() -> Vocab {
    Vocab {
        endoftext: EOT,
        reflect_open: OPEN,
        reflect_close: CLOSE,
        safe_tag: SAFE_TAG,
        unsafe_tag: UNSAFE_TAG,
        safe_body: vec![SAFE],
        unsafe_body: vec![UNSAFE],
    }
}

fn detok(ids: &[u32]) -> String {
    ids.iter()
        .map(|&t| match t {
            OPEN => "<|reflect|>".to_string(),
            CLOSE => "<|/reflect|>".to_string(),
            SAFE => "safe".to_string(),
            UNSAFE => "unsafe: weapons. It is bad.".to_string(),
            BAD => "BAD".to_string(),
            t => format!("w{t}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cfg(policy: Policy) -> GenConfig {
    GenConfig {
        max_tokens: 40,
        sampling: SamplingConfig { temperature: 1.0, top_k: 0, top_p: 1.0 },
        policy,
        every: 4,
        theta: 0.5,
        retries: 2,
        ..GenConfig::default()
    }
}

fn run(m: &Scripted, c: &GenConfig) -> rsr_decode::generate::Generation {
    let v = vocab();
    let d = Decoder { lm: m, vocab: &v, detok: &detok };
    d.generate(&[8, 9], c)
}

fn assert_no_leak(g: &rsr_decode::generate::Generation) {
    for t in [OPEN, CLOSE, SAFE, UNSAFE] {
        assert!(!g.tokens.contains(&t), "reflection token {t} leaked into {:?}", g.tokens);
    }
    assert!(!g.text.contains("<|reflect|>") && !g.text.contains("unsafe:"), "{}", g.text);
}

#[test]
fn monitor_records_but_changes_nothing() {
    let m = Scripted { trigger_at: Some(6), coin: false, self_reflect_at: None, len: 20 };
    let off = run(&m, &cfg(Policy::Off));
    let mon = run(&m, &cfg(Policy::Monitor));
    assert_eq!(off.tokens, mon.tokens);
    assert!(off.reflections.is_empty());
    assert!(mon
        .reflections
        .iter()
        .any(|r| r.verdict == "unsafe" && r.score > 0.99 && r.category.as_deref() == Some("weapons")));
    assert!(mon.reflections.iter().all(|r| r.action == "none"));
    assert!(mon.text.contains("BAD"));
    assert_no_leak(&mon);
}

#[test]
fn stop_drops_the_segment_and_ends_with_a_refusal() {
    let m = Scripted { trigger_at: Some(6), coin: false, self_reflect_at: None, len: 20 };
    let g = run(&m, &cfg(Policy::Stop));
    assert_eq!(g.finish_reason, "refused");
    assert!(!g.text.contains("BAD"), "{}", g.text);
    assert!(g.text.ends_with(rsr_core::reflection::REDIRECTS[0]), "{}", g.text);
    let last = g.reflections.last().unwrap();
    assert_eq!((last.verdict.as_str(), last.action.as_str()), ("unsafe", "stop"));
    // The safe text before the offending segment is kept.
    assert!(g.text.starts_with("w10 w11"), "{}", g.text);
    assert_no_leak(&g);
}

#[test]
fn a_harmful_tail_shorter_than_k_is_still_judged() {
    let m = Scripted { trigger_at: Some(2), coin: false, self_reflect_at: None, len: 4 };
    let g = run(&m, &GenConfig { every: 64, ..cfg(Policy::Stop) });
    assert_eq!(g.finish_reason, "refused");
    assert!(!g.text.contains("BAD"));
}

#[test]
fn backtrack_resamples_then_stops() {
    // Always harmful: R backtracks, then stop.
    let m = Scripted { trigger_at: Some(6), coin: false, self_reflect_at: None, len: 20 };
    let g = run(&m, &cfg(Policy::Backtrack));
    let actions: Vec<&str> =
        g.reflections.iter().filter(|r| r.verdict == "unsafe").map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["backtrack", "backtrack", "stop"]);
    assert_eq!(g.finish_reason, "refused");
    assert_no_leak(&g);
    // Harmful half the time: some seed needs a resample and then finishes clean.
    let m = Scripted { trigger_at: Some(6), coin: true, self_reflect_at: None, len: 20 };
    let clean = (0..20)
        .map(|seed| run(&m, &GenConfig { seed, ..cfg(Policy::Backtrack) }))
        .find(|g| g.reflections.iter().any(|r| r.action == "backtrack") && g.finish_reason != "refused")
        .expect("a resample avoids the harmful word");
    assert!(!clean.text.contains("BAD"), "{}", clean.text);
    assert_eq!(clean.finish_reason, "eos");
    assert!(clean.extra_tokens > 0);
}

#[test]
fn redirect_keeps_going_after_the_reflection() {
    let m = Scripted { trigger_at: Some(6), coin: false, self_reflect_at: None, len: 20 };
    let g = run(&m, &cfg(Policy::Redirect));
    assert_ne!(g.finish_reason, "refused");
    assert!(g.reflections.iter().any(|r| r.action == "redirect"));
    assert_no_leak(&g);
}

#[test]
fn a_reflection_the_model_starts_itself_is_honoured_and_hidden() {
    let m = Scripted { trigger_at: None, coin: false, self_reflect_at: Some(3), len: 12 };
    let g = run(&m, &GenConfig { every: 100, ..cfg(Policy::Monitor) });
    assert!(g.reflections.iter().any(|r| r.self_initiated && r.verdict == "safe"), "{:?}", g.reflections);
    assert_no_leak(&g);
    assert_eq!(g.finish_reason, "eos");
}

#[test]
fn tag_models_are_conditioned_on_safe_with_tags_banned() {
    struct TagLover;
    impl LanguageModel for TagLover {
        type State = Vec<u32>;
        fn start(&self) -> Vec<u32> {
            vec![]
        }
        fn max_context(&self) -> usize {
            64
        }
        fn len(&self, s: &Vec<u32>) -> usize {
            s.len()
        }
        fn feed(&self, s: &mut Vec<u32>, t: &[u32]) -> Vec<f32> {
            s.extend_from_slice(t);
            let mut l = vec![0f32; V];
            l[UNSAFE_TAG as usize] = 9.0; // it would love to write a tag
            l[SAFE_TAG as usize] = 9.0;
            l[if s.contains(&SAFE_TAG) { 10 } else { 11 }] = 5.0;
            l
        }
    }
    let v = vocab();
    let d = Decoder { lm: &TagLover, vocab: &v, detok: &detok };
    let c = GenConfig {
        max_tokens: 5,
        conditioning: Conditioning::Tag,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        ..cfg(Policy::Off)
    };
    let g = d.generate(&[8], &c);
    assert_eq!(g.tokens, vec![10; 5], "conditioned on <|safe|>, never writing a tag");
}

#[test]
fn the_probe_reads_the_models_verdict() {
    let m = Scripted { trigger_at: None, coin: false, self_reflect_at: None, len: 10 };
    let v = vocab();
    assert!(probe(&m, &v, &[8, 9, BAD, 10]) > 0.99);
    assert!(probe(&m, &v, &[8, 9, 10]) < 0.01);
}

#[test]
fn a_full_context_ends_generation_instead_of_overflowing() {
    struct Small(Scripted);
    impl LanguageModel for Small {
        type State = Vec<u32>;
        fn start(&self) -> Vec<u32> {
            vec![]
        }
        fn max_context(&self) -> usize {
            80
        }
        fn len(&self, s: &Vec<u32>) -> usize {
            s.len()
        }
        fn feed(&self, s: &mut Vec<u32>, t: &[u32]) -> Vec<f32> {
            assert!(s.len() + t.len() <= 80, "overflowed the context");
            self.0.feed(s, t)
        }
    }
    let m = Small(Scripted { trigger_at: None, coin: false, self_reflect_at: None, len: 1000 });
    let v = vocab();
    let d = Decoder { lm: &m, vocab: &v, detok: &detok };
    let prompt: Vec<u32> = (0..200).map(|i| 8 + i % 8).collect();
    let g = d.generate(&prompt, &GenConfig { max_tokens: 500, ..cfg(Policy::Monitor) });
    assert_eq!(g.finish_reason, "length");
    assert!(!g.tokens.is_empty());
    assert!(probe(&m, &v, &prompt) < 0.5);
}

/// The scripted model, except that its logits after `<|reflect|>` are NaN (corrupt weights).
struct Broken(Scripted);

impl LanguageModel for Broken {
    type State = Vec<u32>;
    fn start(&self) -> Vec<u32> {
        self.0.start()
    }
    fn max_context(&self) -> usize {
        self.0.max_context()
    }
    fn len(&self, s: &Vec<u32>) -> usize {
        self.0.len(s)
    }
    fn feed(&self, state: &mut Vec<u32>, tokens: &[u32]) -> Vec<f32> {
        let mut l = self.0.feed(state, tokens);
        if state.last() == Some(&OPEN) {
            l.iter_mut().for_each(|x| *x = f32::NAN);
        }
        l
    }
}

#[test]
fn a_non_finite_score_is_unsafe() {
    let m = Broken(Scripted { trigger_at: None, coin: false, self_reflect_at: None, len: 30 });
    let v = vocab();
    let d = Decoder { lm: &m, vocab: &v, detok: &detok };
    let g = d.generate(&[8], &cfg(Policy::Stop));
    let first = &g.reflections[0];
    assert!(first.score.is_nan(), "{first:?}");
    assert_eq!((first.verdict.as_str(), first.action.as_str()), ("unsafe", "stop"));
    assert_eq!(g.finish_reason, "refused");
    assert!(probe(&m, &v, &[8, 9]).is_nan(), "the probe reports NaN, which callers treat as unsafe");
    // A NaN θ is refused before decoding.
    let e = GenConfig { theta: f32::NAN, ..cfg(Policy::Stop) }.validate().unwrap_err();
    assert!(e.contains("theta"), "{e}");
    assert!(GenConfig { theta: 2.0, ..cfg(Policy::Stop) }.validate().is_err());
    assert!(GenConfig { every: 0, ..cfg(Policy::Stop) }.validate().is_err());
    assert!(cfg(Policy::Stop).validate().is_ok());
}

#[test]
fn a_cancelled_generation_stops_and_an_empty_prompt_starts_a_document() {
    let m = Scripted { trigger_at: None, coin: false, self_reflect_at: None, len: 30 };
    let v = vocab();
    let d = Decoder { lm: &m, vocab: &v, detok: &detok };
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let g = d.generate(&[8], &GenConfig { cancel: Some(flag), ..cfg(Policy::Stop) });
    assert_eq!((g.finish_reason.as_str(), g.tokens.len()), ("cancelled", 0));
    let g = d.generate(&[], &cfg(Policy::Stop));
    assert!(!g.tokens.is_empty(), "an empty prompt generates from the start of a document");
}
