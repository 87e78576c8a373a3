#include "udrv/drivers/edu/bus_driver.h"

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "udrv/dma/buffer.h"

#include "udrv/pci/pci_bus.h"

namespace udrv::drivers::edu {

namespace {

class EduInstance final : public bus::DriverInstance {
 public:
  // `context` outlives the instance (driver.h).
  EduInstance(Edu driver, const bus::DriverContext& context)
      : driver_(std::move(driver)), context_(context) {}
  ~EduInstance() override { (void)Stop(); }

  // Starts the DMA loop (BusDriverOptions::dma_until_stopped): from here
  // only its thread touches the device.
  Result<void> StartDmaLoop() {
    auto source = dma::ContiguousBuffer::Create(driver_.bti(), kMaxTransfer, dma::kBtiPermRead,
                                                "edu-loop-source");
    if (!source) return Wrap(source.error(), "DMA loop: allocate and pin the source");
    auto destination = dma::ContiguousBuffer::Create(driver_.bti(), kMaxTransfer,
                                                     dma::kBtiPermWrite, "edu-loop-destination");
    if (!destination) return Wrap(destination.error(), "DMA loop: allocate and pin the destination");
    context_.Log("DMA loop running: round trips of " + std::to_string(kMaxTransfer) +
                " bytes between " + Hex(source->phys()) + " and " + Hex(destination->phys()));
    loop_ = std::thread([this, source = std::move(*source),
                         destination = std::move(*destination)]() mutable {
      for (uint8_t round = 0; !stop_.load(); ++round) {
        auto bytes = HostMemoryOf(source).cpu;
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i + round);
        if (auto done = driver_.RoundTrip(source, destination, kMaxTransfer); !done) {
          loop_result_ = std::unexpected(done.error());
          return;
        }
        round_trips_.fetch_add(1);
      }
    });
    return {};
  }

  // Ends the DMA loop, if one runs. Edu quiesces the device when it goes;
  // the manager destroys the instance right after Stop.
  Result<void> Stop() override {
    if (!loop_.joinable()) return loop_result_;
    stop_.store(true);
    loop_.join();
    context_.Log("DMA loop stopped after " + std::to_string(round_trips_.load()) +
                 " verified round trip(s)" + (loop_result_ ? "" : ", the last failed"));
    return loop_result_;
  }

 private:
  Edu driver_;
  const bus::DriverContext& context_;
  std::thread loop_;
  std::atomic<bool> stop_ = false;
  std::atomic<uint64_t> round_trips_ = 0;
  Result<void> loop_result_;  // written by the loop before it ends
};

}  // namespace

bus::Driver MakeBusDriver(BusDriverOptions options) {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(pci::kPropVendor), kVendorId),
                  bus::BindRule::Equal(std::string(pci::kPropDevice), kDeviceId)};
  driver.start = [options](bus::DriverContext& context)
      -> Result<std::unique_ptr<bus::DriverInstance>> {
    auto device = context.GetProtocol<pci::Device>();
    if (!device) return std::unexpected(device.error());
    auto edu = Edu::Create(**device, options.edu);
    if (!edu) return std::unexpected(edu.error());
    context.Log(edu->name() + " is up");
    if (options.self_test_at_start) {
      auto tested = SelfTest(*edu, options.self_test,
                             [&context](const std::string& line) { context.Log(line); });
      if (!tested) return Wrap(tested.error(), "self test");
      context.Log("self test passed");
    }
    auto instance = std::make_unique<EduInstance>(std::move(*edu), context);
    if (options.dma_until_stopped) {
      if (auto looping = instance->StartDmaLoop(); !looping) {
        return std::unexpected(looping.error());
      }
    }
    return instance;
  };
  return driver;
}

}  // namespace udrv::drivers::edu
