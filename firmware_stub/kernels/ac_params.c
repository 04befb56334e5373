/* Layer parameters kept compact in flash and expanded into RAM right before the layer runs
 * (deploy.objective balanced or size, where the flash saved is worth more than the instructions
 * spent): the kernels then read exactly the tables they would have read from flash, so they are
 * unchanged and as fast, and the expansion computes every value with the arithmetic the generator
 * (deploy/ops/conv_emit.py, deploy/quant.py) uses for the flash tables. */
#include "ac_kernels.h"

#include "ac_fixedpoint.h"

/* One row {bias', multiplier, r, 2^(r-1) + (output_offset << r)}; the generator checked that the
 * rounding term fits int32 (r >= 1), so the unsigned sum converts back exactly. */
static inline void requant_row(int32_t *row, int32_t bias, int32_t multiplier, int32_t r, int32_t zp)
{
    row[0] = bias;
    row[1] = multiplier;
    row[2] = r;
    row[3] = (int32_t)((1u << (r - 1)) + ((uint32_t)zp << r));
}

void ac_requant_expand(const ac_requant_compact *c, int32_t *rows)
{
    const int32_t n = c->out_c, zp = c->output_offset;
    const int32_t *bias = c->bias, *mult = c->multiplier;
    const uint8_t *r = c->r;
    int32_t i;
    for (i = 0; i < n; ++i, rows += 4) {
        requant_row(rows, bias[i], mult[i], r[i], zp);
    }
}

void ac_requant_expand_sparse(const ac_requant_compact_sparse *s, int32_t *rows)
{
    const ac_requant_compact *c = &s->c;
    const int32_t n = c->out_c, zp = c->output_offset;
    const int32_t *bias = c->bias, *mult = c->multiplier;
    const uint8_t *r = c->r, *pairs = s->pairs;
    int32_t i;
    for (i = 0; i < n; ++i, rows += 4) {
        requant_row(rows, bias[i], mult[i], r[i], zp);
        rows[2] |= (int32_t)pairs[i] << 8;
    }
}

/* TFLM's per-element input rescale of ADD for every int8 value (index q + 128), as ac_add computes
 * it without tables: MultiplyByQuantizedMultiplierSmallerThanOneExp((q + offset) << left_shift). */
static void add_table(int32_t offset, int32_t multiplier, int32_t shift, int32_t left_shift, int32_t *table)
{
    const ac_rq64 q = ac_rq64_make(multiplier, shift);
    int32_t v;
    for (v = -128; v < 128; ++v) {
        table[v + 128] = ac_rq64_apply(&q, (int32_t)((uint32_t)(v + offset) << left_shift));
    }
}

void ac_add_expand_tables(const ac_add_params *p, int32_t *table1, int32_t *table2)
{
    add_table(p->input1_offset, p->input1_multiplier, p->input1_shift, p->left_shift, table1);
    add_table(p->input2_offset, p->input2_multiplier, p->input2_shift, p->left_shift, table2);
}
