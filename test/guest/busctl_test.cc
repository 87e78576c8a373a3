// busctl's commands that change things, run as a user runs them (the busctl
// binary, from PATH) against the guest's real kernel and edu:
//   [busctl-vfio]   bind edu to vfio-pci, read and write its registers through
//                   VFIO, refusals, unbind, restore, restore --all
//                   (x86_64 and aarch64 with an IOMMU)
//   [busctl-group]  a group member on another driver blocks vfio-pci, and
//                   busctl prints the verdict (x86_64 with an IOMMU)
//   [busctl-uio]    edu on uio_pci_generic through the sysfs route; vfio-pci
//                   refused without an IOMMU (x86_64 without an IOMMU)
//   [busctl-platform] virt's pl031 (an AMBA device) in list and show, the
//                   IO_STRICT_DEVMEM refusal while rtc-pl031 holds it, its
//                   peripheral ID and match register through /dev/mem once
//                   unbound, restore;
//                   bound to udrv's UIO platform module (map: uio) and
//                   restored (aarch64)
//   [busctl-dt-kernel] every platform and AMBA device the kernel made from
//                   the tree is busctl's node, with its driver and the
//                   address Linux names it by (aarch64 virt, nested, raspi3b)
// Every test uses the default state file, /run/udrv/busctl-bindings.json,
// and leaves it without records.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "guest_pci.h"
#include "result_helpers.h"
#include "udrv/pci/bind.h"
#include "udrv/pci/sysfs.h"

extern char** environ;

namespace fs = std::filesystem;
using udrv::pci::Address;
using udrv::pci::SysfsPci;

namespace {

constexpr const char* kStateFile = "/run/udrv/busctl-bindings.json";

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Runs busctl with `arguments`, stdin from /dev/null (so it cannot prompt).
Run Busctl(const std::vector<std::string>& arguments) {
  const std::string out_path = "/tmp/busctl-test.out";
  const std::string err_path = "/tmp/busctl-test.err";
  posix_spawn_file_actions_t actions;
  REQUIRE(posix_spawn_file_actions_init(&actions) == 0);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<char*> argv;
  std::string program = "busctl";
  argv.push_back(program.data());
  std::vector<std::string> copies = arguments;
  for (std::string& argument : copies) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t pid;
  const int spawned = posix_spawnp(&pid, "busctl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  Run run{WEXITSTATUS(status), Slurp(out_path), Slurp(err_path)};
  std::string shown = "busctl";
  for (const std::string& argument : arguments) shown += " " + argument;
  UNSCOPED_INFO(shown << "\n  exit " << run.exit_code << "\n  stdout: " << run.out
                      << "\n  stderr: " << run.err);
  return run;
}

udrv::pci::DeviceInfo Read(const Address& address) {
  auto info = SysfsPci().Read(address);
  REQUIRE_OK(info);
  return *info;
}

std::string DriverOf(const Address& address) { return Read(address).driver.value_or(""); }

// How many rollback records the state file holds ("recorded_at" appears
// once in each, whatever the bus).
size_t RecordCount() {
  const std::string text = Slurp(kStateFile);
  size_t count = 0;
  for (size_t at = text.find("\"recorded_at\""); at != std::string::npos;
       at = text.find("\"recorded_at\"", at + 1)) {
    ++count;
  }
  return count;
}

// busctl read's value: the first word of its line.
std::string ReadRegister(const std::string& device, const std::string& offset,
                         const std::string& width = "32") {
  const Run run = Busctl({"read", device, "0", offset, "--width", width});
  REQUIRE(run.exit_code == 0);
  return run.out.substr(0, run.out.find(' '));
}

}  // namespace

TEST_CASE("busctl: edu through vfio-pci, registers, unbind and restore", "[busctl-vfio]") {
  const Address edu_address = udrv::guest::FindEdu();
  const std::string edu = edu_address.ToString();
  REQUIRE(DriverOf(edu_address).empty());

  // Unbound, the sysfs route would be used; bound to vfio-pci, VFIO.
  Run run = Busctl({"bind", edu, "vfio-pci"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.out ==
        "bound " + edu + " to vfio-pci (was: no driver); undo with: busctl restore " + edu + "\n");
  CHECK(DriverOf(edu_address) == "vfio-pci");
  CHECK(RecordCount() == 1);

  // Bound already: nothing changes, nothing is recorded.
  run = Busctl({"--json", "bind", edu, "vfio-pci"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("\"changed\": false") != std::string::npos);
  CHECK(run.out.find("\"viable\": true") != std::string::npos);
  CHECK(RecordCount() == 1);

  SECTION("registers through VFIO") {
    run = Busctl({"read", edu, "0", "0", "--width", "32"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == "0x010000ed " + edu + " BAR 0 offset 0x0 (32-bit, through vfio)\n");
    run = Busctl({"--json", "read", edu, "0", "0"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("\"route\": \"vfio\"") != std::string::npos);
    CHECK(run.out.find("\"value\": 16777453") != std::string::npos);
    CHECK(run.out.find("\"value_hex\": \"0x010000ed\"") != std::string::npos);

    // The liveness register reads back the inverse of what was written.
    run = Busctl({"write", edu, "0", "0x04", "0x12345678", "--yes"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == "wrote 0x12345678 to " + edu + " BAR 0 offset 0x4 (32-bit, through vfio)\n");
    CHECK(ReadRegister(edu, "0x04") == "0xedcba987");

    // --dry-run says what it would do and does nothing.
    run = Busctl({"write", edu, "0", "4", "0xcafe0000", "--dry-run"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == "dry run: would write 0xcafe0000 to " + edu +
                         " BAR 0 offset 0x4 (32-bit, through vfio); nothing written\n");
    CHECK(ReadRegister(edu, "0x04") == "0xedcba987");

    // Without --yes and without a terminal to ask on: refused, nothing written.
    run = Busctl({"write", edu, "0", "4", "0xcafe0000"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("CANCELED") != std::string::npos);
    CHECK(run.err.find("pass --yes") != std::string::npos);
    CHECK(ReadRegister(edu, "0x04") == "0xedcba987");

    // 64-bit: edu's DMA source address register holds what is written.
    run = Busctl({"write", edu, "0", "0x80", "0x1122334455667788", "--width", "64", "--yes"});
    REQUIRE(run.exit_code == 0);
    CHECK(ReadRegister(edu, "0x80", "64") == "0x1122334455667788");
    run = Busctl({"write", edu, "0", "0x80", "0", "--width", "64", "--yes"});
    CHECK(run.exit_code == 0);

    // Refusals, before the device is touched.
    run = Busctl({"read", edu, "0", "2", "--width", "32"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("INVALID_ARGS") != std::string::npos);
    CHECK(run.err.find("not aligned") != std::string::npos);
    run = Busctl({"read", edu, "0", "0x100000"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("OUT_OF_RANGE") != std::string::npos);
    CHECK(run.err.find("size 0x100000") != std::string::npos);
    run = Busctl({"write", edu, "0", "0xffffc", "1", "--width", "64", "--yes"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("not aligned") != std::string::npos);
    run = Busctl({"read", edu, "1", "0"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("NOT_FOUND") != std::string::npos);
    CHECK(run.err.find("has no BAR 1") != std::string::npos);
    run = Busctl({"write", edu, "0", "4", "0x100", "--width", "8", "--yes"});
    CHECK(run.exit_code == 2);
    CHECK(ReadRegister(edu, "0x04") == "0xedcba987");
  }

  SECTION("unbind, then restore walks back both changes") {
    run = Busctl({"unbind", edu});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == "unbound " + edu + " from vfio-pci; undo with: busctl restore " + edu + "\n");
    CHECK(DriverOf(edu_address).empty());
    CHECK(RecordCount() == 2);
    // Unbound with driver_override still vfio-pci: the sysfs route now.
    run = Busctl({"--json", "write", edu, "0", "4", "1", "--dry-run"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("\"route\": \"sysfs\"") != std::string::npos);

    run = Busctl({"restore", edu});
    REQUIRE(run.exit_code == 0);
    // Newest first: the unbind (back to vfio-pci), then the bind (no driver).
    const size_t unbind = run.out.find("restored " + edu + " to vfio-pci (undid the unbind of ");
    const size_t bind =
        run.out.find("restored " + edu + " to no driver (undid the bind to vfio-pci");
    CHECK(unbind != std::string::npos);
    CHECK(bind != std::string::npos);
    CHECK(unbind < bind);
    CHECK(DriverOf(edu_address).empty());
    CHECK_FALSE(Read(edu_address).driver_override);
    CHECK(RecordCount() == 0);

    run = Busctl({"restore", edu});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("NOT_FOUND: no rollback record for the device in " +
                       std::string(kStateFile)) != std::string::npos);
  }

  SECTION("restore --all") {
    run = Busctl({"unbind", edu});
    REQUIRE(run.exit_code == 0);
    run = Busctl({"--json", "restore", "--all"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out.find("\"remaining\": 0") != std::string::npos);
    CHECK(DriverOf(edu_address).empty());
    CHECK(RecordCount() == 0);
    run = Busctl({"restore", "--all"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("nothing to restore") != std::string::npos);
  }

  // Whatever a section left, back to no driver.
  if (RecordCount() > 0) CHECK(Busctl({"restore", "--all"}).exit_code == 0);
  CHECK(DriverOf(edu_address).empty());
}

TEST_CASE("busctl: restore puts the previous driver back", "[busctl-vfio][busctl-uio]") {
  const Address edu_address = udrv::guest::FindEdu();
  const std::string edu = edu_address.ToString();
  REQUIRE(DriverOf(edu_address).empty());
  // edu on uio_pci_generic before busctl touches it.
  auto before = udrv::pci::BindDriver(edu_address, "uio");
  REQUIRE_OK(before);
  REQUIRE(DriverOf(edu_address) == "uio_pci_generic");

  // The sysfs route, through uio_pci_generic's enabled BAR.
  Run run = Busctl({"write", edu, "0", "4", "0x0f0f0f0f", "--yes"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("through sysfs") != std::string::npos);
  CHECK(ReadRegister(edu, "4") == "0xf0f0f0f0");

  run = Busctl({"unbind", edu});
  REQUIRE(run.exit_code == 0);
  CHECK(DriverOf(edu_address).empty());
  run = Busctl({"restore", edu});
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("restored " + edu + " to uio_pci_generic") != std::string::npos);
  CHECK(DriverOf(edu_address) == "uio_pci_generic");
  CHECK(RecordCount() == 0);

  REQUIRE_OK(udrv::pci::RestoreDriver(*before));
  CHECK(DriverOf(edu_address).empty());
}

TEST_CASE("busctl: vfio-pci moves edu from uio_pci_generic and restore moves it back",
          "[busctl-vfio]") {
  const Address edu_address = udrv::guest::FindEdu();
  const std::string edu = edu_address.ToString();
  REQUIRE(DriverOf(edu_address).empty());
  auto before = udrv::pci::BindDriver(edu_address, "uio");
  REQUIRE_OK(before);

  Run run = Busctl({"bind", edu, "vfio-pci"});
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("(was: uio_pci_generic)") != std::string::npos);
  CHECK(DriverOf(edu_address) == "vfio-pci");
  CHECK(ReadRegister(edu, "0") == "0x010000ed");
  run = Busctl({"restore", edu});
  REQUIRE(run.exit_code == 0);
  CHECK(DriverOf(edu_address) == "uio_pci_generic");
  CHECK(Read(edu_address).driver_override == "uio_pci_generic");

  REQUIRE_OK(udrv::pci::RestoreDriver(*before));
  CHECK(DriverOf(edu_address).empty());
}

TEST_CASE("busctl: a member on another driver blocks the group, with the verdict",
          "[busctl-group]") {
  // q35's ICH9: LPC bridge 1f.0, AHCI 1f.2 and SMBus 1f.3 share one group.
  const std::string ahci = udrv::guest::FindFunction(0x8086, 0x2922).ToString();
  const Address smbus_address = udrv::guest::FindFunction(0x8086, 0x2930);
  const std::string smbus = smbus_address.ToString();
  const auto group = Read(smbus_address).iommu_group;
  REQUIRE(group);

  Run run = Busctl({"bind", ahci, "uio"});
  REQUIRE(run.exit_code == 0);
  run = Busctl({"bind", smbus, "vfio-pci"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("IOMMU group " + std::to_string(*group) + " is not viable for VFIO") !=
        std::string::npos);
  CHECK(run.err.find("  " + ahci + "  uio_pci_generic\n") != std::string::npos);
  CHECK(run.err.find("blocked by " + ahci + " bound to uio_pci_generic") != std::string::npos);
  CHECK(run.err.find("BAD_STATE") != std::string::npos);
  CHECK(DriverOf(smbus_address).empty());
  CHECK(RecordCount() == 1);

  run = Busctl({"--json", "bind", smbus, "vfio-pci"});
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("\"viable\": false") != std::string::npos);
  CHECK(run.out.find("\"status\": \"BAD_STATE\"") != std::string::npos);

  run = Busctl({"restore", "--all"});
  REQUIRE(run.exit_code == 0);
  CHECK(DriverOf(udrv::guest::FindFunction(0x8086, 0x2922)).empty());
  CHECK(RecordCount() == 0);
}

TEST_CASE("busctl: edu on uio_pci_generic; vfio-pci refused without an IOMMU", "[busctl-uio]") {
  const Address edu_address = udrv::guest::FindEdu();
  const std::string edu = edu_address.ToString();
  REQUIRE(DriverOf(edu_address).empty());

  Run run = Busctl({"bind", edu, "uio"});
  REQUIRE(run.exit_code == 0);
  CHECK(DriverOf(edu_address) == "uio_pci_generic");
  CHECK(ReadRegister(edu, "0") == "0x010000ed");
  run = Busctl({"write", edu, "0", "4", "0x0000ffff", "--yes"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("through sysfs") != std::string::npos);
  CHECK(ReadRegister(edu, "4") == "0xffff0000");

  run = Busctl({"bind", edu, "vfio-pci"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("NOT_SUPPORTED") != std::string::npos);
  CHECK(run.err.find("no IOMMU group") != std::string::npos);
  CHECK(DriverOf(edu_address) == "uio_pci_generic");
  CHECK(RecordCount() == 1);

  run = Busctl({"restore", "--all"});
  REQUIRE(run.exit_code == 0);
  CHECK(DriverOf(edu_address).empty());
  CHECK_FALSE(Read(edu_address).driver_override);
  CHECK(RecordCount() == 0);
}

// The kernel driver bound to an AMBA or platform device ("" when none).
std::string KernelDriverOf(const std::string& device) {
  std::error_code error;
  const fs::path target = fs::read_symlink(device + "/driver", error);
  return error ? "" : target.filename().string();
}

TEST_CASE("busctl: pl031 on virt, refused while rtc-pl031 holds it, its ID once unbound",
          "[busctl-platform]") {
  const std::string pl031 = "/pl031@9010000";
  const std::string kernel = "/sys/bus/amba/devices/9010000.pl031";
  REQUIRE(KernelDriverOf(kernel) == "rtc-pl031");

  Run run = Busctl({"list"});
  REQUIRE(run.exit_code == 0);
  const size_t line = run.out.find("\n" + pl031 + " arm,pl031 arm,primecell; mmio 0x9010000 size 0x1000; irq GIC");
  REQUIRE(line != std::string::npos);
  const std::string text = run.out.substr(line + 1, run.out.find('\n', line + 1) - line - 1);
  CHECK(text.find(" SPI 2 level-high; driver rtc-pl031; map: no (kernel driver rtc-pl031 holds it") !=
        std::string::npos);
  run = Busctl({"--json", "show", pl031});
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("\"device\": \"9010000.pl031\"") != std::string::npos);
  CHECK(run.out.find("\"phys\": 151060480,") != std::string::npos);  // 0x9010000

  // IO_STRICT_DEVMEM: the region rtc-pl031 claimed cannot be mapped.
  run = Busctl({"read", pl031, "0xfe0"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("ACCESS_DENIED") != std::string::npos);
  CHECK(run.err.find("kernel driver rtc-pl031 holds (amba device 9010000.pl031): unbind it first "
                     "(busctl unbind /pl031@9010000)") != std::string::npos);

  run = Busctl({"unbind", pl031});
  REQUIRE(run.exit_code == 0);
  CHECK(run.out == "unbound /pl031@9010000 (amba 9010000.pl031) from rtc-pl031; undo with: busctl "
                   "restore /pl031@9010000\n");
  CHECK(KernelDriverOf(kernel).empty());
  CHECK(RecordCount() == 1);

  // The PrimeCell peripheral and cell IDs of a PL031: 0x31 0x10 0x14 0x00, 0x0d 0xf0 0x05 0xb1.
  const std::vector<std::pair<std::string, std::string>> ids = {
      {"0xfe0", "0x00000031"}, {"0xfe4", "0x00000010"}, {"0xfe8", "0x00000014"},
      {"0xfec", "0x00000000"}, {"0xff0", "0x0000000d"}, {"0xffc", "0x000000b1"}};
  for (const auto& [offset, value] : ids) {
    run = Busctl({"read", pl031, offset});
    CHECK(run.exit_code == 0);
    CHECK(run.out == value + " /pl031@9010000 region 0 offset " + offset +
                         " (32-bit, through devmem)\n");
  }
  run = Busctl({"read", pl031, "0", "0xfe0", "--width", "8"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.starts_with("0x31 "));
  run = Busctl({"--json", "read", pl031, "0xfe4"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("\"phys\": 151064548,") != std::string::npos);  // 0x9010fe4
  CHECK(run.out.find("\"value_hex\": \"0x00000010\"") != std::string::npos);
  run = Busctl({"read", pl031, "0x1000"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("OUT_OF_RANGE") != std::string::npos);
  // The match register (MR, 0x4) reads back what was written.
  run = Busctl({"write", pl031, "0x4", "0x12345678", "--yes"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "wrote 0x12345678 to /pl031@9010000 region 0 offset 0x4 (32-bit, through "
                   "devmem)\n");
  run = Busctl({"read", pl031, "0x4"});
  CHECK(run.out.starts_with("0x12345678 "));
  run = Busctl({"write", pl031, "0x4", "0", "--yes"});
  CHECK(run.exit_code == 0);
  run = Busctl({"read", pl031, "0x4"});
  CHECK(run.out.starts_with("0x00000000 "));
  run = Busctl({"show", pl031});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("\tRoute: devmem (available)\n") != std::string::npos);

  run = Busctl({"restore", pl031});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("restored /pl031@9010000 to rtc-pl031 (undid the unbind of ") !=
        std::string::npos);
  CHECK(KernelDriverOf(kernel) == "rtc-pl031");
  CHECK(RecordCount() == 0);
}

TEST_CASE("busctl: pl031 bound to udrv's UIO platform module and restored to rtc-pl031",
          "[busctl-platform]") {
  const std::string pl031 = "/pl031@9010000";
  const std::string kernel = "/sys/bus/amba/devices/9010000.pl031";
  const std::string module = "/udrv/kmod/udrv_uio_platform.ko";
  REQUIRE(fs::exists(module));  // the testbed puts it there (mkinitramfs.sh)
  REQUIRE(KernelDriverOf(kernel) == "rtc-pl031");

  // Not loaded yet: bind says how to load it, and changes nothing.
  Run run = Busctl({"bind", pl031, "uio"});
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("insmod udrv_uio_platform.ko") != std::string::npos);
  CHECK(KernelDriverOf(kernel) == "rtc-pl031");
  CHECK(RecordCount() == 0);

  REQUIRE(std::system(("insmod " + module).c_str()) == 0);
  run = Busctl({"bind", pl031, "uio"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "bound /pl031@9010000 (amba 9010000.pl031) to udrv-uio-platform (was: "
                   "rtc-pl031); undo with: busctl restore /pl031@9010000\n");
  CHECK(KernelDriverOf(kernel) == "udrv-uio-platform");
  run = Busctl({"list", "--bus", "platform"});
  CHECK(run.out.find("; driver udrv-uio-platform; map: uio\n") != std::string::npos);
  run = Busctl({"show", pl031});
  CHECK(run.out.find("\tRoute: uio (available)\n") != std::string::npos);

  run = Busctl({"--json", "restore", "--all"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("\"bus\": \"amba\"") != std::string::npos);
  CHECK(KernelDriverOf(kernel) == "rtc-pl031");
  CHECK(RecordCount() == 0);
  CHECK(std::system("rmmod udrv_uio_platform") == 0);
}

// The node path an of_node link names ("/" for the root), or "" for one that
// is not into the device tree.
std::string NodePathOfLink(const std::string& device) {
  std::error_code error;
  const std::string target = fs::read_symlink(device + "/of_node", error).string();
  const std::string base = "/firmware/devicetree/base";
  const size_t at = target.find(base);
  if (error || at == std::string::npos) return "";
  const std::string path = target.substr(at + base.size());
  return path.empty() ? "/" : path;
}

TEST_CASE("busctl: every kernel device of the tree is busctl's node, its driver and address",
          "[busctl-dt-kernel]") {
  const Run run = Busctl({"--json", "list", "--bus", "platform"});
  REQUIRE(run.exit_code == 0);
  const nlohmann::json listing = nlohmann::json::parse(run.out);
  std::map<std::string, nlohmann::json> by_path;
  for (const nlohmann::json& device : listing.at("devices")) {
    by_path[device.at("path").get<std::string>()] = device;
  }
  REQUIRE(by_path.size() > 10);
  size_t compared = 0;
  for (const std::string bus : {"platform", "amba"}) {
    const fs::path devices = "/sys/bus/" + bus + "/devices";
    if (!fs::exists(devices)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(devices)) {
      const std::string name = entry.path().filename().string();
      const std::string path = NodePathOfLink(entry.path().string());
      if (path.empty()) continue;  // made by a driver, not by the tree
      INFO(bus << " device " << name << " of " << path);
      const auto found = by_path.find(path);
      REQUIRE(found != by_path.end());
      const nlohmann::json& device = found->second;
      CHECK(device.at("kernel") == nlohmann::json({{"bus", bus}, {"device", name}}));
      const std::string driver = KernelDriverOf(entry.path().string());
      CHECK(device.at("driver") == (driver.empty() ? nlohmann::json() : nlohmann::json(driver)));
      // Linux names a device "<its first translated address>.<node name>".
      const nlohmann::json& mmio = device.at("mmio");
      const size_t dot = name.find('.');
      if (!mmio.empty() && mmio[0].at("phys").is_number() && dot != std::string::npos &&
          name.find_first_not_of("0123456789abcdef") == dot) {
        char hex[24];
        std::snprintf(hex, sizeof(hex), "%llx",
                      static_cast<unsigned long long>(mmio[0].at("phys").get<uint64_t>()));
        CHECK(name.substr(0, dot) == hex);
      }
      ++compared;
    }
  }
  CHECK(compared > 3);
}
