//! The noisy annotator: ground truth passed through a classifier's errors, to
//! study what label noise does to each method.
//!
//! For every span of the reference annotation: an unsafe span of category `c`
//! is *missed* (labelled safe) with probability `miss[c]`; a safe span raises a
//! *false alarm* of category `c` with probability `false_alarm[c]`. Decisions
//! come from a stream keyed by (seed, document id, span index), so they do not
//! depend on the order of documents or on sharding.
//!
//! Spec strings (CLI `--noise`): comma-separated `KEY=RATE`, where KEY is
//! `miss`, `false_alarm` (all categories), or `CATEGORY.miss` /
//! `CATEGORY.false_alarm` (one category), e.g.
//! `miss=0.2,false_alarm=0.05,weapons.miss=0.5`. A bare `false_alarm` rate is
//! split evenly over `categories`.

use rand::Rng;
use rsr_core::annotation::{LabelKind, Span};
use rsr_core::rng::stream;
use rsr_core::taxonomy::Category;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NoiseConfig {
    pub seed: u64,
    pub miss: BTreeMap<Category, f64>,
    pub false_alarm: BTreeMap<Category, f64>,
}

impl NoiseConfig {
    /// Parse a spec string; `categories` receive the bare rates.
    pub fn parse(spec: &str, categories: &[Category], seed: u64) -> Result<Self, String> {
        let mut cfg = NoiseConfig { seed, ..Default::default() };
        let mut bare_fa = None;
        let mut bare_miss = None;
        let mut specific = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, rate) = part.split_once('=').ok_or_else(|| format!("noise entry `{part}` is not KEY=RATE"))?;
            let rate: f64 =
                rate.trim().parse().map_err(|_| format!("noise entry `{part}`: `{rate}` is not a number"))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("noise entry `{part}`: rate must be in [0, 1]"));
            }
            match key.trim() {
                "miss" => bare_miss = Some(rate),
                "false_alarm" => bare_fa = Some(rate),
                k => {
                    let (cat, what) = k.rsplit_once('.').ok_or_else(|| {
                        format!("noise key `{k}`: expected miss, false_alarm, CATEGORY.miss or CATEGORY.false_alarm")
                    })?;
                    let cat: Category = cat.parse()?;
                    match what {
                        "miss" | "false_alarm" => specific.push((cat, what == "miss", rate)),
                        _ => return Err(format!("noise key `{k}`: `{what}` is neither miss nor false_alarm")),
                    }
                }
            }
        }
        for &c in categories {
            if let Some(r) = bare_miss {
                cfg.miss.insert(c, r);
            }
            if let Some(r) = bare_fa {
                cfg.false_alarm.insert(c, r / categories.len() as f64);
            }
        }
        for (c, is_miss, r) in specific {
            if is_miss { &mut cfg.miss } else { &mut cfg.false_alarm }.insert(c, r);
        }
        let total_fa: f64 = cfg.false_alarm.values().sum();
        if total_fa > 1.0 {
            return Err(format!("false-alarm rates sum to {total_fa:.3} > 1"));
        }
        Ok(cfg)
    }

    /// Apply the noise to the spans of document `id`.
    pub fn apply(&self, id: &str, spans: &[Span]) -> Vec<Span> {
        spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut rng = stream(self.seed, &format!("{id}#{i}"));
                let u: f64 = rng.gen();
                let mut out = s.clone();
                match (s.label, s.category) {
                    (LabelKind::Unsafe, Some(c)) => {
                        if u < self.miss.get(&c).copied().unwrap_or(0.0) {
                            out.label = LabelKind::Safe;
                            out.category = None;
                            out.score = Some(0.0);
                        }
                    }
                    _ => {
                        let mut acc = 0.0;
                        for (&c, &r) in &self.false_alarm {
                            acc += r;
                            if u < acc {
                                out.label = LabelKind::Unsafe;
                                out.category = Some(c);
                                out.score = Some(1.0);
                                break;
                            }
                        }
                    }
                }
                out
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bare_and_per_category_rates() {
        let cats = [Category::Weapons, Category::Hate];
        let c = NoiseConfig::parse("miss=0.2, false_alarm=0.1, weapons.miss=0.5", &cats, 1).unwrap();
        assert_eq!(c.miss[&Category::Weapons], 0.5);
        assert_eq!(c.miss[&Category::Hate], 0.2);
        assert!((c.false_alarm[&Category::Hate] - 0.05).abs() < 1e-12);
        assert!(NoiseConfig::parse("miss=2", &cats, 1).is_err());
        assert!(NoiseConfig::parse("poison.miss=0.1", &cats, 1).unwrap_err().contains("unknown category"));
        assert!(NoiseConfig::parse("weapons.oops=0.1", &cats, 1).is_err());
    }

    #[test]
    fn observed_rates_match_the_configured_rates() {
        let cats = [Category::Weapons, Category::Hate];
        let cfg = NoiseConfig::parse("weapons.miss=0.3,hate.miss=0.0,weapons.false_alarm=0.1", &cats, 9).unwrap();
        let spans: Vec<Span> = (0..3)
            .map(|k| match k {
                0 => Span::safe(0, 1),
                1 => Span::unsafe_(1, 2, Category::Weapons),
                _ => Span::unsafe_(2, 3, Category::Hate),
            })
            .collect();
        let n = 20_000;
        let (mut miss_w, mut miss_h, mut fa) = (0, 0, 0);
        for d in 0..n {
            let out = cfg.apply(&format!("d{d}"), &spans);
            fa += out[0].is_unsafe() as u32;
            miss_w += !out[1].is_unsafe() as u32;
            miss_h += !out[2].is_unsafe() as u32;
            if out[0].is_unsafe() {
                assert_eq!(out[0].category, Some(Category::Weapons));
            }
        }
        let rate = |k: u32| k as f64 / n as f64;
        assert!((rate(miss_w) - 0.3).abs() < 0.015, "weapons miss {}", rate(miss_w));
        assert_eq!(miss_h, 0);
        assert!((rate(fa) - 0.1).abs() < 0.01, "false alarm {}", rate(fa));
        // Deterministic.
        assert_eq!(cfg.apply("x", &spans), cfg.apply("x", &spans));
    }
}
