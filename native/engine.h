// The native Reed-Solomon engine: the same systematic, column-scaled Cauchy code as
// protocol/fec/cauchy-rs.ts, run through one of the kernels in kernels.h, with bounded caches
// of coding rows and decode inverses. Not thread-safe: one engine per JS thread (the addon
// makes one per NativeReedSolomon).

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels.h"

namespace rackcast::rs {

/** Bound on cached coding tables, one per distinct k (an image uses a few: full and last stripe). */
constexpr size_t kMaxCodingTables = 8;
/** Default bound on cached decode inverses, keyed by (k, lost blocks, parity indices used). */
constexpr size_t kDefaultDecodeEntries = 64;

/** One output row's tables, owning the storage that a CoefRow points into. */
struct RowStore {
  std::vector<uint8_t> coef;
  std::vector<uint64_t> affine;
  std::vector<uint8_t> nibble;
  CoefRow view{};

  RowStore(const uint8_t* coefs, size_t n, unsigned tables);
  size_t Bytes() const { return coef.size() + affine.size() * 8 + nibble.size(); }
};

struct CacheStats {
  size_t coding_tables;
  size_t coding_rows;
  size_t decode_entries;
  size_t bytes;
};

class Engine {
 public:
  Engine(const Kernel* kernel, size_t max_decode_entries);

  const Kernel* kernel() const { return kernel_; }

  // The callers (addon.cc) have validated everything: 1 <= k <= 255, indices in range and
  // distinct, every buffer at least len bytes, outputs not overlapping inputs.

  /** out[t] = parity symbol parity[t] of the k data blocks, t < n. */
  void Encode(const uint8_t* const* data, size_t k, const unsigned* parity, uint8_t* const* out, size_t n, size_t len);

  /**
   * Rebuilds data[missing[u]] for u < l from the other data blocks and the parity symbols
   * (parity[t], parity_bytes[t]). The parity bytes are fully consumed before any output is
   * written, so an output may share memory with a parity symbol.
   */
  void Decode(uint8_t* const* data, size_t k, const unsigned* missing, const unsigned* parity,
              const uint8_t* const* parity_bytes, size_t l, size_t len);

  CacheStats Stats() const;

 private:
  struct CodingTable {
    unsigned k;
    uint64_t used;
    std::vector<std::unique_ptr<RowStore>> rows;  // 256 - k slots, built on first use
  };
  struct DecodeEntry {
    std::vector<uint8_t> key;  // k, l, missing[0..l), parity[0..l)
    uint64_t used;
    std::vector<std::unique_ptr<RowStore>> rows;  // l rows of the inverse, l columns each
    std::vector<const CoefRow*> views;
  };

  CodingTable& TableFor(unsigned k);
  const CoefRow* Row(CodingTable& table, unsigned parity_index);
  const DecodeEntry& DecodeFor(CodingTable& table, const unsigned* missing, const unsigned* parity, size_t l);

  const Kernel* kernel_;
  size_t max_decode_entries_;
  uint64_t clock_ = 0;
  // Bounded: at most kMaxCodingTables tables, least recently used evicted.
  std::vector<std::unique_ptr<CodingTable>> tables_;
  // Bounded: at most max_decode_entries_ entries, least recently used evicted.
  std::vector<std::unique_ptr<DecodeEntry>> decodes_;
  // Syndrome rows. Bounded: grows to the largest l * len decoded so far (l <= 255).
  std::vector<uint8_t> scratch_;
};

}  // namespace rackcast::rs
