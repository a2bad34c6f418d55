/* Matmuls over packed 4- and 8-bit weights (lm/quant.py packs them; kernels.h has the layouts).
 *
 * Activations are quantised to int8 per block of 32 (as llama.cpp does), so a block's dot
 * product is an integer one. With AVX512-VNNI, one `vpdpbusd` takes 4 consecutive weights
 * of 16 output rows against 4 broadcast activations, so each lane sums one output's dot
 * product and no horizontal sums are needed; the float work is two fused multiply-adds per
 * block of 32 and 16 outputs. Each weight vector serves up to 8 activation rows before
 * the next is loaded, so a 16-row decode step reads the weights twice, not 16 times.
 * (A first layout, 64 weights of one row per vector, reduced horizontally per output and
 * ran at a third of this speed from 16 rows on, and at 6 GB/s for one row.)
 * Without VNNI (or with -DLM_GENERIC, which the tests build) plain C loops compute the
 * same sums; both agree with lm/quant.py's reference in tests/lm/test_quant_native.py.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && !defined(LM_GENERIC)
#define LM_VNNI 1
#include <immintrin.h>
#endif

void quantize_row(const float *x, int64_t k, const qact *a, int64_t row) {
    const int64_t kp = a->kp, nb = kp / 32;
    int8_t *q = a->q + row * kp;
    float *d = a->d + row * nb, *s = a->s + row * nb;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t lo = b * 32, n = lo >= k ? 0 : (k - lo < 32 ? k - lo : 32);
        float amax = 0.f, v[32] = {0};
        memcpy(v, x + lo, sizeof(float) * n);
        for (int i = 0; i < 32; i++) amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
        const float id = amax > 0.f ? 127.f / amax : 0.f;
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) {
            const int32_t u = (int32_t)lrintf(v[i] * id);
            q[lo + i] = (int8_t)u;
            sum += u;
        }
        d[b] = amax / 127.f;
        s[b] = d[b] * (float)sum;
    }
}

static inline int64_t stripe_bytes(const qmat *w) { return w->kp / 32 * (w->bits == 4 ? 256 : 512); }

#ifdef LM_VNNI
static inline __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* out[t] = stripe s's 16 outputs for activation rows r0..r0+MT-1. Inlined once per
 * (MT, bits), so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void stripe(const int MT, const int bits, const qmat *w,
                                                         int64_t s, const qact *x, int64_t r0,
                                                         __m512 *out) {
    const int64_t nb = w->kp / 32, kp = w->kp;
    const uint8_t *wq = w->q + s * stripe_bytes(w);
    const uint16_t *ds = w->d + s * nb * 16, *ms = w->m + s * nb * 16;
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512 acc[8];
    for (int t = 0; t < MT; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        /* Two chains per row where registers allow: one dpbusd chain of 8 waits on its own
         * latency (the one-row case ran at half the memory speed on one chain). */
        __m512i dot[8], dot2[8];
        for (int t = 0; t < MT; t++) dot[t] = dot2[t] = _mm512_setzero_si512();
        if (bits == 4) {
            for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_loadu_si512(wq + (b * 4 + c) * 64);
                const __m512i lo = _mm512_and_si512(v, low);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
                for (int t = 0; t < MT; t++) {
                    const int8_t *xq = x->q + (r0 + t) * kp + b * 32 + c * 8;
                    dot[t] = _mm512_dpbusd_epi32(dot[t], lo, bcast4(xq));
                    if (MT <= 4) dot2[t] = _mm512_dpbusd_epi32(dot2[t], hi, bcast4(xq + 4));
                    else dot[t] = _mm512_dpbusd_epi32(dot[t], hi, bcast4(xq + 4));
                }
            }
        } else {
            for (int c = 0; c < 8; c++) {
                const __m512i v = _mm512_loadu_si512(wq + (b * 8 + c) * 64);
                for (int t = 0; t < MT; t++) {
                    const __m512i xv = bcast4(x->q + (r0 + t) * kp + b * 32 + c * 4);
                    if (MT <= 4 && c % 2) dot2[t] = _mm512_dpbusd_epi32(dot2[t], v, xv);
                    else dot[t] = _mm512_dpbusd_epi32(dot[t], v, xv);
                }
            }
        }
        if (MT <= 4)
            for (int t = 0; t < MT; t++) dot[t] = _mm512_add_epi32(dot[t], dot2[t]);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(ds + b * 16)));
        const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(ms + b * 16)));
        for (int t = 0; t < MT; t++) {
            const int64_t at = (r0 + t) * nb + b;
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), _mm512_mul_ps(dw, _mm512_set1_ps(x->d[at])), acc[t]);
            acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x->s[at]), acc[t]);
        }
    }
    for (int t = 0; t < MT; t++) out[t] = acc[t];
}

static void stripe_rows(const qmat *w, int64_t s, const qact *x, int64_t r0, int mt, float *y,
                        int64_t ldy, int accumulate) {
    __m512 out[8];
#define S(N) case N: if (w->bits == 4) stripe(N, 4, w, s, x, r0, out); \
                     else stripe(N, 8, w, s, x, r0, out); break;
    switch (mt) { S(1) S(2) S(3) S(4) S(5) S(6) S(7) S(8) }
#undef S
    const int64_t n0 = s * 16, valid = w->n - n0 < 16 ? w->n - n0 : 16;
    const __mmask16 k = (__mmask16)((1u << valid) - 1);
    const __m512 bias = w->bias ? _mm512_maskz_loadu_ps(k, w->bias + n0) : _mm512_setzero_ps();
    for (int t = 0; t < mt; t++) {
        float *dst = y + (r0 + t) * ldy + n0;
        __m512 v = _mm512_add_ps(out[t], bias);
        if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, dst));
        _mm512_mask_storeu_ps(dst, k, v);
    }
}
#else
static void stripe_rows(const qmat *w, int64_t s, const qact *x, int64_t r0, int mt, float *y,
                        int64_t ldy, int accumulate) {
    const int64_t nb = w->kp / 32, kp = w->kp, n0 = s * 16;
    const uint8_t *wq = w->q + s * stripe_bytes(w);
    for (int64_t j = 0; j < 16 && n0 + j < w->n; j++) {
        for (int t = 0; t < mt; t++) {
            const int8_t *xq = x->q + (r0 + t) * kp;
            float acc = 0.f;
            for (int64_t b = 0; b < nb; b++) {
                int32_t sum = 0;
                for (int i = 0; i < 32; i++) {
                    int32_t u;
                    if (w->bits == 8) {
                        u = wq[b * 512 + (i / 4) * 64 + j * 4 + i % 4];
                    } else {
                        const uint8_t byte = wq[b * 256 + (i / 8) * 64 + j * 4 + i % 4];
                        u = i % 8 < 4 ? byte & 15 : byte >> 4;
                    }
                    sum += u * xq[b * 32 + i];
                }
                const int64_t at = (r0 + t) * nb + b;
                acc += f16_to_f32(w->d[(s * nb + b) * 16 + j]) * x->d[at] * (float)sum
                     + f16_to_f32(w->m[(s * nb + b) * 16 + j]) * x->s[at];
            }
            float *dst = y + (r0 + t) * ldy + n0 + j;
            acc += w->bias ? w->bias[n0 + j] : 0.f;
            *dst = accumulate ? *dst + acc : acc;
        }
    }
}
#endif

void qgemm_range(const qmat *w, const qact *x, int64_t rows, float *y, int64_t ldy,
                 int accumulate, int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; s++)
        for (int64_t r0 = 0; r0 < rows; r0 += 8)
            stripe_rows(w, s, x, r0, rows - r0 < 8 ? (int)(rows - r0) : 8, y, ldy, accumulate);
}
