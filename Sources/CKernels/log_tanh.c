#include "CKernels.h"
#include <stdint.h>
#include <string.h>

// No fused multiply-adds: the vector variants must give the scalar variant's bits.
#pragma clang fp contract(off)

#if defined(__x86_64__) && defined(__clang__)
#define BERG_X86 1
#endif

static inline uint32_t bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float from_bits(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/// 1.5 · 2^23: adding it to a float of magnitude below 2^22 leaves the nearest integer (ties
/// to even) in the low mantissa bits.
static const float magic = 12582912.0f;

/// e^x for 0 ≤ x ≤ 18: x = n·ln2 + r, e^x = 2^n · e^r with a polynomial for e^r.
static inline float exp_small(float x) {
    float shifted = x * 1.44269504088896341f + magic;
    float n = shifted - magic;  // round(x / ln 2)
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * z + r + 1;
    int32_t integer = (int32_t)bits(shifted) - 0x4B400000;
    return er * from_bits((uint32_t)(integer + 127) << 23);
}

/// Natural log for u ≥ 1 (finite): u = m·2^e with m in [√½, √2), log u = e·ln2 + log m
/// (Cephes' logf polynomial).
static inline float log_from_one(float u) {
    int32_t b = (int32_t)bits(u);
    float e = (float)((b >> 23) - 127);
    float m = from_bits(((uint32_t)b & 0x007FFFFFu) | 0x3F800000u);
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    float f = m - 1;
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = f * z * p;
    y = y - 2.12194440e-4f * e;
    y = y - 0.5f * z;
    return f + y + 0.693359375f * e;
}

/// tanh(x), given a = |x|: a polynomial below 0.625, 1 − 2/(e^{2a} + 1) above.
static inline float tanh_with_magnitude(float x, float a) {
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float t = exp_small(2 * (a > 9 ? 9 : a));
    float large = 1 - 2 / (t + 1);
    float sign_bit = from_bits(bits(large) | (bits(x) & 0x80000000u));
    return a < 0.625f ? small : sign_bit;
}

static inline float log_tanh(float x) {
    float a = from_bits(bits(x) & 0x7FFFFFFFu);
    return log_from_one(1 + a) * tanh_with_magnitude(x, a);
}

float berg_log_tanh(float x) { return log_tanh(x); }

/// nl(x) and nl′(x) = |tanh x| / (1 + |x|) + log(1 + |x|) · (1 − tanh² x) from one log and one
/// tanh; the value has log_tanh's bits (the same product), and nl′(0) = 0 as PyTorch
/// differentiates |x| there.
static inline void log_tanh_value_slope(float x, float *value, float *slope) {
    float a = from_bits(bits(x) & 0x7FFFFFFFu);
    float t = tanh_with_magnitude(x, a), l = log_from_one(1 + a);
    *value = l * t;
    *slope = from_bits(bits(t) & 0x7FFFFFFFu) / (1 + a) + l * (1 - t * t);
}

float berg_log_tanh_slope(float x) {
    float value, slope;
    log_tanh_value_slope(x, &value, &slope);
    return slope;
}

// Each loop is compiled three times (AVX-512, AVX2, baseline) and picked per call from the CPU's
// features: a plain branch rather than an ifunc, whose resolver would run before sanitizers
// (make test-tsan) are set up.
#define BERG_ARRAY_LOOP for (long i = 0; i < count; i++) out[i] = log_tanh(x[i]);

#define BERG_VALUE_SLOPE_LOOP for (long i = 0; i < count; i++) log_tanh_value_slope(x[i], &value[i], &slope[i]);

/* BERG_DOT_LOOP's sums (the same partial sums in the same order), and out[i] = w[i] · nl′(x[i]). */
#define BERG_DOT_SLOPE_LOOP                                                             \
    float s[16] = {0};                                                                  \
    long i = 0;                                                                         \
    float v, d;                                                                         \
    for (; i + 16 <= count; i += 16) {                                                  \
        for (int j = 0; j < 16; j++) {                                                  \
            log_tanh_value_slope(x[i + j], &v, &d);                                     \
            s[j] += v * w[i + j];                                                       \
            out[i + j] = w[i + j] * d;                                                  \
        }                                                                               \
    }                                                                                   \
    for (int j = 0; i + j < count; j++) {                                               \
        log_tanh_value_slope(x[i + j], &v, &d);                                         \
        s[j] += v * w[i + j];                                                           \
        out[i + j] = w[i + j] * d;                                                      \
    }                                                                                   \
    for (int half = 8; half >= 1; half /= 2) {                                          \
        for (int j = 0; j < half; j++) s[j] += s[j + half];                             \
    }                                                                                   \
    return s[0];

#define BERG_DOT_LOOP                                                                   \
    float s[16] = {0};                                                                  \
    long i = 0;                                                                         \
    for (; i + 16 <= count; i += 16) {                                                  \
        for (int j = 0; j < 16; j++) s[j] += log_tanh(x[i + j]) * w[i + j];             \
    }                                                                                   \
    for (int j = 0; i + j < count; j++) s[j] += log_tanh(x[i + j]) * w[i + j];          \
    /* A fixed tree: halves, quarters, eighths, then the last pair. */                  \
    for (int half = 8; half >= 1; half /= 2) {                                          \
        for (int j = 0; j < half; j++) s[j] += s[j + half];                             \
    }                                                                                   \
    return s[0];

static void array_baseline(const float *x, float *out, long count) { BERG_ARRAY_LOOP }
static float dot_baseline(const float *x, const float *w, long count) { BERG_DOT_LOOP }
static void value_slope_baseline(const float *restrict x, float *restrict value, float *restrict slope, long count) { BERG_VALUE_SLOPE_LOOP }
static float dot_slope_baseline(const float *restrict x, const float *restrict w, float *restrict out, long count) { BERG_DOT_SLOPE_LOOP }

#ifdef BERG_X86
__attribute__((target("avx512f"))) static void array_avx512(const float *x, float *out, long count) { BERG_ARRAY_LOOP }
__attribute__((target("avx2"))) static void array_avx2(const float *x, float *out, long count) { BERG_ARRAY_LOOP }
__attribute__((target("avx512f"))) static float dot_avx512(const float *x, const float *w, long count) { BERG_DOT_LOOP }
__attribute__((target("avx2"))) static float dot_avx2(const float *x, const float *w, long count) { BERG_DOT_LOOP }
__attribute__((target("avx512f"))) static void value_slope_avx512(const float *restrict x, float *restrict value, float *restrict slope, long count) { BERG_VALUE_SLOPE_LOOP }
__attribute__((target("avx2"))) static void value_slope_avx2(const float *restrict x, float *restrict value, float *restrict slope, long count) { BERG_VALUE_SLOPE_LOOP }
__attribute__((target("avx512f"))) static float dot_slope_avx512(const float *restrict x, const float *restrict w, float *restrict out, long count) { BERG_DOT_SLOPE_LOOP }
__attribute__((target("avx2"))) static float dot_slope_avx2(const float *restrict x, const float *restrict w, float *restrict out, long count) { BERG_DOT_SLOPE_LOOP }

/// 2: AVX-512, 1: AVX2, 0: neither.
static int vector_level(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
}
#endif

void berg_log_tanh_array(const float *x, float *out, long count) {
#ifdef BERG_X86
    switch (vector_level()) {
    case 2: array_avx512(x, out, count); return;
    case 1: array_avx2(x, out, count); return;
    }
#endif
    array_baseline(x, out, count);
}

float berg_log_tanh_dot(const float *x, const float *w, long count) {
#ifdef BERG_X86
    switch (vector_level()) {
    case 2: return dot_avx512(x, w, count);
    case 1: return dot_avx2(x, w, count);
    }
#endif
    return dot_baseline(x, w, count);
}


void berg_log_tanh_value_slope_array(const float *x, float *value, float *slope, long count) {
#ifdef BERG_X86
    switch (vector_level()) {
    case 2: value_slope_avx512(x, value, slope, count); return;
    case 1: value_slope_avx2(x, value, slope, count); return;
    }
#endif
    value_slope_baseline(x, value, slope, count);
}

float berg_log_tanh_dot_slope(const float *x, const float *w, float *out, long count) {
#ifdef BERG_X86
    switch (vector_level()) {
    case 2: return dot_slope_avx512(x, w, out, count);
    case 1: return dot_slope_avx2(x, w, out, count);
    }
#endif
    return dot_slope_baseline(x, w, out, count);
}
