/* The firmware's use of the audio front end: see acfront_run.h. */
#include "acfront_run.h"

#include <string.h>

#include "acfront.h"
#include "acfront_clips.h"
#include "acnet.h"
#include "board/board.h"

#if ACNET_INPUT_SIZE != ACFRONT_N_MELS * ACFRONT_FRAMES
#error "the front end's output does not fit the network's input"
#endif

#if defined(AC_HOST)
#include <stdio.h>
#endif

static int8_t model_input[ACNET_INPUT_SIZE];
static int8_t model_output[ACNET_OUTPUT_SIZE];
static int16_t chunk[ACFRONT_HOP];

static int argmax(const int8_t *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (v[i] > v[best]) {
            best = i;
        }
    }
    return best;
}

/* Counts only the front end's own instructions: the noise is made outside the counted spans. */
/* FNV-1a of the network's input: builds of the front end compared byte for byte from their logs */
static int64_t input_hash(const int8_t *v) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < ACNET_INPUT_SIZE; i++) {
        h = (h ^ (uint8_t)v[i]) * 16777619u;
    }
    return (int64_t)h;
}

static uint64_t measure_noise_clip(void) {
    uint32_t seed = 12345u;
    uint64_t instructions = 0;
    board_counter_start();
    acfront_reset();
    instructions += board_counter_stop();
    for (uint32_t done = 0; done < ACFRONT_CLIP_SAMPLES; done += ACFRONT_HOP) {
        uint32_t n = ACFRONT_CLIP_SAMPLES - done < ACFRONT_HOP ? ACFRONT_CLIP_SAMPLES - done : ACFRONT_HOP;
        for (uint32_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            chunk[i] = (int16_t)((int32_t)(seed >> 16) - 32768) / 4;
        }
        board_counter_start();
        acfront_push(chunk, n);
        instructions += board_counter_stop();
    }
    board_counter_start();
    acfront_finish();
    instructions += board_counter_stop();
    return instructions;
}

int acfront_run_clips(acfront_put_int put_int, acfront_put_field put_field) {
    uint64_t noise = measure_noise_clip();
    uint32_t frames = acfront_frames();
    board_puts("FRONTEND");
    put_field("frames", frames);
    put_field("instructions", (int64_t)noise);
    put_field("instructions_per_frame", frames ? (int64_t)(noise / frames) : 0);
    put_field("ram_bytes", (int64_t)acfront_ram_bytes());
    put_field("fixed", ACFRONT_FIXED);
    board_puts("\n");
    int failures = 0;
    for (int c = 0; c < ACFRONT_NUM_CLIPS; c++) {
        board_counter_start();
        acfront_reset();
        acfront_push(acnet_test_audio[c], ACFRONT_CLIP_SAMPLES);
        acfront_finish();
        uint64_t front = board_counter_stop();
        acfront_input(model_input);
        board_counter_start();
        int status = acnet_invoke(model_input, model_output);
        uint64_t net = board_counter_stop();
        failures += status != 0;
        board_puts("AUDIO ");
        put_int(c);
        put_field("class", argmax(model_output, ACNET_OUTPUT_SIZE));
        put_field("frames", acfront_frames());
        put_field("status", status);
        put_field("frontend_instructions", (int64_t)front);
        put_field("network_instructions", (int64_t)net);
        put_field("input_hash", input_hash(model_input));
        board_puts("\nAUDIO_OUTPUT ");
        put_int(c);
        for (int i = 0; i < ACNET_OUTPUT_SIZE; i++) {
            board_puts(" ");
            put_int(model_output[i]);
        }
        board_puts("\n");
    }
    return failures;
}

#if defined(AC_HOST)
int acfront_run_stream(void) {
    static int16_t clip[ACFRONT_CLIP_SAMPLES];
    while (fread(clip, sizeof clip[0], ACFRONT_CLIP_SAMPLES, stdin) == ACFRONT_CLIP_SAMPLES) {
        acfront_reset();
        acfront_push(clip, ACFRONT_CLIP_SAMPLES);
        acfront_finish();
        acfront_input(model_input);
        if (acnet_invoke(model_input, model_output) != 0) {
            return 1;
        }
        if (fwrite(model_input, 1, sizeof model_input, stdout) != sizeof model_input ||
            fwrite(model_output, 1, sizeof model_output, stdout) != sizeof model_output) {
            return 1;
        }
    }
    return ferror(stdin) ? 1 : 0;
}
#endif
