/* Single-query attention over a bf16 KV cache: one decode step for a batch of rows.
 *
 * Row b attends to its own keys [0, pos[b]] only, so a short conversation batched with a
 * long one reads its own length, not the longest. K and V are read once per (row, KV head)
 * for all the query heads that share it (grouped-query attention). Scores and sums are
 * fp32. Built by lm/native.py with -O3 -march=native -ffast-math: the loops below are
 * written to vectorise (the dot product over head_dim, the exp over positions).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static inline float bf16(uint16_t h) {
    union { uint32_t u; float f; } x;
    x.u = (uint32_t)h << 16;
    return x.f;
}

/* One (row, KV head) work item. Inlined once per common head_dim below, so the loops
 * over d have a constant trip count and unroll into a few vector instructions. */
static inline void item_attention(const uint16_t *qb, const uint16_t *kb, const uint16_t *vb,
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
        float *ob = out + item * rep * hd;
        switch (hd) {
#define HD(N) case N: item_attention(qb, kb, vb, ob, n, rep, L, N, scale, scores, qf); break;
        HD(32) HD(48) HD(64) HD(80) HD(96) HD(128)
#undef HD
        default: item_attention(qb, kb, vb, ob, n, rep, L, hd, scale, scores, qf);
        }
    }
    free(scores); free(qf);
    return 0;
}
