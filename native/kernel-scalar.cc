// The portable kernel: one 256-entry row of the product table per coefficient, one lookup and
// one XOR per byte. Also the fallback of the vector kernels for rows shorter than their width.

#include <cstring>

#include "gf256.h"
#include "kernels.h"

namespace rackcast::rs {

namespace {

void XorInto(uint8_t* dst, const uint8_t* src, size_t len) {
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, dst + i, 8);
    std::memcpy(&b, src + i, 8);
    a ^= b;
    std::memcpy(dst + i, &a, 8);
  }
  for (; i < len; i++) dst[i] ^= src[i];
}

}  // namespace

void ScalarKernel(const Job& job) {
  const size_t len = job.len;
  for (size_t r = 0; r < job.nrows; r++) {
    uint8_t* out = job.out[r];
    const CoefRow& row = *job.rows[r];
    if (job.init != nullptr) std::memcpy(out, job.init[r], len);
    else std::memset(out, 0, len);
    for (size_t j = 0; j < job.nin; j++) {
      const uint8_t* in = job.in[j];
      const uint8_t c = row.all_ones ? 1 : row.coef[job.col[j]];
      if (c == 1) {
        XorInto(out, in, len);
        continue;
      }
      const uint8_t* t = gf::kMul[c];
      for (size_t i = 0; i < len; i++) out[i] ^= t[in[i]];
    }
  }
}

}  // namespace rackcast::rs
