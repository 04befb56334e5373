/* Host tool for tests and benchmarks (not part of the firmware): the front end alone.
 *   acfront_tool clip CHUNK     stdin: clips of ACFRONT_CLIP_SAMPLES int16 samples; stdout: per clip
 *                               the ACFRONT_N_MELS x ACFRONT_FRAMES int8 model input (pushed CHUNK samples at a time)
 *   acfront_tool stream STRIDE  stdin: one int16 stream; stdout: the model input each time it is ready */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acfront.h"

static int16_t clip[ACFRONT_CLIP_SAMPLES > 0 ? ACFRONT_CLIP_SAMPLES : 1];
static int8_t input[ACFRONT_N_MELS * ACFRONT_FRAMES];

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: acfront_tool clip CHUNK | stream STRIDE\n");
        return 2;
    }
    long arg = strtol(argv[2], NULL, 10);
    if (arg < 1) {
        fprintf(stderr, "acfront_tool: CHUNK/STRIDE must be >= 1\n");
        return 2;
    }
    if (strcmp(argv[1], "clip") == 0) {
        while (fread(clip, sizeof clip[0], ACFRONT_CLIP_SAMPLES, stdin) == ACFRONT_CLIP_SAMPLES) {
            acfront_reset();
            for (size_t i = 0; i < ACFRONT_CLIP_SAMPLES; i += (size_t)arg) {
                size_t n = ACFRONT_CLIP_SAMPLES - i < (size_t)arg ? ACFRONT_CLIP_SAMPLES - i : (size_t)arg;
                acfront_push(clip + i, n);
            }
            acfront_finish();
            if (!acfront_ready()) {
                fprintf(stderr, "acfront_tool: %u frames after a clip, not %d\n", (unsigned)acfront_frames(),
                        ACFRONT_FRAMES);
                return 1;
            }
            acfront_input(input);
            fwrite(input, 1, sizeof input, stdout);
        }
        return ferror(stdin) ? 1 : 0;
    }
    if (strcmp(argv[1], "stream") == 0) {
        int16_t chunk[97]; /* an odd size: frames complete in the middle of pushes */
        size_t n;
        acfront_reset();
        acfront_set_stride((unsigned)arg);
        while ((n = fread(chunk, sizeof chunk[0], sizeof chunk / sizeof chunk[0], stdin)) > 0) {
            for (size_t i = 0; i < n; i++) {
                acfront_push(chunk + i, 1);
                if (acfront_ready()) {
                    acfront_input(input);
                    fwrite(input, 1, sizeof input, stdout);
                }
            }
        }
        return ferror(stdin) ? 1 : 0;
    }
    fprintf(stderr, "acfront_tool: unknown mode '%s'\n", argv[1]);
    return 2;
}
