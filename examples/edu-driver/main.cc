// edu-example: registers the edu driver with udrv's driver manager over the
// PCI bus. Without arguments it only matches: it lists the PCI functions the
// driver would bind (reading sysfs, touching no device). With --bind it
// takes each edu from the kernel (vfio-pci, so the IOMMU confines the
// device), starts the driver (ID, liveness, a factorial), stops it and gives
// the device back to its kernel driver. --bind needs root and QEMU's
// `-device edu`: run it in a guest, not on a machine whose devices matter.
//
// Exit status: 0 when the match ran, or every edu bound did its work; 1 on
// an error, printed; 2 for bad arguments.
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "edu.h"
#include "udrv/bus/driver.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/pci/pci_bus.h"

namespace {

namespace bus = udrv::bus;
namespace pci = udrv::pci;

void Say(std::string_view line) {
  std::printf("edu-example: %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stdout);
}

// The running driver: holds the mapped device until the manager stops it.
class EduInstance final : public bus::DriverInstance {
 public:
  explicit EduInstance(edu_example::Edu edu) : edu_(std::move(edu)) {}
  // edu runs nothing on its own once a factorial is read (no DMA, no
  // interrupts armed): destroying the instance unmaps BAR 0, all there is.
  udrv::Result<void> Stop() override { return {}; }

 private:
  edu_example::Edu edu_;
};

bus::Driver MakeEduDriver() {
  bus::Driver driver;
  driver.name = "edu-example";
  // Bind rules: the driver manager starts this driver on every PCI function
  // whose node has these properties.
  driver.rules = {bus::BindRule::Equal(std::string(pci::kPropVendor), edu_example::kVendorId),
                  bus::BindRule::Equal(std::string(pci::kPropDevice), edu_example::kDeviceId)};
  driver.start = [](bus::DriverContext& context)
      -> udrv::Result<std::unique_ptr<bus::DriverInstance>> {
    UDRV_TRY_ASSIGN(pci::Device * device, context.GetProtocol<pci::Device>());
    UDRV_TRY_ASSIGN(edu_example::Edu edu, edu_example::Edu::Open(*device));
    context.Log("edu " + std::to_string(edu.major_version()) + "." +
                std::to_string(edu.minor_version()));
    UDRV_TRY(edu.CheckLiveness());
    UDRV_TRY_ASSIGN(const uint32_t value, edu.Factorial(10));
    context.Log("alive; 10! = " + std::to_string(value));
    return std::make_unique<EduInstance>(std::move(edu));
  };
  return driver;
}

udrv::Result<bool> Run(bool bind) {
  // The vfio route (the default) refuses a device outside an IOMMU group.
  UDRV_TRY_ASSIGN(std::unique_ptr<pci::PciBus> pci_bus, pci::PciBus::Create());
  bus::DriverManagerOptions options;
  options.log = Say;
  // Give each edu back to the kernel driver it had (usually none).
  options.release.restore_kernel_driver = true;
  bus::DriverManager manager(*pci_bus, options);
  UDRV_TRY(manager.Register(MakeEduDriver()));

  if (!bind) {
    UDRV_TRY_ASSIGN(const auto matches, manager.Match());
    int found = 0;
    for (const bus::NodeMatch& match : matches) {
      if (!match.driver) continue;
      Say("would bind " + match.node.id + " (run with --bind to take it)");
      ++found;
    }
    if (found == 0) Say("no edu device (QEMU's -device edu) on this machine");
    return true;
  }

  UDRV_TRY_ASSIGN(const auto outcomes, manager.BindAll());
  bool all_passed = true;
  for (const bus::BindOutcome& outcome : outcomes) {
    if (outcome.started) continue;
    Say(outcome.node_id + ": FAILED: " + outcome.started.error().ToString());
    all_passed = false;
  }
  if (outcomes.empty()) Say("no edu device (QEMU's -device edu) on this machine");
  for (const bus::StopOutcome& stopped : manager.StopAll()) {
    if (!stopped.stopped || !stopped.released) all_passed = false;
  }
  return all_passed;
}

}  // namespace

int main(int argc, char** argv) {
  const bool bind = argc == 2 && std::string_view(argv[1]) == "--bind";
  if (argc > 2 || (argc == 2 && !bind)) {
    std::fprintf(stderr, "usage: edu-example [--bind]\n");
    return 2;
  }
  auto passed = Run(bind);
  if (!passed) {
    std::fprintf(stderr, "edu-example: FAILED: %s\n", passed.error().ToString().c_str());
    return 1;
  }
  return *passed ? 0 : 1;
}
