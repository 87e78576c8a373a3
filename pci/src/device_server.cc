// The root bus's side of an isolated driver host (isolation.h).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <poll.h>
#include <sys/time.h>

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "isolation_wire.h"
#include "quiesce.h"
#include "resource_file.h"
#include "udrv/core/text.h"
#include "udrv/core/transfer.h"
#include "udrv/pci/config.h"
#include "udrv/pci/isolation.h"
#include "udrv/pci/sysfs.h"

namespace udrv::pci {

using wire::Op;
using wire::Reply;
using wire::Request;

namespace {

// How long a host may take to send the VMO that follows its pin request.
constexpr Duration kFollowUpTimeout = 5'000'000'000;
// How many of one host's refused requests the log shows.
constexpr uint64_t kLoggedRefusals = 64;

std::string OpName(Op op) {
  switch (op) {
    case Op::HELLO: return "hello";
    case Op::READ_CONFIG: return "read config";
    case Op::WRITE_CONFIG: return "write config";
    case Op::GET_DEVICE_INFO: return "get device info";
    case Op::GET_BAR: return "get BAR";
    case Op::SET_BUS_MASTERING: return "set bus mastering";
    case Op::GET_INTERRUPT_MODES: return "get interrupt modes";
    case Op::SET_INTERRUPT_MODE: return "set interrupt mode";
    case Op::MAP_INTERRUPT: return "map interrupt";
    case Op::ACK_INTERRUPT: return "ack interrupt";
    case Op::RESET_DEVICE: return "reset";
    case Op::GET_BTI: return "get BTI";
    case Op::BTI_PIN: return "pin";
    case Op::BTI_UNPIN: return "unpin";
    case Op::BTI_QUARANTINE: return "quarantine";
    case Op::BTI_INFO: return "BTI info";
    case Op::BTI_RELEASE_QUARANTINE: return "release quarantine";
    case Op::STARTED: return "started";
  }
  return "op " + std::to_string(static_cast<unsigned>(op));
}

// The file behind a pin request must be memory the host shares: memfd,
// tmpfs or hugetlbfs, opened for what the device is to do with it
// (read-write for a device WRITE; a handle with READ has a readable fd,
// transfer.h sees to that), long enough, and sealed
// against shrinking, so that the pages the IOMMU maps stay the file's for
// the pin's life. The fd is used as it came: reopening it through /proc as
// root could grant access the host's fd did not have. A read-only fd cannot
// add the seal itself, so memory sent read-only must come sealed (the host's
// library seals what it sends).
Result<Vmo> CheckSharedMemory(Vmo vmo, uint32_t options, uint64_t offset, uint64_t size,
                              const std::string& object) {
  auto backing = vmo.GetBacking();
  if (!backing) return Wrap(backing.error(), "pin: the VMO sent");
  const int fd = backing->fd;
  struct statfs fs{};
  if (::fstatfs(fd, &fs) != 0) return FailErrno(errno, "pin: fstatfs of the VMO sent", object);
  if (fs.f_type != TMPFS_MAGIC && fs.f_type != HUGETLBFS_MAGIC) {
    return Fail(Status::ACCESS_DENIED,
                "pin: the VMO sent is not shared memory (filesystem magic " +
                    Hex(static_cast<uint64_t>(fs.f_type)) +
                    "): a driver host can have pinned only memory it shares (memfd)",
                object);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return FailErrno(errno, "pin: fcntl(F_GETFL) of the VMO sent", object);
  const int mode = flags & O_ACCMODE;
  if ((options & dma::kBtiPermWrite) != 0 && mode != O_RDWR) {
    return Fail(Status::ACCESS_DENIED,
                "pin: the device is to write memory the host sent read-only", object);
  }
  if (mode != O_RDWR && (vmo.rights() & kRightWrite) != 0) {
    // The message claimed WRITE for a read-only fd: believe the fd.
    auto narrowed = std::move(vmo).Replace(vmo.rights() & ~kRightWrite);
    if (!narrowed) return std::unexpected(narrowed.error());
    vmo = std::move(*narrowed);
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0) return FailErrno(errno, "pin: fstat of the VMO sent", object);
  const uint64_t end = backing->fd_offset + offset + size;
  if (end < offset || end > static_cast<uint64_t>(st.st_size)) {
    return Fail(Status::OUT_OF_RANGE,
                "pin: [" + Hex(offset) + ", +" + Hex(size) + ") passes the end of the memory sent (" +
                    Hex(static_cast<uint64_t>(st.st_size)) + " bytes)",
                object);
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_SHRINK) != 0) return vmo;
  if (mode != O_RDWR) {
    return Fail(Status::ACCESS_DENIED,
                "pin: memory sent read-only must come sealed against shrinking (F_SEAL_SHRINK)",
                object);
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
    return Fail(Status::ACCESS_DENIED,
                "pin: the memory sent cannot be sealed against shrinking (create it with "
                "memfd_create(MFD_ALLOW_SEALING), as Vmo::Create does)",
                object, errno);
  }
  return vmo;
}

// The bytes of the pages [offset, offset + size) touches.
uint64_t PagesSpanned(uint64_t offset, uint64_t size) {
  const uint64_t page = PageSize();
  const uint64_t first = offset / page;
  const uint64_t last = (offset + size + page - 1) / page;
  return (last - first) * page;
}

std::string Bytes(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 30) == 0 && bytes != 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes % (uint64_t{1} << 20) == 0 && bytes != 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (uint64_t{1} << 10) == 0 && bytes != 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Config registers above the header a host may not write, whatever
// vfio-pci's virtualization (weakened by its permissive=1) would let
// through: where the device's interrupts go (the MSI and MSI-X
// capabilities) and its power state (the PM capability's control/status).
struct ProtectedRegisters {
  uint16_t begin = 0;
  uint16_t end = 0;
  std::string what;
};

Result<std::vector<ProtectedRegisters>> HostProtectedRegisters(const ConfigSpace& config) {
  std::vector<ProtectedRegisters> ranges;
  auto capabilities = ListCapabilities(config);
  if (!capabilities) return std::unexpected(capabilities.error());
  for (const Capability& capability : *capabilities) {
    switch (capability.id) {
      case kCapMsi: {
        auto msi = DecodeMsi(config, capability);
        if (!msi) return std::unexpected(msi.error());
        // Control, address (and upper address), data, mask and pending bits.
        const auto size = static_cast<uint16_t>((msi->is_64bit ? 14 : 10) + (msi->per_vector_masking ? 10 : 0));
        ranges.push_back({capability.offset, static_cast<uint16_t>(capability.offset + size),
                          "the MSI capability"});
        break;
      }
      case kCapMsix:
        ranges.push_back({capability.offset, static_cast<uint16_t>(capability.offset + 12),
                          "the MSI-X capability"});
        break;
      case kCapPowerManagement:
        ranges.push_back({capability.offset, static_cast<uint16_t>(capability.offset + 8),
                          "the power management capability (the device's power state)"});
        break;
      default:
        break;
    }
  }
  return ranges;
}

}  // namespace

std::string HostBudget::ToString() const {
  return "pinned memory " + Bytes(max_pinned_bytes) + ", " + std::to_string(max_pins) + " pins, " +
         std::to_string(max_processes) + " processes and threads";
}

struct DeviceServer::Session {
  Session(Device& served, bus::DeviceNode given_node, UniqueFd host_socket,
          DeviceServerOptions server_options)
      : device(served),
        node(std::move(given_node)),
        socket(std::move(host_socket)),
        options(std::move(server_options)),
        object("driver host of " + served.address().ToString()) {}

  Device& device;
  bus::DeviceNode node;
  UniqueFd socket;
  DeviceServerOptions options;
  std::string object;  // "driver host of 0000:00:03.0"

  // One Bti per index the host asked for; the host names it by its place.
  std::vector<dma::Bti> btis;
  struct GivenBti {
    size_t id = 0;  // its place in `btis`
    uint64_t dma_limit = 0;
  };
  std::map<uint32_t, GivenBti> bti_of_index;
  struct HeldPin {
    uint64_t bti = 0;
    dma::Pmt pmt;
    uint64_t bytes = 0;  // charged to the budget
  };
  std::map<uint64_t, HeldPin> pins;
  uint64_t next_pin = 1;
  // What the host's pins cost, live and quarantined; the quarantined part
  // per Bti, given back when the host releases that Bti's quarantine.
  struct Charge {
    uint64_t bytes = 0;
    uint64_t pins = 0;
  };
  Charge charged;
  std::map<uint64_t, Charge> quarantined;
  bool started_reported = false;
  uint64_t refusals = 0;

  void Log(const std::string& line) const {
    if (options.log) options.log(object + ": " + Printable(line));
  }

  // A send the host did not make room for within reply_timeout
  // (SO_SNDTIMEO) is TIMED_OUT: the connection is dropped.
  Result<void> Sent(Result<void> sent) const {
    if (!sent && (sent.error().err_no == EAGAIN || sent.error().status == Status::SHOULD_WAIT)) {
      return Fail(Status::TIMED_OUT,
                  "the host did not read its replies for " +
                      std::to_string(options.reply_timeout / 1'000'000) + " ms",
                  object);
    }
    return sent;
  }
  Result<void> SendReply(const Reply& reply) {
    return Sent(wire::SendMessage(socket.get(), reply, "reply to " + object));
  }
  template <typename Handle>
  Result<void> SendToHost(Handle&& handle, Rights rights) {
    return Sent(SendHandle(socket.get(), std::forward<Handle>(handle), rights));
  }
  Result<void> SendResult(Op op, const Result<Reply>& result) {
    if (result) return SendReply(*result);
    // What a host asks beyond its rights or budget is logged; a device's own
    // NOT_SUPPORTED (a mode it lacks) is only answered.
    switch (result.error().status) {
      case Status::ACCESS_DENIED:
      case Status::BAD_HANDLE:
      case Status::BAD_STATE:
      case Status::NOT_FOUND:
      case Status::INVALID_ARGS:
      case Status::OUT_OF_RANGE:
      case Status::NO_RESOURCES:
      case Status::ALREADY_EXISTS:
        LogRefusal("refused " + OpName(op) + ": " + result.error().ToString());
        break;
      default:
        break;
    }
    return SendReply(wire::ErrorReply(op, result.error()));
  }
  // A host can have any number of requests refused: the log gets the first
  // kLoggedRefusals, then one line saying the rest go unlogged.
  void LogRefusal(const std::string& line) {
    ++refusals;
    if (refusals <= kLoggedRefusals) Log(line);
    if (refusals == kLoggedRefusals) {
      Log("logged " + std::to_string(kLoggedRefusals) +
          " refusals; this host's further refusals are answered, not logged");
    }
  }
  // Request argument `index`, which must fit 32 bits (a vector, a count,
  // an index, pin options): INVALID_ARGS naming it otherwise, never cut.
  Result<uint32_t> Arg32(const Request& request, size_t index, std::string_view name) const {
    const uint64_t value = request.args[index];
    if (value > UINT32_MAX) {
      return Fail(Status::INVALID_ARGS,
                  OpName(static_cast<Op>(request.op)) + ": " + std::string(name) + " " +
                      Hex(value) + " does not fit 32 bits",
                  object);
    }
    return static_cast<uint32_t>(value);
  }
  Result<void> SendVoid(Op op, const Result<void>& result) {
    Reply reply;
    reply.op = static_cast<uint16_t>(op);
    if (result) return SendResult(op, reply);
    return SendResult(op, std::unexpected(result.error()));
  }

  Result<dma::Bti*> FindBti(uint64_t id) {
    if (id >= btis.size()) {
      return Fail(Status::BAD_HANDLE, "no BTI " + std::to_string(id) + " was given to this host",
                  object);
    }
    return &btis[id];
  }

  Result<void> Handle(const Request& request);
  Result<void> Hello();
  Result<void> Config(const Request& request);
  Result<void> CheckHostMayWrite(uint16_t offset, uint64_t width);
  Result<void> GetBti(const Request& request);
  Result<void> ForgetPin(const Request& request);
  Result<void> ReleaseQuarantine(const Request& request);
  Result<void> DeviceInfoRequest(const Request& request);
  Result<void> GetBar(const Request& request);
  Result<void> MapInterrupt(const Request& request);
  Result<void> Pin(const Request& request);
  Result<void> Started(const Request& request);
};

Result<void> DeviceServer::Session::Hello() {
  const Op op = Op::HELLO;
  auto config = device.ReadConfigSpace();
  if (!config) return SendResult(op, std::unexpected(config.error()));
  const std::string text = bus::SerializeNode(node);
  auto vmo = Vmo::Create(text.size(), "node " + node.id);
  if (!vmo) return SendResult(op, std::unexpected(vmo.error()));
  if (auto written = vmo->Write(std::as_bytes(std::span(text)), 0); !written) {
    return SendResult(op, std::unexpected(written.error()));
  }
  auto backing = vmo->GetBacking();
  if (!backing) return SendResult(op, std::unexpected(backing.error()));
  // Sealed: even a host that reopens the memfd through /proc cannot write it.
  if (::fcntl(backing->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return SendResult(op, FailErrno(errno, "seal the node VMO", object));
  }
  Reply reply;
  reply.op = static_cast<uint16_t>(op);
  reply.values[0] = config->size();
  reply.values[1] = text.size();
  wire::SetText(reply.text, device.route());
  wire::SetText(reply.object, device.address().ToString());
  if (auto sent = SendReply(reply); !sent) return sent;
  return SendToHost(std::move(*vmo), kHostNodeRights);
}

Result<void> DeviceServer::Session::Config(const Request& request) {
  const Op op = static_cast<Op>(request.op);
  const uint64_t offset = request.args[0];
  const uint64_t width = request.args[1];
  if (offset > 0xffff || (width != 1 && width != 2 && width != 4)) {
    return SendResult(op, Fail(Status::INVALID_ARGS,
                               OpName(op) + ": offset " + Hex(offset) + ", width " +
                                   std::to_string(width) + " (1, 2 or 4)",
                               object));
  }
  const auto at = static_cast<uint16_t>(offset);
  Reply reply;
  reply.op = request.op;
  if (op == Op::READ_CONFIG) {
    Result<void> read;
    if (width == 1) {
      auto value = device.ReadConfig8(at);
      if (value) reply.values[0] = *value; else read = std::unexpected(value.error());
    } else if (width == 2) {
      auto value = device.ReadConfig16(at);
      if (value) reply.values[0] = *value; else read = std::unexpected(value.error());
    } else {
      auto value = device.ReadConfig32(at);
      if (value) reply.values[0] = *value; else read = std::unexpected(value.error());
    }
    if (!read) return SendResult(op, std::unexpected(read.error()));
    return SendReply(reply);
  }
  if (auto allowed = CheckHostMayWrite(at, width); !allowed) return SendVoid(op, allowed);
  const uint64_t value = request.args[2];
  Result<void> written = width == 1   ? device.WriteConfig8(at, static_cast<uint8_t>(value))
                         : width == 2 ? device.WriteConfig16(at, static_cast<uint16_t>(value))
                                      : device.WriteConfig32(at, static_cast<uint32_t>(value));
  return SendVoid(op, written);
}

Result<void> DeviceServer::Session::CheckHostMayWrite(uint16_t offset, uint64_t width) {
  // Walked at every write: the device is no more trusted than the host, and
  // a list it changes would move the registers. A list the walk cannot
  // follow protects nothing, so it refuses every write.
  auto config = device.ReadConfigSpace();
  if (!config) return Wrap(config.error(), "write config: find the protected registers");
  auto protected_registers = HostProtectedRegisters(*config);
  if (!protected_registers) {
    return Wrap(protected_registers.error(), "write config: find the protected registers");
  }
  for (const ProtectedRegisters& range : *protected_registers) {
    if (offset < range.end && offset + width > range.begin) {
      return Fail(Status::ACCESS_DENIED,
                  "write config " + Hex(offset) + " (" + std::to_string(width) + " bytes): " +
                      range.what + " at " + Hex(range.begin) + ".." + Hex(range.end - 1u) +
                      " is the root bus's (set interrupt modes through the protocol)",
                  object);
    }
  }
  return {};
}

Result<void> DeviceServer::Session::DeviceInfoRequest(const Request& request) {
  const Op op = static_cast<Op>(request.op);
  auto info = device.GetDeviceInfo();
  if (!info) return SendResult(op, std::unexpected(info.error()));
  wire::DeviceInfoMessage message;
  message.vendor_id = info->vendor_id;
  message.device_id = info->device_id;
  message.subsystem_vendor_id = info->subsystem_vendor_id;
  message.subsystem_id = info->subsystem_id;
  message.class_code = info->class_code;
  message.revision = info->revision;
  message.irq = info->irq;
  message.numa_node = info->numa_node;
  for (const BarInfo& bar : info->bars) {
    if (message.bar_count == std::size(message.bars)) break;
    wire::BarMessage& out = message.bars[message.bar_count++];
    out.index = bar.index;
    out.address = bar.address;
    out.size = bar.size;
    out.flags = (bar.is_io ? wire::kBarIo : 0) | (bar.is_64bit ? wire::kBar64 : 0) |
                (bar.is_prefetchable ? wire::kBarPrefetchable : 0);
  }
  Reply reply;
  reply.op = request.op;
  if (auto sent = SendReply(reply); !sent) return sent;
  return Sent(wire::SendMessage(socket.get(), message, "device info to " + object));
}

Result<void> DeviceServer::Session::GetBar(const Request& request) {
  const Op op = Op::GET_BAR;
  const uint64_t index = request.args[0];
  if (index > 5) {
    return SendResult(op, Fail(Status::OUT_OF_RANGE, "get BAR " + std::to_string(index) + ": 0..5",
                               object));
  }
  // A host that could map the MSI-X table could point the device's
  // interrupts anywhere the interrupt remapping lets it.
  auto config = device.ReadConfigSpace();
  if (!config) return SendResult(op, std::unexpected(config.error()));
  auto msix_cap = FindCapability(*config, kCapMsix);
  if (!msix_cap) return SendResult(op, std::unexpected(msix_cap.error()));
  if (*msix_cap) {
    auto msix = DecodeMsix(*config, **msix_cap);
    if (!msix) return SendResult(op, std::unexpected(msix.error()));
    if (msix->table_bar == index || msix->pba_bar == index) {
      return SendResult(op, Fail(Status::NOT_SUPPORTED,
                                 "get BAR " + std::to_string(index) +
                                     ": it holds the MSI-X table or PBA, which an isolated "
                                     "driver host is not given",
                                 object));
    }
  }
  auto bar = device.GetBar(static_cast<uint32_t>(index));
  if (!bar) return SendResult(op, std::unexpected(bar.error()));
  Reply reply;
  reply.op = request.op;
  reply.values[0] = bar->size;
  reply.values[1] = (bar->is_io ? wire::kBarIo : 0) | (bar->is_64bit ? wire::kBar64 : 0) |
                    (bar->is_prefetchable ? wire::kBarPrefetchable : 0);
  reply.values[2] = bar->io_base;
  if (bar->is_io) return SendReply(reply);

  Vmo vmo = std::move(bar->vmo);
  auto description = vmo.Describe();
  if (!description) return SendResult(op, std::unexpected(description.error()));
  if (description->route != PhysicalRoute::TEST_FILE &&
      description->route != PhysicalRoute::SYSFS_RESOURCE) {
    // The route's fd reaches more than the BAR (a VFIO device fd reaches
    // the whole device): hand out the BAR's resource file instead.
    auto info = device.GetDeviceInfo();
    if (!info) return SendResult(op, std::unexpected(info.error()));
    const BarInfo* bar_info = info->FindBar(static_cast<uint32_t>(index));
    if (bar_info == nullptr) {
      return SendResult(op, Fail(Status::NOT_FOUND, "get BAR: sysfs lists no BAR " +
                                                        std::to_string(index), object));
    }
    const std::string dir = SysfsPci(options.sysfs_root).DevicePath(device.address());
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return SendResult(op, FailErrno(errno, "open " + dir, object));
    auto resource = internal::OpenResourceVmo(dir_fd.get(), *bar_info, false, O_RDWR,
                                              device.address().ToString());
    if (!resource) return SendResult(op, std::unexpected(resource.error()));
    vmo = std::move(*resource);
  }
  if (auto sent = SendReply(reply); !sent) return sent;
  return SendToHost(std::move(vmo), kHostBarRights);
}

Result<void> DeviceServer::Session::MapInterrupt(const Request& request) {
  const Op op = Op::MAP_INTERRUPT;
  auto vector = Arg32(request, 0, "vector");
  if (!vector) return SendResult(op, std::unexpected(vector.error()));
  auto interrupt = device.MapInterrupt(*vector);
  if (!interrupt) return SendResult(op, std::unexpected(interrupt.error()));
  Reply reply;
  reply.op = request.op;
  if (auto sent = SendReply(reply); !sent) return sent;
  return SendToHost(std::move(*interrupt), kHostInterruptRights);
}

Result<void> DeviceServer::Session::Pin(const Request& request) {
  const Op op = Op::BTI_PIN;
  // The VMO comes next whatever the verdict: take it first.
  auto vmo = ReceiveVmo(socket.get(), kRightSameRights, DeadlineAfter(kFollowUpTimeout));
  if (!vmo) {
    if (vmo.error().status == Status::PEER_CLOSED) return std::unexpected(vmo.error());
    return SendResult(op, Wrap(vmo.error(), "pin: the VMO that follows the request"));
  }
  auto bti = FindBti(request.args[0]);
  if (!bti) return SendResult(op, std::unexpected(bti.error()));
  auto pin_options = Arg32(request, 1, "pin options");
  if (!pin_options) return SendResult(op, std::unexpected(pin_options.error()));
  const uint64_t offset = request.args[2];
  const uint64_t size = request.args[3];
  if (size == 0) return SendResult(op, Fail(Status::INVALID_ARGS, "pin: size 0", object));
  if (offset + size < offset) {
    return SendResult(op, Fail(Status::OUT_OF_RANGE,
                               "pin: [" + Hex(offset) + ", +" + Hex(size) + ") wraps around",
                               object));
  }
  const HostBudget& budget = options.budget;
  const uint64_t bytes = PagesSpanned(offset, size);
  if (charged.pins >= budget.max_pins) {
    return SendResult(op, Fail(Status::NO_RESOURCES,
                               "pin: the host's budget of " + std::to_string(budget.max_pins) +
                                   " pins is spent (quarantined pins count until released)",
                               object));
  }
  if (bytes > budget.max_pinned_bytes - charged.bytes) {
    return SendResult(op, Fail(Status::NO_RESOURCES,
                               "pin: " + Bytes(bytes) + " more would pass the host's budget of " +
                                   Bytes(budget.max_pinned_bytes) + " pinned (" +
                                   Bytes(charged.bytes) +
                                   " pinned or quarantined; every page of a pin counts, touched "
                                   "or not)",
                               object));
  }
  auto shared = CheckSharedMemory(std::move(*vmo), *pin_options, offset, size, object);
  if (!shared) return SendResult(op, std::unexpected(shared.error()));
  auto pmt = (*bti)->Pin(*pin_options, *shared, offset, size);
  if (!pmt) return SendResult(op, std::unexpected(pmt.error()));

  const uint64_t id = next_pin++;
  std::vector<uint64_t> addresses(pmt->addresses().begin(), pmt->addresses().end());
  pins.emplace(id, HeldPin{request.args[0], std::move(*pmt), bytes});
  charged.bytes += bytes;
  charged.pins += 1;
  Reply reply;
  reply.op = request.op;
  reply.values[0] = id;
  reply.values[1] = addresses.size();
  if (auto sent = SendReply(reply); !sent) return sent;
  for (size_t at = 0; at < addresses.size(); at += wire::kAddressesPerMessage) {
    const size_t count = std::min(wire::kAddressesPerMessage, addresses.size() - at);
    auto sent = Sent(wire::Send(socket.get(), std::as_bytes(std::span(addresses.data() + at, count)),
                                "pin addresses to " + object));
    if (!sent) return sent;
  }
  return {};
}

Result<void> DeviceServer::Session::GetBti(const Request& request) {
  const Op op = Op::GET_BTI;
  auto checked_index = Arg32(request, 0, "BTI index");
  if (!checked_index) return SendResult(op, std::unexpected(checked_index.error()));
  const uint32_t index = *checked_index;
  const uint64_t dma_limit = request.args[1];
  Reply reply;
  reply.op = request.op;
  // One Bti per index, as a device has: asking again gives the same one.
  if (auto it = bti_of_index.find(index); it != bti_of_index.end()) {
    if (it->second.dma_limit != dma_limit) {
      return SendResult(op, Fail(Status::ALREADY_EXISTS,
                                 "get BTI " + std::to_string(index) + ": given already, with DMA "
                                     "limit " + Hex(it->second.dma_limit) + ", not " +
                                     Hex(dma_limit),
                                 object));
    }
    reply.values[0] = it->second.id;
    return SendReply(reply);
  }
  auto bti = device.GetBti(index, dma_limit);
  if (!bti) return SendResult(op, std::unexpected(bti.error()));
  if (bti->is_physical()) {
    return SendResult(op, Fail(Status::NOT_SUPPORTED,
                               "get BTI: the device has no IOMMU in front: it could DMA to any "
                               "memory, whatever the host shared; isolated drivers need an IOMMU "
                               "(vfio-pci)",
                               object));
  }
  btis.push_back(std::move(*bti));
  bti_of_index.emplace(index, GivenBti{btis.size() - 1, dma_limit});
  reply.values[0] = btis.size() - 1;
  return SendReply(reply);
}

Result<void> DeviceServer::Session::ForgetPin(const Request& request) {
  const Op op = static_cast<Op>(request.op);
  auto it = pins.find(request.args[1]);
  if (it == pins.end() || it->second.bti != request.args[0]) {
    return SendVoid(op, Fail(Status::NOT_FOUND,
                             OpName(op) + ": BTI " + std::to_string(request.args[0]) +
                                 " has no pin " + std::to_string(request.args[1]) + " of this host",
                             object));
  }
  const uint64_t bytes = it->second.bytes;
  if (op == Op::BTI_UNPIN) {
    if (auto unpinned = it->second.pmt.Unpin(); !unpinned) return SendVoid(op, unpinned);
    charged.bytes -= bytes;
    charged.pins -= 1;
  } else {
    // A Pmt dropped without Unpin is quarantined by its Bti: still mapped,
    // still charged until the host releases the quarantine.
    Charge& held = quarantined[it->second.bti];
    held.bytes += bytes;
    held.pins += 1;
  }
  pins.erase(it);
  return SendVoid(op, {});
}

Result<void> DeviceServer::Session::ReleaseQuarantine(const Request& request) {
  const Op op = Op::BTI_RELEASE_QUARANTINE;
  auto bti = FindBti(request.args[0]);
  if (!bti) return SendResult(op, std::unexpected(bti.error()));
  auto released = (*bti)->ReleaseQuarantine();
  if (released) {
    const Charge held = std::exchange(quarantined[request.args[0]], Charge{});
    charged.bytes -= held.bytes;
    charged.pins -= held.pins;
  }
  return SendVoid(op, released);
}

Result<void> DeviceServer::Session::Started(const Request& request) {
  const Op op = Op::STARTED;
  // The host's words go to logs and errors: escaped where they enter, so
  // they cannot forge lines or steer a terminal.
  const std::string words = Printable(wire::GetText(request.text));
  // args[0] is 0 or a udrv::Status, which are all negative int32s.
  const auto status = static_cast<int64_t>(request.args[0]);
  if (request.args[0] != 0 && (status >= 0 || status < INT32_MIN)) {
    return SendVoid(op, Fail(Status::INVALID_ARGS,
                             "started: status " + Hex(request.args[0]) + " is no udrv status",
                             object));
  }
  // Once: a host cannot take back the start it reported.
  if (started_reported) {
    return SendVoid(op, Fail(Status::BAD_STATE,
                             "started: the driver's start was reported already; this report (" +
                                 (request.args[0] == 0 ? std::string("started") : words) +
                                 ") changes nothing",
                             object));
  }
  started_reported = true;
  Result<void> started;
  if (request.args[0] != 0) {
    started = std::unexpected(Error{static_cast<Status>(status), words, node.id});
  }
  if (options.on_started) options.on_started(started);
  return SendVoid(op, {});
}

Result<void> DeviceServer::Session::Handle(const Request& request) {
  const Op op = static_cast<Op>(request.op);
  switch (op) {
    case Op::HELLO: return Hello();
    case Op::READ_CONFIG:
    case Op::WRITE_CONFIG: return Config(request);
    case Op::GET_DEVICE_INFO: return DeviceInfoRequest(request);
    case Op::GET_BAR: return GetBar(request);
    case Op::SET_BUS_MASTERING: return SendVoid(op, device.SetBusMastering(request.args[0] != 0));
    case Op::GET_INTERRUPT_MODES: {
      auto modes = device.GetInterruptModes();
      if (!modes) return SendResult(op, std::unexpected(modes.error()));
      Reply reply;
      reply.op = request.op;
      reply.values[0] = modes->has_legacy;
      reply.values[1] = modes->msi_count;
      reply.values[2] = modes->msix_count;
      return SendReply(reply);
    }
    case Op::SET_INTERRUPT_MODE: {
      auto count = Arg32(request, 1, "vector count");
      if (!count) return SendVoid(op, std::unexpected(count.error()));
      const uint64_t raw_mode = request.args[0];
      if (raw_mode != static_cast<uint64_t>(InterruptMode::DISABLED) &&
          raw_mode != static_cast<uint64_t>(InterruptMode::LEGACY) &&
          raw_mode != static_cast<uint64_t>(InterruptMode::MSI) &&
          raw_mode != static_cast<uint64_t>(InterruptMode::MSI_X)) {
        return SendVoid(op, Fail(Status::INVALID_ARGS,
                                 "set interrupt mode: no mode " + std::to_string(raw_mode), object));
      }
      const auto mode = static_cast<InterruptMode>(raw_mode);
      if (mode == InterruptMode::LEGACY) {
        // INTx is unmasked through the daemon's VFIO fd after every
        // interrupt: message-signalled interrupts need no daemon.
        return SendVoid(op, Fail(Status::NOT_SUPPORTED,
                                 "set interrupt mode: an isolated driver host gets MSI or MSI-X, "
                                 "not legacy INTx",
                                 object));
      }
      return SendVoid(op, device.SetInterruptMode(mode, *count));
    }
    case Op::MAP_INTERRUPT: return MapInterrupt(request);
    case Op::ACK_INTERRUPT: {
      auto vector = Arg32(request, 0, "vector");
      if (!vector) return SendVoid(op, std::unexpected(vector.error()));
      return SendVoid(op, device.AckInterrupt(*vector));
    }
    case Op::RESET_DEVICE: return SendVoid(op, device.ResetDevice());
    case Op::GET_BTI: return GetBti(request);
    case Op::BTI_PIN: return Pin(request);
    case Op::BTI_UNPIN:
    case Op::BTI_QUARANTINE: return ForgetPin(request);
    case Op::BTI_INFO: {
      auto bti = FindBti(request.args[0]);
      if (!bti) return SendResult(op, std::unexpected(bti.error()));
      auto info = (*bti)->GetInfo();
      if (!info) return SendResult(op, std::unexpected(info.error()));
      Reply reply;
      reply.op = request.op;
      reply.values[0] = info->minimum_contiguity;
      reply.values[1] = info->aspace_size;
      reply.values[2] = info->pmo_count;
      reply.values[3] = info->quarantine_count;
      return SendReply(reply);
    }
    case Op::BTI_RELEASE_QUARANTINE: return ReleaseQuarantine(request);
    case Op::STARTED: return Started(request);
  }
  return Fail(Status::INTERNAL, "unhandled op", object);
}

DeviceServer::DeviceServer(Device& device, bus::DeviceNode node, UniqueFd socket,
                           DeviceServerOptions options)
    : session_(std::make_unique<Session>(device, std::move(node), std::move(socket),
                                         std::move(options))) {}

DeviceServer::~DeviceServer() = default;

Result<void> DeviceServer::Serve() {
  Session& s = *session_;
  // However Serve ends, the connection ends with it: a host left waiting for
  // the reply to a request that broke the protocol sees PEER_CLOSED, rather
  // than blocking until the server is destroyed.
  struct ShutdownOnReturn {
    int fd;
    ~ShutdownOnReturn() { (void)::shutdown(fd, SHUT_RDWR); }
  } shutdown_on_return{s.socket.get()};
  // Replies wait for the host to read them only so long.
  const timeval reply_timeout{
      .tv_sec = static_cast<time_t>(s.options.reply_timeout / 1'000'000'000),
      .tv_usec = static_cast<suseconds_t>(s.options.reply_timeout % 1'000'000'000 / 1000)};
  if (::setsockopt(s.socket.get(), SOL_SOCKET, SO_SNDTIMEO, &reply_timeout, sizeof(reply_timeout)) != 0) {
    return FailErrno(errno, "setsockopt(SO_SNDTIMEO) on the host's socket", s.object);
  }
  for (;;) {
    // The host's end can outlive the host (a child it forked keeps it):
    // the host ending ends the service too.
    pollfd ready[2] = {{s.socket.get(), POLLIN, 0}, {s.options.host_ended_fd, POLLIN, 0}};
    const int count = ::poll(ready, s.options.host_ended_fd >= 0 ? 2 : 1, -1);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return FailErrno(errno, "poll the host's socket", s.object);
    if ((ready[1].revents & POLLIN) != 0) return {};
    auto request = wire::ReceiveMessage<Request>(s.socket.get(), kInfinite, "request from " + s.object);
    if (!request) {
      if (request.error().status == Status::PEER_CLOSED) return {};
      s.Log("dropped the connection: " + request.error().ToString());
      return std::unexpected(request.error());
    }
    if (request->magic != wire::kMagic || request->version != wire::kVersion ||
        request->op == 0 || request->op > wire::kLastOp || request->reserved != 0) {
      s.Log("dropped the connection: a malformed request (magic " + Hex(request->magic) +
            ", version " + std::to_string(request->version) + ", op " +
            std::to_string(request->op) + ")");
      return Fail(Status::IO_INVALID, "a malformed request", s.object);
    }
    if (request->device != wire::kGivenDevice) {
      const Op op = static_cast<Op>(request->op);
      // A pin's VMO follows its request: drop it with the request.
      if (op == Op::BTI_PIN) (void)ReceiveVmo(s.socket.get(), kRightSameRights, DeadlineAfter(kFollowUpTimeout));
      auto refused = s.SendVoid(
          op, Fail(Status::ACCESS_DENIED,
                   OpName(op) + ": the request names device " + std::to_string(request->device) +
                       "; this host was given one device, " + s.device.address().ToString() +
                       " (device 0)",
                   s.object));
      if (!refused) return refused.error().status == Status::PEER_CLOSED ? Result<void>() : refused;
      continue;
    }
    auto handled = s.Handle(*request);
    if (!handled) {
      if (handled.error().status == Status::PEER_CLOSED) return {};
      s.Log("dropped the connection: " + handled.error().ToString());
      return handled;
    }
  }
}

bus::ReleaseReport DeviceServer::Reclaim() {
  Session& s = *session_;
  bus::ReleaseReport report;
  const size_t left = s.pins.size();
  s.pins.clear();  // each Pmt dropped without Unpin: quarantined, still mapped
  report.steps.push_back({"pins quarantined", bus::ReleaseStep::Outcome::DONE,
                          std::to_string(left) + " pin(s) the host left"});
  const bool quiet = internal::Quiesce(s.device, report);
  if (!quiet) {
    report.steps.push_back({"quarantine released", bus::ReleaseStep::Outcome::FAILED,
                            "kept: the device could not be quiesced and may still DMA"});
    return report;
  }
  Result<void> released;
  uint64_t quarantined = 0;
  for (dma::Bti& bti : s.btis) {
    if (auto info = bti.GetInfo(); info) quarantined += info->quarantine_count;
    if (auto done = bti.ReleaseQuarantine(); !done && released) released = done;
  }
  report.steps.push_back(internal::StepOf("quarantine released", released,
                                          std::to_string(quarantined) + " pin(s) unmapped"));
  if (released) s.btis.clear();
  return report;
}

size_t DeviceServer::live_pins() const {
  size_t count = 0;
  for (const dma::Bti& bti : session_->btis) {
    if (auto info = bti.GetInfo(); info) count += info->pmo_count;
  }
  return count;
}

}  // namespace udrv::pci
