/* PAD / PADV2 int8 with a constant (the zero point for PAD, the given value for PADV2). */
#include <string.h>

#include "ac_kernels.h"

void ac_pad(const ac_pad_params *p, const int8_t *input, int8_t *output)
{
    const int32_t *id = p->in_dims, *od = p->out_dims;
    int32_t total = od[0] * od[1] * od[2] * od[3], i0, i1, i2;
    memset(output, p->value, (size_t)total);
    /* Copy each innermost input row to its place in the output. */
    for (i0 = 0; i0 < id[0]; ++i0)
    for (i1 = 0; i1 < id[1]; ++i1)
    for (i2 = 0; i2 < id[2]; ++i2) {
        const int32_t src = ((i0 * id[1] + i1) * id[2] + i2) * id[3];
        const int32_t dst = (((i0 + p->before[0]) * od[1] + (i1 + p->before[1])) * od[2] + (i2 + p->before[2])) * od[3] + p->before[3];
        memcpy(output + dst, input + src, (size_t)id[3]);
    }
}
