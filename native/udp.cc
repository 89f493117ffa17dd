// Node-API binding of the native UDP socket (node-addon-api, C++ exceptions off): a Socket
// class over udp-io.h plus one uv_poll_t on its fd in Node's own event loop. common/udp/native.ts
// is the only caller and owns all JS-side memory; the C++ side keeps no JS buffer between calls
// except the counters array.
//
// Exports:
//   probe(): { gso: boolean, gro: boolean, error?: string }   opens and closes one socket
//   Socket(flags, counters, onEvent)
//     flags: bit 0 SO_REUSEADDR, bit 1 try UDP_SEGMENT (GSO), bit 2 try UDP_GRO
//     counters: Float64Array(8), written by C++ (table below)
//     onEvent(events, error?): called from the event loop with events bit 0 readable,
//       bit 1 writable, and an error message when the poll itself failed
//   Socket methods (addresses are IPv4 as host-order uint32, a.b.c.d = a<<24 | b<<16 | c<<8 | d;
//   failures throw an Error "<syscall> <detail>: <strerror> (<ECODE>)" with code/errno/syscall):
//     bind(ip, port), connect(ip, port), localAddress(): [ip, port]
//     addMembership(group, iface), dropMembership(group, iface), setMulticastInterface(ip), setMulticastTTL(ttl),
//     setMulticastLoopback(on), setBufferSize(send, bytes), getBufferSize(send): number
//     startReading()                 poll for UV_READABLE from now on (until close)
//     setWantWritable(on)            poll for UV_WRITABLE (only while a batch waits)
//     sendBatch(buf, segBytes, count, lastBytes, first, ip, port): number
//     startSendThread()              send syscalls on a thread of their own from now on
//                                    (native/send-thread.h); then queueBatch (sendBatch throws)
//     queueBatch(buf, segBytes, count, lastBytes, ip, port)   the batch as for sendBatch, sent
//                                    by the thread; buf must stay untouched until counter 6
//                                    counts it (batches finish in the order queued)
//     notifyBelow(n)                 onEvent(writable) once, as soon as fewer than n queued
//                                    batches are unfinished (at once if so already); 0 cancels
//     recv(slab, off, meta): number  datagrams placed in slab/meta (0: none waiting)
//     setCpuCounters(cpu)            cpu: Float64Array(5), the cpu counters below from now on
//     setPlacement(table, pool)      DATA placement on (table: Uint32Array, pool: Uint8Array) or
//                                    off (null, null); the layout is in udp-io.h
//   threadCpuNs(): number            the calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID)
//   placeDatagram(table, pool, bytes, srcIp, rec): number   PlaceDatagram alone (0 placed, 1 raw,
//                                    2 raw + stop), for the differential test
//   alignOffset(view, align): number the index of the view's first byte at an address that is a
//                                    multiple of align (O_DIRECT buffers)
//     injectSendErrors(errno, calls) test hook: the next `calls` send syscalls fail with errno
//     close()                        stops the poll, closes the fd; idempotent
//     gso, gro                       what the socket does now (GSO can turn off at run time)
//
// counters (Float64Array, one double each; C++ adds, JS only reads):
//   index  name                meaning
//   0      datagramsSent       datagrams the kernel accepted
//   1      sendCalls           send syscalls made (sendmsg/sendmmsg), failed ones included
//   2      sendBlocked         send attempts that found the buffer full (EAGAIN/ENOBUFS)
//   3      sendErrors          datagrams dropped after another send error
//   4      datagramsReceived   datagrams handed to JS (in a slab, or placed)
//   5      recvCalls           receive syscalls made (recvmsg/recvmmsg), EAGAIN ones included
//   6      batchesDone         batches the send thread finished (sent, or dropped and counted)
//   7      sendThreadNs        the send thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID)
//
// cpu counters (Float64Array(5) given with setCpuCounters; kept inside until then):
//   0      sendSyscallNs       CPU ns (this thread) inside send syscalls
//   1      recvSyscallNs       CPU ns inside receive syscalls
//   2      recvCopyNs          CPU ns copying received datagrams into slices or the slab
//                              (0-2: estimates from a sample of the calls, udp-io.h CpuSampler)
//   3      datagramsPlaced     DATA datagrams placed into slice memory (see udp-io.h)
//   4      placeStops          receive calls ended early for JS to open a slice
//
// sendBatch(buf, segBytes, count, lastBytes, first, ip, port): the batch lies at buf[0..)
// (an ArrayBuffer) as count datagrams back to back:
//   bytes [i*segBytes, (i+1)*segBytes)          datagram i, for i < count - 1
//   bytes [(count-1)*segBytes, +lastBytes)      the last one, lastBytes <= segBytes
// Datagrams before `first` were sent by an earlier call. port 0 means the connected peer.
// Returns the first datagram not yet done: count when finished, less when the kernel buffer is
// full (call again after a writable event with the returned value as `first`).
//
// recv(slab, off, meta): slab is an ArrayBuffer with at least 65536 bytes free from `off`;
// meta is a Uint32Array of at least 4 * 256 entries. Datagram k (k < returned count) is:
//   meta[4k + 0]   byte offset in slab (>= off; datagrams are packed in arrival order)
//   meta[4k + 1]   length in bytes
//   meta[4k + 2]   source IPv4 (host-order uint32)
//   meta[4k + 3]   source port
// Bytes of the slab outside the returned datagrams are not touched beyond off + 65536.
// With placement on, an entry may instead be a placed DATA record (its bytes are already in the
// slice's memory in the pool, and it takes no slab bytes):
//   meta[4k + 0]   seq
//   meta[4k + 1]   0x80000000 | sliceBytes (no datagram's length has bit 31)
//   meta[4k + 2]   sliceNo
//   meta[4k + 3]   blockNo | flags << 16

#include <napi.h>

#if defined(__linux__)

#include <errno.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "send-thread.h"
#include "udp-io.h"

namespace rackcast::udp {

namespace {

constexpr uint32_t kFlagReuseAddr = 1;
constexpr uint32_t kFlagGso = 2;
constexpr uint32_t kFlagGro = 4;
constexpr int kEventReadable = 1;
constexpr int kEventWritable = 2;

/** "EADDRINUSE" for 98, where the C library can say; "" otherwise. */
std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "";
#else
  (void)err;
  return "";
#endif
}

std::string Dotted(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) + "." +
         std::to_string(ip & 255);
}

/** Throws a one-line system error in Node's shape (code, errno, syscall). */
Napi::Value ThrowSys(Napi::Env env, const char* syscall, const std::string& detail, int err) {
  const std::string name = ErrnoName(err);
  std::string msg = syscall;
  if (!detail.empty()) msg += " " + detail;
  msg += ": ";
  msg += std::strerror(err);
  if (!name.empty()) msg += " (" + name + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  if (!name.empty()) e.Set("code", Napi::String::New(env, name));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowRange(Napi::Env env, const std::string& msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

/** info[i] as a whole number in [0, max], else throws TypeError and returns false. */
bool Whole(const Napi::CallbackInfo& info, size_t i, double max, double* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must be a number");
    return false;
  }
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || static_cast<double>(static_cast<uint64_t>(d)) != d) {
    ThrowRange(info.Env(), "argument " + std::to_string(i) + " out of range: " + std::to_string(d));
    return false;
  }
  *out = d;
  return true;
}

bool U32(const Napi::CallbackInfo& info, size_t i, uint32_t max, uint32_t* out) {
  double d = 0;
  if (!Whole(info, i, max, &d)) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool ArrayBufferArg(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len) {
  if (i >= info.Length() || !info[i].IsArrayBuffer()) {
    ThrowType(info.Env(), "argument " + std::to_string(i) + " must be an ArrayBuffer");
    return false;
  }
  Napi::ArrayBuffer ab = info[i].As<Napi::ArrayBuffer>();
  *data = static_cast<uint8_t*>(ab.Data());
  *len = ab.ByteLength();
  return true;
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const Support s = ProbeSupport();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gso", Napi::Boolean::New(info.Env(), s.gso));
  o.Set("gro", Napi::Boolean::New(info.Env(), s.gro));
  if (s.socketErr != 0) o.Set("error", Napi::String::New(info.Env(), std::string("socket: ") + std::strerror(s.socketErr)));
  return o;
}

class Socket : public Napi::ObjectWrap<Socket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Socket",
                       {
                           InstanceMethod<&Socket::Bind>("bind"),
                           InstanceMethod<&Socket::Connect>("connect"),
                           InstanceMethod<&Socket::LocalAddress>("localAddress"),
                           InstanceMethod<&Socket::AddMembership>("addMembership"),
                           InstanceMethod<&Socket::DropMembership>("dropMembership"),
                           InstanceMethod<&Socket::SetMulticastInterface>("setMulticastInterface"),
                           InstanceMethod<&Socket::SetMulticastTtl>("setMulticastTTL"),
                           InstanceMethod<&Socket::SetMulticastLoop>("setMulticastLoopback"),
                           InstanceMethod<&Socket::SetBufferSize>("setBufferSize"),
                           InstanceMethod<&Socket::GetBufferSize>("getBufferSize"),
                           InstanceMethod<&Socket::StartReading>("startReading"),
                           InstanceMethod<&Socket::SetWantWritable>("setWantWritable"),
                           InstanceMethod<&Socket::SendBatch>("sendBatch"),
                           InstanceMethod<&Socket::StartSendThread>("startSendThread"),
                           InstanceMethod<&Socket::QueueBatch>("queueBatch"),
                           InstanceMethod<&Socket::NotifyBelow>("notifyBelow"),
                           InstanceMethod<&Socket::Recv>("recv"),
                           InstanceMethod<&Socket::SetPlacement>("setPlacement"),
                           InstanceMethod<&Socket::SetCpuCounters>("setCpuCounters"),
                           InstanceMethod<&Socket::InjectSendErrors>("injectSendErrors"),
                           InstanceMethod<&Socket::Close>("close"),
                           InstanceAccessor<&Socket::Gso>("gso"),
                           InstanceAccessor<&Socket::Gro>("gro"),
                       });
  }

  explicit Socket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Socket>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    uint32_t flags = 0;
    if (!U32(info, 0, 7, &flags)) return;
    if (info.Length() < 3 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        info[1].As<Napi::Float64Array>().ElementLength() < kCounterCount || !info[2].IsFunction()) {
      ThrowType(env, "Socket(flags, counters: Float64Array(8), onEvent: function)");
      return;
    }
    Napi::Float64Array counters = info[1].As<Napi::Float64Array>();
    counters_ = Napi::Persistent(counters);
    SocketOptions opts;
    opts.reuseAddr = (flags & kFlagReuseAddr) != 0;
    opts.gso = (flags & kFlagGso) != 0;
    opts.gro = (flags & kFlagGro) != 0;
    io_ = std::make_unique<UdpIo>(opts, counters.Data());
    if (io_->openError() != 0) {
      ThrowSys(env, "socket", "", io_->openError());
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      io_->Close();
      ThrowType(env, "no libuv loop");
      return;
    }
    poll_ = new uv_poll_t;
    const int err = uv_poll_init_socket(loop, poll_, io_->fd());
    if (err != 0) {
      delete poll_;
      poll_ = nullptr;
      io_->Close();
      ThrowSys(env, "uv_poll_init", "", -err);
      return;
    }
    poll_->data = this;
    onEvent_ = Napi::Persistent(info[2].As<Napi::Function>());
    async_ = std::make_unique<Napi::AsyncContext>(env, "rackcast:udp");
    // Open sockets stay reachable (like dgram's handles) until close(): nothing is lost to GC
    // while the poll can still call back, and the destructor never runs with the poll live.
    Ref();
    napi_add_env_cleanup_hook(env, &Socket::OnEnvCleanup, this);
    open_ = true;
  }

  ~Socket() override { Shut(); }

 private:
  /** Stops the send thread and the poll (closing its handle), closes the fd. Idempotent. */
  void Shut() {
    // The thread first: it uses the fd and the async handle until it is joined.
    if (sendThread_) {
      sendThread_->Stop();
      sendThread_.reset();
    }
    if (wake_ != nullptr) {
      wake_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(wake_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      wake_ = nullptr;
    }
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      // The handle's memory is freed by its close callback, which runs on a later loop turn.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (io_) io_->Close();
  }

  /** close(), or the environment shutting down with the socket still open. */
  void CloseOpen(bool fromJs) {
    if (!open_) return;
    open_ = false;
    Shut();
    napi_remove_env_cleanup_hook(env_, &Socket::OnEnvCleanup, this);
    if (fromJs) {
      onEvent_.Reset();
      placeTable_.Reset();
      placePool_.Reset();
      // close() from inside onEvent: the async context is still in use; OnPoll drops it after.
      if (!inCallback_) async_.reset();
      Unref();
    }
  }

  static void OnEnvCleanup(void* arg) {
    // The environment is going away (process exit, worker termination): release the fd and the
    // loop handle so the loop can close. JS references die with the environment.
    Socket* self = static_cast<Socket*>(arg);
    self->open_ = false;
    self->Shut();
    self->onEvent_.Reset();
    self->placeTable_.Reset();
    self->placePool_.Reset();
    self->async_.reset();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Socket* self = static_cast<Socket*>(handle->data);
    if (self == nullptr || !self->open_) return;
    int bits = 0;
    if (events & UV_READABLE) bits |= kEventReadable;
    if (events & UV_WRITABLE) bits |= kEventWritable;
    self->Deliver(bits, status);
  }

  /** The send thread's queue went low (notifyBelow): JS hears it as a writable event. */
  static void OnWake(uv_async_t* handle) {
    Socket* self = static_cast<Socket*>(handle->data);
    if (self == nullptr || !self->open_) return;
    uv_unref(reinterpret_cast<uv_handle_t*>(handle));
    self->Deliver(kEventWritable, 0);
  }

  /** Runs on the send thread: wakes the loop, which calls OnWake. */
  static void WakeFromThread(void* arg) { uv_async_send(static_cast<uv_async_t*>(arg)); }

  /** Calls JS's onEvent(bits, error?) (status < 0: the poll failed). */
  void Deliver(int bits, int status) {
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    napi_value args[2] = {Napi::Number::New(env, bits), env.Undefined()};
    if (status < 0) args[1] = Napi::String::New(env, std::string("poll: ") + uv_strerror(status));
    inCallback_ = true;
    onEvent_.MakeCallback(Value(), 2, args, *async_);
    inCallback_ = false;
    if (!open_) async_.reset();
    // A throw in a message handler is an uncaught exception, as it is for a dgram 'message' listener.
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  /** Points the poll at what is wanted now; a stopped poll does not keep the loop alive. */
  int UpdatePoll() {
    if (poll_ == nullptr) return 0;
    const int want = (reading_ ? UV_READABLE : 0) | (wantWritable_ ? UV_WRITABLE : 0);
    if (want == pollEvents_) return 0;
    const int err = want == 0 ? uv_poll_stop(poll_) : uv_poll_start(poll_, want, &Socket::OnPoll);
    if (err == 0) pollEvents_ = want;
    return err;
  }

  bool CheckOpen(Napi::Env env) {
    if (open_) return true;
    Napi::Error::New(env, "socket is closed").ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value Bind(const Napi::CallbackInfo& info) {
    uint32_t ip = 0;
    uint32_t port = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 0, 0xffffffffu, &ip) || !U32(info, 1, 65535, &port)) return info.Env().Undefined();
    const int err = io_->Bind(ip, static_cast<uint16_t>(port));
    if (err != 0) return ThrowSys(info.Env(), "bind", Dotted(ip) + ":" + std::to_string(port), err);
    return info.Env().Undefined();
  }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    uint32_t ip = 0;
    uint32_t port = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 0, 0xffffffffu, &ip) || !U32(info, 1, 65535, &port)) return info.Env().Undefined();
    const int err = io_->Connect(ip, static_cast<uint16_t>(port));
    if (err != 0) return ThrowSys(info.Env(), "connect", Dotted(ip) + ":" + std::to_string(port), err);
    return info.Env().Undefined();
  }

  Napi::Value LocalAddress(const Napi::CallbackInfo& info) {
    if (!CheckOpen(info.Env())) return info.Env().Undefined();
    uint32_t ip = 0;
    uint16_t port = 0;
    const int err = io_->LocalAddress(&ip, &port);
    if (err != 0) return ThrowSys(info.Env(), "getsockname", "", err);
    Napi::Array a = Napi::Array::New(info.Env(), 2);
    a.Set(0u, Napi::Number::New(info.Env(), ip));
    a.Set(1u, Napi::Number::New(info.Env(), port));
    return a;
  }

  Napi::Value AddMembership(const Napi::CallbackInfo& info) { return Membership(info, true); }
  Napi::Value DropMembership(const Napi::CallbackInfo& info) { return Membership(info, false); }

  Napi::Value Membership(const Napi::CallbackInfo& info, bool join) {
    uint32_t group = 0;
    uint32_t iface = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 0, 0xffffffffu, &group) || !U32(info, 1, 0xffffffffu, &iface)) return info.Env().Undefined();
    const int err = io_->Membership(group, iface, join);
    if (err != 0) return ThrowSys(info.Env(), join ? "setsockopt IP_ADD_MEMBERSHIP" : "setsockopt IP_DROP_MEMBERSHIP", Dotted(group) + " on " + Dotted(iface), err);
    return info.Env().Undefined();
  }

  Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info) {
    uint32_t ip = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 0, 0xffffffffu, &ip)) return info.Env().Undefined();
    const int err = io_->SetMulticastInterface(ip);
    if (err != 0) return ThrowSys(info.Env(), "setsockopt IP_MULTICAST_IF", Dotted(ip), err);
    return info.Env().Undefined();
  }

  Napi::Value SetMulticastTtl(const Napi::CallbackInfo& info) {
    uint32_t ttl = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 0, 255, &ttl)) return info.Env().Undefined();
    const int err = io_->SetMulticastTtl(static_cast<int>(ttl));
    if (err != 0) return ThrowSys(info.Env(), "setsockopt IP_MULTICAST_TTL", std::to_string(ttl), err);
    return info.Env().Undefined();
  }

  Napi::Value SetMulticastLoop(const Napi::CallbackInfo& info) {
    if (!CheckOpen(info.Env())) return info.Env().Undefined();
    const bool on = info.Length() > 0 && info[0].ToBoolean().Value();
    const int err = io_->SetMulticastLoop(on);
    if (err != 0) return ThrowSys(info.Env(), "setsockopt IP_MULTICAST_LOOP", on ? "on" : "off", err);
    return info.Env().Undefined();
  }

  Napi::Value SetBufferSize(const Napi::CallbackInfo& info) {
    uint32_t bytes = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 1, 0x7fffffffu, &bytes)) return info.Env().Undefined();
    const bool send = info[0].ToBoolean().Value();
    const int err = io_->SetBufferSize(send, static_cast<int>(bytes));
    if (err != 0) return ThrowSys(info.Env(), send ? "setsockopt SO_SNDBUF" : "setsockopt SO_RCVBUF", std::to_string(bytes), err);
    return info.Env().Undefined();
  }

  Napi::Value GetBufferSize(const Napi::CallbackInfo& info) {
    if (!CheckOpen(info.Env())) return info.Env().Undefined();
    const bool send = info.Length() > 0 && info[0].ToBoolean().Value();
    int bytes = 0;
    const int err = io_->GetBufferSize(send, &bytes);
    if (err != 0) return ThrowSys(info.Env(), send ? "getsockopt SO_SNDBUF" : "getsockopt SO_RCVBUF", "", err);
    return Napi::Number::New(info.Env(), bytes);
  }

  Napi::Value StartReading(const Napi::CallbackInfo& info) {
    if (!CheckOpen(info.Env())) return info.Env().Undefined();
    reading_ = true;
    const int err = UpdatePoll();
    if (err != 0) return ThrowSys(info.Env(), "uv_poll_start", "", -err);
    return info.Env().Undefined();
  }

  Napi::Value SetWantWritable(const Napi::CallbackInfo& info) {
    if (!CheckOpen(info.Env())) return info.Env().Undefined();
    wantWritable_ = info.Length() > 0 && info[0].ToBoolean().Value();
    const int err = UpdatePoll();
    if (err != 0) return ThrowSys(info.Env(), "uv_poll_start", "", -err);
    return info.Env().Undefined();
  }

  Napi::Value SendBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* data = nullptr;
    size_t len = 0;
    uint32_t seg = 0, count = 0, last = 0, first = 0, ip = 0, port = 0;
    if (!CheckOpen(env)) return env.Undefined();
    // The send thread owns the send side: a second caller would race it on the fd and the counters.
    if (sendThread_) return ThrowType(env, "sendBatch on a socket with a send thread (queueBatch)");
    if (!ArrayBufferArg(info, 0, &data, &len) || !U32(info, 1, kMaxDatagramBytes, &seg) ||
        !U32(info, 2, kMaxBatchDatagrams, &count) || !U32(info, 3, seg, &last) || !U32(info, 4, count, &first) ||
        !U32(info, 5, 0xffffffffu, &ip) || !U32(info, 6, 65535, &port)) {
      return env.Undefined();
    }
    if (count == 0 || size_t(count - 1) * seg + last > len) return ThrowRange(env, "batch lies outside its buffer");
    const sockaddr_in to = MakeAddr(ip, static_cast<uint16_t>(port));
    const uint32_t next = io_->SendBatch(Batch{data, seg, count, last}, first, port == 0 ? nullptr : &to);
    return Napi::Number::New(env, next);
  }

  Napi::Value StartSendThread(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env) || sendThread_) return env.Undefined();
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return ThrowType(env, "no libuv loop");
    wake_ = new uv_async_t;
    const int err = uv_async_init(loop, wake_, &Socket::OnWake);
    if (err != 0) {
      delete wake_;
      wake_ = nullptr;
      return ThrowSys(env, "uv_async_init", "", -err);
    }
    wake_->data = this;
    // Only a wait (notifyBelow) keeps the loop alive for it.
    uv_unref(reinterpret_cast<uv_handle_t*>(wake_));
    sendThread_ = std::make_unique<SendThread>(io_.get(), counters_.Value().Data(), &Socket::WakeFromThread, wake_);
    if (sendThread_->startError() != 0) {
      const int e = sendThread_->startError();
      sendThread_.reset();
      return ThrowSys(env, "pthread_create", "send thread", e);
    }
    return env.Undefined();
  }

  Napi::Value QueueBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t* data = nullptr;
    size_t len = 0;
    uint32_t seg = 0, count = 0, last = 0, ip = 0, port = 0;
    if (!CheckOpen(env)) return env.Undefined();
    if (!sendThread_) return ThrowType(env, "queueBatch before startSendThread");
    if (!ArrayBufferArg(info, 0, &data, &len) || !U32(info, 1, kMaxDatagramBytes, &seg) || !U32(info, 2, kMaxBatchDatagrams, &count) ||
        !U32(info, 3, seg, &last) || !U32(info, 4, 0xffffffffu, &ip) || !U32(info, 5, 65535, &port)) {
      return env.Undefined();
    }
    if (count == 0 || size_t(count - 1) * seg + last > len) return ThrowRange(env, "batch lies outside its buffer");
    const sockaddr_in to = MakeAddr(ip, static_cast<uint16_t>(port));
    sendThread_->Queue(Batch{data, seg, count, last}, port == 0 ? nullptr : &to);
    return env.Undefined();
  }

  Napi::Value NotifyBelow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t below = 0;
    if (!CheckOpen(env) || !U32(info, 0, 0xffffffffu, &below)) return env.Undefined();
    if (!sendThread_) return ThrowType(env, "notifyBelow before startSendThread");
    if (below > 0) {
      uv_ref(reinterpret_cast<uv_handle_t*>(wake_));
    } else {
      uv_unref(reinterpret_cast<uv_handle_t*>(wake_));
    }
    sendThread_->NotifyBelow(below);
    return env.Undefined();
  }

  Napi::Value Recv(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!open_) return Napi::Number::New(env, 0);
    uint8_t* slab = nullptr;
    size_t slabLen = 0;
    double off = 0;
    if (!ArrayBufferArg(info, 0, &slab, &slabLen) || !Whole(info, 1, double(slabLen), &off)) return env.Undefined();
    if (slabLen - size_t(off) < kRecvSlotBytes) return ThrowRange(env, "recv needs 65536 free bytes in the slab");
    if (info.Length() < 3 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      return ThrowType(env, "meta must be a Uint32Array");
    }
    Napi::Uint32Array meta = info[2].As<Napi::Uint32Array>();
    const size_t cap = meta.ElementLength() / 4;
    if (cap < kMinMetaEntries) return ThrowRange(env, "meta must hold at least 256 datagrams");
    // Offsets in meta are uint32: a slab beyond 4 GiB would not fit them.
    if (slabLen > 0xffffffffu) return ThrowRange(env, "slab larger than 4 GiB");
    uint32_t count = 0;
    Placement place{};
    const bool placing = CurrentPlacement(&place);
    const int err = io_->Recv(slab, slabLen, size_t(off), meta.Data(), static_cast<uint32_t>(std::min<size_t>(cap, 0xffffffffu)), &count,
                              placing ? &place : nullptr);
    if (err != 0) return ThrowSys(env, io_->gro() ? "recvmsg" : "recvmmsg", "", err);
    return Napi::Number::New(env, count);
  }

  Napi::Value SetCpuCounters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        info[0].As<Napi::Float64Array>().ElementLength() < kCpuCounterCount) {
      return ThrowType(env, "setCpuCounters(cpu: Float64Array(5))");
    }
    Napi::Float64Array cpu = info[0].As<Napi::Float64Array>();
    cpuCounters_ = Napi::Persistent(cpu);
    io_->SetCpuCounters(cpu.Data());
    return env.Undefined();
  }

  /** setPlacement(table: Uint32Array, pool: Uint8Array) turns DATA placement on; (null, null) off. */
  Napi::Value SetPlacement(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    if (info.Length() >= 2 && info[0].IsNull() && info[1].IsNull()) {
      placeTable_.Reset();
      placePool_.Reset();
      return env.Undefined();
    }
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      return ThrowType(env, "setPlacement(table: Uint32Array, pool: Uint8Array) or setPlacement(null, null)");
    }
    if (info[0].As<Napi::Uint32Array>().ElementLength() < kPlaceHeaderWords) return ThrowRange(env, "placement table too short");
    placeTable_ = Napi::Persistent(info[0].As<Napi::Uint32Array>());
    placePool_ = Napi::Persistent(info[1].As<Napi::Uint8Array>());
    return env.Undefined();
  }

  /**
   * The placement table and pool as they are now (looked up on every call: JS owns them, and a
   * detached buffer shows as length 0, which places nothing).
   */
  bool CurrentPlacement(Placement* p) {
    if (placeTable_.IsEmpty() || placePool_.IsEmpty()) return false;
    Napi::Uint32Array table = placeTable_.Value();
    Napi::Uint8Array pool = placePool_.Value();
    p->words = table.Data();
    p->wordCount = table.ElementLength();
    p->pool = pool.Data();
    p->poolBytes = pool.ByteLength();
    return p->words != nullptr && p->wordCount >= kPlaceHeaderWords;
  }

  Napi::Value InjectSendErrors(const Napi::CallbackInfo& info) {
    uint32_t err = 0;
    uint32_t calls = 0;
    if (!CheckOpen(info.Env()) || !U32(info, 0, 4095, &err) || !U32(info, 1, 0xffffffffu, &calls)) return info.Env().Undefined();
    io_->InjectSendErrors(static_cast<int>(err), calls);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseOpen(true);
    return info.Env().Undefined();
  }

  Napi::Value Gso(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), io_ && io_->gso()); }
  Napi::Value Gro(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), io_ && io_->gro()); }

  napi_env env_;
  std::unique_ptr<UdpIo> io_;
  /** Heap-allocated: libuv frees it through the close callback, possibly after this object is gone. */
  uv_poll_t* poll_ = nullptr;
  /** The send thread's wake-up of the loop (heap-allocated like poll_), and the thread. */
  uv_async_t* wake_ = nullptr;
  std::unique_ptr<SendThread> sendThread_;
  bool open_ = false;
  bool reading_ = false;
  bool wantWritable_ = false;
  /** OnPoll is running the JS callback. */
  bool inCallback_ = false;
  int pollEvents_ = 0;
  Napi::FunctionReference onEvent_;
  Napi::Reference<Napi::Float64Array> counters_;
  Napi::Reference<Napi::Float64Array> cpuCounters_;
  Napi::Reference<Napi::Uint32Array> placeTable_;
  Napi::Reference<Napi::Uint8Array> placePool_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

}  // namespace

}  // namespace rackcast::udp

/**
 * placeDatagram(table: Uint32Array, pool: Uint8Array, bytes: Uint8Array, srcIp, rec: Uint32Array(4)): 0 placed,
 * 1 raw, 2 raw + stop. PlaceDatagram on its own, for the differential test against the TS reference.
 */
static Napi::Value PlaceDatagramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto typed = [&](size_t i, napi_typedarray_type t) {
    return info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == t;
  };
  if (!typed(0, napi_uint32_array) || !typed(1, napi_uint8_array) || !typed(2, napi_uint8_array) || info.Length() < 5 || !info[3].IsNumber() ||
      !typed(4, napi_uint32_array) || info[4].As<Napi::Uint32Array>().ElementLength() < 4) {
    Napi::TypeError::New(env, "placeDatagram(table: Uint32Array, pool: Uint8Array, bytes: Uint8Array, srcIp: number, rec: Uint32Array(4))")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint32Array table = info[0].As<Napi::Uint32Array>();
  Napi::Uint8Array pool = info[1].As<Napi::Uint8Array>();
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  const rackcast::udp::Placement p{table.Data(), table.ElementLength(), pool.Data(), pool.ByteLength()};
  const uint32_t src = info[3].As<Napi::Number>().Uint32Value();
  const auto r = rackcast::udp::PlaceDatagram(p, bytes.Data(), static_cast<uint32_t>(bytes.ByteLength()), src, info[4].As<Napi::Uint32Array>().Data());
  return Napi::Number::New(env, static_cast<int>(r));
}

/**
 * alignOffset(view: Uint8Array, align): the index of the view's first byte whose address is a
 * multiple of align (a power of two), for O_DIRECT buffers (receiver/disk.ts). The bytes of an
 * ArrayBuffer this size never move.
 */
static Napi::Value AlignOffsetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsNumber()) {
    Napi::TypeError::New(env, "alignOffset(view: Uint8Array, align: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint32_t align = info[1].As<Napi::Number>().Uint32Value();
  if (align == 0 || (align & (align - 1)) != 0) {
    Napi::RangeError::New(env, "align must be a power of two").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uintptr_t at = reinterpret_cast<uintptr_t>(info[0].As<Napi::Uint8Array>().Data());
  return Napi::Number::New(env, double((align - (at & (align - 1))) & (align - 1)));
}

static Napi::Value ThreadCpuNsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(rackcast::udp::ThreadCpuNs()));
}

static Napi::Object InitUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New<rackcast::udp::Probe>(env, "probe"));
  exports.Set("threadCpuNs", Napi::Function::New<ThreadCpuNsJs>(env, "threadCpuNs"));
  exports.Set("placeDatagram", Napi::Function::New<PlaceDatagramJs>(env, "placeDatagram"));
  exports.Set("alignOffset", Napi::Function::New<AlignOffsetJs>(env, "alignOffset"));
  exports.Set("Socket", rackcast::udp::Socket::Define(env));
  return exports;
}

#else  // !__linux__

// Not Linux: an addon with no exports, so the build succeeds everywhere; native/udp-addon.ts
// reports "Linux-only" before it would load this.
static Napi::Object InitUdp(Napi::Env, Napi::Object exports) { return exports; }

#endif  // __linux__

NODE_API_MODULE(rackcast_udp, InitUdp)
