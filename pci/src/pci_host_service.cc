// The PCI service of isolated driver hosts (isolation.h): config space,
// BARs, interrupt modes, bus mastering and reset over host::HostServer, and
// the isolated runner that claims one host per IOMMU group.
#include <fcntl.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "pci_host_messages.h"
#include "quiesce.h"
#include "resource_file.h"
#include "udrv/pci/config.h"
#include "udrv/pci/isolated_runner.h"
#include "udrv/pci/isolation.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/sysfs.h"

namespace udrv::pci {

using wire::PciOp;

namespace {

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

// The IOMMU groups that have a driver host, and which node each host serves.
class GroupClaims {
 public:
  // Claims `group` for `node_id`: ALREADY_BOUND naming the group and the
  // node whose host has it.
  Result<void> Claim(uint32_t group, const std::string& node_id) {
    std::lock_guard lock(mutex_);
    auto [it, claimed] = holders_.emplace(group, node_id);
    if (claimed) return {};
    return Fail(Status::ALREADY_BOUND,
                "IOMMU group " + std::to_string(group) + " already has a driver host (for " +
                    it->second +
                    "): the devices of a group share one IOVA space, so hosts of their own "
                    "could DMA into each other's memory; isolated drivers take one device per "
                    "IOMMU group",
                node_id);
  }
  void Release(uint32_t group) {
    std::lock_guard lock(mutex_);
    holders_.erase(group);
  }

 private:
  std::mutex mutex_;
  std::map<uint32_t, std::string> holders_;
};

// Held by a host's supervisor for as long as it serves the group.
class GroupClaim {
 public:
  GroupClaim() = default;
  GroupClaim(std::shared_ptr<GroupClaims> claims, uint32_t group)
      : claims_(std::move(claims)), group_(group) {}
  GroupClaim(GroupClaim&& other) noexcept
      : claims_(std::move(other.claims_)), group_(other.group_) {}
  GroupClaim& operator=(GroupClaim&& other) noexcept {
    if (this != &other) {
      if (claims_) claims_->Release(group_);
      claims_ = std::move(other.claims_);
      group_ = other.group_;
    }
    return *this;
  }
  ~GroupClaim() {
    if (claims_) claims_->Release(group_);
  }

 private:
  std::shared_ptr<GroupClaims> claims_;
  uint32_t group_ = 0;
};

class PciHostService final : public host::HostService {
 public:
  PciHostService(Device& device, HostServiceOptions options, GroupClaim group)
      : device_(device),
        options_(std::move(options)),
        group_(std::move(group)),
        object_("driver host of " + device.address().ToString()) {}

  std::string DeviceName() const override { return device_.address().ToString(); }
  std::string Route() const override { return std::string(device_.route()); }

  std::optional<size_t> RequestSize(uint16_t op) const override {
    if (op < host::wire::kFirstServiceOp || op > wire::kLastPciOp) return std::nullopt;
    switch (static_cast<PciOp>(op)) {
      case PciOp::CONFIG_SIZE: return host::wire::kBodySize<wire::ConfigSizeRequest>;
      case PciOp::READ_CONFIG: return host::wire::kBodySize<wire::ReadConfigRequest>;
      case PciOp::WRITE_CONFIG: return host::wire::kBodySize<wire::WriteConfigRequest>;
      case PciOp::GET_DEVICE_INFO: return host::wire::kBodySize<wire::GetDeviceInfoRequest>;
      case PciOp::GET_BAR: return host::wire::kBodySize<wire::GetBarRequest>;
      case PciOp::SET_BUS_MASTERING: return host::wire::kBodySize<wire::SetBusMasteringRequest>;
      case PciOp::GET_INTERRUPT_MODES: return host::wire::kBodySize<wire::GetInterruptModesRequest>;
      case PciOp::SET_INTERRUPT_MODE: return host::wire::kBodySize<wire::SetInterruptModeRequest>;
      case PciOp::ACK_INTERRUPT: return host::wire::kBodySize<wire::AckInterruptRequest>;
      case PciOp::RESET_DEVICE: return host::wire::kBodySize<wire::ResetDeviceRequest>;
    }
    return std::nullopt;
  }

  std::string OpName(uint16_t op) const override {
    switch (static_cast<PciOp>(op)) {
      case PciOp::CONFIG_SIZE: return "config size";
      case PciOp::READ_CONFIG: return "read config";
      case PciOp::WRITE_CONFIG: return "write config";
      case PciOp::GET_DEVICE_INFO: return "get device info";
      case PciOp::GET_BAR: return "get BAR";
      case PciOp::SET_BUS_MASTERING: return "set bus mastering";
      case PciOp::GET_INTERRUPT_MODES: return "get interrupt modes";
      case PciOp::SET_INTERRUPT_MODE: return "set interrupt mode";
      case PciOp::ACK_INTERRUPT: return "ack interrupt";
      case PciOp::RESET_DEVICE: return "reset";
    }
    return "op " + std::to_string(op);
  }

  Result<host::ServiceReply> Handle(uint16_t op, std::span<const std::byte> body) override {
    const std::string what = OpName(op) + " from " + object_;
    switch (static_cast<PciOp>(op)) {
      case PciOp::CONFIG_SIZE: {
        UDRV_TRY(host::wire::DecodeBody<wire::ConfigSizeRequest>(body, what));
        UDRV_TRY_ASSIGN(const ConfigSpace config, device_.ReadConfigSpace());
        return host::ServiceReply::Of(wire::ConfigSizeReply{config.size()});
      }
      case PciOp::READ_CONFIG: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::ReadConfigRequest>(body, what));
        UDRV_TRY_ASSIGN(const uint32_t value, ReadConfig(request));
        return host::ServiceReply::Of(wire::ReadConfigReply{value});
      }
      case PciOp::WRITE_CONFIG: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::WriteConfigRequest>(body, what));
        UDRV_TRY(WriteConfig(request));
        return host::ServiceReply::Of(wire::Empty{});
      }
      case PciOp::GET_DEVICE_INFO: {
        UDRV_TRY(host::wire::DecodeBody<wire::GetDeviceInfoRequest>(body, what));
        UDRV_TRY_ASSIGN(const auto info, DeviceInfo());
        return host::ServiceReply::Of(info);
      }
      case PciOp::GET_BAR: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::GetBarRequest>(body, what));
        return GetBar(request.index);
      }
      case PciOp::SET_BUS_MASTERING: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::SetBusMasteringRequest>(body, what));
        if (request.enable > 1) {
          return Fail(Status::INVALID_ARGS,
                      "set bus mastering: " + std::to_string(request.enable) + " is neither 0 nor 1",
                      object_);
        }
        UDRV_TRY(device_.SetBusMastering(request.enable == 1));
        return host::ServiceReply::Of(wire::Empty{});
      }
      case PciOp::GET_INTERRUPT_MODES: {
        UDRV_TRY(host::wire::DecodeBody<wire::GetInterruptModesRequest>(body, what));
        UDRV_TRY_ASSIGN(const InterruptModes modes, device_.GetInterruptModes());
        return host::ServiceReply::Of(
            wire::InterruptModesReply{modes.has_legacy ? 1u : 0u, modes.msi_count, modes.msix_count});
      }
      case PciOp::SET_INTERRUPT_MODE: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::SetInterruptModeRequest>(body, what));
        UDRV_TRY(SetInterruptMode(request));
        return host::ServiceReply::Of(wire::Empty{});
      }
      case PciOp::ACK_INTERRUPT: {
        UDRV_TRY_ASSIGN(const auto request, host::wire::DecodeBody<wire::AckInterruptRequest>(body, what));
        UDRV_TRY(device_.AckInterrupt(request.vector));
        return host::ServiceReply::Of(wire::Empty{});
      }
      case PciOp::RESET_DEVICE: {
        UDRV_TRY(host::wire::DecodeBody<wire::ResetDeviceRequest>(body, what));
        UDRV_TRY(device_.ResetDevice());
        return host::ServiceReply::Of(wire::Empty{});
      }
    }
    return Fail(Status::INTERNAL, "unhandled op " + std::to_string(op), object_);
  }

  Result<Interrupt> MapInterrupt(uint32_t vector) override { return device_.MapInterrupt(vector); }
  Result<dma::Bti> GetBti(uint32_t index, uint64_t dma_limit) override {
    return device_.GetBti(index, dma_limit);
  }
  bool Quiesce(bus::ReleaseReport& report) override { return internal::Quiesce(device_, report); }

 private:
  Result<void> CheckWidth(std::string_view op, uint16_t offset, uint8_t width) const {
    if (width == 1 || width == 2 || width == 4) return {};
    return Fail(Status::INVALID_ARGS,
                std::string(op) + ": offset " + Hex(offset) + ", width " + std::to_string(width) +
                    " (1, 2 or 4)",
                object_);
  }

  Result<uint32_t> ReadConfig(const wire::ReadConfigRequest& request) {
    UDRV_TRY(CheckWidth("read config", request.offset, request.width));
    if (request.width == 1) return device_.ReadConfig8(request.offset);
    if (request.width == 2) return device_.ReadConfig16(request.offset);
    return device_.ReadConfig32(request.offset);
  }

  Result<void> WriteConfig(const wire::WriteConfigRequest& request) {
    UDRV_TRY(CheckWidth("write config", request.offset, request.width));
    UDRV_TRY(CheckHostMayWrite(request.offset, request.width));
    const uint32_t value = request.value;
    if (request.width == 1) return device_.WriteConfig8(request.offset, static_cast<uint8_t>(value));
    if (request.width == 2) return device_.WriteConfig16(request.offset, static_cast<uint16_t>(value));
    return device_.WriteConfig32(request.offset, value);
  }

  Result<void> CheckHostMayWrite(uint16_t offset, uint64_t width) {
    // Walked at every write: the device is no more trusted than the host, and
    // a list it changes would move the registers. A list the walk cannot
    // follow protects nothing, so it refuses every write.
    auto config = device_.ReadConfigSpace();
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
                    object_);
      }
    }
    return {};
  }

  Result<void> SetInterruptMode(const wire::SetInterruptModeRequest& request) {
    const uint32_t raw_mode = request.mode;
    if (raw_mode != static_cast<uint32_t>(InterruptMode::DISABLED) &&
        raw_mode != static_cast<uint32_t>(InterruptMode::LEGACY) &&
        raw_mode != static_cast<uint32_t>(InterruptMode::MSI) &&
        raw_mode != static_cast<uint32_t>(InterruptMode::MSI_X)) {
      return Fail(Status::INVALID_ARGS, "set interrupt mode: no mode " + std::to_string(raw_mode),
                  object_);
    }
    const auto mode = static_cast<InterruptMode>(raw_mode);
    if (mode == InterruptMode::LEGACY) {
      // INTx is unmasked through the daemon's VFIO fd after every
      // interrupt: message-signalled interrupts need no daemon.
      return Fail(Status::NOT_SUPPORTED,
                  "set interrupt mode: an isolated driver host gets MSI or MSI-X, not legacy INTx",
                  object_);
    }
    return device_.SetInterruptMode(mode, request.count);
  }

  Result<wire::DeviceInfoReply> DeviceInfo() const {
    UDRV_TRY_ASSIGN(const pci::DeviceInfo info, device_.GetDeviceInfo());
    wire::DeviceInfoReply message;
    message.vendor_id = info.vendor_id;
    message.device_id = info.device_id;
    message.subsystem_vendor_id = info.subsystem_vendor_id;
    message.subsystem_id = info.subsystem_id;
    message.class_code = info.class_code;
    message.revision = info.revision;
    message.irq = info.irq;
    message.numa_node = info.numa_node;
    for (const BarInfo& bar : info.bars) {
      if (message.bar_count == std::size(message.bars)) break;
      wire::BarMessage& out = message.bars[message.bar_count++];
      out.index = bar.index;
      out.address = bar.address;
      out.size = bar.size;
      out.flags = BarFlags(bar.is_io, bar.is_64bit, bar.is_prefetchable);
    }
    return message;
  }

  static uint32_t BarFlags(bool is_io, bool is_64bit, bool is_prefetchable) {
    return (is_io ? wire::kBarIo : 0) | (is_64bit ? wire::kBar64 : 0) |
           (is_prefetchable ? wire::kBarPrefetchable : 0);
  }

  Result<host::ServiceReply> GetBar(uint32_t index) {
    if (index > 5) {
      return Fail(Status::OUT_OF_RANGE, "get BAR " + std::to_string(index) + ": 0..5", object_);
    }
    // A host that could map the MSI-X table could point the device's
    // interrupts anywhere the interrupt remapping lets it.
    UDRV_TRY_ASSIGN(const ConfigSpace config, device_.ReadConfigSpace());
    UDRV_TRY_ASSIGN(const auto msix_cap, FindCapability(config, kCapMsix));
    if (msix_cap) {
      UDRV_TRY_ASSIGN(const auto msix, DecodeMsix(config, *msix_cap));
      if (msix.table_bar == index || msix.pba_bar == index) {
        return Fail(Status::NOT_SUPPORTED,
                    "get BAR " + std::to_string(index) +
                        ": it holds the MSI-X table or PBA, which an isolated driver host is not "
                        "given",
                    object_);
      }
    }
    UDRV_TRY_ASSIGN(Bar bar, device_.GetBar(index));
    host::ServiceReply reply = host::ServiceReply::Of(wire::BarReply{
        bar.size, bar.io_base, BarFlags(bar.is_io, bar.is_64bit, bar.is_prefetchable), 0});
    if (bar.is_io) return reply;
    UDRV_TRY_ASSIGN(reply.vmo, HostBarVmo(index, std::move(bar.vmo)));
    reply.vmo_rights = kHostBarRights;
    return reply;
  }

  // The BAR's VMO as a host may hold it: one whose fd reaches this BAR
  // only.
  Result<Vmo> HostBarVmo(uint32_t index, Vmo vmo) {
    UDRV_TRY_ASSIGN(const Vmo::Description description, vmo.Describe());
    // The route that made the VMO says whether its fd reaches more than
    // the BAR (a VFIO device fd reaches the whole device): then the host
    // gets the BAR's resource file instead.
    if (description.reach == FdReach::REGION_ONLY) return vmo;
    UDRV_TRY_ASSIGN(const pci::DeviceInfo info, device_.GetDeviceInfo());
    const BarInfo* bar_info = info.FindBar(index);
    if (bar_info == nullptr) {
      return Fail(Status::NOT_FOUND, "get BAR: sysfs lists no BAR " + std::to_string(index), object_);
    }
    const std::string dir = SysfsPci(options_.paths).DevicePath(device_.address());
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd) return FailErrno(errno, "open " + dir, object_);
    return internal::OpenResourceVmo(dir_fd.get(), *bar_info, false, O_RDWR,
                                     device_.address().ToString());
  }

  Device& device_;
  const HostServiceOptions options_;
  const GroupClaim group_;
  const std::string object_;  // "driver host of 0000:00:03.0"
};

}  // namespace

std::unique_ptr<host::HostService> MakeHostService(Device& device, HostServiceOptions options) {
  return std::make_unique<PciHostService>(device, std::move(options), GroupClaim());
}

host::ServiceFactory MakeServiceFactory(sysfs::LinuxPaths paths) {
  auto claims = std::make_shared<GroupClaims>();
  HostServiceOptions service_options{.paths = std::move(paths)};
  return
      [claims, service_options](bus::DriverContext& context) -> Result<std::unique_ptr<host::HostService>> {
    UDRV_TRY_ASSIGN(Device* device, context.GetProtocol<Device>());
    const bus::DeviceNode& node = context.node();
    GroupClaim claim;
    if (auto group = node.properties.FindNumber(kPropIommuGroup)) {
      UDRV_TRY(claims->Claim(*group, node.id));
      claim = GroupClaim(claims, *group);
    }
    return std::make_unique<PciHostService>(*device, service_options, std::move(claim));
  };
}

Result<bus::DriverRunner> MakeIsolatedRunner(IsolatedRunnerOptions options) {
  host::ServiceFactory make_service = MakeServiceFactory(options.paths);
  return host::MakeIsolatedRunner(std::move(options), std::move(make_service));
}

}  // namespace udrv::pci
