/* Single-query attention over a bf16 KV cache: one decode step for a batch of rows.
 *
 * Row b attends to its own keys [0, pos[b]] only, so a short conversation batched with a
 * long one reads its own length, not the longest. K and V are read once per (row, KV head)
 * for all the query heads that share it (grouped-query attention). Scores and sums are
 * fp32. Built by lm/native.py with -O3 -march=native -ffast-math: the loops below are
 * written to vectorise (the dot product over head_dim, the exp over positions).
 *
 * With AVX512-BF16 and a head_dim of 32, 64, 96 or 128, `item_bf16` does the same with
 * `vdpbf16ps` on the bf16 keys as they are (no conversion), 16 keys' dot products summed
 * horizontally in one transposing tree, and values converted once per key for all the
 * heads that read them: a 16-row step at 180 positions spent a fifth of its time in
 * attention before.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BF16__) && !defined(LM_GENERIC)
#define LM_BF16 1
#include <immintrin.h>
#endif

#define bf16 bf16_to_f32

/* One (row, KV head) work item. Inlined once per common head_dim below, so the loops
 * over d have a constant trip count and unroll into a few vector instructions. */
static inline void item_impl(const uint16_t *qb, const uint16_t *kb, const uint16_t *vb,
                                  float *ob, int64_t n, int64_t rep, int64_t L, const int64_t hd,
                                  float scale, float *scores, float *qf) {
    for (int64_t i = 0; i < rep * hd; i++) qf[i] = bf16(qb[i]) * scale;
    for (int64_t j = 0; j < n; j++) {
        const uint16_t *kj = kb + j * hd;
        for (int64_t r = 0; r < rep; r++) {
            float s = 0.f;
            for (int64_t d = 0; d < hd; d++) s += qf[r * hd + d] * bf16(kj[d]);
            scores[r * L + j] = s;
        }
    }
    for (int64_t r = 0; r < rep; r++) {
        float *sr = scores + r * L, mx = sr[0], sum = 0.f;
        for (int64_t j = 1; j < n; j++) mx = sr[j] > mx ? sr[j] : mx;
        for (int64_t j = 0; j < n; j++) { sr[j] = expf(sr[j] - mx); sum += sr[j]; }
        const float inv = 1.f / sum;
        for (int64_t j = 0; j < n; j++) sr[j] *= inv;
        for (int64_t d = 0; d < hd; d++) ob[r * hd + d] = 0.f;
    }
    for (int64_t j = 0; j < n; j++) {
        const uint16_t *vj = vb + j * hd;
        for (int64_t r = 0; r < rep; r++) {
            const float p = scores[r * L + j];
            for (int64_t d = 0; d < hd; d++) ob[r * hd + d] += p * bf16(vj[d]);
        }
    }
}

#ifdef LM_BF16
/* r[i] = the sum of a[i]'s 16 lanes, for 16 vectors at once. */
static inline __m512 hsum16(const __m512 *a) {
    __m512 t[8], u[4], v[2];
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 4; i++) {
        const __m512d x = _mm512_castps_pd(t[2 * i]), y = _mm512_castps_pd(t[2 * i + 1]);
        u[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    for (int i = 0; i < 2; i++)
        v[i] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], 0x88), _mm512_shuffle_f32x4(v[0], v[1], 0xdd));
}

static inline __m512 bf16x16(const uint16_t *p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

static inline __attribute__((always_inline)) void item_bf16(
        const uint16_t *qb, const uint16_t *kb, const uint16_t *vb, float *ob, int64_t n,
        int64_t rep, int64_t L, const int64_t hd, float scale, float *scores) {
    const int C = (int)(hd / 32), R = hd <= 64 ? 4 : 2;  /* R: heads whose outputs fit in registers */
    for (int64_t r = 0; r < rep; r++) {
        __m512bh qv[4];
        for (int c = 0; c < C; c++) qv[c] = (__m512bh)_mm512_loadu_si512(qb + r * hd + 32 * c);
        float *sr = scores + r * L;
        __m512 mx = _mm512_set1_ps(-3.0e38f);  /* not -inf: -ffast-math assumes none */
        for (int64_t j0 = 0; j0 < n; j0 += 16) {
            const int64_t nk = n - j0 < 16 ? n - j0 : 16;
            __m512 acc[16];
            for (int jj = 0; jj < 16; jj++) {
                acc[jj] = _mm512_setzero_ps();
                if (jj < nk)
                    for (int c = 0; c < C; c++)
                        acc[jj] = _mm512_dpbf16_ps(acc[jj], qv[c],
                                                   (__m512bh)_mm512_loadu_si512(kb + (j0 + jj) * hd + 32 * c));
            }
            const __mmask16 k = (__mmask16)((1u << nk) - 1);
            const __m512 sc = _mm512_mul_ps(hsum16(acc), _mm512_set1_ps(scale));
            mx = _mm512_mask_max_ps(mx, k, mx, sc);
            _mm512_mask_storeu_ps(sr + j0, k, sc);
        }
        const float m = _mm512_reduce_max_ps(mx);
        float sum = 0.f;
        for (int64_t j = 0; j < n; j++) { sr[j] = expf(sr[j] - m); sum += sr[j]; }
        const float inv = 1.f / sum;
        for (int64_t j = 0; j < n; j++) sr[j] *= inv;
    }
    for (int64_t r0 = 0; r0 < rep; r0 += R) {
        const int nr = rep - r0 < R ? (int)(rep - r0) : R;
        __m512 o[4][8];
        for (int rr = 0; rr < R; rr++)
            for (int c = 0; c < hd / 16; c++) o[rr][c] = _mm512_setzero_ps();
        for (int64_t j = 0; j < n; j++)
            for (int c = 0; c < hd / 16; c++) {
                const __m512 vf = bf16x16(vb + j * hd + 16 * c);
                for (int rr = 0; rr < nr; rr++)
                    o[rr][c] = _mm512_fmadd_ps(_mm512_set1_ps(scores[(r0 + rr) * L + j]), vf, o[rr][c]);
            }
        for (int rr = 0; rr < nr; rr++)
            for (int c = 0; c < hd / 16; c++) _mm512_storeu_ps(ob + (r0 + rr) * hd + 16 * c, o[rr][c]);
    }
}
#endif

/* One query row's heads that share a KV head, against its first n keys (lm/kernels/forward.c
 * calls this too). scores: rep * L floats of scratch, qf: rep * hd. */
void item_attention(const uint16_t *qb, const uint16_t *kb, const uint16_t *vb, float *ob,
                    int64_t n, int64_t rep, int64_t L, int64_t hd, float scale,
                    float *scores, float *qf) {
    switch (hd) {
#ifdef LM_BF16
#define HD(N) case N: item_bf16(qb, kb, vb, ob, n, rep, L, N, scale, scores); return;
    HD(32) HD(64) HD(96) HD(128)
#undef HD
#define HD(N) case N: item_impl(qb, kb, vb, ob, n, rep, L, N, scale, scores, qf); return;
    HD(48) HD(80)
#else
#define HD(N) case N: item_impl(qb, kb, vb, ob, n, rep, L, N, scale, scores, qf); return;
    HD(32) HD(48) HD(64) HD(80) HD(96) HD(128)
#endif
#undef HD
    default: item_impl(qb, kb, vb, ob, n, rep, L, hd, scale, scores, qf);
    }
}

/* q [B, KV, rep, hd] bf16; k, v [B, KV, L, hd] bf16; pos [B]; out [B, KV, rep, hd] fp32.
 * Work items (row, KV head) in [first, last): callers may split a batch across threads.
 * Returns 0, or -1 when scratch memory could not be had. */
int decode_attention_bf16(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                          const int64_t *pos, float *out, int64_t KV, int64_t rep,
                          int64_t L, int64_t hd, float scale, int64_t first, int64_t last) {
    float *scores = malloc(sizeof(float) * rep * L);
    float *qf = malloc(sizeof(float) * rep * hd);
    if (!scores || !qf) {
        free(scores); free(qf);
        return -1;
    }
    for (int64_t item = first; item < last; item++) {
        const int64_t b = item / KV;
        const int64_t n = pos[b] + 1 < L ? pos[b] + 1 : L;
        const uint16_t *qb = q + item * rep * hd, *kb = k + item * L * hd, *vb = v + item * L * hd;
        item_attention(qb, kb, vb, out + item * rep * hd, n, rep, L, hd, scale, scores, qf);
    }
    free(scores); free(qf);
    return 0;
}
