// Node-API binding of Debian's libzstd (node-addon-api, C++ exceptions off): a streaming
// decoder for the receiver (receiver/zstd.ts) and a one-frame compressor for the sender
// (sender/compress-zstd.ts). native/zstd.ts is the only caller.
//
// Built with or without libzstd: binding.gyp defines RACKCAST_HAVE_ZSTD only when
// native/probe-zstd.mjs found zstd.h and libzstd.so (Debian's libzstd-dev) at build time.
// Without it the addon exports { available: false, reason } and nothing else, so the other
// addons and every non-zstd path still work, and native/zstd.ts says why zstd is missing.
//
// Exports (with libzstd):
//   available: true, version: "1.5.4"
//   Decoder()                        one ZSTD_DStream; frames may follow each other
//     decompress(input, inOff, output) -> [inOffAfter, outBytes, hint]
//       consumes input[inOff..) into output[0..) (Uint8Arrays); hint is
//       ZSTD_decompressStream's return: 0 when a frame has just ended (and was checked),
//       else a size hint (> 0). Throws Error("zstd: <libzstd's error name>") on bad input.
//     close()                        frees the stream now (also done by the GC); idempotent
//   compressFrame(input, level, callback)
//     compresses input (a Uint8Array, held until the callback) into one frame with its
//     content size and a content checksum, on the libuv threadpool;
//     callback(error | null, Buffer)

#include <napi.h>

#if defined(RACKCAST_HAVE_ZSTD)

#include <zstd.h>

#include <string>

namespace {

Napi::Value ThrowError(Napi::Env env, const std::string& msg) {
  Napi::Error::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

class Decoder : public Napi::ObjectWrap<Decoder> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Decoder",
                       {InstanceMethod("decompress", &Decoder::Decompress), InstanceMethod("close", &Decoder::Close)});
  }

  explicit Decoder(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Decoder>(info) {
    stream_ = ZSTD_createDStream();
    if (stream_ == nullptr) {
      Napi::Error::New(info.Env(), "zstd: out of memory creating a decoder").ThrowAsJavaScriptException();
      return;
    }
    ZSTD_initDStream(stream_);
  }

  ~Decoder() override { Free(); }

 private:
  void Free() {
    if (stream_ != nullptr) ZSTD_freeDStream(stream_);
    stream_ = nullptr;
  }

  Napi::Value Decompress(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (stream_ == nullptr) return ThrowError(env, "zstd: decoder closed");
    if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray()) {
      Napi::TypeError::New(env, "decompress(input: Uint8Array, inOff: number, output: Uint8Array)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Uint8Array in = info[0].As<Napi::Uint8Array>();
    Napi::Uint8Array out = info[2].As<Napi::Uint8Array>();
    double off = info[1].As<Napi::Number>().DoubleValue();
    if (!(off >= 0) || off > static_cast<double>(in.ByteLength())) {
      Napi::RangeError::New(env, "decompress: inOff out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ZSTD_inBuffer ib{in.Data(), in.ByteLength(), static_cast<size_t>(off)};
    ZSTD_outBuffer ob{out.Data(), out.ByteLength(), 0};
    size_t r = ZSTD_decompressStream(stream_, &ob, &ib);
    if (ZSTD_isError(r)) return ThrowError(env, std::string("zstd: ") + ZSTD_getErrorName(r));
    Napi::Array res = Napi::Array::New(env, 3);
    res.Set(0u, Napi::Number::New(env, static_cast<double>(ib.pos)));
    res.Set(1u, Napi::Number::New(env, static_cast<double>(ob.pos)));
    res.Set(2u, Napi::Number::New(env, static_cast<double>(r)));
    return res;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }

  ZSTD_DStream* stream_ = nullptr;
};

/** One frame on the threadpool: the input stays referenced (not copied) until OnOK/OnError. */
class CompressWorker : public Napi::AsyncWorker {
 public:
  CompressWorker(Napi::Function cb, Napi::Uint8Array input, int level)
      : Napi::AsyncWorker(cb), data_(input.Data()), bytes_(input.ByteLength()), level_(level) {
    input_ = Napi::Persistent(input.As<Napi::Object>());
  }

  void Execute() override {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    if (cctx == nullptr) {
      SetError("zstd: out of memory creating a compressor");
      return;
    }
    size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level_);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
    if (!ZSTD_isError(r)) {
      out_.resize(ZSTD_compressBound(bytes_));
      r = ZSTD_compress2(cctx, &out_[0], out_.size(), data_, bytes_);
    }
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(r)) {
      SetError(std::string("zstd: ") + ZSTD_getErrorName(r));
      return;
    }
    out_.resize(r);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Callback().Call({env.Null(), Napi::Buffer<char>::Copy(env, out_.data(), out_.size())});
  }

 private:
  Napi::ObjectReference input_;
  const uint8_t* data_;
  size_t bytes_;
  int level_;
  std::string out_;
};

Napi::Value CompressFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "compressFrame(input: Uint8Array, level: number, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int level = info[1].As<Napi::Number>().Int32Value();
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    Napi::RangeError::New(env, "compressFrame: level out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new CompressWorker(info[2].As<Napi::Function>(), info[0].As<Napi::Uint8Array>(), level);
  w->Queue();
  return env.Undefined();
}

}  // namespace

static Napi::Object InitZstd(Napi::Env env, Napi::Object exports) {
  exports.Set("available", Napi::Boolean::New(env, true));
  exports.Set("version", Napi::String::New(env, ZSTD_versionString()));
  exports.Set("maxLevel", Napi::Number::New(env, ZSTD_maxCLevel()));
  exports.Set("Decoder", Decoder::Define(env));
  exports.Set("compressFrame", Napi::Function::New(env, CompressFrame));
  return exports;
}

#else

static Napi::Object InitZstd(Napi::Env env, Napi::Object exports) {
  exports.Set("available", Napi::Boolean::New(env, false));
  exports.Set("reason",
              Napi::String::New(env, "the native addon was built without libzstd (install Debian's libzstd-dev, then npm rebuild)"));
  return exports;
}

#endif

NODE_API_MODULE(rackcast_zstd, InitZstd)
