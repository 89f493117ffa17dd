// x86 kernels, each compiled for its own instruction set with __attribute__((target)) and
// called only after __builtin_cpu_supports said yes (see kernels.cc).
//
//   ssse3        16 bytes/step, split nibble tables with PSHUFB (Plank, Greenan, Miller,
//                "Screaming Fast Galois Field Arithmetic Using Intel SIMD Instructions", FAST 2013)
//   avx2         the same at 32 bytes/step with VPSHUFB (ISA-L's gf_Nvect_dot_prod_avx2 shape)
//   gfni-avx2    one VGF2P8AFFINEQB per coefficient and 32 bytes: multiplying by c is an 8x8
//                bit matrix over GF(2), which works for the 0x11D field (GF2P8MULB would not)
//   gfni-avx512  the same at 64 bytes/step; byte-masked loads and stores finish odd lengths
//
// Every kernel computes a group of output rows per pass over the inputs (at most 4 for ssse3,
// 6 for avx2, 8 for gfni-avx2, 16 for gfni-avx512: what fits in the vector registers next to
// the temporaries), so one load of an input chunk feeds several accumulators. Rows whose
// coefficients are all 1 (parity 0, and a lone loss repaired by parity 0) skip the multiply
// and take a plain XOR pass.

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstring>

#include "kernels.h"

#define RC_SSSE3 __attribute__((target("ssse3")))
#define RC_AVX2 __attribute__((target("avx2")))
#define RC_GFNI_AVX2 __attribute__((target("gfni,avx2")))
#define RC_GFNI_AVX512 __attribute__((target("gfni,avx512f,avx512bw")))

namespace rackcast::rs {

namespace {

/** The rows of a job split into XOR rows and multiply rows, each with its output and init. */
struct RowSplit {
  const CoefRow* mul_rows[256];
  uint8_t* mul_out[256];
  const uint8_t* mul_init[256];
  size_t n_mul = 0;
  uint8_t* xor_out[256];
  const uint8_t* xor_init[256];
  size_t n_xor = 0;

  explicit RowSplit(const Job& job) {
    for (size_t r = 0; r < job.nrows; r++) {
      const uint8_t* init = job.init != nullptr ? job.init[r] : nullptr;
      if (job.rows[r]->all_ones) {
        xor_out[n_xor] = job.out[r];
        xor_init[n_xor++] = init;
      } else {
        mul_rows[n_mul] = job.rows[r];
        mul_out[n_mul] = job.out[r];
        mul_init[n_mul++] = init;
      }
    }
  }
};

/**
 * Calls group(first, count) over `n` rows in near-equal groups of at most `max_rows` (10 rows
 * with a maximum of 8 become 5 + 5, not 8 + 2, so no pass runs with a nearly empty group).
 */
template <typename Fn>
inline void ForEachGroup(size_t n, size_t max_rows, Fn group) {
  if (n == 0) return;
  const size_t groups = (n + max_rows - 1) / max_rows;
  const size_t base = n / groups;
  size_t extra = n % groups;
  size_t first = 0;
  for (size_t g = 0; g < groups; g++) {
    const size_t count = base + (extra > 0 ? 1 : 0);
    if (extra > 0) extra--;
    group(first, count);
    first += count;
  }
}

// ---------------------------------------------------------------------------------------------
// SSSE3: 16-byte split tables.

template <int R>
RC_SSSE3 void Ssse3Group(const Job& job, const CoefRow* const* rows, uint8_t* const* out, const uint8_t* const* init) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  const uint8_t* nib[R];
  for (int r = 0; r < R; r++) nib[r] = rows[r]->nibble;
  const uint8_t* const* in = job.in;
  const uint16_t* col = job.col;
  const size_t nin = job.nin;
  const size_t len = job.len;
  size_t off = 0;
  for (;;) {
    if (off + 16 > len) {
      if (off == len) break;
      off = len - 16;  // overlapping last chunk: recomputes identical bytes (see kernels.h)
    }
    __m128i acc[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      acc[r] = init[r] != nullptr ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(init[r] + off)) : _mm_setzero_si128();
    }
    for (size_t j = 0; j < nin; j++) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in[j] + off));
      const __m128i lo = _mm_and_si128(x, mask);
      const __m128i hi = _mm_and_si128(_mm_srli_epi64(x, 4), mask);
      const size_t c = static_cast<size_t>(col[j]) * 32;
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const __m128i tl = _mm_loadu_si128(reinterpret_cast<const __m128i*>(nib[r] + c));
        const __m128i th = _mm_loadu_si128(reinterpret_cast<const __m128i*>(nib[r] + c + 16));
        acc[r] = _mm_xor_si128(acc[r], _mm_xor_si128(_mm_shuffle_epi8(tl, lo), _mm_shuffle_epi8(th, hi)));
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) _mm_storeu_si128(reinterpret_cast<__m128i*>(out[r] + off), acc[r]);
    if (off + 16 == len) break;
    off += 16;
  }
}

RC_SSSE3 void Ssse3Xor(const Job& job, uint8_t* out, const uint8_t* init) {
  const size_t len = job.len;
  size_t off = 0;
  for (;;) {
    if (off + 16 > len) {
      if (off == len) break;
      off = len - 16;
    }
    __m128i acc = init != nullptr ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(init + off)) : _mm_setzero_si128();
    for (size_t j = 0; j < job.nin; j++) {
      acc = _mm_xor_si128(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(job.in[j] + off)));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + off), acc);
    if (off + 16 == len) break;
    off += 16;
  }
}

// ---------------------------------------------------------------------------------------------
// AVX2: 32-byte split tables (each 16-byte half table broadcast to both lanes).

template <int R>
RC_AVX2 void Avx2Group(const Job& job, const CoefRow* const* rows, uint8_t* const* out, const uint8_t* const* init) {
  const __m256i mask = _mm256_set1_epi8(0x0f);
  const uint8_t* nib[R];
  for (int r = 0; r < R; r++) nib[r] = rows[r]->nibble;
  const uint8_t* const* in = job.in;
  const uint16_t* col = job.col;
  const size_t nin = job.nin;
  const size_t len = job.len;
  size_t off = 0;
  for (;;) {
    if (off + 32 > len) {
      if (off == len) break;
      off = len - 32;
    }
    __m256i acc[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      acc[r] = init[r] != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(init[r] + off)) : _mm256_setzero_si256();
    }
    for (size_t j = 0; j < nin; j++) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in[j] + off));
      const __m256i lo = _mm256_and_si256(x, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi64(x, 4), mask);
      const size_t c = static_cast<size_t>(col[j]) * 32;
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const __m256i tl = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(nib[r] + c)));
        const __m256i th = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(nib[r] + c + 16)));
        acc[r] = _mm256_xor_si256(acc[r], _mm256_xor_si256(_mm256_shuffle_epi8(tl, lo), _mm256_shuffle_epi8(th, hi)));
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[r] + off), acc[r]);
    if (off + 32 == len) break;
    off += 32;
  }
}

RC_AVX2 void Avx2Xor(const Job& job, uint8_t* out, const uint8_t* init) {
  const size_t len = job.len;
  size_t off = 0;
  for (;;) {
    if (off + 32 > len) {
      if (off == len) break;
      off = len - 32;
    }
    __m256i acc = init != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(init + off)) : _mm256_setzero_si256();
    for (size_t j = 0; j < job.nin; j++) {
      acc = _mm256_xor_si256(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(job.in[j] + off)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + off), acc);
    if (off + 32 == len) break;
    off += 32;
  }
}

// ---------------------------------------------------------------------------------------------
// GFNI + AVX2: one affine transform per coefficient and 32 bytes.

template <int R>
RC_GFNI_AVX2 void GfniAvx2Group(const Job& job, const CoefRow* const* rows, uint8_t* const* out, const uint8_t* const* init) {
  const uint64_t* aff[R];
  for (int r = 0; r < R; r++) aff[r] = rows[r]->affine;
  const uint8_t* const* in = job.in;
  const uint16_t* col = job.col;
  const size_t nin = job.nin;
  const size_t len = job.len;
  size_t off = 0;
  for (;;) {
    if (off + 32 > len) {
      if (off == len) break;
      off = len - 32;
    }
    __m256i acc[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      acc[r] = init[r] != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(init[r] + off)) : _mm256_setzero_si256();
    }
    for (size_t j = 0; j < nin; j++) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in[j] + off));
      const size_t c = col[j];
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const __m256i m = _mm256_set1_epi64x(static_cast<long long>(aff[r][c]));
        acc[r] = _mm256_xor_si256(acc[r], _mm256_gf2p8affine_epi64_epi8(x, m, 0));
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[r] + off), acc[r]);
    if (off + 32 == len) break;
    off += 32;
  }
}

// ---------------------------------------------------------------------------------------------
// GFNI + AVX-512: 64 bytes per step; the last partial chunk uses byte masks (no overlap).

/** One 64-byte column chunk of R rows; kMasked handles the last partial chunk with byte masks. */
template <int R, bool kMasked>
RC_GFNI_AVX512 inline void GfniAvx512Chunk(const uint8_t* const* in, const uint16_t* col, size_t nin, const uint64_t* const* aff,
                                           uint8_t* const* out, const uint8_t* const* init, size_t off, __mmask64 mask) {
  __m512i acc[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++) {
    if (init[r] == nullptr) acc[r] = _mm512_setzero_si512();
    else acc[r] = kMasked ? _mm512_maskz_loadu_epi8(mask, init[r] + off) : _mm512_loadu_si512(init[r] + off);
  }
  for (size_t j = 0; j < nin; j++) {
    const __m512i x = kMasked ? _mm512_maskz_loadu_epi8(mask, in[j] + off) : _mm512_loadu_si512(in[j] + off);
    const size_t c = col[j];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      const __m512i m = _mm512_set1_epi64(static_cast<long long>(aff[r][c]));
      acc[r] = _mm512_xor_si512(acc[r], _mm512_gf2p8affine_epi64_epi8(x, m, 0));
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; r++) {
    if (kMasked) _mm512_mask_storeu_epi8(out[r] + off, mask, acc[r]);
    else _mm512_storeu_si512(out[r] + off, acc[r]);
  }
}

template <int R>
RC_GFNI_AVX512 void GfniAvx512Group(const Job& job, const CoefRow* const* rows, uint8_t* const* out, const uint8_t* const* init) {
  const uint64_t* aff[R];
  for (int r = 0; r < R; r++) aff[r] = rows[r]->affine;
  const size_t len = job.len;
  size_t off = 0;
  for (; off + 64 <= len; off += 64) GfniAvx512Chunk<R, false>(job.in, job.col, job.nin, aff, out, init, off, 0);
  if (off < len) {
    const __mmask64 mask = _cvtu64_mask64((static_cast<uint64_t>(1) << (len - off)) - 1);
    GfniAvx512Chunk<R, true>(job.in, job.col, job.nin, aff, out, init, off, mask);
  }
}

RC_GFNI_AVX512 void Avx512Xor(const Job& job, uint8_t* out, const uint8_t* init) {
  const size_t len = job.len;
  for (size_t off = 0; off < len; off += 64) {
    const __mmask64 mask = len - off >= 64 ? ~static_cast<__mmask64>(0) : (static_cast<__mmask64>(1) << (len - off)) - 1;
    __m512i acc = init != nullptr ? _mm512_maskz_loadu_epi8(mask, init + off) : _mm512_setzero_si512();
    for (size_t j = 0; j < job.nin; j++) acc = _mm512_xor_si512(acc, _mm512_maskz_loadu_epi8(mask, job.in[j] + off));
    _mm512_mask_storeu_epi8(out + off, mask, acc);
  }
}

// ---------------------------------------------------------------------------------------------

using GroupFn = void (*)(const Job&, const CoefRow* const*, uint8_t* const*, const uint8_t* const*);
using XorFn = void (*)(const Job&, uint8_t*, const uint8_t*);

/** Runs a job with a family's group functions (index = rows in the group - 1) and XOR row function. */
void RunFamily(const Job& job, const GroupFn* groups, size_t max_rows, XorFn xor_row) {
  RowSplit split(job);
  for (size_t r = 0; r < split.n_xor; r++) xor_row(job, split.xor_out[r], split.xor_init[r]);
  ForEachGroup(split.n_mul, max_rows, [&](size_t first, size_t count) {
    groups[count - 1](job, split.mul_rows + first, split.mul_out + first, split.mul_init + first);
  });
}

constexpr GroupFn kSsse3Groups[] = {Ssse3Group<1>, Ssse3Group<2>, Ssse3Group<3>, Ssse3Group<4>};
constexpr GroupFn kAvx2Groups[] = {Avx2Group<1>, Avx2Group<2>, Avx2Group<3>, Avx2Group<4>, Avx2Group<5>, Avx2Group<6>};
constexpr GroupFn kGfniAvx2Groups[] = {GfniAvx2Group<1>, GfniAvx2Group<2>, GfniAvx2Group<3>, GfniAvx2Group<4>,
                                       GfniAvx2Group<5>, GfniAvx2Group<6>, GfniAvx2Group<7>, GfniAvx2Group<8>};
constexpr GroupFn kGfniAvx512Groups[] = {
    GfniAvx512Group<1>,  GfniAvx512Group<2>,  GfniAvx512Group<3>,  GfniAvx512Group<4>,  GfniAvx512Group<5>,  GfniAvx512Group<6>,
    GfniAvx512Group<7>,  GfniAvx512Group<8>,  GfniAvx512Group<9>,  GfniAvx512Group<10>, GfniAvx512Group<11>, GfniAvx512Group<12>,
    GfniAvx512Group<13>, GfniAvx512Group<14>, GfniAvx512Group<15>, GfniAvx512Group<16>};

template <size_t N>
constexpr size_t CountOf(const GroupFn (&)[N]) {
  return N;
}

}  // namespace

void Ssse3Kernel(const Job& job) {
  if (job.len < 16) return ScalarKernel(job);
  RunFamily(job, kSsse3Groups, CountOf(kSsse3Groups), Ssse3Xor);
}

void Avx2Kernel(const Job& job) {
  if (job.len < 32) return Ssse3Kernel(job);
  RunFamily(job, kAvx2Groups, CountOf(kAvx2Groups), Avx2Xor);
}

void GfniAvx2Kernel(const Job& job) {
  if (job.len < 32) return ScalarKernel(job);
  RunFamily(job, kGfniAvx2Groups, CountOf(kGfniAvx2Groups), Avx2Xor);
}

void GfniAvx512Kernel(const Job& job) {
  if (job.len == 0) return;
  RunFamily(job, kGfniAvx512Groups, CountOf(kGfniAvx512Groups), Avx512Xor);
}

}  // namespace rackcast::rs

#endif  // x86
