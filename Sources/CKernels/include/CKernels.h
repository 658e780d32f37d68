#ifndef BERG_CKERNELS_H
#define BERG_CKERNELS_H

/// Element-wise kernels that Swift cannot compile for the CPU's widest vectors: each is built
/// for AVX-512, AVX2 and the baseline, and each call runs the one the CPU has (on x86-64;
/// elsewhere, the baseline only). Every variant does the same IEEE operations in the same
/// order (no fused multiply-adds), so results are bit-identical whichever runs.

/// nl(x) = log(1 + |x|) · tanh(x), BERG's fwRF non-linearity (about 1 ulp).
float berg_log_tanh(float x);

/// out[i] = nl(x[i]) for i < count; out may be x itself.
void berg_log_tanh_array(const float *x, float *out, long count);

/// Σ nl(x[i]) · w[i] over i < count, in 16 partial sums added in a fixed order.
float berg_log_tanh_dot(const float *x, const float *w, long count);

/// nl′(x) = |tanh x| / (1 + |x|) + log(1 + |x|) · (1 − tanh² x), 0 at x = 0.
float berg_log_tanh_slope(float x);

/// value[i] = nl(x[i]) and slope[i] = nl′(x[i]) from one log and one tanh (value has
/// berg_log_tanh_array's bits); the three arrays must not overlap.
void berg_log_tanh_value_slope_array(const float *x, float *value, float *slope, long count);

/// berg_log_tanh_dot(x, w, count), bit for bit, and out[i] = w[i] · nl′(x[i]) in the same
/// pass; out must not overlap x or w.
float berg_log_tanh_dot_slope(const float *x, const float *w, float *out, long count);

#endif
