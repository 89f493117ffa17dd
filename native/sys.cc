// Node-API binding of system calls Node does not offer (node-addon-api, C++ exceptions off).
// native/sys.ts is the only caller.
//
// Exports (Linux):
//   syncfs(path, callback)   opens path (a file or directory, read-only), calls syncfs(2) on
//                            its file system and closes it, on the libuv threadpool (a sync can
//                            take seconds; the receiver's protocol loop must keep running);
//                            callback(error | null) with error.message "syncfs PATH: strerror (ECODE)"
// Elsewhere the addon exports nothing and native/sys.ts says why.
//
// Why not fsync on a directory fd: that flushes the directory's own metadata only, not the
// files written below it. syncfs(2) flushes the whole file system, as `sync -f DIR` does.

#include <napi.h>

#if defined(__linux__)

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <string>

namespace {

const char* ErrnoName(int e) {
  switch (e) {
    case EBADF: return "EBADF";
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ENOTDIR: return "ENOTDIR";
    default: return "E?";
  }
}

class SyncfsWorker : public Napi::AsyncWorker {
 public:
  SyncfsWorker(Napi::Function cb, std::string path) : Napi::AsyncWorker(cb), path_(std::move(path)) {}

  void Execute() override {
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      Fail("open");
      return;
    }
    int r = syncfs(fd);
    int e = errno;
    close(fd);
    if (r != 0) {
      errno = e;
      Fail("syncfs");
    }
  }

 private:
  void Fail(const char* call) {
    int e = errno;
    SetError(std::string(call) + " " + path_ + ": " + strerror(e) + " (" + ErrnoName(e) + ")");
  }

  std::string path_;
};

Napi::Value Syncfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "syncfs(path: string, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new SyncfsWorker(info[1].As<Napi::Function>(), info[0].As<Napi::String>().Utf8Value());
  w->Queue();
  return env.Undefined();
}

}  // namespace

static Napi::Object InitSys(Napi::Env env, Napi::Object exports) {
  exports.Set("syncfs", Napi::Function::New(env, Syncfs));
  return exports;
}

#else

static Napi::Object InitSys(Napi::Env, Napi::Object exports) { return exports; }

#endif

NODE_API_MODULE(rackcast_sys, InitSys)
