//! Where a training step's time goes: each CPU kernel alone at the `small`
//! preset's shapes (batch 16 × 256, width 256, MLP 688, 8 heads, vocab 4096),
//! median of 15 calls, with GFLOP/s for the matrix products, and the step
//! time they add up to (5 layers + the output head).
//!
//!     cargo bench -p rsr-model --bench kernels

use rsr_model::ops::*;
use std::time::Instant;
/// Median time of `reps` calls of `f` (after one warm-up), printed.
fn t<F: FnMut()>(name: &str, reps: usize, mut f: F, flops: f64) -> f64 {
    f();
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    let m = v[reps / 2];
    println!("{name:<28} {:>8.2} ms  {:>6.1} GFLOP/s", m * 1e3, flops / m / 1e9);
    m
}
fn main() {
    let (b, tt, c, f, h, v) = (16usize, 256usize, 256usize, 688usize, 8usize, 4096usize);
    let n = b * tt;
    let r = |k: usize| (0..k).map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.1).collect::<Vec<f32>>();
    let (x, w, wf, wv) = (r(n * c), r(c * c), r(f * c), r(v * c));
    let (mut y, mut yf, mut yv) = (vec![0f32; n * c], vec![0f32; n * f], vec![0f32; n * v]);
    let mut dw = vec![0f32; c * c];
    let mut dwf = vec![0f32; f * c];
    let mut dwv = vec![0f32; v * c];
    let mut dx = vec![0f32; n * c];
    let mut dxf = vec![0f32; n * f];
    let reps = 15;
    let mut tot = 0.0;
    let fl = |a: usize, b: usize| 2.0 * (n * a * b) as f64;
    tot += 4.0 * t("linear c->c (x4)", reps, || linear(&mut y, &x, &w, n, c, c), fl(c, c));
    tot += 2.0 * t("linear c->f (x2)", reps, || linear(&mut yf, &x, &wf, n, c, f), fl(c, f));
    let xf = r(n * f);
    tot += t("linear f->c", reps, || linear(&mut y, &xf, &wf, n, f, c), fl(c, f));
    tot += 4.0
        * t(
            "linear_bw c->c (x4)",
            reps,
            || linear_backward(&mut dx, &mut dw, &y, &x, &w, n, c, c, false),
            2.0 * fl(c, c),
        );
    tot += 2.0
        * t(
            "linear_bw c->f (x2)",
            reps,
            || linear_backward(&mut dx, &mut dwf, &yf, &x, &wf, n, c, f, false),
            2.0 * fl(c, f),
        );
    tot +=
        t("linear_bw f->c", reps, || linear_backward(&mut dxf, &mut dwf, &y, &xf, &wf, n, f, c, false), 2.0 * fl(c, f));
    let (q, k, vv) = (r(n * c), r(n * c), r(n * c));
    let mut probs = vec![0f32; b * h * tt * tt];
    let attf = 2.0 * 2.0 * (b * h * tt * tt / 2 * (c / h)) as f64;
    tot += t("attention", reps, || attention(&mut y, &mut probs, &q, &k, &vv, b, tt, c, h), attf);
    let (mut dq, mut dk, mut dv) = (vec![0f32; n * c], vec![0f32; n * c], vec![0f32; n * c]);
    tot += t(
        "attention_bw",
        reps,
        || attention_backward(&mut dq, &mut dk, &mut dv, &x, &probs, &q, &k, &vv, b, tt, c, h),
        2.0 * attf,
    );
    let (cs, sn) = rope_tables(tt, c / h, 10000.0);
    tot += 4.0 * t("rope (x4)", reps, || rope(&mut dq, &cs, &sn, tt, c, c / h, false), 0.0);
    let mut rs = vec![0f32; n];
    let wn = r(c);
    tot += 2.0 * t("rmsnorm (x2)", reps, || rmsnorm(&mut y, &mut rs, &x, &wn, c, 1e-5), 0.0);
    let mut dwn = vec![0f32; c];
    tot += 2.0 * t("rmsnorm_bw (x2)", reps, || rmsnorm_backward(&mut dx, &mut dwn, &y, &x, &wn, &rs, c), 0.0);
    let (g, u) = (r(n * f), r(n * f));
    let mut hh = vec![0f32; n * f];
    tot += t("swiglu", reps, || swiglu(&mut hh, &g, &u), 0.0);
    let (mut dg, mut du) = (vec![0f32; n * f], vec![0f32; n * f]);
    tot += t("swiglu_bw", reps, || swiglu_backward(&mut dg, &mut du, &hh, &g, &u), 0.0);
    let mut res = vec![0f32; n * c];
    tot += 2.0 * t("residual add (x2)", reps, || res.iter_mut().zip(&x).for_each(|(r, x)| *r += x), 0.0);
    println!("per layer total {:.1} ms (x5 = {:.1} ms)", tot * 1e3, tot * 5e3);
    let mut head = t("head linear c->v", reps, || linear(&mut yv, &x, &wv, n, c, v), fl(c, v));
    let tg: Vec<u32> = (0..n as u32).map(|i| i * 31 % v as u32).collect();
    let mask = vec![1u8; n];
    let lg = r(n * v);
    head += t(
        "cross_entropy",
        reps,
        || {
            yv.copy_from_slice(&lg);
            cross_entropy(&mut yv, &tg, &mask, v);
        },
        0.0,
    );
    head +=
        t("head linear_bw", reps, || linear_backward(&mut dx, &mut dwv, &yv, &x, &wv, n, c, v, false), 2.0 * fl(c, v));
    println!(
        "head total {:.1} ms; step ~ {:.1} ms -> {:.0} tok/s",
        head * 1e3,
        (head + 5.0 * tot) * 1e3,
        n as f64 / (head + 5.0 * tot)
    );
}
