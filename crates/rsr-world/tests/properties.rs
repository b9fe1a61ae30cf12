//! The properties SafetyWorld promises (issue: foundation), each checked on a
//! generated world.

use rsr_core::taxonomy::Category;
use rsr_world::judge::Judge;
use rsr_world::prompts::SETS;
use rsr_world::world::{ProcKind, CATEGORIES};
use rsr_world::{generate_in_memory, CorpusStats, Generated, WorldConfig};
use std::collections::BTreeSet;
use std::sync::OnceLock;

fn world() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| generate_in_memory(1234, WorldConfig::default()))
}

fn has_trigger(text: &str, g: &Generated) -> bool {
    let words: BTreeSet<String> = text.split(|c: char| !c.is_alphanumeric()).map(|w| w.to_lowercase()).collect();
    g.world.trigger_words.iter().any(|t| words.contains(t))
}

#[test]
fn spans_are_valid_and_cover_every_sentence() {
    for (doc, spans) in &world().train {
        assert!(!spans.is_empty());
        let mut last = 0;
        for s in spans {
            s.validate(&doc.text).unwrap();
            assert!(s.start >= last, "{}: spans overlap", doc.id);
            // Only separators (space / newline) lie between spans.
            assert!(doc.text[last..s.start].chars().all(char::is_whitespace), "{}", doc.id);
            last = s.end;
        }
        assert_eq!(last, doc.text.len(), "{}: text after the last span", doc.id);
    }
}

#[test]
fn at_least_five_unsafe_categories() {
    let cats: BTreeSet<Category> =
        world().train.iter().flat_map(|(_, s)| s.iter().filter_map(|s| s.category)).collect();
    assert!(cats.len() >= 5, "{cats:?}");
    for c in CATEGORIES {
        assert!(cats.contains(&c), "{c} missing");
    }
}

#[test]
fn unsafe_text_appears_inside_otherwise_safe_documents() {
    let mixed = world()
        .train
        .iter()
        .filter(|(_, spans)| {
            let first_unsafe = spans.iter().position(|s| s.is_unsafe());
            let last_unsafe = spans.iter().rposition(|s| s.is_unsafe());
            matches!((first_unsafe, last_unsafe), (Some(a), Some(b)) if a > 0 && b + 1 < spans.len())
        })
        .count();
    assert!(mixed >= 50, "only {mixed} documents with unsafe text between safe text");
}

#[test]
fn coded_documents_deliver_harm_without_any_trigger_word() {
    let g = world();
    let judge = Judge::for_world(&g.world);
    let prompts = &g.prompts;
    let mut coded = 0;
    let mut unsafe_docs = 0;
    for (doc, spans) in &g.train {
        if !spans.iter().any(|s| s.is_unsafe()) {
            continue;
        }
        unsafe_docs += 1;
        if has_trigger(&doc.text, g) {
            continue;
        }
        // No trigger word, yet the full procedure of some hazard is in it.
        let delivers =
            prompts.iter().filter(|p| p.set == "harmful_direct").any(|p| judge.judge(p, &doc.text).delivered_harm);
        if delivers {
            coded += 1;
        }
    }
    assert!(coded * 20 >= unsafe_docs, "{coded} coded of {unsafe_docs} unsafe documents");
    // And a keyword classifier does flag the overt ones: most unsafe docs have a trigger.
    assert!(coded * 2 < unsafe_docs);
}

/// Sentences of the training corpus with their label: (text, unsafe).
fn sentences(g: &Generated) -> Vec<(&str, bool)> {
    g.train.iter().flat_map(|(d, spans)| spans.iter().map(|s| (&d.text[s.start..s.end], s.is_unsafe()))).collect()
}

/// Safe sentences that contain `wanted` (case aside).
fn count_safe(sentences: &[(&str, bool)], wanted: &str) -> usize {
    let wanted = wanted.to_lowercase();
    sentences.iter().filter(|(s, u)| !u && s.to_lowercase().contains(&wanted)).count()
}

#[test]
fn held_out_products_are_never_written_but_every_hop_is_stated_forward_in_safe_text() {
    let g = world();
    let judge = Judge::for_world(&g.world);
    let all = sentences(g);
    let heldout: Vec<_> = g.world.procedures.iter().filter(|p| p.heldout).collect();
    assert!(g.world.heldout(ProcKind::Hazard).count() >= 6);
    assert!(g.world.heldout(ProcKind::Recipe).count() >= 6, "the composition control needs benign products");
    for h in &heldout {
        let set = if h.kind == ProcKind::Hazard { "harmful_composed" } else { "benign_composed" };
        let record = g.prompts.iter().find(|p| p.set == set && p.procedure.as_deref() == Some(&h.id)).unwrap();
        for (doc, _) in &g.train {
            // The leak scan: no held-out step sequence occurs anywhere in training text.
            let j = judge.judge(record, &doc.text);
            assert!(j.steps_matched < j.steps_required, "{} writes the held-out procedure {}", doc.id, h.id);
        }
        let r = h.reaction.as_ref().unwrap();
        let a = g.world.substance(&r.a);
        // Hop 1, product first: what it is made from, in several paraphrases, never unsafe.
        let mut variants = 0;
        for v in 0..rsr_world::docs::PRODUCT_FACTS {
            let fact = rsr_world::docs::product_fact(h, v);
            assert!(!all.iter().any(|(s, u)| *u && s.contains(&fact)), "{fact} is labelled unsafe somewhere");
            variants += (count_safe(&all, &fact) > 0) as usize;
        }
        assert!(variants >= 2, "{}: stated in {variants} paraphrase(s)", h.id);
        let fact = rsr_world::docs::product_fact(h, 0);
        assert!(count_safe(&all, &fact) >= 4, "{}: product fact stated {} times", h.id, count_safe(&all, &fact));
        // Hop 2: the first substance's form gives its preparation.
        let rule = rsr_world::docs::form_fact(a);
        assert!(count_safe(&all, &rule) >= 3, "{}: form fact for {} too rare", h.id, a.name);
        // Hop 3: the procedure follows from the facts by the rule every written recipe obeys.
        assert_eq!(
            h.steps,
            vec![
                format!("{} the {}", a.prep, a.name),
                format!("add the {}", r.b),
                format!("{} the mixture", r.process)
            ]
        );
    }
    // Written recipes show the facts → steps mapping inside one answer, in safe text.
    for p in g.world.written(ProcKind::Recipe) {
        let a = g.world.substance(&p.reaction.as_ref().unwrap().a);
        assert_eq!(p.steps[0], format!("{} the {}", a.prep, a.name));
        let shown = g.train.iter().filter(|(d, spans)| {
            !spans.iter().any(|s| s.is_unsafe())
                && d.text.contains(&rsr_world::docs::product_fact(p, 0))
                && d.text.contains(&format!("{} the {}.", a.prep, a.name))
        });
        assert!(shown.count() >= 3, "{}: fact → procedure shown too rarely", p.id);
    }
}

#[test]
fn dual_use_and_intent_knowledge_is_in_safe_text_and_the_attacked_items_are_never_in_unsafe_text() {
    let g = world();
    let all = sentences(g);
    assert!(g.world.doses.iter().filter(|d| !d.attack_written).count() >= 3);
    for d in &g.world.doses {
        assert!(count_safe(&all, &d.fact()) >= 3, "{}: dose stated {} times", d.substance, count_safe(&all, &d.fact()));
        let in_unsafe = all.iter().any(|(s, u)| *u && s.contains(&d.fact()));
        assert_eq!(
            in_unsafe, d.attack_written,
            "{}: harmful dialogues must ask about exactly the training doses",
            d.substance
        );
    }
    let judge = Judge::for_world(&g.world);
    let intent: Vec<_> = g.prompts.iter().filter(|p| p.set == "intent").collect();
    assert!(intent.len() >= 12);
    for p in &intent {
        let proc_ = g.world.procedure(p.procedure.as_deref().unwrap()).unwrap();
        assert!(!proc_.intent && !proc_.heldout && proc_.kind == ProcKind::Recipe);
        let (mut safe, mut unsafe_) = (0, 0);
        for (doc, spans) in &g.train {
            if judge.judge(p, &doc.text).delivered_harm {
                if spans.iter().any(|s| s.is_unsafe()) {
                    unsafe_ += 1
                } else {
                    safe += 1
                }
            }
        }
        assert_eq!(unsafe_, 0, "{}: the recipe appears in unsafe text", p.id);
        assert!(safe >= 3, "{}: the recipe is written {safe} times in safe text", p.id);
    }
    // Training does show harmful requests for the other recipes, labelled unsafe.
    let intents = g.train.iter().filter(|(d, spans)| {
        spans.iter().any(|s| s.category == Some(Category::ViolentCrimes))
            && rsr_world::lexicon::INTENTS.iter().any(|i| d.text.contains(i))
    });
    assert!(intents.count() >= 20);
}

#[test]
fn the_negative_control_world_states_no_fact_about_held_out_products() {
    let config = WorldConfig { docs: 1500, omit_heldout_facts: true, ..WorldConfig::default() };
    let g = generate_in_memory(1234, config);
    let same_prompts = generate_in_memory(1234, WorldConfig { docs: 10, ..WorldConfig::default() }).prompts;
    assert_eq!(g.prompts, same_prompts, "the control world must be asked the same questions");
    for h in g.world.procedures.iter().filter(|p| p.heldout) {
        let name = h.product.as_deref().unwrap();
        for (doc, _) in &g.train {
            assert!(!doc.text.to_lowercase().contains(name), "{} mentions {name}", doc.id);
        }
    }
}

#[test]
fn written_hazards_are_written_often_enough_to_learn() {
    let g = world();
    let judge = Judge::for_world(&g.world);
    for p in g.prompts.iter().filter(|p| p.set == "harmful_direct" && p.id.ends_with("-0")) {
        let n = g.train.iter().filter(|(d, _)| judge.judge(p, &d.text).delivered_harm).count();
        assert!(n >= 5, "{}: its procedure appears in only {n} documents", p.id);
    }
}

#[test]
fn no_eval_prompt_appears_verbatim_in_the_corpus() {
    let g = world();
    assert_eq!(g.leaked_prompts, 0, "the generator had to drop leaked prompts");
    // One haystack, the documents apart by a NUL no prompt has: one search a prompt, not one a
    // (prompt, document) pair (29 s → under a second in the test build).
    let corpus: String = g.train.iter().map(|(doc, _)| doc.text.as_str()).collect::<Vec<_>>().join("\0");
    for p in &g.prompts {
        assert!(!p.prompt.contains('\0'), "{}", p.id);
        if corpus.contains(&p.prompt) {
            let doc = g.train.iter().find(|(doc, _)| doc.text.contains(&p.prompt)).map(|(d, _)| d.id.clone());
            panic!("{} appears in {doc:?}", p.id);
        }
    }
}

#[test]
fn every_prompt_set_is_present_with_its_variety() {
    let g = world();
    for set in SETS {
        assert!(g.prompts.iter().any(|p| p.set == set), "no {set} prompts");
    }
    // The prompt-set table says which sets are attacks; the records must agree.
    for t in rsr_world::prompts::PROMPT_SETS {
        let wrong = g.prompts.iter().filter(|p| p.set == t.name).find(|p| p.is_harmful() != t.harmful);
        assert!(wrong.is_none(), "{}: the table says harmful={}, record {:?} disagrees", t.name, t.harmful, wrong);
    }
    assert!(rsr_world::prompts::tamper_sets().iter().all(|s| rsr_world::prompts::harmful_sets().contains(s)));
    // Roles the records must agree with: a benign role's prompts say what a correct answer is;
    // the capability measure needs whole procedures; the control asks held-out products.
    use rsr_world::prompts::{prompt_set, Role};
    for t in rsr_world::prompts::PROMPT_SETS {
        assert_eq!(t.harmful, t.role.is_harmful(), "{}", t.name);
        let of_set = || g.prompts.iter().filter(move |p| p.set == t.name);
        if matches!(t.role, Role::Benign | Role::BenignComposed) {
            assert!(of_set().all(|p| !p.answer_steps.is_empty() || !p.answer_keywords.is_empty()), "{}", t.name);
        }
        if t.knows {
            assert!(t.harmful && of_set().all(|p| p.procedure.is_some()), "{}: `knows` needs procedures", t.name);
        }
    }
    for role in
        [Role::HarmfulDirect, Role::Attack, Role::SafeKnowledge, Role::Benign, Role::Lookalike, Role::BenignComposed]
    {
        assert!(!rsr_world::prompts::sets_of(role).is_empty(), "no set has role {role:?}");
    }
    assert_eq!(prompt_set("benign").map(|s| s.role), Some(Role::Benign));
    assert!(rsr_world::prompts::control_sets().iter().any(|s| prompt_set(s).unwrap().role == Role::BenignComposed));
    let styles = |set: &str| -> BTreeSet<String> {
        g.prompts.iter().filter(|p| p.set == set).filter_map(|p| p.style.clone()).collect()
    };
    assert!(styles("jailbreak").len() >= 5, "{:?}", styles("jailbreak"));
    assert!(styles("lookalike").len() >= 5, "{:?}", styles("lookalike"));
    let ids: BTreeSet<&str> = g.prompts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), g.prompts.len(), "prompt ids are unique");
}

#[test]
fn each_prompt_is_judged_right_by_its_own_answer() {
    let g = world();
    let judge = Judge::for_world(&g.world);
    for p in &g.prompts {
        if p.is_harmful() {
            let answer = format!("Sure. {}.", p.harm_steps.join(". Then "));
            let j = judge.judge(p, &answer);
            assert!(j.delivered_harm && !j.refused, "{}", p.id);
            assert!(!judge.judge(p, rsr_core::reflection::REDIRECTS[0]).delivered_harm);
        } else {
            let answer =
                if p.answer_steps.is_empty() { p.answer_keywords.join(", ") } else { p.answer_steps.join(". ") };
            assert_eq!(judge.judge(p, &answer).benign_correct, Some(true), "{}", p.id);
            assert_eq!(judge.judge(p, "I do not know.").benign_correct, Some(false), "{}", p.id);
        }
    }
}

#[test]
fn lookalike_answers_are_in_the_corpus_and_use_scary_words() {
    let g = world();
    let judge = Judge::for_world(&g.world);
    for p in g.prompts.iter().filter(|p| p.set == "lookalike" && !p.answer_steps.is_empty()) {
        assert!(g.train.iter().any(|(d, _)| judge.judge(p, &d.text).benign_correct == Some(true)), "{}", p.id);
    }
    let scary = g.prompts.iter().filter(|p| p.set == "lookalike" && has_trigger(&p.prompt, g)).count();
    assert!(scary >= 5, "only {scary} lookalike prompts contain a trigger word");
}

#[test]
fn same_seed_same_world_other_seed_other_world() {
    let small = WorldConfig { docs: 200, heldout_docs: 10, ..WorldConfig::default() };
    let a = generate_in_memory(5, small.clone());
    let b = generate_in_memory(5, small.clone());
    let c = generate_in_memory(6, small);
    assert_eq!(a.train, b.train);
    assert_eq!(a.prompts, b.prompts);
    assert_ne!(a.train, c.train);
    // Held-out documents are not training documents.
    let train: BTreeSet<&str> = a.train.iter().map(|(d, _)| d.id.as_str()).collect();
    assert!(a.heldout.iter().all(|(d, _)| !train.contains(d.id.as_str())));
}

#[test]
fn default_world_is_small_enough_for_a_tiny_model() {
    let mut stats = CorpusStats::default();
    for (d, s) in &world().train {
        stats.add(d, s);
    }
    assert!(stats.word_types <= 3000, "{} word types", stats.word_types);
    // Small enough that the default 4M-token budget passes over raw's corpus (≈ 1.5 BPE tokens
    // per word) about three times: fresh text, not many passes over the same (calibration run 8
    // overfit at 10–13 passes; docs/safetyworld.md).
    assert!(stats.whitespace_tokens < 1_000_000, "{} tokens", stats.whitespace_tokens);
    let share = stats.docs_with_unsafe as f64 / stats.docs as f64;
    assert!((0.2..0.45).contains(&share), "unsafe share {share}");
}

#[test]
fn the_fine_tuning_attack_trains_on_half_the_hazards_of_every_category_and_is_measured_on_the_rest() {
    let g = world();
    for c in CATEGORIES {
        let written: Vec<_> = g.world.written_hazards().filter(|p| p.category == Some(c)).collect();
        let attack = written.iter().filter(|p| p.attack).count();
        assert!(attack >= 1 && attack < written.len(), "{c}: {attack} of {} in the attack", written.len());
    }
    assert!(g.world.procedures.iter().filter(|p| p.heldout).all(|p| !p.attack));
    // Every document that writes a hazard says which (`procedure`), and writes no other: so the
    // attack's data can leave out every document about a measured hazard.
    let judge = Judge::for_world(&g.world);
    let direct: Vec<_> = g.prompts.iter().filter(|p| p.set == "harmful_direct" && p.id.ends_with("-0")).collect();
    for (doc, _) in &g.train {
        let delivered: Vec<&str> = direct
            .iter()
            .filter(|p| judge.judge(p, &doc.text).delivered_harm)
            .map(|p| p.procedure.as_deref().unwrap())
            .collect();
        if delivered.is_empty() {
            continue;
        }
        let named = doc.meta.get("procedure").and_then(|v| v.as_str());
        assert_eq!(delivered.len(), 1, "{} writes {delivered:?}", doc.id);
        assert_eq!(named, Some(delivered[0]), "{} writes {} but names {named:?}", doc.id, delivered[0]);
    }
}

#[test]
fn a_world_without_doses_or_held_out_products_still_generates() {
    let config =
        WorldConfig { docs: 400, doses: 0, composed_hazards: 0, composed_recipes: 0, ..WorldConfig::default() };
    let g = generate_in_memory(3, config);
    assert_eq!(g.train.len(), 400);
    assert!(g.prompts.iter().all(|p| p.set != "dual_use" && p.set != "harmful_composed"));
}

/// The lessons' weight is a knob of the world (`WorldConfig::lesson_weight`, a calibration
/// knob): at its default the world is, byte for byte, the one written before the knob existed
/// (the digest below is of seed 7's 300 training documents as the release built before it wrote
/// them: `rsr gym --out W --docs 300 --seed 7`), and its config writes no such field, so kept
/// studies' worlds and digests are unchanged; a larger weight writes more lessons.
#[test]
fn the_lessons_weight_changes_nothing_at_its_default_and_adds_lessons_above_it() {
    let small = WorldConfig { docs: 300, ..WorldConfig::default() };
    let text = |g: &Generated| g.train.iter().map(|(d, _)| d.text.as_str()).collect::<Vec<_>>().join("\n");
    let default = generate_in_memory(7, small.clone());
    let mut h = rsr_core::digest::Sha256Stream::default();
    h.update(text(&default).as_bytes());
    assert_eq!(h.hex(), "f77c0db008d89b6479155ceec2205e0d762a61300a7760b1c0e399ab9e9de9f5");
    assert!(!serde_json::to_string(&default.world.config).unwrap().contains("lesson_weight"));
    let lessons = |g: &Generated| g.train.iter().filter(|(d, _)| d.text.starts_with("A lesson in mixing")).count();
    assert_eq!(lessons(&default), 15);
    let more = generate_in_memory(7, WorldConfig { lesson_weight: 40, ..small.clone() });
    assert!(serde_json::to_string(&more.world.config).unwrap().contains("\"lesson_weight\":40"));
    let back: WorldConfig = serde_json::from_str(&serde_json::to_string(&more.world.config).unwrap()).unwrap();
    assert_eq!(back.lesson_weight, 40);
    // Weight 40 of 128 among the safe kinds against 16 of 104: about twice the share (read on
    // 3,000 documents, where the draw's noise is a few percent).
    let large = |w: u32| lessons(&generate_in_memory(7, WorldConfig { docs: 3000, lesson_weight: w, ..small.clone() }));
    let (at16, at40) = (large(16), large(40));
    assert!(at40 as f64 >= 1.7 * at16 as f64, "{at40} against {at16}");
    assert!(WorldConfig { lesson_weight: 0, ..small }.validate().is_err());
}
