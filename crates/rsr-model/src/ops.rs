//! CPU kernels, forward and backward, in the llm.c style: plain loops over
//! row-major `f32` slices, rayon across rows, and the `gemm` crate for every
//! matrix product. Shapes are in comments: `N` = batch × time rows, `C` =
//! width, `T` = time, `D` = head size.

// Kernels index explicitly (as llm.c does) and take the shapes as arguments.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use crate::vmath;
use blas::Parallelism;
// The `avx512` feature swaps in gemm 0.19 with its AVX-512 kernels; the same API either way.
#[cfg(not(feature = "avx512"))]
use gemm as blas;
#[cfg(feature = "avx512")]
use gemm_avx512 as blas;
use rayon::prelude::*;

/// Threads for the big matrix products (set once from the trainer).
pub fn parallelism() -> Parallelism {
    let n = rayon::current_num_threads();
    if n > 1 {
        Parallelism::Rayon(n)
    } else {
        Parallelism::None
    }
}

/// A strided matrix view: element (i, j) at `ptr[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct View {
    pub rs: isize,
    pub cs: isize,
}

impl View {
    /// Row-major with `cols` columns.
    pub fn rows(cols: usize) -> Self {
        View { rs: cols as isize, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn t(cols: usize) -> Self {
        View { rs: 1, cs: cols as isize }
    }
}

/// `out[m×n] = (acc ? out : 0) + a[m×k] · b[k×n]`, with any strides.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    out: &mut [f32],
    ov: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    m: usize,
    k: usize,
    n: usize,
    acc: bool,
    par: Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: callers pass slices that hold every element the views address
    // (checked by the debug assertions on the last element).
    debug_assert!(((m - 1) as isize * ov.rs + (n - 1) as isize * ov.cs) < out.len() as isize);
    debug_assert!(k == 0 || ((m - 1) as isize * av.rs + (k - 1) as isize * av.cs) < a.len() as isize);
    debug_assert!(k == 0 || ((k - 1) as isize * bv.rs + (n - 1) as isize * bv.cs) < b.len() as isize);
    unsafe {
        blas::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            ov.cs,
            ov.rs,
            acc,
            a.as_ptr(),
            av.cs,
            av.rs,
            b.as_ptr(),
            bv.cs,
            bv.rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Linear layer, weights stored `[out, in]` as in PyTorch: `y[N×o] = x[N×i] · Wᵀ`.
pub fn linear(y: &mut [f32], x: &[f32], w: &[f32], n: usize, i: usize, o: usize) {
    matmul(y, View::rows(o), x, View::rows(i), w, View::t(i), n, i, o, false, parallelism());
}

/// Backward of [`linear`]: `dx (+)= dy · W`, `dW += dyᵀ · x`.
pub fn linear_backward(
    dx: &mut [f32],
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    n: usize,
    i: usize,
    o: usize,
    acc_dx: bool,
) {
    matmul(dx, View::rows(i), dy, View::rows(o), w, View::rows(i), n, o, i, acc_dx, parallelism());
    matmul(dw, View::rows(i), dy, View::t(o), x, View::rows(i), o, n, i, true, parallelism());
}

/// RMSNorm: `y = x / sqrt(mean(x²) + eps) * w`; stores `rstd[N]`.
pub fn rmsnorm(y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], c: usize, eps: f32) {
    y.par_chunks_mut(c).zip(rstd.par_iter_mut()).zip(x.par_chunks(c)).for_each(|((y, r), x)| {
        let ms = x.iter().map(|v| v * v).sum::<f32>() / c as f32;
        *r = 1.0 / (ms + eps).sqrt();
        for j in 0..c {
            y[j] = x[j] * *r * w[j];
        }
    });
}

/// Backward of [`rmsnorm`]: `dx += …`, `dw += Σ dy·x·rstd`.
pub fn rmsnorm_backward(dx: &mut [f32], dw: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], rstd: &[f32], c: usize) {
    dx.par_chunks_mut(c).zip(dy.par_chunks(c)).zip(x.par_chunks(c)).zip(rstd.par_iter()).for_each(
        |(((dx, dy), x), &r)| {
            let dot: f32 = (0..c).map(|j| dy[j] * w[j] * x[j]).sum::<f32>() / c as f32;
            for j in 0..c {
                dx[j] += r * dy[j] * w[j] - r * r * r * x[j] * dot;
            }
        },
    );
    // dw: partial sums over fixed blocks of rows, added in order, so the
    // result does not depend on how rayon schedules the blocks.
    const BLOCK: usize = 64;
    let parts: Vec<Vec<f32>> = dy
        .par_chunks(BLOCK * c)
        .zip(x.par_chunks(BLOCK * c))
        .zip(rstd.par_chunks(BLOCK))
        .map(|((dy, x), r)| {
            let mut acc = vec![0f32; c];
            for (n, &r) in r.iter().enumerate() {
                for j in 0..c {
                    acc[j] += dy[n * c + j] * x[n * c + j] * r;
                }
            }
            acc
        })
        .collect();
    for p in parts {
        for j in 0..c {
            dw[j] += p[j];
        }
    }
}

/// RoPE tables for positions `0..t`: `cos/sin[t × D/2]`, as Hugging Face Llama computes them.
pub fn rope_tables(t: usize, d: usize, theta: f32) -> (Vec<f32>, Vec<f32>) {
    let half = d / 2;
    let mut cos = vec![0f32; t * half];
    let mut sin = vec![0f32; t * half];
    for p in 0..t {
        for i in 0..half {
            let inv = 1.0 / theta.powf((2 * i) as f32 / d as f32);
            let a = p as f32 * inv;
            cos[p * half + i] = a.cos();
            sin[p * half + i] = a.sin();
        }
    }
    (cos, sin)
}

/// Rotate every head of `x[N × C]` in place (HF "rotate_half" layout: the
/// pair is (i, i + D/2)). `inverse` applies the transpose rotation, which is
/// the backward pass.
pub fn rope(x: &mut [f32], cos: &[f32], sin: &[f32], t: usize, c: usize, d: usize, inverse: bool) {
    let half = d / 2;
    let s = if inverse { -1.0 } else { 1.0 };
    x.par_chunks_mut(c).enumerate().for_each(|(row, x)| {
        let p = row % t;
        for head in x.chunks_mut(d) {
            for i in 0..half {
                let (co, si) = (cos[p * half + i], s * sin[p * half + i]);
                let (a, b) = (head[i], head[i + half]);
                head[i] = a * co - b * si;
                head[i + half] = b * co + a * si;
            }
        }
    });
}

/// Rows per block of the causal attention: a block of queries only meets the
/// keys up to its last row, which skips most of the masked upper triangle.
/// Small sequences still get several blocks, so tests exercise the blocking.
fn causal_block(t: usize) -> usize {
    (t / 4).clamp(1, 32)
}

/// Causal self-attention per (batch, head). `q,k,v,out[N × C]`, `probs[B·H × T × T]`.
pub fn attention(
    out: &mut [f32],
    probs: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    b: usize,
    t: usize,
    c: usize,
    h: usize,
) {
    debug_assert_eq!(probs.len(), b * h * t * t);
    let d = c / h;
    let scale = 1.0 / (d as f32).sqrt();
    let bs = causal_block(t);
    let out_ptr = SendPtr(out.as_mut_ptr());
    let kt = View { rs: 1, cs: c as isize }; // kᵀ of a head: (D × T)
    probs.par_chunks_mut(t * t).enumerate().for_each(|(bh, p)| {
        let (bi, hi) = (bh / h, bh % h);
        let base = bi * t * c + hi * d;
        // SAFETY: each (batch, head) writes a disjoint set of columns of `out`.
        let out = unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(base), (t - 1) * c + d) };
        for r0 in (0..t).step_by(bs) {
            let r1 = (r0 + bs).min(t);
            // scores[r0..r1, 0..r1] = q[r0..r1] kᵀ[.., 0..r1]
            matmul(
                &mut p[r0 * t..],
                View::rows(t),
                &q[base + r0 * c..],
                View::rows(c),
                &k[base..],
                kt,
                r1 - r0,
                d,
                r1,
                false,
                Parallelism::None,
            );
            for i in r0..r1 {
                let row = &mut p[i * t..(i + 1) * t];
                vmath::softmax(&mut row[..=i], scale);
                row[i + 1..].fill(0.0);
            }
            // out[r0..r1] = P[r0..r1, 0..r1] v[0..r1]
            matmul(
                &mut out[r0 * c..],
                View::rows(c),
                &p[r0 * t..],
                View::rows(t),
                &v[base..],
                View::rows(c),
                r1 - r0,
                r1,
                d,
                false,
                Parallelism::None,
            );
        }
    });
}

/// Backward of [`attention`]: writes `dq, dk, dv` (overwritten).
pub fn attention_backward(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    probs: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    b: usize,
    t: usize,
    c: usize,
    h: usize,
) {
    let d = c / h;
    let scale = 1.0 / (d as f32).sqrt();
    let bs = causal_block(t);
    let (dq_p, dk_p, dv_p) = (SendPtr(dq.as_mut_ptr()), SendPtr(dk.as_mut_ptr()), SendPtr(dv.as_mut_ptr()));
    (0..b * h).into_par_iter().for_each_init(
        || vec![0f32; t * t],
        |ds, bh| {
            let (bi, hi) = (bh / h, bh % h);
            let base = bi * t * c + hi * d;
            let p = &probs[bh * t * t..(bh + 1) * t * t];
            let len = (t - 1) * c + d;
            // SAFETY: each (batch, head) touches only its own columns.
            let (dq, dk, dv) = unsafe {
                (
                    std::slice::from_raw_parts_mut(dq_p.get().add(base), len),
                    std::slice::from_raw_parts_mut(dk_p.get().add(base), len),
                    std::slice::from_raw_parts_mut(dv_p.get().add(base), len),
                )
            };
            for r0 in (0..t).step_by(bs) {
                let r1 = (r0 + bs).min(t);
                let (m, first) = (r1 - r0, r0 == 0);
                // dv[0..r1] += P[r0..r1, 0..r1]ᵀ dout[r0..r1]
                matmul(
                    dv,
                    View::rows(c),
                    &p[r0 * t..],
                    View::t(t),
                    &dout[base + r0 * c..],
                    View::rows(c),
                    r1,
                    m,
                    d,
                    !first,
                    Parallelism::None,
                );
                if first {
                    // Rows past the first block's keys start from zero too.
                    for row in r1..t {
                        dv[row * c..row * c + d].fill(0.0);
                        dk[row * c..row * c + d].fill(0.0);
                    }
                }
                // dP[r0..r1, 0..r1] = dout[r0..r1] vᵀ
                matmul(
                    &mut ds[r0 * t..],
                    View::rows(t),
                    &dout[base + r0 * c..],
                    View::rows(c),
                    &v[base..],
                    View { rs: 1, cs: c as isize },
                    m,
                    d,
                    r1,
                    false,
                    Parallelism::None,
                );
                // dS = P ⊙ (dP − rowsum(dP ⊙ P)), times the score scale.
                for i in r0..r1 {
                    let (pr, dr) = (&p[i * t..(i + 1) * t], &mut ds[i * t..(i + 1) * t]);
                    let dot: f32 = (0..=i).map(|j| pr[j] * dr[j]).sum();
                    for j in 0..r1 {
                        dr[j] = if j <= i { pr[j] * (dr[j] - dot) * scale } else { 0.0 };
                    }
                }
                // dq[r0..r1] = dS k[0..r1] ; dk[0..r1] += dSᵀ q[r0..r1]
                matmul(
                    &mut dq[r0 * c..],
                    View::rows(c),
                    &ds[r0 * t..],
                    View::rows(t),
                    &k[base..],
                    View::rows(c),
                    m,
                    r1,
                    d,
                    false,
                    Parallelism::None,
                );
                matmul(
                    dk,
                    View::rows(c),
                    &ds[r0 * t..],
                    View::t(t),
                    &q[base + r0 * c..],
                    View::rows(c),
                    r1,
                    m,
                    d,
                    !first,
                    Parallelism::None,
                );
            }
        },
    );
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: used only to hand disjoint regions of one buffer to rayon tasks.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Elements per rayon task in the elementwise kernels.
const ELEMS: usize = 1 << 14;

/// SwiGLU gate: `h = silu(g) * u`.
pub fn swiglu(h: &mut [f32], g: &[f32], u: &[f32]) {
    h.par_chunks_mut(ELEMS)
        .zip(g.par_chunks(ELEMS))
        .zip(u.par_chunks(ELEMS))
        .for_each(|((h, g), u)| vmath::swiglu(h, g, u));
}

/// Backward of [`swiglu`]: `dg, du` (overwritten).
pub fn swiglu_backward(dg: &mut [f32], du: &mut [f32], dh: &[f32], g: &[f32], u: &[f32]) {
    dg.par_chunks_mut(ELEMS)
        .zip(du.par_chunks_mut(ELEMS))
        .zip(dh.par_chunks(ELEMS).zip(g.par_chunks(ELEMS)).zip(u.par_chunks(ELEMS)))
        .for_each(|((dg, du), ((dh, g), u))| vmath::swiglu_backward(dg, du, dh, g, u));
}

/// Masked mean cross-entropy. `logits[N × V]` is turned into `dlogits` in
/// place (∂loss/∂logits); rows whose `mask` is 0 get zero gradient and add
/// nothing to the loss. Returns (loss, trainable rows).
pub fn cross_entropy(logits: &mut [f32], targets: &[u32], mask: &[u8], v: usize) -> (f32, usize) {
    let n_train = mask.iter().filter(|&&m| m == 1).count();
    if n_train == 0 {
        logits.iter_mut().for_each(|x| *x = 0.0);
        return (0.0, 0);
    }
    let inv = 1.0 / n_train as f32;
    // Per-row losses collected in order and summed sequentially: deterministic.
    let losses: Vec<f32> = logits
        .par_chunks_mut(v)
        .zip(targets.par_iter())
        .zip(mask.par_iter())
        .map(|((row, &t), &m)| {
            if m == 0 {
                row.iter_mut().for_each(|x| *x = 0.0);
                return 0.0;
            }
            let max = vmath::max(row);
            let sum = vmath::exp_sum(row, max, 1.0);
            let p_t = row[t as usize] / sum;
            vmath::scale(row, inv / sum);
            row[t as usize] -= inv;
            -p_t.max(1e-30).ln()
        })
        .collect();
    (losses.iter().sum::<f32>() * inv, n_train)
}
