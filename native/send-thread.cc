// See send-thread.h.

#include "send-thread.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>


namespace rackcast::udp {

SendThread::SendThread(UdpIo* io, double* counters, Notify notify, void* arg)
    : io_(io), counters_(counters), notify_(notify), arg_(arg) {
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) {
    startErr_ = errno;
    return;
  }
  // pthread rather than std::thread: the addon builds without C++ exceptions, and a thread
  // that cannot start (EAGAIN) must be an error code, not an abort.
  const int err = pthread_create(
      &thread_, nullptr,
      [](void* self) -> void* {
        static_cast<SendThread*>(self)->Run();
        return nullptr;
      },
      this);
  if (err != 0) {
    startErr_ = err;
    return;
  }
  running_ = true;
}

SendThread::~SendThread() {
  Stop();
  if (wakeFd_ >= 0) close(wakeFd_);
}

void SendThread::Queue(const Batch& b, const sockaddr_in* to) {
  Job j{b, sockaddr_in{}, to == nullptr};
  if (to != nullptr) j.to = *to;
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(j);
  }
  cv_.notify_one();
}

void SendThread::NotifyBelow(uint32_t below) {
  bool now = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (below > 0 && queue_.size() < below) {
      notifyBelow_ = 0;
      now = true;
    } else {
      notifyBelow_ = below;
    }
  }
  if (now) notify_(arg_);
}

void SendThread::Stop() {
  if (!running_) return;
  running_ = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_.store(true);
  }
  cv_.notify_one();
  const uint64_t one = 1;
  if (write(wakeFd_, &one, sizeof one) < 0) {
    // The counter cannot overflow from one write; nothing else can fail here.
  }
  pthread_join(thread_, nullptr);
}

void SendThread::WaitWritable() {
  pollfd p[2] = {{io_->fd(), POLLOUT, 0}, {wakeFd_, POLLIN, 0}};
  while (poll(p, 2, -1) < 0 && errno == EINTR) {
  }
}

void SendThread::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stop_.load() || !queue_.empty(); });
    if (queue_.empty()) break;
    const Job j = queue_.front();
    lk.unlock();
    uint32_t first = 0;
    bool waited = false;
    for (;;) {
      const uint32_t next = io_->SendBatch(j.batch, first, j.connected ? nullptr : &j.to);
      if (next >= j.batch.count || stop_.load()) break;
      // ENOBUFS (the device queue is full) can leave the fd writable while sends still fail:
      // without a pause that would spin. A wait that gained nothing sleeps 100 us before the next.
      if (waited && next == first) {
        const timespec pause{0, 100000};
        nanosleep(&pause, nullptr);
      }
      first = next;
      WaitWritable();
      waited = true;
    }
    counters_[kSendThreadNs] = double(ThreadCpuNs());
    lk.lock();
    queue_.pop_front();
    counters_[kBatchesDone] += 1;
    if (notifyBelow_ > 0 && queue_.size() < notifyBelow_) {
      notifyBelow_ = 0;
      lk.unlock();
      notify_(arg_);
      lk.lock();
    }
  }
  counters_[kSendThreadNs] = double(ThreadCpuNs());
}

}  // namespace rackcast::udp
