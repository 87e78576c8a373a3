// The root bus's side of an isolated driver host: a privileged daemon that
// owns the device serves it to a driver running in a driver host, an
// unprivileged process of its own uid, over one Unix socket
// (SOCK_SEQPACKET, wire.h).
//
//   daemon: HostServer(service)  <== socket ==>  host: Connection (+ the bus's proxy)
//
// The server is the generic half: it frames and decodes messages (by op,
// into the op's typed body, refusing a body of the wrong size), greets the
// host with its node, maps interrupts, pins DMA memory through the device's
// Bti, takes the host's start report, bounds what the host can make it
// spend (HostBudget), logs refusals (escaped, capped) and stops serving a
// host that ended. What a device of one bus offers besides (PCI's config
// space and BARs) is the bus's HostService, which plugs in.
//
// DMA: the host sends the VMO it wants pinned; the server accepts only
// shared memory (memfd, tmpfs, hugetlbfs) the host opened for the access
// the pin needs, seals it against shrinking, and pins it through its own
// IOMMU domain. The host never holds the container or the group, so its
// device reaches only what it shared.
//
// A host that goes away (or breaks the protocol) ends Serve; Reclaim then
// quarantines its pins, has the service quiesce the device, and only then
// frees the pins: a device still DMAing when its host died writes into
// memory that stays pinned until it is quiet.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/node.h"
#include "udrv/core/interrupt.h"
#include "udrv/core/result.h"
#include "udrv/core/rights.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"
#include "udrv/core/vmo.h"
#include "udrv/dma/bti.h"
#include "udrv/host/wire.h"

namespace udrv::host {

// The rights a driver host gets with the handles the server sends (a
// service sends device memory with rights of its own choosing). Nothing a
// driver could pass on, no signalling a hardware interrupt.
inline constexpr Rights kHostInterruptRights = kRightRead | kRightWrite | kRightWait | kRightInspect;
inline constexpr Rights kHostNodeRights = kRightRead | kRightMap | kRightGetProperty | kRightInspect;

// What one driver host may make the root bus spend on its behalf.
struct HostBudget {
  // Memory pinned for the host's device, quarantined pins included (they
  // stay mapped until released). Every pinned byte counts whether or not
  // the host ever touched the page: the root bus populates the pages of a
  // pin itself (MAP_POPULATE), so a sparse memfd would otherwise make the
  // root bus allocate memory the host never paid for. Charging the whole
  // range, rather than refusing unpopulated pages, needs no racy mincore
  // check and still holds after the host punches holes into its file.
  uint64_t max_pinned_bytes = uint64_t{256} << 20;
  // Pins, quarantined ones included: each is an IOMMU mapping of the
  // container's (type1's dma_entry_limit is 65535 for all of them).
  uint64_t max_pins = 4096;
  // Processes and threads of the host's uid (RLIMIT_NPROC).
  uint32_t max_processes = 64;

  // "pinned memory 256 MiB, 4096 pins, 64 processes and threads"
  std::string ToString() const;
};

// A service's answer to one request: the reply body and, for an op that
// says so, a VMO or a plain file (core/transfer.h's SendFile: a device node
// the service narrowed for the host, as USB's usbfs fd) sent after it.
struct ServiceReply {
  std::vector<std::byte> body;
  Vmo vmo;  // sent after the reply when valid
  Rights vmo_rights = kRightNone;
  UniqueFd file;  // sent after the reply (and the VMO) when valid
  std::string file_name;

  template <typename Reply>
  static ServiceReply Of(const Reply& reply) {
    const auto bytes = std::as_bytes(std::span(&reply, 1)).first(wire::kBodySize<Reply>);
    ServiceReply answer;
    answer.body.assign(bytes.begin(), bytes.end());
    return answer;
  }
};

// What one bus's device offers a driver host beyond the generic ops.
// Called on the serving thread only.
class HostService {
 public:
  virtual ~HostService() = default;

  // The device as its bus names it ("0000:00:03.0") and the route it was
  // opened over ("vfio"): the host's hello.
  virtual std::string DeviceName() const = 0;
  virtual std::string Route() const = 0;

  // The body size of the service's request `op` (>= wire::kFirstServiceOp);
  // nullopt for an op it does not have (the host broke the protocol).
  virtual std::optional<size_t> RequestSize(uint16_t op) const = 0;
  // "read config": for the log.
  virtual std::string OpName(uint16_t op) const = 0;
  // Answers request `op`, whose body has RequestSize(op) bytes. An error is
  // the host's answer (and logged when it is a refusal).
  virtual Result<ServiceReply> Handle(uint16_t op, std::span<const std::byte> body) = 0;

  // The generic ops' access to the device.
  virtual Result<Interrupt> MapInterrupt(uint32_t vector) = 0;
  virtual Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit) = 0;

  // After the host: makes the device quiet (interrupts off, DMA off, a
  // reset where it has one), each step appended to `report`. True when no
  // DMA can still run.
  virtual bool Quiesce(bus::ReleaseReport& report) = 0;
};

struct HostServerOptions {
  // Called (on Serve's thread) when the host reports whether its driver
  // started: once, with its first report (later ones are refused,
  // BAD_STATE). The error's text is the host's, escaped.
  std::function<void(const Result<void>& started)> on_started;
  // Lines about what the host asked for that was refused (may be empty).
  // Text the host chose (its STARTED message, the names of the VMOs it
  // sends) reaches the lines only escaped (udrv::Printable).
  bus::Logger log;
  HostBudget budget;
  // How long a reply may wait for the host to read: a host that stops
  // reading is disconnected (Serve returns TIMED_OUT), not left to park
  // the serving thread.
  Duration reply_timeout = 5'000'000'000;
  // Readable once the host has ended (its pidfd), or -1. Serve ends then,
  // even while something else (a child the host forked) keeps the socket.
  int host_ended_fd = -1;
};

// The daemon's side of one host's connection. Not thread safe: Serve runs
// on one thread, Reclaim after it returned.
class HostServer {
 public:
  // `service` (over the bus's device) and `node` are what the host is
  // given; `service` must outlive the server.
  HostServer(HostService& service, bus::DeviceNode node, UniqueFd socket, HostServerOptions options);
  ~HostServer();
  HostServer(const HostServer&) = delete;
  HostServer& operator=(const HostServer&) = delete;

  // Answers the host's requests until it closes the socket or ends
  // (host_ended_fd; success), sends something malformed (IO_INVALID) or
  // does not read a reply within reply_timeout (TIMED_OUT); then the
  // connection is dropped. Refused requests are answered with their error
  // and do not end it.
  Result<void> Serve();

  // After Serve: quarantines the pins the host left, quiesces the device
  // (HostService::Quiesce), then releases the quarantine. Every step is
  // reported; the first, "pins quarantined", says how many the host left.
  bus::ReleaseReport Reclaim();

  // Pins made for the host and not unpinned (quarantined ones included).
  size_t live_pins() const;

 private:
  struct Session;
  std::unique_ptr<Session> session_;
};

}  // namespace udrv::host
