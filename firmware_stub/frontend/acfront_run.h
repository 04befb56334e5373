/* The firmware's use of the audio front end (main.c calls these when built with AC_FRONTEND). */
#ifndef ACFRONT_RUN_H
#define ACFRONT_RUN_H

#include <stdint.h>

typedef void (*acfront_put_int)(int64_t v);
typedef void (*acfront_put_field)(const char *name, int64_t v);

/* Measures the front end on one second-long clip of generated noise, then classifies the clips
 * embedded by `acdeploy build --audio` (acfront_clips.c), printing per clip:
 *   FRONTEND frames=<n> instructions=<n> instructions_per_frame=<n> ram_bytes=<n>
 *   AUDIO <i> class=<argmax> frames=<n> frontend_instructions=<n> network_instructions=<n>
 *   AUDIO_OUTPUT <i> <o0> <o1> ...
 * Returns the number of clips that failed (network status != 0). */
int acfront_run_clips(acfront_put_int put_int, acfront_put_field put_field);

#if defined(AC_HOST)
/* `firmware --audio-stream`: stdin holds clips of ACFRONT_CLIP_SAMPLES int16 samples; stdout gets
 * per clip the int8 model input (ACNET_INPUT_SIZE bytes) and the int8 output (ACNET_OUTPUT_SIZE). */
int acfront_run_stream(void);
#endif

#endif
