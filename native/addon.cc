// Node-API binding of the native Reed-Solomon engine (node-addon-api, C++ exceptions off).
//
// Exports:
//   kernels: { name, supported }[]   every kernel in this build, best first
//   bestKernel: string              what new Engine() uses
//   Engine(kernel?, inverseCacheEntries?)  encode(bufs, desc), decode(bufs, desc), stats(), kernel
//
// Calling convention (common/fec.ts builds it; nothing else should call these directly; `desc`
// may be longer than needed, so the caller can reuse one scratch array).
// Reading k Uint8Arrays through Node-API costs ~60 ns each (napi_get_element plus
// napi_get_typedarray_info): 7.5 us per call at k = 128, more than the arithmetic of one
// parity symbol. So the caller names each block by (buffer number, byte offset) in one
// Float64Array `desc`, and `bufs` lists the distinct backing stores, usually one (a slice
// buffer) or a few. A `bufs` entry is an ArrayBuffer, or a Uint8Array standing for its own
// bytes (for SharedArrayBuffer-backed views, which napi_get_arraybuffer_info rejects).
//
//   encode desc: k, n, len, parityIndex[n], then (buf, offset) for k data blocks and n outputs
//   decode desc: k, l, len, missing[l], parityIndex[l], then (buf, offset) for k data blocks and
//                l parity symbols; data[missing[u]] are the outputs
//
// The JS side checks the arguments first with the same function as the TS reference
// (checkEncodeArgs / checkDecodeArgs), so users see identical errors. Everything that could
// make the C++ touch memory out of bounds is checked again here (RangeError): counts, indices,
// and that every block lies inside its buffer.

#include <napi.h>

#include <cstdio>
#include <string>

#include "engine.h"
#include "gf256.h"
#include "kernels.h"

namespace rackcast::rs {

namespace {

constexpr size_t kMaxK = 255;
/** Outputs per encode call; common/fec.ts splits bigger batches. */
constexpr size_t kMaxOutputs = 255;
/** Distinct buffers per call: at most one per block. */
constexpr size_t kMaxBufs = kMaxK + kMaxOutputs;

napi_value ThrowRange(napi_env env, const std::string& msg) {
  napi_throw_range_error(env, nullptr, msg.c_str());
  return nullptr;
}

napi_value ThrowType(napi_env env, const std::string& msg) {
  napi_throw_type_error(env, nullptr, msg.c_str());
  return nullptr;
}

/**
 * A non-negative integer below `limit` (<= 2^53) stored in a double, else false. Truncating and
 * comparing back is one conversion each way; std::floor is a slow library sequence on baseline
 * x86-64 (no SSE4.1 ROUNDSD), and this runs once per block per call.
 */
inline bool Whole(double d, double limit, size_t* out) {
  if (!(d >= 0 && d < limit)) return false;
  const uint64_t v = static_cast<uint64_t>(d);
  if (static_cast<double>(v) != d) return false;
  *out = static_cast<size_t>(v);
  return true;
}

/** The descriptor array: a Float64Array. */
bool Desc(napi_env env, napi_value v, const double** desc, size_t* count) {
  napi_typedarray_type type;
  void* ptr = nullptr;
  if (napi_get_typedarray_info(env, v, &type, count, &ptr, nullptr, nullptr) != napi_ok || type != napi_float64_array) {
    ThrowType(env, "desc must be a Float64Array");
    return false;
  }
  *desc = static_cast<const double*>(ptr);
  return true;
}

/**
 * Turns `count` (buffer number, offset) pairs into pointers, checking that each block of `len`
 * bytes lies inside its buffer.
 */
bool ResolveBlocks(napi_env env, napi_value bufs, const double* pairs, size_t count, size_t len, uint8_t** out) {
  bool is_array = false;
  uint32_t nb = 0;
  if (napi_is_array(env, bufs, &is_array) != napi_ok || !is_array || napi_get_array_length(env, bufs, &nb) != napi_ok) {
    ThrowType(env, "bufs must be an array");
    return false;
  }
  if (nb > count || nb > kMaxBufs) {
    ThrowRange(env, "more buffers than blocks");
    return false;
  }
  uint8_t* base[kMaxBufs];
  size_t size[kMaxBufs];
  for (uint32_t i = 0; i < nb; i++) {
    napi_value v;
    if (napi_get_element(env, bufs, i, &v) != napi_ok) return false;
    void* data = nullptr;
    size_t bytes = 0;
    bool is_ab = false;
    napi_is_arraybuffer(env, v, &is_ab);
    if (is_ab) {
      if (napi_get_arraybuffer_info(env, v, &data, &bytes) != napi_ok) return false;
    } else {
      napi_typedarray_type type;
      if (napi_get_typedarray_info(env, v, &type, &bytes, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
        ThrowType(env, "bufs[" + std::to_string(i) + "] is neither an ArrayBuffer nor a Uint8Array");
        return false;
      }
    }
    base[i] = static_cast<uint8_t*>(data);
    size[i] = bytes;
  }
  for (size_t b = 0; b < count; b++) {
    // Zero-length blocks are never read or written (even on a detached buffer), as in the TS reference.
    if (len == 0) {
      out[b] = nullptr;
      continue;
    }
    size_t bi = 0;
    size_t off = 0;
    if (!Whole(pairs[2 * b], nb, &bi) || !Whole(pairs[2 * b + 1], 9007199254740992.0, &off) || off > size[bi] ||
        len > size[bi] - off) {
      ThrowRange(env, "block " + std::to_string(b) + " lies outside its buffer");
      return false;
    }
    out[b] = base[bi] + off;
  }
  return true;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {InstanceMethod<&EngineWrap::Encode>("encode"), InstanceMethod<&EngineWrap::Decode>("decode"),
                        InstanceMethod<&EngineWrap::Stats>("stats"), InstanceAccessor<&EngineWrap::KernelName>("kernel")});
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    napi_env env = info.Env();
    const Kernel* kernel = BestKernel();
    if (info.Length() >= 1 && !info[0].IsUndefined()) {
      if (!info[0].IsString()) {
        ThrowType(env, "kernel must be a string");
        return;
      }
      const std::string name = info[0].As<Napi::String>().Utf8Value();
      kernel = FindKernel(name.c_str());
      if (kernel == nullptr) {
        ThrowRange(env, "RS kernel '" + name + "' is not available on this CPU or in this build");
        return;
      }
    }
    size_t entries = kDefaultDecodeEntries;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
      if (!info[1].IsNumber() || !Whole(info[1].As<Napi::Number>().DoubleValue(), 1e6, &entries)) {
        ThrowRange(env, "inverseCacheEntries must be a non-negative integer");
        return;
      }
    }
    engine_ = std::make_unique<Engine>(kernel, entries);
  }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    const double* d = nullptr;
    size_t count = 0;
    if (!Desc(env, info[1], &d, &count)) return Napi::Value();
    size_t k = 0;
    size_t n = 0;
    size_t len = 0;
    if (count < 3 || !Whole(d[0], kMaxK + 1, &k) || k == 0 || !Whole(d[1], kMaxOutputs + 1, &n) ||
        !Whole(d[2], 9007199254740992.0, &len) || count < 3 + n + 2 * (k + n)) {
      return Napi::Value(env, ThrowRange(env, "bad encode descriptor"));
    }
    unsigned parity[kMaxOutputs];
    for (size_t t = 0; t < n; t++) {
      size_t p = 0;
      if (!Whole(d[3 + t], 256 - k, &p)) return Napi::Value(env, ThrowRange(env, "parity index out of range"));
      parity[t] = static_cast<unsigned>(p);
    }
    uint8_t* blocks[kMaxK + kMaxOutputs];
    if (!ResolveBlocks(env, info[0], d + 3 + n, k + n, len, blocks)) return Napi::Value();
    engine_->Encode(blocks, k, parity, blocks + k, n, len);
    return Napi::Value();
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    napi_env env = info.Env();
    const double* d = nullptr;
    size_t count = 0;
    if (!Desc(env, info[1], &d, &count)) return Napi::Value();
    size_t k = 0;
    size_t l = 0;
    size_t len = 0;
    if (count < 3 || !Whole(d[0], kMaxK + 1, &k) || k == 0 || !Whole(d[1], k + 1, &l) ||
        !Whole(d[2], 9007199254740992.0, &len) || count < 3 + 2 * l + 2 * (k + l)) {
      return Napi::Value(env, ThrowRange(env, "bad decode descriptor"));
    }
    unsigned missing[kMaxK];
    unsigned parity[kMaxK];
    bool seen_missing[256] = {};
    bool seen_parity[256] = {};
    for (size_t u = 0; u < l; u++) {
      size_t m = 0;
      size_t p = 0;
      if (!Whole(d[3 + u], k, &m) || seen_missing[m] || !Whole(d[3 + l + u], 256 - k, &p) || seen_parity[p]) {
        return Napi::Value(env, ThrowRange(env, "missing or parity index out of range or repeated"));
      }
      seen_missing[m] = seen_parity[p] = true;
      missing[u] = static_cast<unsigned>(m);
      parity[u] = static_cast<unsigned>(p);
    }
    uint8_t* blocks[kMaxK + kMaxK];
    if (!ResolveBlocks(env, info[0], d + 3 + 2 * l, k + l, len, blocks)) return Napi::Value();
    engine_->Decode(blocks, k, missing, parity, blocks + k, l, len);
    return Napi::Value();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    const CacheStats s = engine_->Stats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("codingTables", static_cast<double>(s.coding_tables));
    o.Set("codingRows", static_cast<double>(s.coding_rows));
    o.Set("decodeEntries", static_cast<double>(s.decode_entries));
    o.Set("bytes", static_cast<double>(s.bytes));
    return o;
  }

  Napi::Value KernelName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), engine_->kernel()->name); }

  std::unique_ptr<Engine> engine_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  gf::Init();
  size_t count = 0;
  const Kernel* kernels = Kernels(&count);
  Napi::Array list = Napi::Array::New(env, count);
  for (size_t i = 0; i < count; i++) {
    Napi::Object k = Napi::Object::New(env);
    k.Set("name", kernels[i].name);
    k.Set("supported", kernels[i].supported);
    list.Set(static_cast<uint32_t>(i), k);
  }
  exports.Set("kernels", list);
  exports.Set("bestKernel", BestKernel()->name);
  exports.Set("Engine", EngineWrap::Define(env));
  return exports;
}

}  // namespace

}  // namespace rackcast::rs

static Napi::Object InitRackcastRs(Napi::Env env, Napi::Object exports) { return rackcast::rs::Init(env, exports); }

NODE_API_MODULE(rackcast_rs, InitRackcastRs)
