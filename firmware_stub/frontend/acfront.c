/* acdeploy audio front end (see acfront.h). One static instance: a device has one microphone. */
#include "acfront.h"

#include <string.h>

#include "arm_math.h"

#if (ACFRONT_N_FFT & (ACFRONT_N_FFT - 1)) != 0
#error "ACFRONT_N_FFT must be a power of two (CMSIS-DSP real FFT)"
#endif
#if ACFRONT_HOP > ACFRONT_N_FFT || ACFRONT_WIN_OFFSET + ACFRONT_WIN_LENGTH > ACFRONT_N_FFT
#error "hop and window must fit in the FFT"
#endif

#define N ACFRONT_N_FFT
#define BINS (N / 2 + 1)
#define CAT3_(a, b, c) a##b##c
#define CAT3(a, b, c) CAT3_(a, b, c)

/* The last N samples; ring[pos] is the oldest (the ring is always full: it starts as zeros). */
static int16_t ring[N];
static uint32_t pos;
static uint32_t total;    /* samples since reset, the center=True padding included */
static uint32_t next_end; /* `total` at which the next frame is complete */
static uint32_t frames_done;
static uint32_t served; /* frames_done at the last acfront_input() */
static int has_served;
static unsigned stride = ACFRONT_FRAMES;
static int8_t features[ACFRONT_FRAMES][ACFRONT_N_MELS]; /* ring of frames, frame i at i % FRAMES */

/* CMSIS-DSP's complex FFT of N/2 points, the core of the real FFT (its per-size init links only
 * that size's tables) */
#if N == 32
#define N_CFFT 16
#elif N == 64
#define N_CFFT 32
#elif N == 128
#define N_CFFT 64
#elif N == 256
#define N_CFFT 128
#elif N == 512
#define N_CFFT 256
#elif N == 1024
#define N_CFFT 512
#elif N == 2048
#define N_CFFT 1024
#elif N == 4096
#define N_CFFT 2048
#else
#error "the front end's FFT takes n_fft 32 to 4096"
#endif
#if ACFRONT_FIXED
typedef uint64_t energy_t;
static arm_cfft_instance_q31 fft;
static q31_t frame_buf[N];   /* the N real samples as N/2 complex ones: the complex FFT's input and output */
static uint64_t power[BINS]; /* |X|^2 >> ACFRONT_POWER_SHIFT */
static uint32_t headroom;    /* bits the current frame was scaled up by before the FFT */
#define cfft_init CAT3(arm_cfft_init_, N_CFFT, _q31)
#else
typedef float energy_t;
static arm_cfft_instance_f32 fft;
static float frame_buf[N]; /* the N real samples as N/2 complex ones: the complex FFT's input and output */
static float power[BINS];  /* 4 |X[k]|^2 */
#define cfft_init CAT3(arm_cfft_init_, N_CFFT, _f32)
#endif
static int fft_ready;
/* once per clip or start: compiled for size (flash is the front end's budget), not speed */
#define COLD __attribute__((cold))

#if ACFRONT_FIXED
#define thresholds acfront_thresholds
#else
/* threshold k = th_first * th_ratio^k - log_offset (in the FFT's units), made once in RAM */
static float thresholds[255];
/* the mel weights as floats, made once in RAM: the power x weight loop then needs no conversion */
static float rise[ACFRONT_N_RISE > 0 ? ACFRONT_N_RISE : 1];

COLD static void make_thresholds(void) {
    for (int k = 0; k < ACFRONT_N_RISE; k++) {
        rise[k] = (float)acfront_rise_q16[k];
    }
    float e = acfront_th_first;
    for (int k = 0; k < 255; k++) {
        float t = e - acfront_th_offset;
        thresholds[k] = t > 0.0f ? t : -1.0f;
        e *= acfront_th_ratio;
    }
}
#endif

#if ACFRONT_FIXED
static int8_t quantize(energy_t mel) {
    /* q = -128 + the number of thresholds below mel: the int8 value the host's
     * round(((log(mel + offset) - mean) / std) / scale) + zero_point, clipped, gives. */
    unsigned lo = 0, hi = 255;
    while (lo < hi) {
        unsigned mid = (lo + hi) >> 1;
        if (thresholds[mid] < mel) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return (int8_t)((int)lo - 128);
}
#else
static int8_t quantize(float mel) {
    /* q = -128 + the number of thresholds below mel (as above). The thresholds + offset are
     * geometric, so log2(mel + offset) nearly gives the count; a float's bits read as an integer
     * are 2^23 (log2(x) + 127) to within 0.09 x 2^23, so the count is estimated from them and made
     * exact by walking the table: a step or two instead of a binary search's eight. */
    union {
        float f;
        uint32_t u;
    } v = {mel + acfront_th_offset};
    float kf = ((float)v.u - acfront_th_bits_first) * acfront_th_bits_step;
    int k = kf <= 0.0f ? 0 : kf >= 255.0f ? 255 : (int)kf;
    while (k < 255 && thresholds[k] < mel) {
        k++;
    }
    while (k > 0 && !(thresholds[k - 1] < mel)) {
        k--;
    }
    return (int8_t)(k - 128);
}
#endif

#if ACFRONT_FIXED
typedef q31_t sample_t;
#else
typedef float sample_t;
#endif

#if !ACFRONT_FIXED
/* Two samples per step, as a word of two 16-bit halves (little endian): on a core with the DSP
 * extension, gcc makes lo(a) x lo(b) and hi(a) x hi(b) one SMULBB / SMULTT (SMULBT, SMULTB) each.
 * The float build's cores (M4, M7, M33, M55, the host) allow unaligned word loads; an M0+ does not. */
#define ACFRONT_PAIRS 1
static inline int32_t pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
#define LO(v) ((int32_t)(int16_t)(v))
#define HI(v) ((v) >> 16)
/* Two loops in assembly on cores with the DSP extension and an FPU (M4, M7, M33 and the M55, for
 * which gcc defines __ARM_ARCH_8M_MAIN__ too), where gcc moves and stores one float at a time:
 * the window four samples a step (one VMOV takes two core registers into two single-precision ones,
 * one VSTM stores four: 13 instructions per two samples in C, 17 per four here) and the mel sums
 * two bins a step (one VLDM loads two). The same operations in the same order as the C loops: the
 * same floats (-DACFRONT_ASM=0 builds the C loops; tests/deploy/test_frontend_build.py compares). */
#ifndef ACFRONT_ASM
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FP) && (defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__))
#define ACFRONT_ASM 1
#else
#define ACFRONT_ASM 0
#endif
#endif
#if ACFRONT_ASM
/* x[k] = src[k] * w[k], k < 4n (n >= 1): SMULBB / SMULTT of a word of samples and a word of w */
static inline void window_quads_up(float *x, const int16_t *src, const int16_t *w, uint32_t n) {
    int32_t t0, t1, t2;
    __asm__ volatile("1:\n\t"
                     "ldr %[t0], [%[s]], #4\n\t"
                     "ldr %[t1], [%[w]], #4\n\t"
                     "smultt %[t2], %[t0], %[t1]\n\t"
                     "smulbb %[t0], %[t0], %[t1]\n\t"
                     "vmov s0, s1, %[t0], %[t2]\n\t"
                     "ldr %[t0], [%[s]], #4\n\t"
                     "ldr %[t1], [%[w]], #4\n\t"
                     "smultt %[t2], %[t0], %[t1]\n\t"
                     "smulbb %[t0], %[t0], %[t1]\n\t"
                     "vmov s2, s3, %[t0], %[t2]\n\t"
                     "vcvt.f32.s32 s0, s0\n\t"
                     "vcvt.f32.s32 s1, s1\n\t"
                     "vcvt.f32.s32 s2, s2\n\t"
                     "vcvt.f32.s32 s3, s3\n\t"
                     "vstmia %[x]!, {s0-s3}\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b"
                     : [x] "+r"(x), [s] "+r"(src), [w] "+r"(w), [n] "+r"(n), [t0] "=&r"(t0), [t1] "=&r"(t1),
                       [t2] "=&r"(t2)
                     :
                     : "s0", "s1", "s2", "s3", "cc", "memory");
}
/* x[2k] = src[2k] * w[-2k + 1], x[2k + 1] = src[2k + 1] * w[-2k], k < 2n (n >= 1): the mirrored half,
 * w walked backwards a word at a time (SMULBT / SMULTB) */
static inline void window_quads_down(float *x, const int16_t *src, const int16_t *w, uint32_t n) {
    int32_t t0, t1, t2;
    __asm__ volatile("1:\n\t"
                     "ldr %[t0], [%[s]], #4\n\t"
                     "ldr %[t1], [%[w]], #-4\n\t"
                     "smulbt %[t2], %[t0], %[t1]\n\t"
                     "smultb %[t0], %[t0], %[t1]\n\t"
                     "vmov s0, s1, %[t2], %[t0]\n\t"
                     "ldr %[t0], [%[s]], #4\n\t"
                     "ldr %[t1], [%[w]], #-4\n\t"
                     "smulbt %[t2], %[t0], %[t1]\n\t"
                     "smultb %[t0], %[t0], %[t1]\n\t"
                     "vmov s2, s3, %[t2], %[t0]\n\t"
                     "vcvt.f32.s32 s0, s0\n\t"
                     "vcvt.f32.s32 s1, s1\n\t"
                     "vcvt.f32.s32 s2, s2\n\t"
                     "vcvt.f32.s32 s3, s3\n\t"
                     "vstmia %[x]!, {s0-s3}\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b"
                     : [x] "+r"(x), [s] "+r"(src), [w] "+r"(w), [n] "+r"(n), [t0] "=&r"(t0), [t1] "=&r"(t1),
                       [t2] "=&r"(t2)
                     :
                     : "s0", "s1", "s2", "s3", "cc", "memory");
}
/* up += p[k] * r[k] (one fused multiply-add, as the C loop's contraction makes it) and all += p[k]
 * for k < 2n (n >= 1), in the C loop's order; the pointers are advanced past the bins */
static inline void mel_pairs(const float **p, const float **r, uint32_t n, float *up, float *all) {
    const float *pp = *p, *rr = *r;
    float u = *up, a = *all;
    __asm__ volatile("1:\n\t"
                     "vldmia %[p]!, {s0, s1}\n\t"
                     "vldmia %[r]!, {s2, s3}\n\t"
                     "vfma.f32 %[u], s0, s2\n\t"
                     "vadd.f32 %[a], %[a], s0\n\t"
                     "vfma.f32 %[u], s1, s3\n\t"
                     "vadd.f32 %[a], %[a], s1\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b"
                     : [p] "+r"(pp), [r] "+r"(rr), [n] "+r"(n), [u] "+t"(u), [a] "+t"(a)
                     :
                     : "s0", "s1", "s2", "s3", "cc", "memory");
    *p = pp;
    *r = rr;
    *up = u;
    *all = a;
}
#endif
#else
#define ACFRONT_PAIRS 0
#endif

/* x[i] = src[i - a] * window[i] for i in [a, b). A symmetric window (Hamming, Hann, ...: w[i] =
 * w[L - i]) is stored as its first half, so the second half reads it backwards. */
static void window_span(sample_t *x, const int16_t *src, uint32_t a, uint32_t b) {
    const int16_t *w = acfront_window_q15;
    uint32_t i = a;
#if ACFRONT_WIN_SYMMETRIC
    uint32_t mid = b < ACFRONT_WIN_LENGTH / 2 + 1 ? b : ACFRONT_WIN_LENGTH / 2 + 1;
#if ACFRONT_PAIRS
#if ACFRONT_ASM
    if (i + 4 <= mid) {
        uint32_t quads = (mid - i) / 4;
        window_quads_up(x + i, src + (i - a), w + i, quads);
        i += 4 * quads;
    }
#endif
    for (; i + 2 <= mid; i += 2) {
        int32_t s2 = pair(src + (i - a)), w2 = pair(w + i);
        x[i] = (float)(LO(s2) * LO(w2));
        x[i + 1] = (float)(HI(s2) * HI(w2));
    }
    if (i < mid) {
        x[i] = (sample_t)((int32_t)src[i - a] * w[i]);
        i++;
    }
    /* here i = max(a, mid); w[L - i] and w[L - i - 1] are one word, backwards */
#if ACFRONT_ASM
    if (i + 4 <= b) {
        uint32_t quads = (b - i) / 4;
        window_quads_down(x + i, src + (i - a), w + (ACFRONT_WIN_LENGTH - i - 1), quads);
        i += 4 * quads;
    }
#endif
    for (; i + 2 <= b; i += 2) {
        int32_t s2 = pair(src + (i - a)), w2 = pair(w + (ACFRONT_WIN_LENGTH - i - 1));
        x[i] = (float)(LO(s2) * HI(w2));
        x[i + 1] = (float)(HI(s2) * LO(w2));
    }
    if (i < b) {
        x[i] = (sample_t)((int32_t)src[i - a] * w[ACFRONT_WIN_LENGTH - i]);
    }
#else
    for (; i < mid; i++) {
        x[i] = (sample_t)((int32_t)src[i - a] * w[i]);
    }
    for (i = mid > a ? mid : a; i < b; i++) {
        x[i] = (sample_t)((int32_t)src[i - a] * w[ACFRONT_WIN_LENGTH - i]);
    }
#endif
#else
#if ACFRONT_PAIRS
    for (; i + 2 <= b; i += 2) {
        int32_t s2 = pair(src + (i - a)), w2 = pair(w + i);
        x[i] = (float)(LO(s2) * LO(w2));
        x[i + 1] = (float)(HI(s2) * HI(w2));
    }
#endif
    for (; i < b; i++) {
        x[i] = (sample_t)((int32_t)src[i - a] * w[i]);
    }
#endif
}

static void windowed_frame(void) {
    /* the window's samples: ring[start...] up to the ring's end, then from its beginning */
    uint32_t start = (pos + ACFRONT_WIN_OFFSET) & (N - 1);
    uint32_t first = N - start < ACFRONT_WIN_LENGTH ? N - start : ACFRONT_WIN_LENGTH;
    sample_t *x = frame_buf + ACFRONT_WIN_OFFSET;
    window_span(x, ring + start, 0, first);
    window_span(x, ring, first, ACFRONT_WIN_LENGTH);
#if ACFRONT_FIXED
    /* pcm (q15) x window (q15) = q30. Block floating point: the frame is scaled up by 2^(1 + headroom)
     * so that its peak uses the q31 range, because the q31 FFT halves its data at every stage and a
     * quiet frame would otherwise lose its low bits; the power is scaled back by 2^-2*headroom. */
    uint32_t peak = 0;
    for (uint32_t i = 0; i < ACFRONT_WIN_LENGTH; i++) {
        peak |= (uint32_t)(x[i] < 0 ? -x[i] : x[i]);
    }
    headroom = 0;
    while (headroom < 15 && (peak << (headroom + 1)) < (1u << 30)) {
        headroom++;
    }
    q31_t gain = (q31_t)2 << headroom;
    for (uint32_t i = 0; i < ACFRONT_WIN_LENGTH; i++) {
        x[i] *= gain;
    }
#endif
    /* the FFT overwrites its input: the zeros around the window are written every frame */
    memset(frame_buf, 0, ACFRONT_WIN_OFFSET * sizeof frame_buf[0]);
    memset(frame_buf + ACFRONT_WIN_OFFSET + ACFRONT_WIN_LENGTH, 0,
           (N - ACFRONT_WIN_OFFSET - ACFRONT_WIN_LENGTH) * sizeof frame_buf[0]);
}

static void compute_frame(void) {
    windowed_frame();
#if ACFRONT_FIXED
    /* The real FFT as in the float build below (CMSIS-DSP's complex FFT of N/2 points, then the
     * split, fused with the power), in 64-bit integers rounded once per bin. CMSIS's q31 complex
     * FFT scales by 2/N; X here is scaled by 1/N, as arm_rfft_q31's output is, so the thresholds
     * are the same: X = (A + C) / 4 with C's twiddles in q30 (|A|, |B| < 2^33: no overflow). */
    arm_cfft_q31(&fft, frame_buf, 0, 1);
    {
        uint32_t shift = ACFRONT_POWER_SHIFT + 2 * headroom;
        uint64_t half = (uint64_t)1 << (shift - 1);
        int64_t dc = ((int64_t)frame_buf[0] + frame_buf[1] + 1) >> 1;
        int64_t nyquist = ((int64_t)frame_buf[0] - frame_buf[1] + 1) >> 1;
        power[0] = ((uint64_t)(dc * dc) + half) >> shift;
        power[N / 2] = ((uint64_t)(nyquist * nyquist) + half) >> shift;
        const q31_t *z = frame_buf + 2, *y = frame_buf + N - 2; /* Z[k], Z[N/2 - k] */
        const int32_t *sin_k = acfront_sin_q30 + 1, *cos_k = acfront_sin_q30 + N / 4 - 1;
        uint64_t *lo = power + 1, *hi = power + N / 2 - 1;
        for (uint32_t k = 1; k <= N / 4; k++, z += 2, y -= 2) {
            int64_t ar = (int64_t)z[0] + y[0], ai = (int64_t)z[1] - y[1];
            int64_t br = (int64_t)z[0] - y[0], bi = (int64_t)z[1] + y[1];
            int64_t c = *cos_k--, s = *sin_k++;
            int64_t cr = (c * bi - s * br + (1 << 29)) >> 30, ci = -((c * br + s * bi + (1 << 29)) >> 30);
            int64_t xr = (ar + cr + 2) >> 2, xi = (ai + ci + 2) >> 2, yr = (ar - cr + 2) >> 2, yi = (ai - ci + 2) >> 2;
            *lo++ = ((uint64_t)(xr * xr) + (uint64_t)(xi * xi) + half) >> shift;
            *hi-- = ((uint64_t)(yr * yr) + (uint64_t)(yi * yi) + half) >> shift;
        }
    }
    /* Mel bands as overlapping triangles: in segment s, bin k is on band s's rising slope (weight
     * r = rise_q16 / 65535) and band s - 1's falling one (1 - r), before each band's normalisation. */
    const uint64_t *p = power;
    int8_t *out = features[frames_done % ACFRONT_FRAMES];
    const uint16_t *r = acfront_rise_q16;
    uint64_t falling = 0; /* band s - 1's falling part, from the segment before */
    for (int s = 0; s <= ACFRONT_N_MELS; s++) {
        uint64_t up = 0, down = 0;
        for (uint32_t k = acfront_seg_start[s]; k < acfront_seg_start[s + 1]; k++) {
            uint64_t u = p[k] * *r++;
            up += u;
            down += p[k] * 65535u - u;
        }
        if (s >= 1) {
            out[s - 1] = quantize(((falling + down) >> 16) * acfront_enorm[s - 1]);
        }
        falling = up;
    }
#else
    /* The real FFT as CMSIS-DSP's complex FFT of z[n] = x[2n] + j x[2n + 1] (N/2 points, in place)
     * and the split into the real spectrum, fused with the power: with Z = FFT(z),
     * A = Z[k] + conj Z[N/2 - k], B = Z[k] - conj Z[N/2 - k] and C = -j W^k B (W = e^(-2 pi j / N)),
     * 2 X[k] = A + C and 2 conj X[N/2 - k] = A - C. Each bin is squared after the split (power from
     * |A|^2 + |B|^2 +- Re(A conj C) would cancel for a quiet bin whose mirror is loud). One pass over
     * the pairs (k, N/2 - k), no spectrum stored; the factor 4 is in acfront_enorm. */
    arm_cfft_f32(&fft, frame_buf, 0, 1);
    float dc = frame_buf[0] + frame_buf[1], nyquist = frame_buf[0] - frame_buf[1];
    power[0] = 4.0f * dc * dc;
    power[N / 2] = 4.0f * nyquist * nyquist;
    {
        const float *z = frame_buf + 2, *y = frame_buf + N - 2; /* Z[k], Z[N/2 - k] */
        const float *sin_k = acfront_sin + 1, *cos_k = acfront_sin + N / 4 - 1;
        float *lo = power + 1, *hi = power + N / 2 - 1;
        /* k = N/4 pairs with itself: both writes give its power */
        for (uint32_t k = 1; k <= N / 4; k++, z += 2, y -= 2) {
            float ar = z[0] + y[0], ai = z[1] - y[1], br = z[0] - y[0], bi = z[1] + y[1];
            float c = *cos_k--, s = *sin_k++;
            float cr = c * bi - s * br, ci = -(c * br + s * bi);
            float xr = ar + cr, xi = ai + ci, yr = ar - cr, yi = ai - ci;
            *lo++ = xr * xr + xi * xi;
            *hi-- = yr * yr + yi * yi;
        }
    }
    /* Mel bands in one pass over the bins with mel weight only. In segment s, bin k is on band s's
     * rising slope (weight r = rise / 65535) and band s - 1's falling one (1 - r): per segment, the
     * sum of power x rise and of the power. */
    int8_t *out = features[frames_done % ACFRONT_FRAMES];
    const float *r = rise;
    const float *p = power + acfront_seg_start[0];
    float falling = 0.0f; /* band s - 1's falling part, from the segment before */
    for (int s = 0; s <= ACFRONT_N_MELS; s++) {
        float up = 0.0f, all = 0.0f;
        const float *end = power + acfront_seg_start[s + 1];
#if ACFRONT_ASM
        if (end - p >= 2) {
            mel_pairs(&p, &r, (uint32_t)(end - p) / 2, &up, &all);
        }
#endif
        for (; p < end; p++) {
            up += *p * *r++;
            all += *p;
        }
        if (s >= 1) {
            out[s - 1] = quantize((falling + (all * 65535.0f - up)) * acfront_enorm[s - 1]);
        }
        falling = up;
    }
#endif
    frames_done++;
}

COLD static void init_fft(void) {
    cfft_init(&fft);
#if !ACFRONT_FIXED
    make_thresholds();
#endif
    fft_ready = 1;
}

COLD void acfront_reset(void) {
    if (!fft_ready) {
        init_fft();
    }
    memset(ring, 0, sizeof ring);
    pos = N / 2; /* center=True: n_fft/2 zeros before the first sample */
    total = N / 2;
    next_end = N;
    frames_done = 0;
    served = 0;
    has_served = 0;
}

static void push(const int16_t *pcm, size_t n, int zeros) {
    if (!fft_ready) {
        acfront_reset();
    }
    while (n > 0) {
        uint32_t k = next_end - total;
        if (k > n) {
            k = (uint32_t)n;
        }
        uint32_t head = N - pos < k ? N - pos : k; /* up to the ring's end, the rest from its start */
        if (zeros) {
            memset(ring + pos, 0, head * sizeof ring[0]);
            memset(ring, 0, (k - head) * sizeof ring[0]);
        } else {
            memcpy(ring + pos, pcm, head * sizeof ring[0]);
            memcpy(ring, pcm + head, (k - head) * sizeof ring[0]);
        }
        pos = (pos + k) & (N - 1);
        if (!zeros) {
            pcm += k;
        }
        n -= k;
        total += k;
        if (total == next_end) {
            compute_frame();
            next_end += ACFRONT_HOP;
        }
    }
}

void acfront_push(const int16_t *pcm, size_t n) { push(pcm, n, 0); }

void acfront_finish(void) { push(NULL, N / 2, 1); }

void acfront_set_stride(unsigned frames) { stride = frames > 0 ? frames : 1; }

uint32_t acfront_frames(void) { return frames_done; }

int acfront_ready(void) {
    if (frames_done < ACFRONT_FRAMES) {
        return 0;
    }
    return !has_served || frames_done - served >= stride;
}

COLD void acfront_input(int8_t *model_input) {
    /* model layout [mel][frame]; the oldest of the last FRAMES frames first */
    uint32_t n = frames_done < ACFRONT_FRAMES ? frames_done : ACFRONT_FRAMES;
    uint32_t first = frames_done - n;
    memset(model_input, -128, (size_t)ACFRONT_N_MELS * ACFRONT_FRAMES);
    for (uint32_t t = 0; t < n; t++) {
        const int8_t *f = features[(first + t) % ACFRONT_FRAMES];
        for (int m = 0; m < ACFRONT_N_MELS; m++) {
            model_input[m * ACFRONT_FRAMES + (ACFRONT_FRAMES - n) + t] = f[m];
        }
    }
    served = frames_done;
    has_served = 1;
}

size_t acfront_ram_bytes(void) {
    return sizeof ring + sizeof features + sizeof frame_buf + sizeof fft + sizeof power
#if !ACFRONT_FIXED
           + sizeof thresholds + sizeof rise
#endif
        ;
}
