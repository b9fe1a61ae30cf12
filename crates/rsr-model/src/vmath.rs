//! Vectorised elementwise math for the kernels in [`crate::ops`]: `exp` as a
//! polynomial the compiler can put in SIMD registers (libm's `expf` is a
//! scalar call per element), and the row operations built on it (softmax
//! pieces, SwiGLU). Each public function is compiled twice — portable, and
//! with AVX2+FMA enabled — and picks the second at run time when the CPU has
//! it (the crate is built without `-C target-cpu`). Reductions use eight
//! fixed lanes added in a fixed order, so results are identical on both paths
//! and from run to run.

// The lane loops index explicitly so that LLVM sees eight independent sums.
#![allow(clippy::needless_range_loop)]

/// The public, dispatching wrapper of a row body: a portable build and an
/// AVX2+FMA build of `$imp` (an `#[inline(always)]` function), the second
/// chosen when the CPU has it. Bodies call each other's `*_row` functions
/// directly, so a composite (softmax) is one dispatch and one inlined loop nest.
macro_rules! simd_fn {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident : $ty:ty),*) $(-> $ret:ty)? = $imp:ident;) => {
        $(#[$m])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { $imp($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the features `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

const LANES: usize = 8;

/// `e^x` to within 2 ulp for `x` in [-87.3, 88.3] (clamped outside: the
/// smallest result is ~1e-38, not 0). Cephes' `expf`: `x = n·ln2 + r` with
/// `n` rounded to nearest by the 1.5·2²³ trick, a degree-6 polynomial for
/// `e^r`, and `2^n` built in the exponent bits. Branch-free, so it vectorises.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³
    let x = x.clamp(-87.3, 88.3);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * (r * r) + r + 1.0;
    // t's bits are 0x4B40_0000 + n, and 0x4B40_0000 has its low 9 bits zero,
    // so (bits + 127) << 23 is the float 2^n.
    y * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

#[inline(always)]
fn max_row(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for ch in &mut chunks {
        for l in 0..LANES {
            acc[l] = acc[l].max(ch[l]);
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        acc[l] = acc[l].max(v);
    }
    acc.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))
}

#[inline(always)]
fn exp_sum_row(x: &mut [f32], shift: f32, scale: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let mut chunks = x.chunks_exact_mut(LANES);
    for ch in &mut chunks {
        for l in 0..LANES {
            ch[l] = exp((ch[l] - shift) * scale);
            acc[l] += ch[l];
        }
    }
    for (l, v) in chunks.into_remainder().iter_mut().enumerate() {
        *v = exp((*v - shift) * scale);
        acc[l] += *v;
    }
    acc.iter().sum()
}

#[inline(always)]
fn scale_row(x: &mut [f32], s: f32) {
    for v in x.iter_mut() {
        *v *= s;
    }
}

#[inline(always)]
fn softmax_row(x: &mut [f32], scale: f32) {
    let m = max_row(x);
    let sum = exp_sum_row(x, m, scale);
    scale_row(x, 1.0 / sum);
}

#[inline(always)]
fn swiglu_row(h: &mut [f32], g: &[f32], u: &[f32]) {
    for ((h, &g), &u) in h.iter_mut().zip(g).zip(u) {
        *h = g / (1.0 + exp(-g)) * u;
    }
}

#[inline(always)]
fn swiglu_backward_row(dg: &mut [f32], du: &mut [f32], dh: &[f32], g: &[f32], u: &[f32]) {
    for ((((dg, du), &dh), &g), &u) in dg.iter_mut().zip(du.iter_mut()).zip(dh).zip(g).zip(u) {
        let s = 1.0 / (1.0 + exp(-g));
        *du = dh * g * s;
        *dg = dh * u * (s + g * s * (1.0 - s));
    }
}

simd_fn! {
    /// The largest element (−∞ for an empty slice).
    pub fn max(x: &[f32]) -> f32 = max_row;
}

simd_fn! {
    /// `x ← e^((x − shift)·scale)` in place; returns the sum of the results.
    pub fn exp_sum(x: &mut [f32], shift: f32, scale: f32) -> f32 = exp_sum_row;
}

simd_fn! {
    /// `x ← x · s` in place.
    pub fn scale(x: &mut [f32], s: f32) = scale_row;
}

simd_fn! {
    /// Softmax of `x · scale` in place (numerically stable).
    pub fn softmax(x: &mut [f32], scale: f32) = softmax_row;
}

simd_fn! {
    /// SwiGLU gate: `h = silu(g) · u`, `silu(g) = g / (1 + e^−g)`.
    pub fn swiglu(h: &mut [f32], g: &[f32], u: &[f32]) = swiglu_row;
}

simd_fn! {
    /// Backward of [`swiglu`]: `dg, du` (overwritten).
    pub fn swiglu_backward(dg: &mut [f32], du: &mut [f32], dh: &[f32], g: &[f32], u: &[f32]) = swiglu_backward_row;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm_over_the_range_that_matters() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (ours, want) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((ours - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 1e-37 && exp(-1000.0) >= 0.0);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn row_operations_match_the_scalar_definitions() {
        // 19 elements: two full lanes of 8 and a remainder.
        let x: Vec<f32> = (0..19).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.7).collect();
        assert_eq!(max(&x), x.iter().cloned().fold(f32::NEG_INFINITY, f32::max));
        let mut sm = x.clone();
        softmax(&mut sm, 0.5);
        let m = max(&x);
        let z: f64 = x.iter().map(|&v| (((v - m) * 0.5) as f64).exp()).sum();
        for (s, &v) in sm.iter().zip(&x) {
            let want = (((v - m) * 0.5) as f64).exp() / z;
            assert!((*s as f64 - want).abs() < 1e-6, "{s} vs {want}");
        }
        let (g, u, dh): (Vec<f32>, Vec<f32>, Vec<f32>) =
            (x.clone(), x.iter().map(|v| v * 0.3 + 1.0).collect(), x.iter().map(|v| 1.0 - v * 0.1).collect());
        let mut h = vec![0f32; 19];
        swiglu(&mut h, &g, &u);
        let (mut dg, mut du) = (vec![0f32; 19], vec![0f32; 19]);
        swiglu_backward(&mut dg, &mut du, &dh, &g, &u);
        for i in 0..19 {
            let (g, u) = (g[i] as f64, u[i] as f64);
            let s = 1.0 / (1.0 + (-g).exp());
            assert!((h[i] as f64 - g * s * u).abs() < 1e-6);
            assert!((du[i] as f64 - dh[i] as f64 * g * s).abs() < 1e-6);
            assert!((dg[i] as f64 - dh[i] as f64 * u * (s + g * s * (1.0 - s))).abs() < 1e-6);
        }
    }
}
