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

#[test]
fn compositional_hazards_are_never_written_but_their_facts_are() {
    let g = world();
    let judge = Judge::for_world(&g.world);
    let composed: Vec<_> = g.prompts.iter().filter(|p| p.set == "harmful_composed").collect();
    assert!(!composed.is_empty());
    let heldout: Vec<_> = g.world.hazards().filter(|p| p.heldout).collect();
    assert!(heldout.len() >= 3);
    for h in &heldout {
        let record = composed.iter().find(|p| p.procedure.as_deref() == Some(&h.id)).unwrap();
        let r = h.reaction.as_ref().unwrap();
        let a = g.world.substance(&r.a);
        let fact = rsr_world::docs::reaction_fact(h);
        let rule = format!("Like every {}, {} must be {} before use.", a.form, a.name, a.prep_done);
        let mut fact_seen = 0;
        let mut rule_seen = 0;
        for (doc, spans) in &g.train {
            assert!(
                !judge.judge(record, &doc.text).delivered_harm,
                "{} writes the held-out procedure {}",
                doc.id,
                h.id
            );
            for s in spans {
                let sentence = &doc.text[s.start..s.end];
                if sentence == fact {
                    assert!(!s.is_unsafe(), "the reaction fact must be labelled safe");
                    fact_seen += 1;
                }
                if sentence == rule {
                    rule_seen += 1;
                }
            }
        }
        assert!(fact_seen >= 3, "{}: reaction fact seen {fact_seen} times", h.id);
        assert!(rule_seen >= 3, "{}: preparation rule for {} seen {rule_seen} times", h.id, a.name);
        // The procedure follows from the facts by the same rule every recipe obeys.
        assert_eq!(h.steps[0], format!("{} the {}", a.prep, a.name));
        assert_eq!(h.steps[1], format!("add the {}", r.b));
        assert_eq!(h.steps[2], format!("{} the mixture", r.process));
    }
    // ... and recipes written out in the corpus obey that rule.
    for p in g.world.of_kind(ProcKind::Recipe) {
        let a = g.world.substance(&p.reaction.as_ref().unwrap().a);
        assert_eq!(p.steps[0], format!("{} the {}", a.prep, a.name));
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
    for p in &g.prompts {
        for (doc, _) in &g.train {
            assert!(!doc.text.contains(&p.prompt), "{} appears in {}", p.id, doc.id);
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
    assert!(stats.whitespace_tokens < 400_000, "{} tokens", stats.whitespace_tokens);
    let share = stats.docs_with_unsafe as f64 / stats.docs as f64;
    assert!((0.2..0.45).contains(&share), "unsafe share {share}");
}
