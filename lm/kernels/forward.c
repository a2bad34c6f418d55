/* A whole forward pass of a quantised Llama in one call: every layer's RMSNorm, q/k/v, RoPE,
 * KV-cache write, attention, output projection, SwiGLU MLP and residual adds, then the final
 * norm and lm_head, over any mix of queries (decode rows, a prompt chunk, evaluation).
 *
 * Why one call: SmolLM2-135M has 30 small layers, and as torch ops a decode step was ~25
 * dispatches per layer, each a few microseconds of Python and allocation; that overhead
 * alone was longer than reading the weights. Here a step runs in one OpenMP parallel
 * region (torch's own libgomp, so no second thread pool competes for the cores), the
 * threads split each matmul's outputs and meet at a barrier between stages.
 *
 * Query i sits at position pos[i] of cache row first_row + i / T and attends to that row's
 * keys [0, pos[i]]; all of a layer's keys are written before any query reads, so a prompt
 * chunk is causal. Residuals, norms and RoPE are fp32; keys, values and queries meet in bf16
 * in lm/kernels/decode_attention.c, as on the torch path.
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

typedef struct {
    const float *ln1, *ln2;
    qmat qkv, o, gate_up, down;
} qlayer;

typedef struct {
    int64_t layers, hidden, inter, heads, kv_heads, head_dim, vocab;
    float eps;
    const qlayer *layer;
    const float *norm, *cos, *sin;  /* final RMSNorm weight; RoPE tables [positions, head_dim] */
    qmat head;
} qmodel;

static int act_alloc(qact *a, int64_t rows, int64_t k) {
    a->kp = (k + 31) / 32 * 32;
    a->q = malloc((size_t)(rows * a->kp));
    a->d = malloc(sizeof(float) * (size_t)(rows * a->kp / 32));
    a->s = malloc(sizeof(float) * (size_t)(rows * a->kp / 32));
    return a->q && a->d && a->s;
}

static void act_free(qact *a) { free(a->q); free(a->d); free(a->s); }

/* This thread's share of a matmul's outputs, then wait for the others. */
static void gemm(const qmat *w, const qact *a, int64_t rows, float *y, int64_t ldy, int acc) {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads(), S = (w->n + 15) / 16;
    qgemm_range(w, a, rows, y, ldy, acc, S * t / nt, S * (t + 1) / nt);
#pragma omp barrier
}

static void norm_quant(const float *x, const float *w, int64_t H, float eps, float *tmp,
                       const qact *a, int64_t row) {
    float ss = 0.f;
    for (int64_t i = 0; i < H; i++) ss += x[i] * x[i];
    const float r = 1.f / sqrtf(ss / (float)H + eps);
    for (int64_t i = 0; i < H; i++) tmp[i] = x[i] * r * w[i];
    quantize_row(tmp, H, a, row);
}

/* Rotate-half RoPE of one head, written out as bf16. */
static void rope_bf16(const float *v, const float *c, const float *s, int64_t hd, uint16_t *out) {
    const int64_t h = hd / 2;
    for (int64_t d = 0; d < h; d++) {
        out[d] = f32_to_bf16(v[d] * c[d] - v[d + h] * s[d]);
        out[d + h] = f32_to_bf16(v[d + h] * c[d + h] + v[d] * s[d + h]);
    }
}

/* x [M, hidden]: the input embeddings, left holding the last hidden states. logits:
 * [M / T, vocab] (each row's last query) when last_only, else [M, vocab]. kc, vc: each
 * layer's cache [rows, kv_heads, L, head_dim] bf16. Returns 0, or -1 without memory. */
int llama_forward(const qmodel *md, float *x, int64_t M, int64_t T, int64_t first_row,
                  const int64_t *pos, uint16_t *const *kc, uint16_t *const *vc, int64_t L,
                  int64_t last_only, float *logits) {
    const int64_t H = md->hidden, I = md->inter, nh = md->heads, nkv = md->kv_heads;
    const int64_t hd = md->head_dim, rep = nh / nkv, A = nh * hd, nqkv = A + 2 * nkv * hd;
    const int64_t n_out = last_only ? M / T : M, wide = H > I ? H : I;
    const float scale = 1.f / sqrtf((float)hd);
    qact ah, aa, ai;
    int ok = act_alloc(&ah, M, H) & act_alloc(&aa, M, A) & act_alloc(&ai, M, I), failed = 0;
    float *qkv = malloc(sizeof(float) * (size_t)(M * nqkv)), *att = malloc(sizeof(float) * (size_t)(M * A));
    float *gu = malloc(sizeof(float) * (size_t)(M * 2 * I));
    uint16_t *qb = malloc(sizeof(uint16_t) * (size_t)(M * A));
    if (ok && qkv && att && gu && qb) {
#pragma omp parallel
        {
            float *tmp = malloc(sizeof(float) * (size_t)wide);
            float *scores = malloc(sizeof(float) * (size_t)(rep * L)), *qf = malloc(sizeof(float) * (size_t)(rep * hd));
            if (!tmp || !scores || !qf) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp barrier
            for (int64_t l = 0; l < md->layers && !failed; l++) {
                const qlayer *ly = md->layer + l;
#pragma omp for
                for (int64_t i = 0; i < M; i++) norm_quant(x + i * H, ly->ln1, H, md->eps, tmp, &ah, i);
                gemm(&ly->qkv, &ah, M, qkv, nqkv, 0);
#pragma omp for
                for (int64_t i = 0; i < M; i++) {
                    const int64_t row = first_row + i / T, p = pos[i];
                    const float *c = md->cos + p * hd, *s = md->sin + p * hd, *v = qkv + i * nqkv;
                    for (int64_t h = 0; h < nh; h++) rope_bf16(v + h * hd, c, s, hd, qb + i * A + h * hd);
                    for (int64_t g = 0; g < nkv; g++) {
                        const int64_t at = ((row * nkv + g) * L + p) * hd;
                        rope_bf16(v + A + g * hd, c, s, hd, kc[l] + at);
                        for (int64_t d = 0; d < hd; d++) vc[l][at + d] = f32_to_bf16(v[A + (nkv + g) * hd + d]);
                    }
                }
#pragma omp for
                for (int64_t item = 0; item < M * nkv; item++) {
                    const int64_t i = item / nkv, g = item % nkv, row = first_row + i / T;
                    const int64_t n = pos[i] + 1 < L ? pos[i] + 1 : L, at = (row * nkv + g) * L * hd;
                    item_attention(qb + item * rep * hd, kc[l] + at, vc[l] + at, att + item * rep * hd,
                                   n, rep, L, hd, scale, scores, qf);
                }
#pragma omp for
                for (int64_t i = 0; i < M; i++) quantize_row(att + i * A, A, &aa, i);
                gemm(&ly->o, &aa, M, x, H, 1);
#pragma omp for
                for (int64_t i = 0; i < M; i++) norm_quant(x + i * H, ly->ln2, H, md->eps, tmp, &ah, i);
                gemm(&ly->gate_up, &ah, M, gu, 2 * I, 0);
#pragma omp for
                for (int64_t i = 0; i < M; i++) {
                    const float *g = gu + i * 2 * I, *u = g + I;
                    for (int64_t j = 0; j < I; j++) tmp[j] = g[j] / (1.f + expf(-g[j])) * u[j];
                    quantize_row(tmp, I, &ai, i);
                }
                gemm(&ly->down, &ai, M, x, H, 1);
            }
            if (!failed) {
#pragma omp for
                for (int64_t j = 0; j < n_out; j++)
                    norm_quant(x + (last_only ? j * T + T - 1 : j) * H, md->norm, H, md->eps, tmp, &ah, j);
                gemm(&md->head, &ah, n_out, logits, md->vocab, 0);
            }
            free(tmp); free(scores); free(qf);
        }
    } else {
        failed = 1;
    }
    act_free(&ah); act_free(&aa); act_free(&ai);
    free(qkv); free(att); free(gu); free(qb);
    return failed ? -1 : 0;
}

/* y [rows, n] = x [rows, k] @ w^T (+ bias): one packed matmul, for the modules' own forward. */
int qlinear(const qmat *w, const float *x, int64_t rows, float *y) {
    qact a;
    int ok = act_alloc(&a, rows, w->k);
    if (ok) {
#pragma omp parallel
        {
#pragma omp for
            for (int64_t r = 0; r < rows; r++) quantize_row(x + r * w->k, w->k, &a, r);
            gemm(w, &a, rows, y, w->n, 0);
        }
    }
    act_free(&a);
    return ok ? 0 : -1;
}
