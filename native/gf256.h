// GF(2^8) arithmetic and the coding-matrix maths for the native Reed-Solomon engine.
//
// Same field as protocol/fec/gf256.ts: polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D), generator 2.
// Same code as protocol/fec/cauchy-rs.ts: c'(i, j) = (k XOR j) / ((k + i) XOR j), so parity 0 is
// the XOR of the data blocks. The two must stay byte-identical (parity goes on the wire);
// test/unit/native/rs-differential.test.ts compares them.

#pragma once

#include <cstddef>
#include <cstdint>

namespace rackcast::gf {

/** Product table: kMul[a][b] = a * b. 64 KiB, filled once by Init(). */
extern uint8_t kMul[256][256];
/** Inverse table: kInv[a] * a = 1 for a != 0; kInv[0] = 0 (never used as a real inverse). */
extern uint8_t kInv[256];
/**
 * Split ("nibble") tables for the shuffle kernels: for coefficient c, bytes 0..15 hold
 * c * n and bytes 16..31 hold c * (n << 4), n = 0..15, so c * x = lo[x & 15] ^ hi[x >> 4].
 */
extern uint8_t kNibble[256][32];
/**
 * 8x8 bit matrices for GF2P8AFFINEQB: multiplying by c is linear over GF(2), and the
 * instruction computes result bit i = parity(matrix.byte[7 - i] AND x). Any reduction
 * polynomial can be expressed this way (GF2P8MULB is fixed to 0x11B, so it cannot be used).
 */
extern uint64_t kAffine[256];

/** Builds the tables once (thread-safe); called whenever the addon is loaded into a JS thread. */
void Init();

inline uint8_t Mul(uint8_t a, uint8_t b) { return kMul[a][b]; }
inline uint8_t Div(uint8_t a, uint8_t b) { return kMul[a][kInv[b]]; }

/** c'(i, j) for 1 <= k <= 255, 0 <= i < 256 - k, 0 <= j < k. Never 0; 1 exactly when i == 0. */
inline uint8_t Coefficient(unsigned k, unsigned parity_index, unsigned data_index) {
  return Div(static_cast<uint8_t>(k ^ data_index), static_cast<uint8_t>((k + parity_index) ^ data_index));
}

/**
 * Inverts the n x n row-major matrix `a` in place into `inv` (Gauss-Jordan). `a` is destroyed.
 * Returns false when singular, which cannot happen for a square submatrix of the scaled Cauchy
 * matrix (see protocol/fec/cauchy-rs.ts for the argument).
 */
bool Invert(uint8_t* a, uint8_t* inv, size_t n);

}  // namespace rackcast::gf
