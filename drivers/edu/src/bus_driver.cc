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

  // Starts the DMA loop (option dma-until-stopped): from here
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

bus::Driver MakeBusDriver() {
  bus::Driver driver;
  driver.name = std::string(kDriverName);
  driver.rules = {bus::BindRule::Equal(std::string(pci::kPropVendor), kVendorId),
                  bus::BindRule::Equal(std::string(pci::kPropDevice), kDeviceId)};
  using Type = bus::DriverOption::Type;
  driver.options = {
      {"self-test", Type::BOOL, "true",
       "run the self test (ID, liveness, factorials, a DMA round trip) as the driver starts"},
      {"dma-until-stopped", Type::BOOL, "false",
       "once started, run verified DMA round trips back to back until the driver stops"},
      {"idle-timeout", Type::DURATION, "2s",
       "how long to wait for a factorial or DMA an earlier owner left running"},
      {"completion-timeout", Type::DURATION, "5s", "how long a factorial or DMA may take"},
  };
  driver.start = [](bus::DriverContext& context) -> Result<std::unique_ptr<bus::DriverInstance>> {
    const bus::DriverOptionValues& settings = context.options();
    Options options;
    UDRV_TRY_ASSIGN(options.idle_timeout, settings.GetDuration("idle-timeout"));
    UDRV_TRY_ASSIGN(options.completion_timeout, settings.GetDuration("completion-timeout"));
    UDRV_TRY_ASSIGN(const bool self_test, settings.GetBool("self-test"));
    UDRV_TRY_ASSIGN(const bool dma_until_stopped, settings.GetBool("dma-until-stopped"));
    UDRV_TRY_ASSIGN(pci::Device* device, context.GetProtocol<pci::Device>());
    UDRV_TRY_ASSIGN(Edu edu, Edu::Create(*device, options));
    context.Log(edu.name() + " is up");
    if (self_test) {
      auto tested = SelfTest(edu, SelfTestOptions{},
                             [&context](const std::string& line) { context.Log(line); });
      if (!tested) return Wrap(tested.error(), "self test");
      context.Log("self test passed");
    }
    auto instance = std::make_unique<EduInstance>(std::move(edu), context);
    if (dma_until_stopped) UDRV_TRY(instance->StartDmaLoop());
    return instance;
  };
  return driver;
}

}  // namespace udrv::drivers::edu
