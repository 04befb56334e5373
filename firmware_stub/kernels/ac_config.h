/* Build configuration shared by the kernels and the generated networks. */
#ifndef AC_CONFIG_H
#define AC_CONFIG_H

/* AC_USE_DSP is 1 when the ACLE SIMD32/DSP kernels are compiled: on cores with
 * __ARM_FEATURE_DSP (Cortex-M4/M7/M33/M55) unless AC_NO_DSP is defined, and on any host with
 * AC_DSP_EMULATE (portable emulations of the intrinsics, kernels/ac_fixedpoint.h), so host tests
 * (ASan/UBSan) run the DSP loops. */
#if defined(AC_DSP_EMULATE) || (defined(__ARM_FEATURE_DSP) && !defined(AC_NO_DSP))
#define AC_USE_DSP 1
#else
#define AC_USE_DSP 0
#endif

/* AC_USE_MVE is 1 when the Helium (M-profile Vector Extension) kernels are compiled: on cores
 * with __ARM_FEATURE_MVE (Cortex-M55/M85) unless AC_NO_DSP (the portable build) or AC_NO_MVE
 * (the DSP kernels on an MVE core) is defined. They replace the DSP variants at compile time. */
#if defined(__ARM_FEATURE_MVE) && !defined(AC_NO_DSP) && !defined(AC_NO_MVE) && !defined(AC_DSP_EMULATE)
#define AC_USE_MVE 1
#else
#define AC_USE_MVE 0
#endif

/* AC_ALIGN(n) before a declaration's type: n-byte alignment (the arena's word loads). */
#if defined(__GNUC__) || defined(__clang__)
#define AC_ALIGN(n) __attribute__((aligned(n)))
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define AC_ALIGN(n) alignas(n)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define AC_ALIGN(n) _Alignas(n)
#else
#define AC_ALIGN(n)
#endif

/* Keep a function out of line: each optimized loop keeps its own register allocation. */
#if defined(__GNUC__)
#define AC_NOINLINE __attribute__((noinline))
#else
#define AC_NOINLINE
#endif

#endif /* AC_CONFIG_H */
