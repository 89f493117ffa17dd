// A thread of its own for the send syscalls of one socket: the caller (the event loop's
// thread, native/udp.cc) queues batches and goes on building the next ones while this thread
// hands them to the kernel, waits for room when the buffer is full, and counts each batch
// done. The send syscalls are most of the sender's main thread at one receiver (and in the
// lab they carry the bridge, the veths and the receiver's IP stack, run in their softirq).
// No Node-API and no libuv here: `notify` is how the binding learns that the queue went low.

#pragma once

#include <netinet/in.h>
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "udp-io.h"

namespace rackcast::udp {

class SendThread {
 public:
  using Notify = void (*)(void* arg);

  /**
   * Starts the thread. `counters` (kCounterCount doubles that outlive this object) gets
   * kBatchesDone and kSendThreadNs from it; io's send counters are written on it too. `notify`
   * runs on this thread, with no lock of ours held. Check startError() afterwards.
   */
  SendThread(UdpIo* io, double* counters, Notify notify, void* arg);
  ~SendThread();
  SendThread(const SendThread&) = delete;
  SendThread& operator=(const SendThread&) = delete;

  /** errno of eventfd() or of pthread_create; 0 when the thread runs. */
  int startError() const { return startErr_; }

  /**
   * Queues a batch: its bytes must stay valid until counters[kBatchesDone] counts it (batches
   * are done in the order queued). `to` nullptr: the connected peer.
   */
  void Queue(const Batch& b, const sockaddr_in* to);

  /**
   * notify() once, as soon as fewer than `below` batches are queued and not done (at once when
   * that is so already); 0 cancels.
   */
  void NotifyBelow(uint32_t below);

  /**
   * Every queued batch gets one more try without waiting (what the kernel takes goes, the
   * rest is dropped, as a closing socket drops what waits); then the thread ends. Idempotent.
   */
  void Stop();

 private:
  struct Job {
    Batch batch;
    sockaddr_in to;
    bool connected;
  };

  void Run();
  /** Waits until the fd is writable or Stop() wakes us. */
  void WaitWritable();

  UdpIo* io_;
  double* counters_;
  Notify notify_;
  void* arg_;
  int wakeFd_ = -1;
  int startErr_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  // Bounded by the caller: native.ts queues at most MAX_PENDING_BATCHES.
  std::deque<Job> queue_;
  uint32_t notifyBelow_ = 0;
  std::atomic<bool> stop_{false};
  pthread_t thread_{};
  /** The thread was started and not yet joined (touched only by the owner's thread). */
  bool running_ = false;
};

}  // namespace rackcast::udp
