/* The part of CMSIS-Core's cmsis_compiler.h that CMSIS-DSP uses, for gcc on cores with the DSP
 * extension (Cortex-M4, M7, M33): compiler attributes, and the DSP intrinsics under CMSIS's names
 * mapped one to one onto gcc's ACLE intrinsics (<arm_acle.h>).
 *
 * CMSIS-DSP includes this header when it is built the normal way (without -D__GNUC_PYTHON__);
 * arm_math_types.h then defines ARM_MATH_DSP from __ARM_FEATURE_DSP and its fixed-point code uses
 * these SIMD instructions. CMSIS-Core itself is not on PyPI, and the `cmsisdsp` sdist ships only
 * the Python build, which replaces the intrinsics with portable C (Include/dsp/none.h) on every
 * core. Builds without the DSP extension (the host, ARMv6-M) keep that portable path; the glue is
 * tested against it bit for bit (tests/deploy/test_frontend_cmsis_glue.py). */
#ifndef ACFRONT_CMSIS_COMPILER_H
#define ACFRONT_CMSIS_COMPILER_H

#include <stdint.h>

#if !defined(__GNUC__) || !defined(__ARM_FEATURE_DSP)
#error "cmsis_compiler.h (acdeploy's glue) is for gcc on cores with the DSP extension; build others with -D__GNUC_PYTHON__"
#endif

#include <arm_acle.h>

#define __ASM __asm
#define __INLINE inline
#define __STATIC_INLINE static inline
#define __STATIC_FORCEINLINE static inline __attribute__((always_inline))
#define __ALIGNED(x) __attribute__((aligned(x)))
#define __WEAK __attribute__((weak))
#define __PACKED __attribute__((packed, aligned(1)))
#define __RESTRICT __restrict

/* count leading zeros: CLZ gives 32 for 0, __builtin_clz leaves 0 undefined */
__STATIC_FORCEINLINE uint8_t __CLZ(uint32_t x) { return x == 0U ? 32U : (uint8_t)__builtin_clz(x); }
__STATIC_FORCEINLINE uint32_t __ROR(uint32_t x, uint32_t n) {
    n &= 31U;
    return n == 0U ? x : (x >> n) | (x << (32U - n));
}
/* saturation to a bit width given as a constant (SSAT / USAT take it as an immediate) */
#define __SSAT(x, n) __ssat((x), (n))
#define __USAT(x, n) __usat((x), (n))

/* saturating and halving SIMD arithmetic on two 16-bit or four 8-bit lanes */
#define __QADD8(x, y) ((uint32_t)__qadd8((x), (y)))
#define __QSUB8(x, y) ((uint32_t)__qsub8((x), (y)))
#define __QADD16(x, y) ((uint32_t)__qadd16((x), (y)))
#define __QSUB16(x, y) ((uint32_t)__qsub16((x), (y)))
#define __SHADD16(x, y) ((uint32_t)__shadd16((x), (y)))
#define __SHSUB16(x, y) ((uint32_t)__shsub16((x), (y)))
#define __QASX(x, y) ((uint32_t)__qasx((x), (y)))
#define __QSAX(x, y) ((uint32_t)__qsax((x), (y)))
#define __SHASX(x, y) ((uint32_t)__shasx((x), (y)))
#define __SHSAX(x, y) ((uint32_t)__shsax((x), (y)))
#define __QADD(x, y) __qadd((x), (y))
#define __QSUB(x, y) __qsub((x), (y))
/* dual 16 x 16 multiplies with add or subtract, 32- and 64-bit accumulators */
#define __SMUAD(x, y) ((uint32_t)__smuad((x), (y)))
#define __SMUADX(x, y) ((uint32_t)__smuadx((x), (y)))
#define __SMUSD(x, y) ((uint32_t)__smusd((x), (y)))
#define __SMUSDX(x, y) ((uint32_t)__smusdx((x), (y)))
#define __SMLAD(x, y, a) ((uint32_t)__smlad((x), (y), (a)))
#define __SMLADX(x, y, a) ((uint32_t)__smladx((x), (y), (a)))
#define __SMLSDX(x, y, a) ((uint32_t)__smlsdx((x), (y), (a)))
#define __SMLALD(x, y, a) ((uint64_t)__smlald((x), (y), (int64_t)(a)))
#define __SMLALDX(x, y, a) ((uint64_t)__smlaldx((x), (y), (int64_t)(a)))
#define __SXTB16(x) ((uint32_t)__sxtb16((x)))
/* No ACLE names for these. SMMLA and PKHTB as expressions (gcc finds SMMLA; PKHTB serves no FFT).
 * PKHBT as the instruction, as CMSIS-Core writes it: gcc 12 makes the expression an AND and an
 * ORR, two instructions in the q15 FFT's innermost loops; the shift must be a constant. */
__STATIC_FORCEINLINE int32_t __SMMLA(int32_t x, int32_t y, int32_t a) {
    return a + (int32_t)(((int64_t)x * y) >> 32);
}
#define __PKHBT(a, b, s)                                                                                 \
    __extension__({                                                                                      \
        uint32_t pkhbt_res_, pkhbt_a_ = (uint32_t)(a), pkhbt_b_ = (uint32_t)(b);                         \
        __ASM("pkhbt %0, %1, %2, lsl %3" : "=r"(pkhbt_res_) : "r"(pkhbt_a_), "r"(pkhbt_b_), "I"(s));     \
        (int32_t)pkhbt_res_;                                                                             \
    })
#define __PKHTB(a, b, s) ((int32_t)((((uint32_t)(a)) & 0xFFFF0000UL) | ((((int32_t)(b)) >> (s)) & 0x0000FFFFL)))

#endif
