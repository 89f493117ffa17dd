#include "gf256.h"

#include <cstring>

namespace rackcast::gf {

uint8_t kMul[256][256];
uint8_t kInv[256];
uint8_t kNibble[256][32];
uint64_t kAffine[256];

namespace {

constexpr unsigned kPolynomial = 0x11d;

/** Shift-and-add multiply: slow, only used to build the tables. */
uint8_t SlowMul(unsigned a, unsigned b) {
  unsigned r = 0;
  while (b != 0) {
    if (b & 1) r ^= a;
    a <<= 1;
    if (a & 0x100) a ^= kPolynomial;
    b >>= 1;
  }
  return static_cast<uint8_t>(r);
}

void Build() {
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 256; b++) kMul[a][b] = SlowMul(a, b);
  }
  kInv[0] = 0;
  for (unsigned a = 1; a < 256; a++) {
    for (unsigned b = 1; b < 256; b++) {
      if (kMul[a][b] == 1) {
        kInv[a] = static_cast<uint8_t>(b);
        break;
      }
    }
  }
  for (unsigned c = 0; c < 256; c++) {
    for (unsigned n = 0; n < 16; n++) {
      kNibble[c][n] = kMul[c][n];
      kNibble[c][16 + n] = kMul[c][n << 4];
    }
    uint64_t m = 0;
    for (unsigned i = 0; i < 8; i++) {
      // Row for output bit i: input bit j contributes when bit i of c * 2^j is set.
      unsigned row = 0;
      for (unsigned j = 0; j < 8; j++) row |= ((kMul[c][1u << j] >> i) & 1u) << j;
      m |= static_cast<uint64_t>(row) << (8 * (7 - i));
    }
    kAffine[c] = m;
  }
}

}  // namespace

void Init() {
  // A function-local static is initialised exactly once even when worker threads load the
  // addon at the same time.
  static const bool built = (Build(), true);
  (void)built;
}

bool Invert(uint8_t* a, uint8_t* inv, size_t n) {
  std::memset(inv, 0, n * n);
  for (size_t i = 0; i < n; i++) inv[i * n + i] = 1;
  for (size_t col = 0; col < n; col++) {
    size_t pivot = col;
    while (pivot < n && a[pivot * n + col] == 0) pivot++;
    if (pivot == n) return false;
    if (pivot != col) {
      for (size_t c = 0; c < n; c++) {
        uint8_t t = a[pivot * n + c];
        a[pivot * n + c] = a[col * n + c];
        a[col * n + c] = t;
        t = inv[pivot * n + c];
        inv[pivot * n + c] = inv[col * n + c];
        inv[col * n + c] = t;
      }
    }
    uint8_t* arow = a + col * n;
    uint8_t* irow = inv + col * n;
    const uint8_t scale = kInv[arow[col]];
    if (scale != 1) {
      const uint8_t* t = kMul[scale];
      for (size_t c = 0; c < n; c++) {
        arow[c] = t[arow[c]];
        irow[c] = t[irow[c]];
      }
    }
    for (size_t r = 0; r < n; r++) {
      if (r == col) continue;
      const uint8_t f = a[r * n + col];
      if (f == 0) continue;
      const uint8_t* t = kMul[f];
      uint8_t* ar = a + r * n;
      uint8_t* ir = inv + r * n;
      for (size_t c = 0; c < n; c++) {
        ar[c] ^= t[arow[c]];
        ir[c] ^= t[irow[c]];
      }
    }
  }
  return true;
}

}  // namespace rackcast::gf
