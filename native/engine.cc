#include "engine.h"

#include <cstring>

#include "gf256.h"

namespace rackcast::rs {

namespace {

struct Identity {
  uint16_t col[256];
  Identity() {
    for (unsigned i = 0; i < 256; i++) col[i] = static_cast<uint16_t>(i);
  }
};
const Identity kIdentity;

/** Rows per kernel call: keeps the kernels' stack arrays (256 rows) safe for any batch. */
constexpr size_t kMaxRowsPerJob = 255;

bool Overlaps(const uint8_t* a, const uint8_t* b, size_t len) { return a < b + len && b < a + len; }

}  // namespace

RowStore::RowStore(const uint8_t* coefs, size_t n, unsigned tables) : coef(coefs, coefs + n) {
  bool all_ones = true;
  for (size_t j = 0; j < n; j++) all_ones = all_ones && coefs[j] == 1;
  if (tables & kTablesAffine) {
    affine.resize(n);
    for (size_t j = 0; j < n; j++) affine[j] = gf::kAffine[coefs[j]];
  }
  if (tables & kTablesNibble) {
    nibble.resize(n * 32);
    for (size_t j = 0; j < n; j++) std::memcpy(&nibble[j * 32], gf::kNibble[coefs[j]], 32);
  }
  view.coef = coef.data();
  view.affine = affine.data();
  view.nibble = nibble.data();
  view.all_ones = all_ones;
}

Engine::Engine(const Kernel* kernel, size_t max_decode_entries) : kernel_(kernel), max_decode_entries_(max_decode_entries) {}

Engine::CodingTable& Engine::TableFor(unsigned k) {
  clock_++;
  for (auto& t : tables_) {
    if (t->k == k) {
      t->used = clock_;
      return *t;
    }
  }
  if (tables_.size() >= kMaxCodingTables) {
    size_t oldest = 0;
    for (size_t i = 1; i < tables_.size(); i++) {
      if (tables_[i]->used < tables_[oldest]->used) oldest = i;
    }
    tables_.erase(tables_.begin() + static_cast<std::ptrdiff_t>(oldest));
  }
  auto t = std::make_unique<CodingTable>();
  t->k = k;
  t->used = clock_;
  t->rows.resize(256 - k);
  tables_.push_back(std::move(t));
  return *tables_.back();
}

const CoefRow* Engine::Row(CodingTable& table, unsigned parity_index) {
  std::unique_ptr<RowStore>& slot = table.rows[parity_index];
  if (!slot) {
    uint8_t coefs[255];
    for (unsigned j = 0; j < table.k; j++) coefs[j] = gf::Coefficient(table.k, parity_index, j);
    slot = std::make_unique<RowStore>(coefs, table.k, kernel_->tables);
  }
  return &slot->view;
}

const Engine::DecodeEntry& Engine::DecodeFor(CodingTable& table, const unsigned* missing, const unsigned* parity, size_t l) {
  uint8_t key[2 + 2 * 255];
  const size_t key_len = 2 + 2 * l;
  key[0] = static_cast<uint8_t>(table.k);
  key[1] = static_cast<uint8_t>(l);
  for (size_t u = 0; u < l; u++) {
    key[2 + u] = static_cast<uint8_t>(missing[u]);
    key[2 + l + u] = static_cast<uint8_t>(parity[u]);
  }
  clock_++;
  for (auto& e : decodes_) {
    if (e->key.size() == key_len && std::memcmp(e->key.data(), key, key_len) == 0) {
      e->used = clock_;
      return *e;
    }
  }

  // A[t][u] = c'(parity[t], missing[u]); the inverse maps syndromes to the lost blocks.
  std::vector<uint8_t> a(l * l);
  std::vector<uint8_t> inv(l * l);
  for (size_t t = 0; t < l; t++) {
    for (size_t u = 0; u < l; u++) a[t * l + u] = gf::Coefficient(table.k, parity[t], missing[u]);
  }
  // Cannot fail: every square submatrix of the scaled Cauchy matrix is nonsingular.
  gf::Invert(a.data(), inv.data(), l);

  auto e = std::make_unique<DecodeEntry>();
  e->key.assign(key, key + key_len);
  e->used = clock_;
  for (size_t u = 0; u < l; u++) {
    e->rows.push_back(std::make_unique<RowStore>(&inv[u * l], l, kernel_->tables));
    e->views.push_back(&e->rows.back()->view);
  }
  if (max_decode_entries_ == 0) {
    // No cache: keep exactly one entry alive for the current call.
    decodes_.clear();
  } else if (decodes_.size() >= max_decode_entries_) {
    size_t oldest = 0;
    for (size_t i = 1; i < decodes_.size(); i++) {
      if (decodes_[i]->used < decodes_[oldest]->used) oldest = i;
    }
    decodes_.erase(decodes_.begin() + static_cast<std::ptrdiff_t>(oldest));
  }
  decodes_.push_back(std::move(e));
  return *decodes_.back();
}

void Engine::Encode(const uint8_t* const* data, size_t k, const unsigned* parity, uint8_t* const* out, size_t n, size_t len) {
  if (n == 0 || len == 0) return;
  CodingTable& table = TableFor(static_cast<unsigned>(k));
  const CoefRow* rows[kMaxRowsPerJob];
  for (size_t first = 0; first < n; first += kMaxRowsPerJob) {
    const size_t count = n - first < kMaxRowsPerJob ? n - first : kMaxRowsPerJob;
    for (size_t t = 0; t < count; t++) rows[t] = Row(table, parity[first + t]);
    const Job job{data, kIdentity.col, k, rows, nullptr, out + first, count, len};
    kernel_->fn(job);
  }
}

void Engine::Decode(uint8_t* const* data, size_t k, const unsigned* missing, const unsigned* parity,
                    const uint8_t* const* parity_bytes, size_t l, size_t len) {
  if (l == 0 || len == 0) return;
  CodingTable& table = TableFor(static_cast<unsigned>(k));

  // Step 1 reads the present data blocks, in order, at their own columns.
  bool lost[256] = {};
  for (size_t u = 0; u < l; u++) lost[missing[u]] = true;
  const uint8_t* present[255];
  uint16_t cols[255];
  size_t n_present = 0;
  for (size_t j = 0; j < k; j++) {
    if (lost[j]) continue;
    present[n_present] = data[j];
    cols[n_present++] = static_cast<uint16_t>(j);
  }
  const CoefRow* parity_rows[255];
  for (size_t t = 0; t < l; t++) parity_rows[t] = Row(table, parity[t]);
  const DecodeEntry& inverse = DecodeFor(table, missing, parity, l);

  // One loss with an inverse of [1] (parity 0): the syndrome is the lost block, so step 1 can
  // write it in place, unless the output shares memory with an input.
  if (l == 1 && inverse.views[0]->all_ones) {
    uint8_t* out = data[missing[0]];
    bool alias = Overlaps(out, parity_bytes[0], len);
    for (size_t j = 0; j < n_present && !alias; j++) alias = Overlaps(out, present[j], len);
    if (!alias) {
      const Job job{present, cols, n_present, parity_rows, parity_bytes, &out, 1, len};
      kernel_->fn(job);
      return;
    }
  }

  // Step 1: s_t = parity_t + sum_{j present} c'(parity[t], j) d_j = sum_u c'(parity[t], missing[u]) d_missing[u].
  // Rows are 64-byte aligned in the scratch so the vector kernels' loads stay within one line.
  const size_t stride = (len + 63) & ~static_cast<size_t>(63);
  if (scratch_.size() < l * stride + 64) scratch_.resize(l * stride + 64);
  uint8_t* base = scratch_.data();
  base += (64 - (reinterpret_cast<uintptr_t>(base) & 63)) & 63;
  uint8_t* syndromes[255];
  for (size_t t = 0; t < l; t++) syndromes[t] = base + t * stride;
  const Job step1{present, cols, n_present, parity_rows, parity_bytes, syndromes, l, len};
  kernel_->fn(step1);

  // Step 2: d_missing[u] = sum_t inv[u][t] s_t.
  uint8_t* outs[255];
  for (size_t u = 0; u < l; u++) outs[u] = data[missing[u]];
  const Job step2{syndromes, kIdentity.col, l, inverse.views.data(), nullptr, outs, l, len};
  kernel_->fn(step2);
}

CacheStats Engine::Stats() const {
  CacheStats s{tables_.size(), 0, decodes_.size(), scratch_.size()};
  for (const auto& t : tables_) {
    for (const auto& r : t->rows) {
      if (r) {
        s.coding_rows++;
        s.bytes += r->Bytes();
      }
    }
  }
  for (const auto& e : decodes_) {
    for (const auto& r : e->rows) s.bytes += r->Bytes();
  }
  return s;
}

}  // namespace rackcast::rs
