// Syscalls of the native UDP socket (see udp-io.h for the contract of each call).

// Linux only (sendmmsg, recvmmsg, UDP_SEGMENT, UDP_GRO); elsewhere this file is empty.
#if defined(__linux__)

#include "udp-io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

// Older libc headers lack the UDP offload options; the values are the kernel's ABI
// (include/uapi/linux/udp.h), and a kernel without them answers ENOPROTOOPT, which the
// probe turns into "not supported".
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace rackcast::udp {

namespace {

/** The kernel buffer is full: wait for the fd to become writable (ENOBUFS: the device queue is). */
bool Blocked(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

/**
 * Reads that return nothing useful but must not end the read loop: EINTR, and ECONNREFUSED,
 * which a connected socket reports once after an ICMP port unreachable for an earlier send.
 */
bool RetryRecv(int err) { return err == EINTR || err == ECONNREFUSED; }

/** The segment size of a GRO-coalesced message, or 0 for a single datagram. */
uint32_t GroSize(msghdr* m) {
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? static_cast<uint32_t>(size) : 0;
    }
  }
  return 0;
}

/** Room for the UDP_GRO cmsg (an int) with slack for anything else the kernel adds. */
constexpr size_t kRecvControlBytes = 64;

}  // namespace

/** recvmmsg buffers: 64 slots of 64 KiB (4 MiB of address space, touched only where data lands). */
struct UdpIo::RecvScratch {
  mmsghdr msgs[kRecvBatchMessages];
  iovec iov[kRecvBatchMessages];
  sockaddr_in from[kRecvBatchMessages];
  alignas(cmsghdr) uint8_t control[kRecvBatchMessages][kRecvControlBytes];
  uint8_t* data = nullptr;
  /** Messages the last recvmmsg returned, the next one to deliver, and its next segment. */
  uint32_t count = 0;
  uint32_t next = 0;
  uint32_t seg = 0;

  RecvScratch() : data(static_cast<uint8_t*>(std::malloc(kRecvBatchMessages * kRecvSlotBytes))) {}
  ~RecvScratch() { std::free(data); }
};

uint64_t ThreadCpuNs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return uint64_t(t.tv_sec) * 1000000000u + uint64_t(t.tv_nsec);
}

sockaddr_in MakeAddr(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(ip);
  return a;
}

Support ProbeSupport() {
  Support s{false, false, 0};
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    s.socketErr = errno;
    return s;
  }
  // UDP_SEGMENT = 0 sets no default segment size; kernels before 4.18 answer ENOPROTOOPT.
  int zero = 0;
  int one = 1;
  s.gso = setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
  // UDP_GRO arrived in 5.0.
  s.gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
  close(fd);
  return s;
}

UdpIo::UdpIo(const SocketOptions& opts, double* counters) : counters_(counters) {
  fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    openErr_ = errno;
    return;
  }
  if (opts.reuseAddr) {
    const int err = SetInt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (err != 0) {
      openErr_ = err;
      Close();
      return;
    }
  }
  gso_ = opts.gso && SetInt(IPPROTO_UDP, UDP_SEGMENT, 0) == 0;
  gro_ = opts.gro && SetInt(IPPROTO_UDP, UDP_GRO, 1) == 0;
}

UdpIo::~UdpIo() { Close(); }

void UdpIo::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  scratch_.reset();
}

int UdpIo::SetInt(int level, int name, int value) {
  return setsockopt(fd_, level, name, &value, sizeof value) == 0 ? 0 : errno;
}

int UdpIo::Bind(uint32_t ip, uint16_t port) {
  const sockaddr_in a = MakeAddr(ip, port);
  return bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
}

int UdpIo::Connect(uint32_t ip, uint16_t port) {
  const sockaddr_in a = MakeAddr(ip, port);
  return connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
}

int UdpIo::LocalAddress(uint32_t* ip, uint16_t* port) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return errno;
  *ip = ntohl(a.sin_addr.s_addr);
  *port = ntohs(a.sin_port);
  return 0;
}

int UdpIo::Membership(uint32_t group, uint32_t iface, bool join) {
  ip_mreq m{};
  m.imr_multiaddr.s_addr = htonl(group);
  m.imr_interface.s_addr = htonl(iface);
  return setsockopt(fd_, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m, sizeof m) == 0 ? 0 : errno;
}

int UdpIo::SetMulticastInterface(uint32_t iface) {
  in_addr a{};
  a.s_addr = htonl(iface);
  return setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) == 0 ? 0 : errno;
}

int UdpIo::SetMulticastTtl(int ttl) { return SetInt(IPPROTO_IP, IP_MULTICAST_TTL, ttl); }

int UdpIo::SetMulticastLoop(bool on) { return SetInt(IPPROTO_IP, IP_MULTICAST_LOOP, on ? 1 : 0); }

// net.core.rmem_max/wmem_max cap SO_RCVBUF/SO_SNDBUF, and a namespace cannot raise them.
// With CAP_NET_ADMIN (imaging runs as root) the *FORCE variants grant the size asked, so
// the flow window can cover the scheduling hiccups of a busy receiver; without it they
// fail with EPERM and the capped request is made instead.
int UdpIo::SetBufferSize(bool send, int bytes) {
  if (SetInt(SOL_SOCKET, send ? SO_SNDBUFFORCE : SO_RCVBUFFORCE, bytes) == 0) return 0;
  return SetInt(SOL_SOCKET, send ? SO_SNDBUF : SO_RCVBUF, bytes);
}

int UdpIo::GetBufferSize(bool send, int* bytes) {
  socklen_t len = sizeof *bytes;
  return getsockopt(fd_, SOL_SOCKET, send ? SO_SNDBUF : SO_RCVBUF, bytes, &len) == 0 ? 0 : errno;
}

// ---- send ----

ssize_t UdpIo::SysSendmsg(const msghdr* m) {
  ssize_t r;
  const double w = sendSample_.Next();
  const uint64_t t0 = w != 0 ? ThreadCpuNs() : 0;
  do {
    counters_[kSendCalls] += 1;
    if (injectCalls_ > 0) {
      injectCalls_--;
      errno = injectErr_;
      r = -1;
    } else {
      r = sendmsg(fd_, m, 0);
    }
  } while (r < 0 && errno == EINTR);
  const int err = errno;
  if (w != 0) cpu_[kSendSyscallNs] += w * double(ThreadCpuNs() - t0);
  errno = err;
  return r;
}

int UdpIo::SysSendmmsg(mmsghdr* v, unsigned n) {
  int r;
  const double w = sendSample_.Next();
  const uint64_t t0 = w != 0 ? ThreadCpuNs() : 0;
  do {
    counters_[kSendCalls] += 1;
    if (injectCalls_ > 0) {
      injectCalls_--;
      errno = injectErr_;
      r = -1;
    } else {
      r = sendmmsg(fd_, v, n, 0);
    }
  } while (r < 0 && errno == EINTR);
  const int err = errno;
  if (w != 0) cpu_[kSendSyscallNs] += w * double(ThreadCpuNs() - t0);
  errno = err;
  return r;
}

int UdpIo::SendOne(const uint8_t* at, size_t len, const sockaddr_in* to) {
  iovec iov{const_cast<uint8_t*>(at), len};
  msghdr m{};
  m.msg_name = const_cast<sockaddr_in*>(to);
  m.msg_namelen = to != nullptr ? sizeof *to : 0;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return SysSendmsg(&m) >= 0 ? 0 : errno;
}

int UdpIo::SendGso(const uint8_t* at, size_t bytes, uint32_t gsoSize, const sockaddr_in* to) {
  iovec iov{const_cast<uint8_t*>(at), bytes};
  // The kernel reads the segment size as a u16 (udp_cmsg_send).
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))] = {};
  msghdr m{};
  m.msg_name = const_cast<sockaddr_in*>(to);
  m.msg_namelen = to != nullptr ? sizeof *to : 0;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = IPPROTO_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const uint16_t size = static_cast<uint16_t>(gsoSize);
  std::memcpy(CMSG_DATA(c), &size, sizeof size);
  return SysSendmsg(&m) >= 0 ? 0 : errno;
}

int UdpIo::SendMany(const Batch& b, uint32_t first, const sockaddr_in* to) {
  mmsghdr v[kMaxBatchDatagrams];
  iovec iov[kMaxBatchDatagrams];
  const uint32_t n = b.count - first;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t d = first + i;
    iov[i].iov_base = const_cast<uint8_t*>(b.data + size_t(d) * b.segBytes);
    iov[i].iov_len = d + 1 == b.count ? b.lastBytes : b.segBytes;
    msghdr& m = v[i].msg_hdr;
    m = msghdr{};
    m.msg_name = const_cast<sockaddr_in*>(to);
    m.msg_namelen = to != nullptr ? sizeof *to : 0;
    m.msg_iov = &iov[i];
    m.msg_iovlen = 1;
    v[i].msg_len = 0;
  }
  const int r = SysSendmmsg(v, n);
  return r >= 0 ? r : -errno;
}

uint32_t UdpIo::SendBatch(const Batch& b, uint32_t first, const sockaddr_in* to) {
  bool gsoHere = gso_;
  while (first < b.count) {
    const uint32_t left = b.count - first;
    const uint8_t* at = b.data + size_t(first) * b.segBytes;
    int err;
    if (left == 1) {
      err = SendOne(at, b.lastBytes, to);
      if (err == 0) {
        counters_[kDatagramsSent] += 1;
        return b.count;
      }
    } else if (gsoHere) {
      const size_t bytes = size_t(left - 1) * b.segBytes + b.lastBytes;
      err = SendGso(at, bytes, b.segBytes, to);
      if (err == 0) {
        gsoWorked_ = true;
        counters_[kDatagramsSent] += left;
        return b.count;
      }
      if (err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP || (err == EINVAL && !gsoWorked_)) {
        gso_ = false;
        gsoHere = false;
        continue;
      }
      if (err == EINVAL) {
        gsoHere = false;
        continue;
      }
    } else {
      const int sent = SendMany(b, first, to);
      if (sent > 0) {
        // A partial send (the buffer filled up part way) goes round again for the rest.
        counters_[kDatagramsSent] += sent;
        first += static_cast<uint32_t>(sent);
        continue;
      }
      err = -sent;
    }
    if (Blocked(err)) {
      counters_[kSendBlocked] += 1;
      return first;
    }
    counters_[kSendErrors] += left;
    return b.count;
  }
  return b.count;
}

// ---- receive ----

/** Describes one received message at slab offset `at` as its datagrams; returns how many (<= cap). */
static uint32_t Describe(uint32_t at, uint32_t len, uint32_t seg, const sockaddr_in& from, uint32_t* meta, uint32_t cap) {
  if (seg == 0 || seg > len) seg = len;
  const uint32_t ip = ntohl(from.sin_addr.s_addr);
  const uint32_t port = ntohs(from.sin_port);
  uint32_t n = 0;
  uint32_t pos = 0;
  // Segments beyond `cap` cannot happen (kMinMetaEntries is above the kernel's train limits);
  // if a future kernel made longer trains, the extra datagrams are dropped like any UDP loss.
  do {
    const uint32_t l = std::min(seg, len - pos);
    uint32_t* e = meta + 4 * n;
    e[0] = at + pos;
    e[1] = l;
    e[2] = ip;
    e[3] = port;
    n++;
    pos += l;
  } while (pos < len && n < cap);
  return n;
}

int UdpIo::RecvDirect(uint8_t* slab, size_t off, uint32_t* meta, uint32_t metaCap, uint32_t* count) {
  iovec iov{slab + off, kRecvSlotBytes};
  sockaddr_in from{};
  alignas(cmsghdr) uint8_t control[kRecvControlBytes];
  msghdr m{};
  ssize_t n;
  do {
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    m.msg_flags = 0;
    counters_[kRecvCalls] += 1;
    n = recvmsg(fd_, &m, 0);
  } while (n < 0 && RetryRecv(errno));
  if (n < 0) return Blocked(errno) ? 0 : errno;
  // A slot holds any IPv4 datagram, so MSG_TRUNC means something is badly wrong: drop it.
  if (m.msg_flags & MSG_TRUNC) return 0;
  const uint32_t seg = GroSize(&m);
  *count = Describe(static_cast<uint32_t>(off), static_cast<uint32_t>(n), seg, from, meta, metaCap);
  if (*count <= 1) groDirect_ = false;
  counters_[kDatagramsReceived] += *count;
  return 0;
}

int UdpIo::RecvMany() {
  if (!scratch_) {
    scratch_ = std::make_unique<RecvScratch>();
    if (scratch_->data == nullptr) {
      scratch_.reset();
      return ENOMEM;
    }
  }
  RecvScratch& s = *scratch_;
  int r;
  do {
    for (uint32_t i = 0; i < kRecvBatchMessages; i++) {
      s.iov[i].iov_base = s.data + i * kRecvSlotBytes;
      s.iov[i].iov_len = kRecvSlotBytes;
      msghdr& m = s.msgs[i].msg_hdr;
      m.msg_name = &s.from[i];
      m.msg_namelen = sizeof s.from[i];
      m.msg_iov = &s.iov[i];
      m.msg_iovlen = 1;
      m.msg_control = gro_ ? s.control[i] : nullptr;
      m.msg_controllen = gro_ ? kRecvControlBytes : 0;
      m.msg_flags = 0;
      s.msgs[i].msg_len = 0;
    }
    counters_[kRecvCalls] += 1;
    r = recvmmsg(fd_, s.msgs, kRecvBatchMessages, 0, nullptr);
  } while (r < 0 && RetryRecv(errno));
  s.count = 0;
  s.next = 0;
  s.seg = 0;
  if (r < 0) return Blocked(errno) ? 0 : errno;
  s.count = static_cast<uint32_t>(r);
  if (gro_) {
    for (uint32_t i = 0; i < s.count; i++) {
      const uint32_t seg = GroSize(&s.msgs[i].msg_hdr);
      if (seg != 0 && seg < s.msgs[i].msg_len) groDirect_ = true;
    }
  }
  return 0;
}

uint32_t UdpIo::DeliverScratch(uint8_t* slab, size_t slabLen, size_t off, uint32_t* meta, uint32_t metaCap, const Placement* place) {
  RecvScratch& s = *scratch_;
  uint32_t n = 0;
  uint32_t placed = 0;
  size_t w = off;
  bool stop = false;
  while (s.next < s.count && !stop) {
    msghdr& m = s.msgs[s.next].msg_hdr;
    const uint32_t len = s.msgs[s.next].msg_len;
    if (m.msg_flags & MSG_TRUNC) {
      s.next++;
      s.seg = 0;
      continue;
    }
    uint32_t seg = gro_ ? GroSize(&m) : 0;
    if (seg == 0 || seg > len) seg = len;
    const uint32_t segs = len == 0 ? 1 : (len + seg - 1) / seg;
    const uint8_t* src = s.data + size_t(s.next) * kRecvSlotBytes;
    const uint32_t ip = ntohl(s.from[s.next].sin_addr.s_addr);
    const uint32_t port = ntohs(s.from[s.next].sin_port);
    for (; s.seg < segs; s.seg++) {
      const uint32_t pos = s.seg * seg;
      const uint32_t l = std::min(seg, len - pos);
      if (n == metaCap) {
        // No room left: the rest waits in the scratch for the next call.
        stop = true;
        break;
      }
      uint32_t* e = meta + 4 * n;
      if (place != nullptr) {
        const PlaceResult r = PlaceDatagram(*place, src + pos, l, ip, e);
        if (r == PlaceResult::kPlaced) {
          n++;
          placed++;
          continue;
        }
        if (r == PlaceResult::kRawStop) stop = true;
      }
      if (l > slabLen - w) {
        // No room left in the slab: the rest waits in the scratch for the next call (with a fresh slab).
        stop = true;
        break;
      }
      std::memcpy(slab + w, src + pos, l);
      e[0] = static_cast<uint32_t>(w);
      e[1] = l;
      e[2] = ip;
      e[3] = port;
      w += l;
      n++;
      if (stop) {
        // JS opens the slice of this one before the datagrams after it are placed.
        s.seg++;
        cpu_[kPlaceStops] += 1;
        break;
      }
    }
    if (s.seg >= segs) {
      s.next++;
      s.seg = 0;
    }
  }
  counters_[kDatagramsReceived] += n;
  cpu_[kDatagramsPlaced] += placed;
  return n;
}

int UdpIo::Recv(uint8_t* slab, size_t slabLen, size_t off, uint32_t* meta, uint32_t metaCap, uint32_t* count,
                const Placement* place) {
  *count = 0;
  if (fd_ < 0) return 0;
  if (place != nullptr && (place->wordCount < kPlaceHeaderWords || place->words[kPlaceEnabled] != 1)) place = nullptr;
  // CPU time: one clock read before and after each part of a sampled call (CpuSampler).
  const double w = recvSample_.Next();
  const uint64_t t0 = w != 0 ? ThreadCpuNs() : 0;
  if (scratch_ && scratch_->next < scratch_->count) {
    *count = DeliverScratch(slab, slabLen, off, meta, metaCap, place);
    if (w != 0) cpu_[kRecvCopyNs] += w * double(ThreadCpuNs() - t0);
    return 0;
  }
  // Placing needs the datagrams outside the slab first (a GRO train lands whole).
  if (gro_ && groDirect_ && place == nullptr) {
    const int err = RecvDirect(slab, off, meta, metaCap, count);
    if (w != 0) cpu_[kRecvSyscallNs] += w * double(ThreadCpuNs() - t0);
    return err;
  }
  const int err = RecvMany();
  const uint64_t t1 = w != 0 ? ThreadCpuNs() : 0;
  if (w != 0) cpu_[kRecvSyscallNs] += w * double(t1 - t0);
  if (err != 0) return err;
  *count = DeliverScratch(slab, slabLen, off, meta, metaCap, place);
  if (w != 0) cpu_[kRecvCopyNs] += w * double(ThreadCpuNs() - t1);
  return 0;
}

// ---- placement ----

namespace {

uint32_t Be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]); }
uint32_t Be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | uint32_t(p[1]); }

// DATA's byte layout (protocol/messages/data.ts): the 8-byte common header (magic, version,
// type, sessionId), then seq, sliceNo, sliceBytes, flags, stripe, blockNo, payload.
constexpr uint32_t kOffSession = 4;
constexpr uint32_t kOffSeq = 8;
constexpr uint32_t kOffSliceNo = 12;
constexpr uint32_t kOffSliceBytes = 16;
constexpr uint32_t kOffFlags = 20;
constexpr uint32_t kOffStripe = 21;
constexpr uint32_t kOffBlockNo = 22;
constexpr uint32_t kDataHeaderBytes = 24;
constexpr uint32_t kFlagParity = 1;
constexpr uint32_t kFlagFinalSlice = 8;
constexpr uint32_t kFlagsKnown = 0x0f;

}  // namespace

PlaceResult PlaceDatagram(const Placement& p, const uint8_t* d, uint32_t len, uint32_t srcIp, uint32_t* rec) {
  const uint32_t* w = p.words;
  if (p.wordCount < kPlaceHeaderWords || w[kPlaceEnabled] != 1) return PlaceResult::kRaw;
  // What decodeData checks, then that it comes from the session's sender.
  if (len <= kDataHeaderBytes || Be32(d) != w[kPlaceDataHead]) return PlaceResult::kRaw;
  if (Be32(d + kOffSession) != w[kPlaceSession] || srcIp != w[kPlaceSenderIp]) return PlaceResult::kRaw;
  const uint32_t flags = d[kOffFlags];
  const uint32_t sliceBytes = Be32(d + kOffSliceBytes);
  if ((flags & ~kFlagsKnown) != 0 || sliceBytes == 0 || sliceBytes >= kPlacedMark || d[kOffStripe] != 0) return PlaceResult::kRaw;
  const uint32_t sliceNo = Be32(d + kOffSliceNo);
  const uint32_t entries = w[kPlaceEntryCount];
  if (entries == 0 || (entries & (entries - 1)) != 0 || (p.wordCount - kPlaceHeaderWords) / kPlaceEntryWords < entries) {
    return PlaceResult::kRaw;
  }
  const uint32_t* e = w + kPlaceHeaderWords + size_t(sliceNo & (entries - 1)) * kPlaceEntryWords;
  if (e[kEntryOpen] != 1 || e[kEntrySliceNo] != sliceNo) {
    // Not open (yet): if it may be the next slice JS opens, let JS see it before the rest.
    return sliceNo - w[kPlaceBase] < w[kPlaceWindow] ? PlaceResult::kRawStop : PlaceResult::kRaw;
  }
  // Parity is kept apart from the slice until its stripe decodes: the core takes it as a datagram.
  if ((flags & kFlagParity) != 0) return PlaceResult::kRaw;
  // What checkDataAgainstSession checks, against what JS checked when it opened the slice.
  if (sliceBytes != e[kEntrySliceBytes]) return PlaceResult::kRaw;
  if ((e[kEntryFinalMask] & ((flags & kFlagFinalSlice) != 0 ? 2u : 1u)) == 0) return PlaceResult::kRaw;
  const uint32_t blockBytes = w[kPlaceBlockBytes];
  if (blockBytes == 0) return PlaceResult::kRaw;
  const uint32_t blockNo = Be16(d + kOffBlockNo);
  const uint64_t at = uint64_t(blockNo) * blockBytes;
  if (at >= sliceBytes) return PlaceResult::kRaw;
  const uint32_t payload = uint32_t(std::min<uint64_t>(blockBytes, sliceBytes - at));
  if (len - kDataHeaderBytes != payload) return PlaceResult::kRaw;
  const uint64_t slot = e[kEntryPoolOffset];
  if (slot + sliceBytes > p.poolBytes) return PlaceResult::kRaw;
  const uint64_t nBlocks = (uint64_t(sliceBytes) + blockBytes - 1) / blockBytes;
  const uint64_t have = e[kEntryHaveOffset];
  if (have + 2 * nBlocks > p.poolBytes) return PlaceResult::kRaw;
  uint8_t* placed = p.pool + have + nBlocks;
  if (p.pool[have + blockNo] != 0 || placed[blockNo] != 0) return PlaceResult::kRaw;
  placed[blockNo] = 1;
  std::memcpy(p.pool + slot + at, d + kDataHeaderBytes, payload);
  rec[0] = Be32(d + kOffSeq);
  rec[1] = kPlacedMark | sliceBytes;
  rec[2] = sliceNo;
  rec[3] = blockNo | flags << 16;
  return PlaceResult::kPlaced;
}

}  // namespace rackcast::udp

#endif  // __linux__
