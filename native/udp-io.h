// The syscall half of the native UDP socket: one non-blocking IPv4 UDP fd, batched sends
// (UDP_SEGMENT or sendmmsg) and batched receives (UDP_GRO or recvmmsg). No Node-API and no
// libuv here; native/udp.cc binds it to JS and to the event loop.
//
// Every method that can fail returns 0 or an errno value; the binding turns errno values into
// one-line JS errors. Send failures are counted instead (see SendBatch).

#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace rackcast::udp {

/** Datagrams in one send batch: UDP_MAX_SEGMENTS on every kernel that has UDP_SEGMENT. */
constexpr uint32_t kMaxBatchDatagrams = 64;
/** Bytes in one multi-datagram batch: a GSO send is one IP packet's worth (< 65507) before it is cut. */
constexpr uint32_t kMaxBatchBytes = 65000;
/** Largest UDP payload over IPv4 (65535 - 20 - 8). */
constexpr uint32_t kMaxDatagramBytes = 65507;
/**
 * Room for one received message: any IPv4 datagram, or one GRO-coalesced train (the kernel
 * caps those at 64 KiB, net.core gro_max_size).
 */
constexpr size_t kRecvSlotBytes = 65536;
/** Messages per recvmmsg. */
constexpr uint32_t kRecvBatchMessages = 64;

/** Counters the binding shares with JS (a Float64Array; see the table in udp.cc). */
enum Counter : int {
  kDatagramsSent = 0,
  kSendCalls = 1,
  kSendBlocked = 2,
  kSendErrors = 3,
  kDatagramsReceived = 4,
  kRecvCalls = 5,
  /** Batches the send thread (send-thread.h) has finished with, and that thread's CPU time in ns. */
  kBatchesDone = 6,
  kSendThreadNs = 7,
  kCounterCount = 8,
};

/** The second counter array (setCpuCounters in udp.cc): where the time goes, and placement. */
enum CpuCounter : int {
  /** CPU time (this thread's, in ns) spent inside send syscalls and inside receive syscalls. */
  kSendSyscallNs = 0,
  kRecvSyscallNs = 1,
  /** CPU time (ns) copying received datagrams out of the recvmmsg buffers: into slices (placement) or the slab. */
  kRecvCopyNs = 2,
  /** DATA datagrams placed straight into slice memory (also counted in kDatagramsReceived). */
  kDatagramsPlaced = 3,
  /** Receive calls that ended early so JS could open the slice of a DATA datagram it had not seen. */
  kPlaceStops = 4,
  kCpuCounterCount = 5,
};

/** This thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID): what the counters above add up. */
uint64_t ThreadCpuNs();

/**
 * Which syscalls get their CPU time read, as common/cpu-clock.ts's CpuStage does in JS: a read
 * of the thread clock is itself a syscall (0.7 us on the lab's VM), so the first
 * kCpuExactParts of each kind are timed, then one in kCpuSampleEvery drawn at random, counted
 * kCpuSampleEvery times: an unbiased estimate of the CpuCounter times.
 */
class CpuSampler {
 public:
  static constexpr uint32_t kCpuExactParts = 64;
  static constexpr uint32_t kCpuSampleEvery = 16;
  /** The weight of the part about to run: 0 (not timed), 1 or kCpuSampleEvery. */
  double Next() {
    if (parts_ < kCpuExactParts) {
      parts_++;
      return 1;
    }
    // xorshift32: the draw must not follow any period of the traffic.
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_ % kCpuSampleEvery == 0 ? double(kCpuSampleEvery) : 0;
  }

 private:
  uint32_t parts_ = 0;
  uint32_t rng_ = 0x9e3779b9u;
};

// ---- DATA placement ----
//
// The receiver's JS core registers the slices it holds in a table of u32 words it shares with
// the addon (layout below; common/udp/placement.ts writes it and has the TS reference of the
// same placement). A DATA datagram of an open slice, from the session's sender, whose fields
// pass every check the core would make, has its payload copied straight into that slice's
// memory in the pool; JS then gets a 4-word record instead of the datagram. Anything else is
// handed over as a datagram, as without placement. The table and the pool come from JS: every
// offset and length in them is checked before anything is written.
//
// Table words:
//   0 enabled      1: place; anything else: never place
//   1 sessionId    DATA's session id must equal it
//   2 senderIp     the datagram's source IPv4 (host order) must equal it
//   3 blockBytes   the session's block size (> 0)
//   4 base         the next slice the core delivers: a DATA of a slice in [base, base + window)
//                  that is not open ends the receive call after it, so JS can open the slice
//   5 window       slices the sender retains
//   6 entryCount   entries that follow (a power of two); slice n is looked up at n & (count - 1)
//   7 dataHead     a DATA datagram's first 4 bytes as a big-endian u32 (magic, version, type):
//                  JS writes it from protocol/header.ts, so a version change needs no C++ change
//   8 + 6i...      entry i: sliceNo, open (1: open), sliceBytes, poolOffset, finalMask, haveOffset
//                  finalMask bit 0: a DATA without the FINAL_SLICE flag is taken; bit 1: with it
//                  the slice's bytes are pool[poolOffset, + sliceBytes); pool[haveOffset, + n) is
//                  the core's byte per block (nonzero: it has the block), and the n bytes after it
//                  are ours (nonzero: placed already); n = ceil(sliceBytes / blockBytes). A block
//                  the core has, or one placed before, is handed over as a datagram (the core
//                  counts the copy, and the first bytes stay, as when it takes datagrams itself).
constexpr uint32_t kPlaceEnabled = 0;
constexpr uint32_t kPlaceSession = 1;
constexpr uint32_t kPlaceSenderIp = 2;
constexpr uint32_t kPlaceBlockBytes = 3;
constexpr uint32_t kPlaceBase = 4;
constexpr uint32_t kPlaceWindow = 5;
constexpr uint32_t kPlaceEntryCount = 6;
constexpr uint32_t kPlaceDataHead = 7;
constexpr uint32_t kPlaceHeaderWords = 8;
constexpr uint32_t kPlaceEntryWords = 6;
constexpr uint32_t kEntrySliceNo = 0;
constexpr uint32_t kEntryOpen = 1;
constexpr uint32_t kEntrySliceBytes = 2;
constexpr uint32_t kEntryPoolOffset = 3;
constexpr uint32_t kEntryFinalMask = 4;
constexpr uint32_t kEntryHaveOffset = 5;

/** Set in meta[4k + 1] of a placed record, beside the slice's size (a datagram's length never has it). */
constexpr uint32_t kPlacedMark = 0x80000000u;

/** The table and the pool as JS handed them for one receive call (pointers valid during it). */
struct Placement {
  const uint32_t* words;
  size_t wordCount;
  uint8_t* pool;
  size_t poolBytes;
};

enum class PlaceResult {
  /** Copied into the slice; `rec` holds the record. */
  kPlaced,
  /** Not placed: JS gets the datagram. */
  kRaw,
  /** Not placed, and its slice may be one JS opens now: end the receive call after it. */
  kRawStop,
};

/**
 * Places one datagram if it is a DATA block of an open slice that passes every check
 * (protocol/messages/data.ts, protocol/geometry.ts checkDataAgainstSession, the table's entry);
 * rec gets [seq, kPlacedMark | sliceBytes, sliceNo, blockNo | flags << 16]. Never reads outside
 * data[0, len) or the table, never writes outside the slice's bytes in the pool.
 */
PlaceResult PlaceDatagram(const Placement& p, const uint8_t* data, uint32_t len, uint32_t srcIp, uint32_t* rec);

struct SocketOptions {
  bool reuseAddr = false;
  /** Try UDP_SEGMENT (still off if the kernel says no). */
  bool gso = true;
  /** Try UDP_GRO (still off if the kernel says no). */
  bool gro = true;
};

/** One send batch laid out back to back: count datagrams of segBytes, the last one lastBytes (<= segBytes). */
struct Batch {
  const uint8_t* data;
  uint32_t segBytes;
  uint32_t count;
  uint32_t lastBytes;
};

/** What the kernel offers, found by setting the socket options on a fresh socket. */
struct Support {
  bool gso;
  bool gro;
  /** errno of the socket() call, 0 if it worked. */
  int socketErr;
};

Support ProbeSupport();

/** ip and port in host order, as JS passes them; the result is ready for bind/connect/sendmsg. */
sockaddr_in MakeAddr(uint32_t ip, uint16_t port);

class UdpIo {
 public:
  /** counters: kCounterCount doubles that outlive this object. Check openError() afterwards. */
  UdpIo(const SocketOptions& opts, double* counters);
  ~UdpIo();
  UdpIo(const UdpIo&) = delete;
  UdpIo& operator=(const UdpIo&) = delete;

  /** errno of the socket() or SO_REUSEADDR call in the constructor; 0 when the socket is open. */
  int openError() const { return openErr_; }
  /** The socket; -1 once closed. */
  int fd() const { return fd_; }
  bool gso() const { return gso_; }
  bool gro() const { return gro_; }
  void Close();

  int Bind(uint32_t ip, uint16_t port);
  int Connect(uint32_t ip, uint16_t port);
  /** The bound address (ip, port in host order). */
  int LocalAddress(uint32_t* ip, uint16_t* port);
  /** Joins (IP_ADD_MEMBERSHIP) or leaves (IP_DROP_MEMBERSHIP) `group` on `iface`. */
  int Membership(uint32_t group, uint32_t iface, bool join);
  int SetMulticastInterface(uint32_t iface);
  int SetMulticastTtl(int ttl);
  int SetMulticastLoop(bool on);
  /** SO_SNDBUF (send) or SO_RCVBUF; the kernel doubles what it is given and caps it at *mem_max. */
  int SetBufferSize(bool send, int bytes);
  int GetBufferSize(bool send, int* bytes);

  /**
   * Sends datagrams [first, count) of `b` to `to` (nullptr: the connected peer) and returns
   * the first one not yet done. count means finished: every datagram went to the kernel, or
   * was dropped and counted in kSendErrors after an error other than a full buffer. Less than
   * count means the kernel buffer is full (EAGAIN/ENOBUFS, counted in kSendBlocked): call
   * again with the returned index once the fd is writable.
   *
   * Two or more datagrams go out in ONE sendmsg with a UDP_SEGMENT cmsg when GSO is on, else
   * in sendmmsg calls (more than one only after a partial send); one datagram is a plain
   * sendmsg. A GSO send the kernel rejects as unsupported (EIO: the route's device cannot
   * checksum; ENOPROTOOPT/EOPNOTSUPP; EINVAL before any GSO send has worked) turns GSO off for
   * good; a later EINVAL (e.g. a segment larger than the route's MTU) sends just that batch
   * with sendmmsg.
   */
  uint32_t SendBatch(const Batch& b, uint32_t first, const sockaddr_in* to);

  /**
   * Takes received datagrams from the kernel (or from the previous recvmmsg's leftovers) into
   * slab[off..slabLen) and describes each in meta (4 uint32 per datagram: offset in the slab,
   * length, source IPv4, source port; at most metaCap entries). At most one syscall per call.
   * Returns 0 or an errno value; *count is the number of datagrams (0: none waiting).
   * The caller guarantees slabLen - off >= kRecvSlotBytes and metaCap >= kMinMetaEntries.
   *
   * With `place` (its table enabled), DATA datagrams it places become records in meta instead
   * (see PlaceDatagram; they take no slab bytes), and the call ends after a kRawStop datagram.
   * Reads then always go through recvmmsg (GRO trains are cut into segments there).
   */
  int Recv(uint8_t* slab, size_t slabLen, size_t off, uint32_t* meta, uint32_t metaCap, uint32_t* count,
           const Placement* place = nullptr);

  /** Where the CpuCounter values go from now on (kCpuCounterCount doubles that outlive this object); the values so far are copied there. */
  void SetCpuCounters(double* cpu) {
    for (int i = 0; i < kCpuCounterCount; i++) cpu[i] = cpu_[i];
    cpu_ = cpu;
  }

  /** Test hook: the next `calls` send syscalls fail with `err` without reaching the kernel. */
  void InjectSendErrors(int err, uint32_t calls) {
    injectErr_ = err;
    injectCalls_ = calls;
  }

 private:
  struct RecvScratch;

  int SetInt(int level, int name, int value);
  ssize_t SysSendmsg(const msghdr* m);
  int SysSendmmsg(mmsghdr* v, unsigned n);
  /** One datagram (len bytes) with a plain sendmsg; 0 or errno. */
  int SendOne(const uint8_t* at, size_t len, const sockaddr_in* to);
  /** bytes cut into gsoSize segments with one sendmsg; 0 or errno. */
  int SendGso(const uint8_t* at, size_t bytes, uint32_t gsoSize, const sockaddr_in* to);
  /** Datagrams [first, count) with one sendmmsg; returns how many the kernel took, or -errno. */
  int SendMany(const Batch& b, uint32_t first, const sockaddr_in* to);
  int RecvDirect(uint8_t* slab, size_t off, uint32_t* meta, uint32_t metaCap, uint32_t* count);
  int RecvMany();
  uint32_t DeliverScratch(uint8_t* slab, size_t slabLen, size_t off, uint32_t* meta, uint32_t metaCap, const Placement* place);

  int fd_ = -1;
  int openErr_ = 0;
  bool gso_ = false;
  /** A GSO send has worked on this socket, so a later EINVAL is about the batch, not the kernel. */
  bool gsoWorked_ = false;
  bool gro_ = false;
  /**
   * With GRO: read one message straight into the caller's slab (no copy). Cleared when that
   * returns an uncoalesced datagram (one datagram per syscall would be worse than recvmmsg),
   * set again when recvmmsg returns a coalesced train.
   */
  bool groDirect_ = true;
  double* counters_;
  /** CpuCounter values: ownCpu_ until JS gives its array. */
  double ownCpu_[kCpuCounterCount] = {};
  double* cpu_ = ownCpu_;
  CpuSampler sendSample_;
  CpuSampler recvSample_;
  std::unique_ptr<RecvScratch> scratch_;
  int injectErr_ = 0;
  uint32_t injectCalls_ = 0;
};

/**
 * Fewest meta entries the caller must offer per Recv: one GRO message split into segments.
 * The kernel coalesces at most 64 datagrams (UDP_GRO_CNT_MAX) and builds GSO trains of at
 * most 128 (UDP_MAX_SEGMENTS since Linux 6.9; 64 before), which a GRO socket on the same host
 * receives whole; 256 leaves room.
 */
constexpr uint32_t kMinMetaEntries = 256;

}  // namespace rackcast::udp
