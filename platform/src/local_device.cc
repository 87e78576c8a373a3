#include "local_device.h"

#include <utility>

#include "udrv/mmio/devmem.h"
#include "udrv/mmio/uio.h"

namespace udrv::platform::internal {
namespace {

class UioDevice final : public LocalDevice {
 public:
  UioDevice(bus::DeviceNode node, DtDevice tree_device, KernelDevice kernel,
            const PlatformBusOptions& options, mmio::UioDevice uio)
      : LocalDevice(std::move(node), std::move(tree_device), std::move(kernel), options),
        uio_(std::move(uio)) {}

  using Device::GetInterrupt;
  using Device::GetMmio;
  std::string_view route() const override { return "uio"; }
  int uio_fd() const override { return uio_.fd(); }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const RegEntry* reg, Reg(index));
    auto mapped = uio_.MapRegion(*reg->phys, reg->size, tree_device_.path + " reg " + std::to_string(index));
    if (!mapped) {
      Error error = std::move(mapped.error());
      if (error.status == Status::NOT_FOUND) {
        error.what += " (the kernel gave the device no resource for it: an AMBA device gets its "
                      "first region only)";
      }
      return Wrap(std::move(error), "get MMIO " + std::to_string(index));
    }
    return std::move(*mapped);
  }

  Result<Interrupt> GetInterrupt(uint32_t index) override {
    if (index >= tree_device_.interrupts.size()) {
      return Fail(Status::NOT_FOUND,
                  "get interrupt " + std::to_string(index) + ": the node has " +
                      std::to_string(tree_device_.interrupts.size()) + " interrupt(s)",
                  Object());
    }
    if (index != 0) {
      return Fail(Status::NOT_SUPPORTED,
                  "get interrupt " + std::to_string(index) +
                      ": the UIO module delivers the device's first interrupt only",
                  Object());
    }
    return uio_.GetInterrupt(tree_device_.path + " irq 0");
  }

  Result<void> MaskInterrupts() override {
    if (tree_device_.interrupts.empty()) return {};
    return uio_.MaskInterrupt();
  }

 private:
  mmio::UioDevice uio_;
};

class DevmemDevice final : public LocalDevice {
 public:
  DevmemDevice(bus::DeviceNode node, DtDevice tree_device, KernelDevice kernel,
               const PlatformBusOptions& options)
      : LocalDevice(std::move(node), std::move(tree_device), std::move(kernel), options) {}
  using Device::GetInterrupt;
  using Device::GetMmio;
  std::string_view route() const override { return "devmem"; }

  Result<Mmio> GetMmio(uint32_t index) override {
    UDRV_TRY_ASSIGN(const RegEntry* reg, Reg(index));
    const mmio::RegionHolder holder{kernel_.bus + " device " + kernel_.name, kernel_.driver};
    return mmio::OpenDevmemRegion(paths_, *reg->phys, reg->size, Object(), &holder);
  }
  Result<Interrupt> GetInterrupt(uint32_t index) override {
    return Fail(Status::NOT_SUPPORTED,
                "get interrupt " + std::to_string(index) +
                    ": the devmem route has no interrupts; load udrv's UIO platform module and "
                    "use the uio route",
                Object());
  }
  Result<void> MaskInterrupts() override { return {}; }
};

}  // namespace

Result<const RegEntry*> LocalDevice::Reg(uint32_t index) const {
  if (index >= tree_device_.regs.size()) {
    return Fail(Status::NOT_FOUND,
                "get MMIO " + std::to_string(index) + ": the node has " +
                    std::to_string(tree_device_.regs.size()) + " reg entry(s)",
                Object());
  }
  const RegEntry& reg = tree_device_.regs[index];
  if (!reg.phys) {
    return Fail(Status::NOT_SUPPORTED,
                "get MMIO " + std::to_string(index) + ": no CPU address (" + reg.untranslated + ")",
                Object());
  }
  return &reg;
}

Result<dma::Bti> LocalDevice::GetBti() {
  uint64_t limit = dma::kNoDmaLimit;
  int64_t offset = 0;
  if (tree_device_.dma) {
    offset = tree_device_.dma->offset;
    // The limit is the last bus address reached; the Bti's is one past it.
    if (tree_device_.dma->limit != UINT64_MAX) limit = tree_device_.dma->limit + 1;
  }
  return dma::Bti::CreatePhysical(physical_dma_, limit, tree_device_.path, offset);
}

Result<std::unique_ptr<LocalDevice>> OpenUioDevice(bus::DeviceNode node, DtDevice tree_device,
                                                   KernelDevice kernel,
                                                   const PlatformBusOptions& options) {
  const std::string object = tree_device.path + " (uio)";
  const std::string device_dir = options.paths.BusDevice(kernel.bus, kernel.name);
  auto uio = mmio::UioDevice::Open(options.paths, device_dir, !tree_device.interrupts.empty(), object);
  if (!uio) return Wrap(std::move(uio.error()), "open " + tree_device.path);
  return std::unique_ptr<LocalDevice>(std::make_unique<UioDevice>(
      std::move(node), std::move(tree_device), std::move(kernel), options, std::move(*uio)));
}

std::unique_ptr<LocalDevice> OpenDevmemDevice(bus::DeviceNode node, DtDevice tree_device,
                                              KernelDevice kernel, const PlatformBusOptions& options) {
  return std::make_unique<DevmemDevice>(std::move(node), std::move(tree_device), std::move(kernel),
                                        options);
}

}  // namespace udrv::platform::internal
