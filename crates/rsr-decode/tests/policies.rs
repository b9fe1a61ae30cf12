//! The reflection policies on a scripted model whose P(unsafe) is controlled:
//! it judges a segment unsafe exactly when the segment contains the token BAD.

use rsr_core::reflection::Format;
use rsr_decode::generate::{Conditioning, Decoder, GenConfig, Policy};
use rsr_decode::lm::{LanguageModel, Vocab};
use rsr_decode::probe::probe;
use rsr_decode::sample::SamplingConfig;
use rsr_decode::trained::ReflectionStyle;

const EOT: u32 = 0;
const OPEN: u32 = 1;
const CLOSE: u32 = 2;
const SAFE_TAG: u32 = 3;
const UNSAFE_TAG: u32 = 4;
/// Format v1 verdict bodies.
const SAFE: u32 = 5;
const UNSAFE: u32 = 6;
const BAD: u32 = 7;
/// Format v2: the category word after `<|unsafe|>`.
const CAT: u32 = 16;
/// `.` and a rationale sentence, written only when asked for.
const PERIOD: u32 = 17;
const WHY: u32 = 18;
const V: usize = 20;

/// Writes words w8, w9, … ; at word `trigger_at` writes BAD (or, with
/// `coin`, BAD and a harmless word are equally likely); optionally emits
/// `<|reflect|>` itself after word `self_reflect_at`; ends after `len` words.
/// It reflects in format v2 unless `v1`.
struct Scripted {
    trigger_at: Option<usize>,
    coin: bool,
    self_reflect_at: Option<usize>,
    len: usize,
    v1: bool,
}

fn scripted(trigger_at: Option<usize>, self_reflect_at: Option<usize>, len: usize) -> Scripted {
    Scripted { trigger_at, coin: false, self_reflect_at, len, v1: false }
}

fn words(state: &[u32]) -> usize {
    state.iter().filter(|&&t| (BAD..CAT).contains(&t)).count()
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
    fn truncate(&self, s: &mut Vec<u32>, len: usize) {
        s.truncate(len)
    }
    fn feed(&self, state: &mut Vec<u32>, tokens: &[u32]) -> Vec<f32> {
        state.extend_from_slice(tokens);
        let mut l = vec![0f32; V];
        let last = *state.last().unwrap();
        // The segment being judged: everything since the last reflection ended.
        let seg_start = state.iter().rposition(|&t| t == CLOSE || t == SAFE_TAG).map(|i| i + 1).unwrap_or(0);
        let n = words(state);
        let bad = state[seg_start..].contains(&BAD);
        let pick = match last {
            OPEN if self.v1 => [SAFE, UNSAFE][bad as usize],
            OPEN => [SAFE_TAG, UNSAFE_TAG][bad as usize],
            UNSAFE_TAG => CAT,
            SAFE | UNSAFE | CAT | WHY => CLOSE,
            PERIOD => WHY,
            _ if n >= self.len => EOT,
            _ if Some(n) == self.self_reflect_at && last != CLOSE && last != SAFE_TAG => OPEN,
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

/// Every word ends a sentence, so checks fall every `every` tokens exactly.
fn vocab() -> Vocab {
    Vocab {
        endoftext: EOT,
        reflect_open: OPEN,
        reflect_close: CLOSE,
        safe_tag: SAFE_TAG,
        unsafe_tag: UNSAFE_TAG,
        safe_body: vec![SAFE],
        unsafe_body: vec![UNSAFE],
        sentence_end: (0..V as u32).map(|t| (BAD..CAT).contains(&t)).collect(),
        period: Some(PERIOD),
    }
}

fn detok(ids: &[u32]) -> String {
    ids.iter()
        .map(|&t| match t {
            OPEN => "<|reflect|>".to_string(),
            CLOSE => "<|/reflect|>".to_string(),
            SAFE_TAG => "<|safe|>".to_string(),
            UNSAFE_TAG => "<|unsafe|>".to_string(),
            SAFE => "safe".to_string(),
            UNSAFE => "unsafe: weapons. It is bad.".to_string(),
            CAT => "weapons".to_string(),
            PERIOD => ".".to_string(),
            WHY => "It explains a poison".to_string(),
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

fn decoder<'a, M: LanguageModel>(m: &'a M, v: &'a Vocab) -> Decoder<'a, M> {
    let style = ReflectionStyle::default();
    Decoder { lm: m, vocab: v, detok: &detok, style }
}

fn run(m: &Scripted, c: &GenConfig) -> rsr_decode::generate::Generation {
    let v = vocab();
    let style = ReflectionStyle { format: if m.v1 { Format::V1 } else { Format::V2 }, safe_rate: 1.0 };
    let d = Decoder { lm: m, vocab: &v, detok: &detok, style };
    d.generate(&[8, 9], c)
}

fn assert_no_leak(g: &rsr_decode::generate::Generation) {
    for t in [OPEN, CLOSE, SAFE_TAG, UNSAFE_TAG, SAFE, UNSAFE, CAT] {
        assert!(!g.tokens.contains(&t), "reflection token {t} leaked into {:?}", g.tokens);
    }
    for s in ["<|", "unsafe", "weapons", "safe"] {
        assert!(!g.text.contains(s), "`{s}` leaked into {}", g.text);
    }
}

#[test]
fn monitor_records_but_changes_nothing() {
    let m = scripted(Some(6), None, 20);
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
    let m = scripted(Some(6), None, 20);
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
    let m = scripted(Some(2), None, 4);
    let g = run(&m, &GenConfig { every: 64, ..cfg(Policy::Stop) });
    assert_eq!(g.finish_reason, "refused");
    assert!(!g.text.contains("BAD"));
}

#[test]
fn backtrack_resamples_then_stops() {
    // Always harmful: R backtracks, then stop.
    let m = scripted(Some(6), None, 20);
    let g = run(&m, &cfg(Policy::Backtrack));
    let actions: Vec<&str> =
        g.reflections.iter().filter(|r| r.verdict == "unsafe").map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["backtrack", "backtrack", "stop"]);
    assert_eq!(g.finish_reason, "refused");
    assert_no_leak(&g);
    // Harmful half the time: some seed needs a resample and then finishes clean.
    let m = Scripted { coin: true, ..scripted(Some(6), None, 20) };
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
    let m = scripted(Some(6), None, 20);
    let g = run(&m, &cfg(Policy::Redirect));
    assert_ne!(g.finish_reason, "refused");
    assert!(g.reflections.iter().any(|r| r.action == "redirect"));
    assert_no_leak(&g);
}

#[test]
fn a_reflection_the_model_starts_itself_is_honoured_and_hidden() {
    let m = scripted(None, Some(3), 12);
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
        fn truncate(&self, s: &mut Vec<u32>, len: usize) {
            s.truncate(len)
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
    let d = decoder(&TagLover, &v);
    let c = GenConfig {
        max_tokens: 5,
        conditioning: Conditioning::Tag,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        ..cfg(Policy::Off)
    };
    let g = d.generate(&[8], &c);
    assert_eq!(g.tokens, vec![10; 5], "conditioned on <|safe|>, never writing a tag");
    assert!(g.reflections.is_empty(), "the policy is off: nothing is recorded");
}

/// A tag model expects `<|unsafe|>` at a segment start exactly when the text so far holds BAD;
/// it writes w8, w9, …, BAD at word `bad_at`.
struct TagJudge {
    bad_at: usize,
}

impl LanguageModel for TagJudge {
    type State = Vec<u32>;
    fn start(&self) -> Vec<u32> {
        vec![]
    }
    fn max_context(&self) -> usize {
        256
    }
    fn len(&self, s: &Vec<u32>) -> usize {
        s.len()
    }
    fn truncate(&self, s: &mut Vec<u32>, len: usize) {
        s.truncate(len)
    }
    fn feed(&self, s: &mut Vec<u32>, t: &[u32]) -> Vec<f32> {
        s.extend_from_slice(t);
        let mut l = vec![0f32; V];
        let bad = s.contains(&BAD);
        l[UNSAFE_TAG as usize] = if bad { 6.0 } else { 1.0 };
        l[SAFE_TAG as usize] = if bad { 1.0 } else { 6.0 };
        let n = words(s);
        l[if n == self.bad_at { BAD } else { 8 + (n % 8) as u32 } as usize] = 8.0;
        l
    }
}

#[test]
fn a_tag_model_is_conditioned_at_every_segment_start_and_its_tag_is_the_monitor() {
    let v = vocab();
    let m = TagJudge { bad_at: 6 };
    let d = decoder(&m, &v);
    let base = GenConfig {
        max_tokens: 12,
        conditioning: Conditioning::Tag,
        sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 },
        ..cfg(Policy::Monitor)
    };
    // Monitor: checks every 4 words (the prompt's word counts toward the first), and at the
    // end; the score is the tag the model expects next. Before BAD,
    // P(unsafe) = σ(1 − 6) ≈ 0.007; after it, σ(5) ≈ 0.993.
    let g = d.generate(&[8], &base);
    assert_no_leak(&g);
    let scores: Vec<f32> = g.reflections.iter().map(|r| r.score).collect();
    assert_eq!(g.reflections.iter().map(|r| r.position).collect::<Vec<_>>(), vec![3, 7, 11, 12]);
    assert!(scores[0] < 0.01 && scores[1..].iter().all(|&s| s > 0.99), "{scores:?}");
    assert_eq!(g.tokens[5], BAD);
    // Each check feeds `<|safe|>` (the conditioning).
    assert_eq!(g.extra_tokens, 4, "{g:?}");
    // Stop: the text since the last safe check goes, and the refusal ends the answer.
    let g = d.generate(&[8], &GenConfig { policy: Policy::Stop, ..base.clone() });
    assert_eq!(g.finish_reason, "refused");
    assert_eq!(g.tokens.len(), 3, "{:?}", g.tokens);
    assert!(g.text.ends_with(rsr_core::reflection::REDIRECTS[0]), "{}", g.text);
    // A score that is not a number fails closed.
    let mut logits = vec![0f32; V];
    logits[UNSAFE_TAG as usize] = f32::NAN;
    assert!(rsr_decode::generate::tag_score(&logits, &v).is_nan());
}

#[test]
fn the_probe_reads_the_models_verdict() {
    let m = scripted(None, None, 10);
    let v = vocab();
    assert!(probe(&m, &v, &ReflectionStyle::default(), &[8, 9, BAD, 10]) > 0.99);
    assert!(probe(&m, &v, &ReflectionStyle::default(), &[8, 9, 10]) < 0.01);
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
        fn truncate(&self, s: &mut Vec<u32>, len: usize) {
            s.truncate(len)
        }
        fn feed(&self, s: &mut Vec<u32>, t: &[u32]) -> Vec<f32> {
            assert!(s.len() + t.len() <= 80, "overflowed the context");
            self.0.feed(s, t)
        }
    }
    let m = Small(scripted(None, None, 1000));
    let v = vocab();
    let d = decoder(&m, &v);
    let prompt: Vec<u32> = (0..200).map(|i| 8 + i % 8).collect();
    let g = d.generate(&prompt, &GenConfig { max_tokens: 500, ..cfg(Policy::Monitor) });
    assert_eq!(g.finish_reason, "length");
    assert!(!g.tokens.is_empty());
    assert!(probe(&m, &v, &ReflectionStyle::default(), &prompt) < 0.5);
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
    fn truncate(&self, s: &mut Vec<u32>, len: usize) {
        s.truncate(len)
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
    let m = Broken(scripted(None, None, 30));
    let v = vocab();
    let d = decoder(&m, &v);
    let g = d.generate(&[8], &cfg(Policy::Stop));
    let first = &g.reflections[0];
    assert!(first.score.is_nan(), "{first:?}");
    assert_eq!((first.verdict.as_str(), first.action.as_str()), ("unsafe", "stop"));
    assert_eq!(g.finish_reason, "refused");
    assert!(
        probe(&m, &v, &ReflectionStyle::default(), &[8, 9]).is_nan(),
        "the probe reports NaN, which callers treat as unsafe"
    );
    // A NaN θ is refused before decoding.
    let e = GenConfig { theta: f32::NAN, ..cfg(Policy::Stop) }.validate().unwrap_err();
    assert!(e.contains("theta"), "{e}");
    assert!(GenConfig { theta: 2.0, ..cfg(Policy::Stop) }.validate().is_err());
    assert!(GenConfig { every: 0, ..cfg(Policy::Stop) }.validate().is_err());
    assert!(cfg(Policy::Stop).validate().is_ok());
}

#[test]
fn a_cancelled_generation_stops_and_an_empty_prompt_starts_a_document() {
    let m = scripted(None, None, 30);
    let v = vocab();
    let d = decoder(&m, &v);
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let g = d.generate(&[8], &GenConfig { cancel: Some(flag), ..cfg(Policy::Stop) });
    assert_eq!((g.finish_reason.as_str(), g.tokens.len()), ("cancelled", 0));
    let g = d.generate(&[], &cfg(Policy::Stop));
    assert!(!g.tokens.is_empty(), "an empty prompt generates from the start of a document");
}

#[test]
fn a_format_v1_model_is_still_read() {
    let m = Scripted { v1: true, ..scripted(Some(6), None, 20) };
    let mon = run(&m, &cfg(Policy::Monitor));
    assert!(mon.reflections.iter().any(|r| r.verdict == "unsafe" && r.category.as_deref() == Some("weapons")));
    assert_no_leak(&mon);
    let stop = run(&m, &cfg(Policy::Stop));
    assert_eq!(stop.finish_reason, "refused");
    assert!(!stop.text.contains("BAD"));
}

#[test]
fn policy_off_never_shows_a_reflection_the_model_writes_itself() {
    // The model opens a reflection after word 7, right after the harmful word: it writes
    // `<|reflect|><|unsafe|> weapons<|/reflect|>` into its context, none of it visible.
    let m = scripted(Some(6), Some(7), 14);
    let g = run(&m, &cfg(Policy::Off));
    let own: Vec<_> = g.reflections.iter().filter(|r| r.self_initiated).collect();
    assert_eq!(own.len(), 1, "{:?}", g.reflections);
    assert_eq!(
        (own[0].verdict.as_str(), own[0].category.as_deref(), own[0].action.as_str()),
        ("unsafe", Some("weapons"), "none")
    );
    assert!(g.reflections.iter().all(|r| r.self_initiated), "off forces no checks");
    assert!(g.text.contains("BAD"), "off acts on nothing: {}", g.text);
    assert_no_leak(&g);
    assert_eq!(g.finish_reason, "eos");
}

#[test]
fn under_off_an_answer_with_no_recorded_reflection_read_no_check_setting() {
    // What `memo::Generations` reuses across θ, retries and rationales under `off`: an answer
    // that recorded no reflection is the same under any of them. A plain model checks only
    // where it opens a reflection itself, and records it; a tag model is conditioned at every
    // segment start under `off` too, but neither records nor compares a score there.
    let json = |g: &rsr_decode::generate::Generation| serde_json::to_string(g).unwrap();
    let settings = |c: GenConfig, theta, retries, rationales| GenConfig { theta, retries, rationales, ..c };
    for conditioning in [Conditioning::Plain, Conditioning::Tag] {
        let off = GenConfig { conditioning, ..cfg(Policy::Off) };
        let m = scripted(Some(3), None, 12); // writes BAD, never reflects itself
        let g = run(&m, &off);
        assert!(g.reflections.is_empty(), "{:?}", g.reflections);
        for (theta, retries, rationales) in [(0.0, 0, false), (0.1, 5, true), (1.0, 0, true)] {
            assert_eq!(
                json(&run(&m, &settings(off.clone(), theta, retries, rationales))),
                json(&g),
                "{conditioning:?}"
            );
        }
    }
    // Where the model opens a reflection itself, θ is read and the check is recorded: such an
    // answer is never reused across θ.
    let m = scripted(Some(6), Some(7), 14);
    let low = run(&m, &settings(cfg(Policy::Off), 0.0, 2, false));
    let high = run(&m, &settings(cfg(Policy::Off), 1.0, 2, false));
    assert!(!low.reflections.is_empty() && !high.reflections.is_empty());
    assert_ne!(json(&low), json(&high), "θ decided the recorded verdict");
}

#[test]
fn banned_reflections_never_enter_the_context() {
    // The same model, which opens a reflection after word 7 when it may: with reflections
    // banned it cannot, and nothing is checked — the text is what it writes with none at all.
    let m = scripted(Some(6), Some(7), 14);
    let c = GenConfig { ban_reflections: true, ..cfg(Policy::Off) };
    c.validate().unwrap();
    for seed in 0..8 {
        let g = run(&m, &GenConfig { seed, ..c.clone() });
        assert!(g.reflections.is_empty(), "seed {seed}: {:?}", g.reflections);
        // Where it would have opened one it writes some other token (this toy's logits are
        // flat there), never a reflection's.
        for t in [OPEN, CLOSE, SAFE_TAG, UNSAFE_TAG] {
            assert!(!g.tokens.contains(&t), "seed {seed}: {t} in {:?}", g.tokens);
        }
    }
    // Every other policy checks by writing reflections: asking for both is an error, not a
    // silent choice of one.
    for policy in [Policy::Monitor, Policy::Stop, Policy::Backtrack, Policy::Redirect] {
        let err = GenConfig { ban_reflections: true, ..cfg(policy) }.validate().unwrap_err();
        assert!(err.contains("policy off"), "{err}");
    }
}

#[test]
fn a_generation_that_ends_on_a_stop_sequence_is_judged_before_it_returns() {
    // BAD at word 3, the stop sequence at word 5, no periodic check before it (every 100).
    let m = scripted(Some(3), None, 30);
    let c = GenConfig { every: 100, stop: vec!["w13".into()], ..cfg(Policy::Stop) };
    let g = run(&m, &c);
    assert_eq!(g.finish_reason, "refused", "{g:?}");
    assert!(!g.text.contains("BAD"), "{}", g.text);
    // Without the harmful word, the stop sequence ends it and the text stops before it.
    let g = run(&scripted(None, None, 30), &c);
    assert_eq!(g.finish_reason, "stop_sequence");
    assert!(g.text.ends_with("w12 "), "{:?}", g.text);
    assert_eq!(g.reflections.len(), 1, "the tail is judged once");
}

#[test]
fn checks_fall_at_sentence_ends_after_k_tokens() {
    // Only w11 ends a sentence; checks come at the first w11 after ≥ 4 tokens, or at 8. The
    // prompt's two tokens count toward the first segment, as in training.
    let v = Vocab { sentence_end: (0..V as u32).map(|t| t == 11).collect(), ..vocab() };
    let m = scripted(None, None, 30);
    let d = decoder(&m, &v);
    let g = d.generate(&[8, 9], &cfg(Policy::Monitor));
    assert_eq!(g.reflections[0].position, 2, "w10 w11 closes the prompt's segment of w8 w9");
    let mut last = 2;
    for r in g.reflections.iter().skip(1).filter(|r| r.position < g.tokens.len()) {
        let since = r.position - last;
        assert!(
            g.tokens[r.position - 1] == 11 && since >= 4 || since == 8,
            "check at {} after {since}: {:?}",
            r.position,
            g.tokens
        );
        last = r.position;
    }
    assert!(g.reflections.len() >= 3);
}

#[test]
fn a_safe_check_costs_two_tokens_kept_or_one_rolled_back() {
    let m = scripted(None, None, 24);
    let v = vocab();
    let c = GenConfig { sampling: SamplingConfig { temperature: 0.0, top_k: 0, top_p: 1.0 }, ..cfg(Policy::Monitor) };
    let mut costs = vec![];
    for safe_rate in [1.0, 0.5] {
        let d = Decoder { lm: &m, vocab: &v, detok: &detok, style: ReflectionStyle { format: Format::V2, safe_rate } };
        let g = d.generate(&[8, 9], &c);
        assert!(g.reflections.iter().all(|r| r.verdict == "safe"));
        costs.push(g.extra_tokens as f64 / g.reflections.len() as f64);
        assert_no_leak(&g);
    }
    assert_eq!(costs, vec![2.0, 1.0]);
}

#[test]
fn a_rationale_is_written_only_when_asked_for() {
    let m = scripted(Some(6), None, 20);
    let plain = run(&m, &cfg(Policy::Monitor));
    let asked = run(&m, &GenConfig { rationales: true, ..cfg(Policy::Monitor) });
    let unsafe_ = |g: &rsr_decode::generate::Generation| {
        g.reflections.iter().find(|r| r.verdict == "unsafe").cloned().expect("an unsafe check")
    };
    assert_eq!(unsafe_(&plain).rationale, None);
    let r = unsafe_(&asked);
    assert_eq!((r.category.as_deref(), r.rationale.as_deref()), (Some("weapons"), Some("It explains a poison")));
    assert_eq!(asked.extra_tokens, plain.extra_tokens + 2, "the rationale costs its own tokens, nothing else");
    assert_eq!(asked.tokens, plain.tokens);
    assert_no_leak(&asked);
}
