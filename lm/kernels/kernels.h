/* What the kernels share: bf16/fp16 conversions, the packed weight and activation layouts,
 * and the functions one file calls in another. See lm/quant.py for why these formats. */
#ifndef LM_KERNELS_H
#define LM_KERNELS_H
#include <stdint.h>

static inline float bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } x;
    x.u = (uint32_t)h << 16;
    return x.f;
}

static inline uint16_t f32_to_bf16(float f) {  /* round to nearest even, as torch does */
    union { uint32_t u; float f; } x;
    x.f = f;
    return (uint16_t)((x.u + 0x7fff + ((x.u >> 16) & 1)) >> 16);
}

static inline float f16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } x;
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {  /* zero or subnormal: m * 2^-24 */
        x.f = (float)m * 5.9604645e-8f;
        x.u |= sign;
    } else {
        x.u = sign | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112) << 23) | (m << 13));
    }
    return x.f;
}

/* A weight matrix [n, k] in blocks of 32 along k (k zero-padded to kp, a multiple of 32;
 * n to a multiple of 16): weight = d * u + m, u unsigned, d and m fp16 per (row, block).
 * Stored by stripes of 16 rows, block by block, so that one 64-byte load holds 4 consecutive
 * k of each of the 16 rows, the operand `vpdpbusd` wants (no horizontal sums):
 *   q, bits 8: [n/16][kp/32][8 chunks][16 rows][4], byte = u[16s+r][32b+4c+i];
 *   q, bits 4: [n/16][kp/32][4 chunks][16 rows][4], byte = u[16s+r][32b+8c+i]
 *              | u[16s+r][32b+8c+4+i] << 4;
 *   d, m: [n/16][kp/32][16 rows]. */
typedef struct {
    const uint8_t *q;
    const uint16_t *d, *m;
    const float *bias;  /* [n] or NULL */
    int64_t n, k, kp, bits;
} qmat;

/* Activations [rows, kp] quantised per block of 32: x = d * q. Per row: q [kp],
 * d [kp / 32], s [kp / 32] (d times the block's sum of q, which meets the weights' m). */
typedef struct {
    int8_t *q;
    float *d, *s;
    int64_t kp;
} qact;

void quantize_row(const float *x, int64_t k, const qact *a, int64_t row);
/* y[r, j] (+)= x[r] . w[j] (+ bias[j]) for rows r < rows and the outputs j of stripes
 * [s0, s1) (16 each). */
void qgemm_range(const qmat *w, const qact *x, int64_t rows, float *y, int64_t ldy,
                 int accumulate, int64_t s0, int64_t s1);
void item_attention(const uint16_t *qb, const uint16_t *kb, const uint16_t *vb, float *ob,
                    int64_t n, int64_t rep, int64_t L, int64_t hd, float scale,
                    float *scores, float *qf);
#endif
