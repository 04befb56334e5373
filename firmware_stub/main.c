/* acdeploy firmware: runs every test vector through the generated network, compares the int8
 * outputs with the ones TFLite Micro produced on the host, and prints per vector the class, the
 * match and the raw outputs, then one RESULT line. Exit status 0 when every output matches.
 *
 * Output format (parsed by deploy/firmware.py):
 *   VECTOR <i> class=<argmax> expected_class=<argmax> match=<0|1> max_abs_diff=<n> instructions=<n>
 *   OUTPUT <i> <o0> <o1> ...
 *   RESULT passed=<0|1> vectors=<n> mismatches=<n> instructions=<n> stack_used=<n> stack_size=<n>
 * and, in the layer-profiling build (make PROFILE=1), after vector 0:
 *   LAYER <i> instructions=<n>
 * `instructions` is the largest count of one inference over the vectors (0 on the host).
 *
 * With the audio front end (AC_FRONTEND), FRONTEND and AUDIO lines follow the vectors (frontend/acfront_run.h)
 * and the host build reads raw PCM clips with `firmware --audio-stream` (`acdeploy eval --engine c-audio`).
 *
 * The host build also has a streaming mode for `acdeploy eval --engine c`: `firmware --stream`
 * reads ACNET_INPUT_SIZE-byte int8 records from stdin and writes ACNET_OUTPUT_SIZE-byte outputs. */
#include <stdint.h>
#include <string.h>

#include "acnet.h"
#include "board/board.h"
#include "test_vectors.h"

#if defined(AC_HOST)
#include <stdio.h>
#endif
#if defined(AC_FRONTEND)
#include "acfront_run.h"
#endif

static int8_t output[ACNET_OUTPUT_SIZE];

/* Text output without printf: no heap, no stdio in the firmware image. */
static char *fmt_u64(char *end, uint64_t v) {
    *--end = '\0';
    do {
        *--end = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    return end;
}

static void put_int(int64_t v) {
    char buf[24];
    if (v < 0) {
        board_puts("-");
        board_puts(fmt_u64(buf + sizeof buf, (uint64_t)(-(v + 1)) + 1u));
    } else {
        board_puts(fmt_u64(buf + sizeof buf, (uint64_t)v));
    }
}

static void put_field(const char *name, int64_t v) {
    board_puts(" ");
    board_puts(name);
    board_puts("=");
    put_int(v);
}

static int argmax(const int8_t *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (v[i] > v[best]) {
            best = i;
        }
    }
    return best;
}

static int max_abs_diff(const int8_t *a, const int8_t *b, int n) {
    int worst = 0;
    for (int i = 0; i < n; i++) {
        int d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > worst) {
            worst = d;
        }
    }
    return worst;
}

#if defined(AC_HOST)
static int stream(void) {
    static int8_t input[ACNET_INPUT_SIZE];
    while (fread(input, 1, sizeof input, stdin) == sizeof input) {
        if (acnet_invoke(input, output) != 0) {
            return 1;
        }
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output) {
            return 1;
        }
    }
    return ferror(stdin) ? 1 : 0;
}
#endif

int main(int argc, char **argv) {
#if defined(AC_HOST)
    if (argc > 1 && strcmp(argv[1], "--stream") == 0) {
        return stream();
    }
#if defined(AC_FRONTEND)
    if (argc > 1 && strcmp(argv[1], "--audio-stream") == 0) {
        return acfront_run_stream();
    }
#endif
#else
    (void)argc;
    (void)argv;
#endif
    int mismatches = 0;
    uint64_t worst_instructions = 0;
    for (int v = 0; v < ACNET_NUM_VECTORS; v++) {
        memset(output, 0, sizeof output);
        board_counter_start();
        int status = acnet_invoke(acnet_test_input[v], output);
        uint64_t instructions = board_counter_stop();
        if (instructions > worst_instructions) {
            worst_instructions = instructions;
        }
        int diff = max_abs_diff(output, acnet_test_expected[v], ACNET_OUTPUT_SIZE);
        int match = status == 0 && diff == 0;
        mismatches += !match;

        board_puts("VECTOR ");
        put_int(v);
        put_field("class", argmax(output, ACNET_OUTPUT_SIZE));
        put_field("expected_class", argmax(acnet_test_expected[v], ACNET_OUTPUT_SIZE));
        put_field("match", match);
        put_field("max_abs_diff", diff);
        put_field("status", status);
        put_field("instructions", (int64_t)instructions);
        board_puts("\nOUTPUT ");
        put_int(v);
        for (int i = 0; i < ACNET_OUTPUT_SIZE; i++) {
            board_puts(" ");
            put_int(output[i]);
        }
        board_puts("\n");
#if defined(AC_PROFILE_LAYERS)
        for (int layer = 0; v == 0 && layer < board_layer_count(); layer++) {
            board_puts("LAYER ");
            put_int(layer);
            put_field("instructions", (int64_t)board_layer_instructions(layer));
            board_puts("\n");
        }
#endif
    }
#if defined(AC_FRONTEND)
    /* raw PCM through the audio front end and the network (printed; not compared) */
    mismatches += acfront_run_clips(put_int, put_field);
#endif
    uint32_t stack_used = board_stack_used();
    uint32_t stack_size = board_stack_size();
    /* A stack that reached its limit may have overwritten .bss: the run proves nothing then. */
    int stack_ok = stack_size == 0 || stack_used < stack_size;
    int passed = mismatches == 0 && stack_ok;
    board_puts("RESULT");
    put_field("passed", passed);
    put_field("vectors", ACNET_NUM_VECTORS);
    put_field("mismatches", mismatches);
    put_field("instructions", (int64_t)worst_instructions);
    put_field("stack_used", stack_used);
    put_field("stack_size", stack_size);
    board_puts("\n");
    return passed ? 0 : 1;
}
