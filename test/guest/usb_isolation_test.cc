// Isolated USB drivers (usb/isolation.h) in the x86_64 guests, on the
// testbed's usb-storage disk (46f4:0001, interface 0):
//   - what usb/isolation.h relies on, asked of the kernel directly: an fd
//     with USBDEVFS_DROP_PRIVILEGES claims only its mask's interfaces, may
//     not USBDEVFS_IOCTL, may not reset while another holds an interface,
//     and USBDEVFS_DISCONNECT_CLAIM on a privileged fd takes an interface
//     from the fd that claims it (its transfers then fail);
//   - the USB service end to end: a rogue driver host (guest-rogue-usb-host)
//     is given the disk's interface by the root bus (a UsbBus with the
//     isolated runner) and refused everything past it; SIGKILLed while it and
//     a child it forked hold the claim, its interface is taken back and lent
//     to the next host; stopping gives the disk back to usb-storage
//     (/dev/sda reads the testbed's marker again).
// The oracles are the kernel's: sysfs driver links, usbfs errnos, /dev/sda.
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "program_dir.h"
#include "result_helpers.h"
#include "usb_guest.h"
#include "udrv/bus/bind_rules.h"
#include "udrv/bus/driver_manager.h"
#include "udrv/core/time.h"
#include "udrv/host/runner.h"
#include "udrv/usb/isolation.h"
#include "udrv/usb/usb_bus.h"
#include "usb_guest.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

namespace bus = udrv::bus;
namespace usb = udrv::usb;

const std::string kDevices = "/sys/bus/usb/devices/";

std::string ReadLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The testbed's disk: its kernel name ("2-1") and usbfs node. A guest
// without it is a broken testbed: the test fails.
struct Disk {
  std::string name;
  std::string node;
  std::string interface() const { return name + ":1.0"; }
  std::string DriverOfInterface() const { return udrv::testing::UsbDriverOf(interface()); }
};

Disk FindDisk() {
  for (const auto& entry : fs::directory_iterator(kDevices)) {
    const std::string dir = entry.path().string();
    if (ReadLine(dir + "/idVendor") == "46f4" && ReadLine(dir + "/idProduct") == "0001") {
      char node[64];
      std::snprintf(node, sizeof(node), "/dev/bus/usb/%03d/%03d", std::stoi(ReadLine(dir + "/busnum")),
                    std::stoi(ReadLine(dir + "/devnum")));
      return Disk{entry.path().filename().string(), node};
    }
  }
  FAIL("no usb-storage disk 46f4:0001 in " << kDevices);
  return {};
}

// The kernel's usb-storage holds the disk again and /dev/sda reads the
// testbed's marker (sd probes a moment after usb-storage binds).
void ExpectBackWithUsbStorage(const Disk& disk) {
  std::string marker;
  udrv::testing::WaitFor(
      [&] {
        if (disk.DriverOfInterface() != "usb-storage") return false;
        std::ifstream sda("/dev/sda", std::ios::binary);
        char sector[21] = {};
        if (!sda.read(sector, sizeof(sector))) return false;
        marker.assign(sector, sizeof(sector));
        return marker == "UDRV-TESTBED-usb-DISK";
      },
      20s);
  CHECK(disk.DriverOfInterface() == "usb-storage");
  CHECK(marker == "UDRV-TESTBED-usb-DISK");
}

int Ioctl(int fd, unsigned long request, void* argument) {
  const int rc = ::ioctl(fd, request, argument);
  return rc < 0 ? -errno : rc;
}

int UsbfsIoctl(int fd, unsigned interface, unsigned long code) {
  usbdevfs_ioctl command{};
  command.ifno = static_cast<int>(interface);
  command.ioctl_code = static_cast<int>(code);
  return Ioctl(fd, USBDEVFS_IOCTL, &command);
}

TEST_CASE("usb isolation: DROP_PRIVILEGES and DISCONNECT_CLAIM do what the USB service relies on",
          "[usb-isolation]") {
  const Disk disk = FindDisk();
  REQUIRE(disk.DriverOfInterface() == "usb-storage");
  udrv::UniqueFd root(::open(disk.node.c_str(), O_RDWR | O_CLOEXEC));
  udrv::UniqueFd lent(::open(disk.node.c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(root);
  REQUIRE(lent);
  uint32_t mask = 1u << 0;
  REQUIRE(Ioctl(lent.get(), USBDEVFS_DROP_PRIVILEGES, &mask) == 0);

  // The privileged fd takes the interface from usb-storage.
  usbdevfs_disconnect_claim take{};
  take.interface = 0;
  REQUIRE(Ioctl(root.get(), USBDEVFS_DISCONNECT_CLAIM, &take) == 0);
  CHECK(disk.DriverOfInterface() == "usbfs");

  unsigned number = 1;
  CHECK(Ioctl(lent.get(), USBDEVFS_CLAIMINTERFACE, &number) == -EACCES);  // outside the mask
  number = 0;
  CHECK(Ioctl(lent.get(), USBDEVFS_CLAIMINTERFACE, &number) == -EBUSY);   // the root's claim
  CHECK(Ioctl(lent.get(), USBDEVFS_DISCONNECT_CLAIM, &take) == -EACCES);  // it has a driver (usbfs)
  CHECK(UsbfsIoctl(lent.get(), 0, USBDEVFS_DISCONNECT) == -EACCES);
  CHECK(UsbfsIoctl(lent.get(), 0, USBDEVFS_CONNECT) == -EACCES);
  CHECK(Ioctl(lent.get(), USBDEVFS_RESET, nullptr) == -EACCES);  // an interface another holds

  // Lent: the root releases (no driver is probed), the dropped fd claims.
  number = 0;
  REQUIRE(Ioctl(root.get(), USBDEVFS_RELEASEINTERFACE, &number) == 0);
  CHECK(disk.DriverOfInterface().empty());
  REQUIRE(Ioctl(lent.get(), USBDEVFS_CLAIMINTERFACE, &number) == 0);
  CHECK(disk.DriverOfInterface() == "usbfs");

  // Taken back: DISCONNECT_CLAIM on the root's fd ends the lent fd's claim.
  REQUIRE(Ioctl(root.get(), USBDEVFS_DISCONNECT_CLAIM, &take) == 0);
  CHECK(disk.DriverOfInterface() == "usbfs");
  CHECK(Ioctl(lent.get(), USBDEVFS_RELEASEINTERFACE, &number) == -EINVAL);  // it holds nothing now
  CHECK(Ioctl(lent.get(), USBDEVFS_CLAIMINTERFACE, &number) == -EBUSY);
  uint8_t csw[13];
  usbdevfs_bulktransfer in{};
  in.ep = 0x81;
  in.len = sizeof(csw);
  in.timeout = 200;
  in.data = csw;
  CHECK(Ioctl(lent.get(), USBDEVFS_BULK, &in) == -EBUSY);  // its endpoints are the root's again
  lent.reset();

  // Given back: release, then the kernel probes usb-storage.
  REQUIRE(Ioctl(root.get(), USBDEVFS_RELEASEINTERFACE, &number) == 0);
  REQUIRE(UsbfsIoctl(root.get(), 0, USBDEVFS_CONNECT) == 1);  // device_attach: 1, a driver bound
  root.reset();
  ExpectBackWithUsbStorage(disk);
}

// The lines the runner and the manager log, kept for the test to wait on.
class Log {
 public:
  void Add(std::string_view line) {
    std::lock_guard lock(mutex_);
    std::printf("log: %.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
    lines_.emplace_back(line);
  }
  // The groups of the first match of `pattern` in a line after the first
  // `skip` matching lines (the whole match first), waiting up to `limit`;
  // empty when none came.
  std::vector<std::string> WaitFor(const std::regex& pattern, size_t skip = 0,
                                   std::chrono::seconds limit = 60s) {
    const udrv::Time deadline = udrv::DeadlineAfter(limit);
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        size_t seen = 0;
        for (const std::string& line : lines_) {
          std::smatch match;
          if (std::regex_search(line, match, pattern) && seen++ == skip) {
            return {match.begin(), match.end()};
          }
        }
      }
      if (udrv::Now() >= deadline) return {};
      std::this_thread::sleep_for(50ms);
    }
  }
  std::string Dump() {
    std::lock_guard lock(mutex_);
    std::string all;
    for (const std::string& line : lines_) all += line + "\n";
    return all;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// The USB bus with the isolated runner, whose driver hosts are
// guest-rogue-usb-host (`restarts` after one dies), bound to the disk's
// interface; `log` has what they all said.
struct RogueSetup {
  explicit RogueSetup(int restarts) {
    auto created = usb::UsbBus::Create({.paths = {}, .log = [this](std::string_view line) { log.Add(line); }});
    REQUIRE_OK(created);
    usb_bus = std::move(*created);
    udrv::host::RunnerOptions runner_options;
    runner_options.host_program = udrv::testing::ProgramDir() + "guest-rogue-usb-host";
    runner_options.first_uid = 61200;
    runner_options.restarts = restarts;
    runner_options.log = [this](std::string_view line) { log.Add(line); };
    auto runner = udrv::host::MakeIsolatedRunner(std::move(runner_options), usb::MakeServiceFactory());
    REQUIRE_OK(runner);
    bus::DriverManagerOptions manager_options;
    manager_options.runner = std::move(*runner);
    manager_options.release.restore_kernel_driver = true;
    manager_options.log = [this](std::string_view line) { log.Add(line); };
    manager = std::make_unique<bus::DriverManager>(*usb_bus, std::move(manager_options));
    bus::Driver rogue;
    rogue.name = "rogue-usb";
    rogue.rules = {bus::BindRule::Equal(std::string(usb::kPropVid), 0x46f4),
                   bus::BindRule::Equal(std::string(usb::kPropClass), 8),
                   bus::BindRule::Present(std::string(usb::kPropInterface))};
    rogue.start = [](bus::DriverContext&) -> udrv::Result<std::unique_ptr<bus::DriverInstance>> {
      return udrv::Fail(udrv::Status::NOT_SUPPORTED, "rogue-usb runs in its driver host only");
    };
    REQUIRE_OK(manager->Register(rogue));
  }

  Log log;
  std::unique_ptr<usb::UsbBus> usb_bus;
  std::unique_ptr<bus::DriverManager> manager;
};

TEST_CASE("usb isolation: a rogue host is refused past its interface; killed, its interface is "
          "taken back and lent again; stopped, the disk goes back to usb-storage",
          "[usb-isolation]") {
  const Disk disk = FindDisk();
  REQUIRE(disk.DriverOfInterface() == "usb-storage");
  RogueSetup setup(/*restarts=*/1);
  Log& log = setup.log;
  bus::DriverManager& manager = *setup.manager;

  auto started = manager.BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 1);
  INFO(log.Dump());
  REQUIRE_OK(started->front().started);
  CHECK(started->front().node_id.ends_with("/" + disk.interface()));
  CHECK(disk.DriverOfInterface() == "usbfs");  // the host's claim; usb-storage detached

  // Killed while it and its child hold the claim: taken back, lent again.
  const std::regex started_pattern("started in driver host pid ([0-9]+)");
  const std::vector<std::string> first = log.WaitFor(started_pattern);
  REQUIRE(!first.empty());
  const pid_t host_pid = std::stoi(first[1]);
  REQUIRE(::kill(host_pid, SIGKILL) == 0);
  const std::vector<std::string> reclaimed = log.WaitFor(
      std::regex("reclaimed after driver host pid " + std::to_string(host_pid) + ": (.*)"));
  REQUIRE(!reclaimed.empty());
  INFO(reclaimed[1]);
  CHECK(reclaimed[1].find("interface 0 taken back: done (lent to the host;") != std::string::npos);
  const std::vector<std::string> second = log.WaitFor(started_pattern, 1);
  INFO(log.Dump());
  REQUIRE(!second.empty());
  CHECK(second[1] != first[1]);
  CHECK(disk.DriverOfInterface() == "usbfs");

  // Stopped: the last host's claim taken back, then the disk given back.
  const std::vector<bus::StopOutcome> stopped = manager.StopAll();
  REQUIRE(stopped.size() == 1);
  REQUIRE_OK(stopped.front().stopped);
  REQUIRE_OK(stopped.front().released);
  INFO(stopped.front().released->ToString());
  CHECK(stopped.front().released->ok());
  ExpectBackWithUsbStorage(disk);
}

TEST_CASE("usb isolation: a host that unconfigures its device (usbfs lets it) does not keep it: the "
          "take-back configures it again and the disk goes back to usb-storage",
          "[usb-isolation]") {
  const Disk disk = FindDisk();
  REQUIRE(disk.DriverOfInterface() == "usb-storage");
  const std::string configuration = kDevices + disk.name + "/bConfigurationValue";
  REQUIRE(ReadLine(configuration) == "1");
  { std::ofstream marker(udrv::testing::kUnconfigureMarker); }
  struct RemoveMarker {
    ~RemoveMarker() { fs::remove(udrv::testing::kUnconfigureMarker); }
  } remove_marker;
  RogueSetup setup(/*restarts=*/0);

  auto started = setup.manager->BindAll();
  REQUIRE_OK(started);
  REQUIRE(started->size() == 1);
  INFO(setup.log.Dump());
  REQUIRE_OK(started->front().started);
  // The host released its claim and set configuration 0: no interfaces.
  CHECK(ReadLine(configuration).empty());
  CHECK_FALSE(fs::exists(kDevices + disk.interface()));

  const std::vector<bus::StopOutcome> stopped = setup.manager->StopAll();
  REQUIRE(stopped.size() == 1);
  REQUIRE_OK(stopped.front().stopped);
  REQUIRE_OK(stopped.front().released);
  const std::string said = setup.log.Dump() + stopped.front().released->ToString();
  INFO(said);
  CHECK(stopped.front().released->ok());
  CHECK(said.find("configuration 1 set again (the host had changed it)") != std::string::npos);
  CHECK(ReadLine(configuration) == "1");
  ExpectBackWithUsbStorage(disk);
}

}  // namespace
