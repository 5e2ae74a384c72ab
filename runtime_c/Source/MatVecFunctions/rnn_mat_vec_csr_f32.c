/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Title:       rnn_mat_vec_csr_f32.c
 * Description: Matrix-vector product with a pruned matrix in compressed sparse rows.
 *
 * Every row holds a multiple of RNN_CSR_GROUP (4) entries: rnngen pads each non-empty row at
 * build time with zero values at the row's last column (codegen/formats/csr.py, pad_rows), so
 * the loops take four entries at a time and have no scalar tail. A zero value adds exactly
 * 0 to a sum (a finite x; an infinite or NaN x[c] already reaches the row through its real
 * entry at column c).
 *
 * Order of the sums, the same on every target: four partial sums, entry k of a row going to
 * sum k mod 4 in the row's order (a0 takes entries 0, 4, 8, ..., a1 takes 1, 5, 9, ...), then
 * y = bias + ((a0 + a1) + (a2 + a3)). Each step is a fused multiply-add (one rounding) where
 * the compiler has a one-instruction fmaf (__FP_FAST_FMAF: AArch64, Cortex-M4/M7/M55 VFMA,
 * x86 FMA3), a multiply then an add elsewhere; nothing else differs between targets.
 * - Helium (Cortex-M55, __ARM_FEATURE_MVE with floating point): the four partial sums are the
 *   four lanes of one vector; per four entries VLDRH.U32 (indices), a gather VLDRW.U32
 *   [x, offsets, UXTW #2], VLDRW (values) and VFMA.
 * - Cortex-M4/M7 (VFPv4/v5) and AArch64: groups in inline assembly, the values in one VLDM /
 *   LDP q (GCC loads them one at a time), each x LDRH + ADD + VLDR / LDRH + LDR s, then VFMA /
 *   scalar FMLA by element (fused, as fmaf).
 * - plain C99 elsewhere.
 */

#include <math.h>

#include "rnn_nnfunctions.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#define RNN_CSR_F32_MVE 1
#elif defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) &&      \
    defined(__FP_FAST_FMAF)
#define RNN_CSR_F32_VFP 1
#elif defined(__GNUC__) && defined(__aarch64__)
#define RNN_CSR_F32_A64 1
#endif

#if defined(__FP_FAST_FMAF)
#define MADD(acc, v, xv) fmaf(v, xv, acc)
#else
#define MADD(acc, v, xv) ((acc) + (v) * (xv))
#endif

#if defined(RNN_CSR_F32_VFP)
/* Cortex-M4/M7 (single-precision VFPv4/v5): GCC loads the values one VLDR at a time; here
 * eight come in one VLDM (s0-s7) and each x is LDRH (post-increment) + ADD + VLDR, then
 * VFMA (fused, as fmaf): 4.5 instructions per entry instead of 5.6. Single groups (a row's
 * first, whose products start the sums, and an odd last one) likewise, with one VLDM of four. */
#define RNN_CSR_ENTRY(vr, xr, acc)                                                             \
    "ldrh %[t], [%[c]], #2\n\t"                                                               \
    "add %[t], %[x], %[t], lsl #2\n\t"                                                        \
    "vldr " xr ", [%[t]]\n\t"                                                                 \
    "vfma.f32 %[" acc "], " vr ", " xr "\n\t"

/* a0..a3 += the next two groups (eight entries) */
#define GROUP8(a0, a1, a2, a3, v, c, x)                                                          \
    do                                                                                         \
    {                                                                                          \
        uint32_t t_;                                                                           \
        __asm__("vldmia %[v]!, {s0-s7}\n\t" /* the values; s8 .. s15: their x */              \
                RNN_CSR_ENTRY("s0", "s8", "a0") RNN_CSR_ENTRY("s1", "s9", "a1")                \
                RNN_CSR_ENTRY("s2", "s10", "a2") RNN_CSR_ENTRY("s3", "s11", "a3")              \
                RNN_CSR_ENTRY("s4", "s12", "a0") RNN_CSR_ENTRY("s5", "s13", "a1")              \
                RNN_CSR_ENTRY("s6", "s14", "a2") RNN_CSR_ENTRY("s7", "s15", "a3")              \
                : [v] "+r"(v), [c] "+r"(c), [t] "=&r"(t_), [a0] "+t"(a0), [a1] "+t"(a1),      \
                  [a2] "+t"(a2), [a3] "+t"(a3)                                                 \
                : [x] "r"(x)                                                                   \
                : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",    \
                  "s12", "s13", "s14", "s15", "memory");                                       \
    } while (0)

/* one group of four with `op` (vmul.f32: a0..a3 = the products, vfma.f32: a0..a3 += them) */
#define RNN_CSR_VFP_GROUP4(op, io, a0, a1, a2, a3, v, c, x)                                    \
    do                                                                                         \
    {                                                                                          \
        uint32_t t_;                                                                           \
        __asm__("vldmia %[v]!, {s0-s3}\n\t"                                                    \
                RNN_CSR_XOP(op, "s0", "s8", "a0") RNN_CSR_XOP(op, "s1", "s9", "a1")            \
                RNN_CSR_XOP(op, "s2", "s10", "a2") RNN_CSR_XOP(op, "s3", "s11", "a3")          \
                : [v] "+r"(v), [c] "+r"(c), [t] "=&r"(t_), [a0] io(a0), [a1] io(a1),          \
                  [a2] io(a2), [a3] io(a3)                                                     \
                : [x] "r"(x)                                                                   \
                : "s0", "s1", "s2", "s3", "s8", "s9", "s10", "s11", "memory");                 \
    } while (0)
#define RNN_CSR_XOP(op, vr, xr, acc)                                                           \
    "ldrh %[t], [%[c]], #2\n\t"                                                               \
    "add %[t], %[x], %[t], lsl #2\n\t"                                                        \
    "vldr " xr ", [%[t]]\n\t" op " %[" acc "], " vr ", " xr "\n\t"
#endif

#if defined(RNN_CSR_F32_A64)
/* AArch64: GCC loads the values one LDR s at a time; here eight come in one LDP q and each
 * x (LDRH, then LDR s[x, w, UXTW #2]) meets its value in a scalar FMLA by element (fused, as
 * fmaf): 3.6 instructions per entry instead of 4.25. */
#define RNN_CSR_ENTRY(off, t, xr, vr, acc)                                                     \
    "ldrh %w[" t "], [%[c], #" off "]\n\t"                                                     \
    "ldr " xr ", [%[x], %x[" t "], lsl #2]\n\t"                                                \
    "fmla %s[" acc "], " xr ", " vr "\n\t"

/* a0..a3 += the next two groups (eight entries); advances v and c */
#define GROUP8(a0, a1, a2, a3, v, c, x)                                                          \
    do                                                                                         \
    {                                                                                          \
        uint64_t t0_, t1_, t2_, t3_;                                                           \
        __asm__("ldp q16, q17, [%[v]], #32\n\t" /* the values; s18 .. s21: their x */         \
                RNN_CSR_ENTRY("0", "t0", "s18", "v16.s[0]", "a0")                              \
                RNN_CSR_ENTRY("2", "t1", "s19", "v16.s[1]", "a1")                              \
                RNN_CSR_ENTRY("4", "t2", "s20", "v16.s[2]", "a2")                              \
                RNN_CSR_ENTRY("6", "t3", "s21", "v16.s[3]", "a3")                              \
                RNN_CSR_ENTRY("8", "t0", "s18", "v17.s[0]", "a0")                              \
                RNN_CSR_ENTRY("10", "t1", "s19", "v17.s[1]", "a1")                             \
                RNN_CSR_ENTRY("12", "t2", "s20", "v17.s[2]", "a2")                             \
                RNN_CSR_ENTRY("14", "t3", "s21", "v17.s[3]", "a3")                             \
                "add %[c], %[c], #16\n\t"                                                     \
                : [v] "+r"(v), [c] "+r"(c), [t0] "=&r"(t0_), [t1] "=&r"(t1_),                  \
                  [t2] "=&r"(t2_), [t3] "=&r"(t3_), [a0] "+w"(a0), [a1] "+w"(a1),              \
                  [a2] "+w"(a2), [a3] "+w"(a3)                                                 \
                : [x] "r"(x)                                                                   \
                : "v16", "v17", "v18", "v19", "v20", "v21", "memory");                         \
    } while (0)
#endif

/* one group of four entries: entry j to partial sum j */
#define GROUP4(a0, a1, a2, a3, v, c, x)                                                          \
    do                                                                                         \
    {                                                                                          \
        a0 = MADD(a0, (v)[0], (x)[(c)[0]]);                                                    \
        a1 = MADD(a1, (v)[1], (x)[(c)[1]]);                                                    \
        a2 = MADD(a2, (v)[2], (x)[(c)[2]]);                                                    \
        a3 = MADD(a3, (v)[3], (x)[(c)[3]]);                                                    \
    } while (0)

/* Refer to header file for details. */
void rnn_mat_vec_csr_f32(int32_t rows, const float *values, const uint16_t *col_idx,
                         const int32_t *row_ptr, const float *bias, const float *x, float *y)
{
    const float *v = values + row_ptr[0];
    const uint16_t *c = col_idx + row_ptr[0];
    int32_t i;

    for (i = 0; i < rows; ++i)
    {
        /* groups of four entries in the row (rows are padded: no remainder) */
        uint32_t n4 = (uint32_t)(row_ptr[i + 1] - row_ptr[i]) / RNN_CSR_GROUP;
        float s = 0.0f;
        if (n4 > 0)
        {
            /* the first group's products start the partial sums (fmaf(v, x, 0) is v x
             * rounded once: the same value) */
#if defined(RNN_CSR_F32_MVE)
            float32x4_t a =
                vmulq_f32(vld1q_f32(v), vldrwq_gather_shifted_offset_f32(x, vldrhq_u32(c)));
            v += RNN_CSR_GROUP;
            c += RNN_CSR_GROUP;
            for (--n4; n4 > 0; --n4)
            {
                const float32x4_t xv = vldrwq_gather_shifted_offset_f32(x, vldrhq_u32(c));
                a = vfmaq_f32(a, vld1q_f32(v), xv);
                v += RNN_CSR_GROUP;
                c += RNN_CSR_GROUP;
            }
            s = (vgetq_lane_f32(a, 0) + vgetq_lane_f32(a, 1)) +
                (vgetq_lane_f32(a, 2) + vgetq_lane_f32(a, 3));
#else
#if defined(RNN_CSR_F32_VFP)
            float a0, a1, a2, a3;
            RNN_CSR_VFP_GROUP4("vmul.f32", "=t", a0, a1, a2, a3, v, c, x); /* advances */
#else
            float a0 = v[0] * x[c[0]];
            float a1 = v[1] * x[c[1]];
            float a2 = v[2] * x[c[2]];
            float a3 = v[3] * x[c[3]];
            v += RNN_CSR_GROUP;
            c += RNN_CSR_GROUP;
#endif
            --n4;
            /* two groups per iteration (one loop test per eight entries), then an odd one */
            for (; n4 >= 2; n4 -= 2)
            {
#if defined(RNN_CSR_F32_VFP) || defined(RNN_CSR_F32_A64)
                GROUP8(a0, a1, a2, a3, v, c, x); /* advances v and c */
#else
                GROUP4(a0, a1, a2, a3, v, c, x);
                GROUP4(a0, a1, a2, a3, v + RNN_CSR_GROUP, c + RNN_CSR_GROUP, x);
                v += 2 * RNN_CSR_GROUP;
                c += 2 * RNN_CSR_GROUP;
#endif
            }
            if (n4 > 0)
            {
#if defined(RNN_CSR_F32_VFP)
                RNN_CSR_VFP_GROUP4("vfma.f32", "+t", a0, a1, a2, a3, v, c, x); /* advances */
#else
                GROUP4(a0, a1, a2, a3, v, c, x);
                v += RNN_CSR_GROUP;
                c += RNN_CSR_GROUP;
#endif
            }
            s = (a0 + a1) + (a2 + a3);
#endif
        }
        y[i] = (bias ? bias[i] : 0.0f) + s;
    }
}
