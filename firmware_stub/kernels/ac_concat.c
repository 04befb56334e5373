/* CONCATENATION int8. TFLM copies the raw int8 values without requantization (its int8 path
 * is the unquantized reference Concatenation), so inputs with a different scale or zero point
 * than the output are copied as they are, exactly as TFLM does. */
#include <string.h>

#include "ac_kernels.h"

void ac_concat(const ac_concat_params *p, const int8_t *const *inputs, int8_t *output)
{
    int32_t o, i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->num_inputs; ++i) {
            const int32_t n = p->axis_sizes[i] * p->inner;
            memcpy(output, inputs[i] + o * n, (size_t)n);
            output += n;
        }
    }
}
