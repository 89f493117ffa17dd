// The GF(2^8) "dot product" kernels: out[r] = init[r] + sum_j row_r[col[j]] * in[j], byte by
// byte over len bytes, for several output rows at once so that each input chunk is loaded once
// per group of rows (the ISA-L gf_Nvect_dot_prod shape). Encode is one call (rows = parity
// rows, inputs = data blocks); decode is two (syndromes, then the inverse of the lost columns).
//
// Kernels are separately compiled functions with __attribute__((target(...))), chosen at run
// time with __builtin_cpu_supports, so one binary runs on any x86-64; on other architectures
// only the scalar kernel is built.

#pragma once

#include <cstddef>
#include <cstdint>

namespace rackcast::rs {

/** The tables of one output row, indexed by column (data block index, or syndrome index). */
struct CoefRow {
  const uint8_t* coef;     // [ncols] the coefficients themselves (scalar kernel)
  const uint64_t* affine;  // [ncols] GF2P8AFFINEQB matrices (GFNI kernels)
  const uint8_t* nibble;   // [ncols * 32] split tables, low nibble then high nibble (shuffle kernels)
  bool all_ones;           // every coefficient is 1: the row is a plain XOR of its inputs
};

struct Job {
  const uint8_t* const* in;    // nin inputs of len bytes
  const uint16_t* col;         // column of input j in the row tables (never null)
  size_t nin;
  const CoefRow* const* rows;  // nrows rows
  const uint8_t* const* init;  // per-row term added with coefficient 1 (syndromes), or null
  uint8_t* const* out;         // nrows outputs of len bytes
  size_t nrows;
  size_t len;
};
// Precondition for every kernel: no output overlaps an input, an init or another output. The
// vector kernels rely on it: they finish an odd length by recomputing one overlapping full-width
// chunk at len - width, which rewrites identical bytes only if the inputs did not change.

using KernelFn = void (*)(const Job& job);

/** Which per-coefficient tables a kernel reads (CoefRow::coef is always built). */
enum TableSet : unsigned { kTablesCoef = 0, kTablesNibble = 1, kTablesAffine = 2 };

struct Kernel {
  const char* name;
  KernelFn fn;
  unsigned tables;  // TableSet bits, including those of the kernel it falls back to for short rows
  bool supported;   // compiled in and the CPU has the instructions
};

/** All kernels known to this build, best first; `supported` reflects this CPU. */
const Kernel* Kernels(size_t* count);
/** The best supported kernel (scalar at worst). */
const Kernel* BestKernel();
/** A supported kernel by name, or null. */
const Kernel* FindKernel(const char* name);

void ScalarKernel(const Job& job);
#if defined(__x86_64__) || defined(__i386__)
void Ssse3Kernel(const Job& job);
void Avx2Kernel(const Job& job);
void GfniAvx2Kernel(const Job& job);
void GfniAvx512Kernel(const Job& job);
#endif

}  // namespace rackcast::rs
