// The driver manager in-process, in the testbed guests: it discovers edu on
// the PCI root bus, binds it to vfio-pci (or uio_pci_generic), starts the
// edu driver (drivers/edu/bus_driver.h) in this process, whose self test
// runs a DMA round trip, then stops it and releases edu: bus mastering off
// (read back from sysfs config afterwards) and the kernel driver as before.
//   [driver-manager]      vfio-pci, guests with an IOMMU
//   [driver-manager-uio]  uio_pci_generic with physical DMA, the guest without
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/bus/root_bus.h"
#include "udrv/drivers/edu/bus_driver.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/config.h"
#include "udrv/pci/pci_bus.h"
#include "udrv/pci/sysfs.h"

using udrv::Status;
using udrv::bus::BindOutcome;
using udrv::bus::DriverManager;
using udrv::bus::DriverManagerOptions;
using udrv::bus::ReleaseStep;
using udrv::bus::RootBus;
using udrv::bus::StopOutcome;
using udrv::guest::FindEdu;
using udrv::testing::StatusOf;
using namespace udrv::pci;
namespace edu = udrv::drivers::edu;

namespace {

// What sysfs says about edu: its driver, driver_override and whether its
// command register has bus mastering on (config read as root).
struct SysfsState {
  std::optional<std::string> driver;
  std::optional<std::string> driver_override;
  bool bus_master = false;
};

SysfsState ReadState(const Address& address) {
  SysfsPci sysfs;
  auto info = sysfs.Read(address);
  REQUIRE_OK(info);
  auto config = sysfs.ReadConfig(address);
  REQUIRE_OK(config);
  auto command = config->Read16(kConfigCommand);
  REQUIRE_OK(command);
  return {info->driver, info->driver_override, (*command & kCommandBusMaster) != 0};
}

bool Said(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::unique_ptr<RootBus> PciRoot(PciRoute route) {
  PciBusOptions options;
  options.route = route;
  options.physical_dma.device_may_reach_all_memory = route == PciRoute::UIO;
  auto pci_bus = PciBus::Create(options);
  REQUIRE_OK(pci_bus);
  auto root = std::make_unique<RootBus>();
  REQUIRE_OK(root->AddBus(std::move(*pci_bus)));
  return root;
}

// The steps of a PCI release, in order, checked: bus mastering off read
// back, reset done or not supported (edu has no reset method), the kernel
// driver restored.
void CheckRelease(const udrv::bus::ReleaseReport& report) {
  INFO("release: " << report.ToString());
  CHECK(report.ok());
  REQUIRE(report.steps.size() == 5);
  CHECK(report.steps[0].name == "interrupts off");
  CHECK(report.steps[0].outcome == ReleaseStep::Outcome::DONE);
  CHECK(report.steps[1].name == "bus mastering off");
  CHECK(report.steps[1].outcome == ReleaseStep::Outcome::DONE);
  CHECK_THAT(report.steps[1].detail, Catch::StartsWith("command register 0x"));
  CHECK(report.steps[2].name == "reset");
  CHECK((report.steps[2].outcome == ReleaseStep::Outcome::DONE ||
         report.steps[2].outcome == ReleaseStep::Outcome::NOT_SUPPORTED));
  CHECK(report.steps[3].name == "close");
  CHECK(report.steps[3].outcome == ReleaseStep::Outcome::DONE);
  CHECK(report.steps[4].name == "kernel driver");
  CHECK(report.steps[4].outcome == ReleaseStep::Outcome::DONE);
}

// The whole run: match, bind, start (with the self test), stop, release.
void RunEduUnderManager(PciRoute route, const std::string& route_driver) {
  const Address address = FindEdu();
  const std::string edu_id = "pci/" + address.ToString();
  const SysfsState before = ReadState(address);

  std::vector<std::string> log;
  DriverManagerOptions options;
  options.release.restore_kernel_driver = true;
  options.log = [&log](std::string_view line) { log.emplace_back(line); };
  auto root = PciRoot(route);
  {
    DriverManager manager(*root, options);
    REQUIRE_OK(manager.Register(edu::MakeBusDriver()));

    // Discovery: edu, and nobody for the rest of the machine.
    auto matches = manager.Match();
    REQUIRE_OK(matches);
    size_t edu_nodes = 0;
    for (const auto& match : *matches) {
      if (match.node.id == edu_id) {
        ++edu_nodes;
        CHECK(match.driver == "edu");
      } else {
        INFO(match.node.id << ": " << match.candidates.at(0).evaluation.Explain());
        CHECK_FALSE(match.driver);
      }
    }
    CHECK(edu_nodes == 1);
    // Matching binds nothing.
    CHECK(ReadState(address).driver == before.driver);

    auto started = manager.BindAll();
    INFO("manager log:\n" << Joined(log));
    REQUIRE_OK(started);
    REQUIRE(started->size() == 1);
    const BindOutcome& outcome = (*started)[0];
    CHECK(outcome.node_id == edu_id);
    CHECK(outcome.driver == "edu");
    REQUIRE_OK(outcome.started);
    CHECK(manager.running() == 1);
    CHECK(Said(log, "liveness check passed"));
    CHECK(Said(log, "each completed by interrupt"));
    CHECK(Said(log, "DMA round trip of 4095 bytes host -> edu -> host verified byte for byte"));
    CHECK(Said(log, "self test passed"));

    // Running: bound to the route's driver, bus mastering on (DMA).
    const SysfsState running = ReadState(address);
    CHECK(running.driver == route_driver);
    CHECK(running.bus_master);

    const std::vector<StopOutcome> stopped = manager.StopAll();
    REQUIRE(stopped.size() == 1);
    CHECK(stopped[0].node_id == edu_id);
    REQUIRE_OK(stopped[0].stopped);
    REQUIRE_OK(stopped[0].released);
    CheckRelease(*stopped[0].released);
    CHECK(manager.running() == 0);
  }

  const SysfsState after = ReadState(address);
  CHECK_FALSE(after.bus_master);
  CHECK(after.driver == before.driver);
  CHECK(after.driver_override == before.driver_override);
}

// A driver for edu's IDs that turns bus mastering on and then fails.
udrv::bus::Driver FailingEduDriver() {
  udrv::bus::Driver driver;
  driver.name = "failing-edu";
  driver.rules = edu::MakeBusDriver().rules;
  driver.start = [](udrv::bus::DriverContext& context)
      -> udrv::Result<std::unique_ptr<udrv::bus::DriverInstance>> {
    auto device = context.GetProtocol<Device>();
    REQUIRE_OK(device);
    REQUIRE_OK((*device)->SetBusMastering(true));
    auto command = (*device)->ReadConfig16(kConfigCommand);
    REQUIRE_OK(command);
    CHECK((*command & kCommandBusMaster) != 0);
    return udrv::Fail(Status::IO, "made to fail after enabling bus mastering", context.node().id);
  };
  return driver;
}

std::string ManagerPath() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  REQUIRE_FALSE(error);
  const auto path = self.parent_path() / "udrv-driver-manager";
  INFO(path);
  REQUIRE(::access(path.c_str(), X_OK) == 0);
  return path;
}

struct Ran {
  int exit_status = -1;
  std::string output;  // stdout and stderr
};

Ran RunManager(const std::string& args) {
  // PCI's suite: an aarch64 guest's platform devices (its PL031) are the
  // platform suite's.
  const std::string command = ManagerPath() + " --bus pci " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  Ran ran;
  char chunk[512];
  size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof(chunk), pipe)) > 0) ran.output.append(chunk, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) ran.exit_status = WEXITSTATUS(status);
  return ran;
}

}  // namespace

TEST_CASE("driver manager: edu found, bound to vfio-pci, driven in-process, released",
          "[driver-manager]") {
  RunEduUnderManager(PciRoute::VFIO, "vfio-pci");
}

TEST_CASE("driver manager: edu taken from uio_pci_generic is given back to it",
          "[driver-manager]") {
  const Address address = FindEdu();
  auto held = BindDriver(address, "uio");
  REQUIRE_OK(held);
  CHECK(ReadState(address).driver == "uio_pci_generic");
  RunEduUnderManager(PciRoute::VFIO, "vfio-pci");
  CHECK(ReadState(address).driver == "uio_pci_generic");
  REQUIRE_OK(RestoreDriver(*held));
}

TEST_CASE("driver manager: a driver that fails to start leaves edu quiet and restored",
          "[driver-manager]") {
  const Address address = FindEdu();
  const SysfsState before = ReadState(address);
  std::vector<std::string> log;
  DriverManagerOptions options;
  options.release.restore_kernel_driver = true;
  options.log = [&log](std::string_view line) { log.emplace_back(line); };
  auto root = PciRoot(PciRoute::VFIO);
  DriverManager manager(*root, options);
  REQUIRE_OK(manager.Register(FailingEduDriver()));
  auto started = manager.BindAll();
  INFO("manager log:\n" << Joined(log));
  REQUIRE_OK(started);
  REQUIRE(started->size() == 1);
  const BindOutcome& outcome = (*started)[0];
  CHECK(StatusOf(outcome.started) == "IO");
  CHECK_THAT(outcome.started.error().what, Catch::Contains("made to fail"));
  REQUIRE(outcome.released);
  CheckRelease(*outcome.released);
  CHECK(manager.running() == 0);

  const SysfsState after = ReadState(address);
  CHECK_FALSE(after.bus_master);
  CHECK(after.driver == before.driver);
  CHECK(after.driver_override == before.driver_override);
}

TEST_CASE("udrv-driver-manager: --list binds nothing; a run drives edu and restores it",
          "[driver-manager]") {
  const Address address = FindEdu();
  const SysfsState before = ReadState(address);

  const Ran list = RunManager("--list");
  INFO("--list said:\n" << list.output);
  CHECK(list.exit_status == 0);
  CHECK_THAT(list.output, Catch::Contains("node pci/" + address.ToString() + " (bus pci") &&
                              Catch::Contains("driver edu: matches, binds") &&
                              Catch::Contains("driver edu: no match: pci.vendor == 0x1234"));
  CHECK(ReadState(address).driver == before.driver);

  const Ran run = RunManager("--restore-kernel-driver");
  INFO("the run said:\n" << run.output);
  CHECK(run.exit_status == 0);
  CHECK_THAT(run.output, Catch::Contains("bound to vfio-pci") &&
                             Catch::Contains("self test passed") &&
                             Catch::Contains("bus mastering off: done") &&
                             Catch::Contains("kernel driver: done") &&
                             Catch::EndsWith("udrv-driver-manager: PASS\n"));
  const SysfsState after = ReadState(address);
  CHECK_FALSE(after.bus_master);
  CHECK(after.driver == before.driver);
}

TEST_CASE("driver manager: edu over uio_pci_generic, physical DMA, released",
          "[driver-manager-uio]") {
  RunEduUnderManager(PciRoute::UIO, "uio_pci_generic");
}
