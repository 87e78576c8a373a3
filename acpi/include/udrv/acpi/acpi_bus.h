// The ACPI root bus: the namespace's devices as a bus::Bus (bus/bus.h).
//
// The bus reads the tables (the live /sys/firmware/acpi/tables, root
// only, or offline a directory or acpidump file: `--acpi DIR`), builds the
// namespace with udrv's AML reader (namespace.h) and, on a live machine,
// merges it with the kernel's view (kernel_view.h): what the reader could
// not evaluate (a _STA or _CRS method that reads hardware) the kernel did,
// and each ACPI device's physical node says which kernel device it became.
// Where the tables cannot be read (not root) the kernel's view alone
// describes the devices, and says so.
//
// Enumerate gives one node per device that is present (_STA bit 0, or its
// status unknown offline); a device neither present nor functioning is
// left out with its children, as Linux leaves them. Node ids are "acpi/"
// and the path's segments as Linux pads them ("acpi/_SB_/PCI0/SF8_/COM1");
// a node's parent is the nearest ancestor that is a node itself.
//
// Open hands the driver an acpi::Device over the bus's route:
//   devmem  (the default) takes nothing from the kernel: the driver maps the
//           device's memory ranges through /dev/mem, which the kernel
//           refuses while a driver holds them (IO_STRICT_DEVMEM); the
//           refusal names the driver. Interrupts are described, not
//           delivered.
//   uio     binds udrv's UIO platform module (platform/kmod, mmio/uio.h)
//           by driver_override to the device's physical node, where the
//           kernel made a platform or amba device of it (arm64 servers: the
//           SBSA UART, GED, virtio-mmio), and maps the memory ranges and the
//           first interrupt through /dev/uioN. Release masks the interrupt
//           and, when asked, binds the node's previous driver back.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/acpi/device.h"
#include "udrv/acpi/kernel_view.h"
#include "udrv/acpi/namespace.h"
#include "udrv/acpi/tables.h"
#include "udrv/bus/bus.h"
#include "udrv/bus/driver.h"
#include "udrv/sysfs/paths.h"

namespace udrv::acpi {

inline constexpr std::string_view kBusName = "acpi";

// Node properties. Strings unless said otherwise.
inline constexpr std::string_view kPropPath = "acpi.path";      // "\_SB_.PCI0.SF8_.COM1"
inline constexpr std::string_view kPropHid = "acpi.hid";        // "PNP0501"
inline constexpr std::string_view kPropCid = "acpi.cid";        // list: "PNP0A03", ...
inline constexpr std::string_view kPropUid = "acpi.uid";        // "1"
inline constexpr std::string_view kPropAdr = "acpi.adr";        // number (a larger _ADR: "0x...")
inline constexpr std::string_view kPropStatus = "acpi.status";  // number: _STA, as known
// The kernel's side, on a live machine:
inline constexpr std::string_view kPropKernelDevice = "acpi.kernel_device";  // "PNP0501:00"
inline constexpr std::string_view kPropPhysicalNode = "acpi.physical_node";  // "pnp/00:04"
// The physical node's bound driver, or else the ACPI device's own.
inline constexpr std::string_view kPropDriver = "acpi.driver";

// _STA's bits (ACPI 6.5 §6.3.7).
inline constexpr uint32_t kStaPresent = 1u << 0;
inline constexpr uint32_t kStaEnabled = 1u << 1;
inline constexpr uint32_t kStaShown = 1u << 2;
inline constexpr uint32_t kStaFunctioning = 1u << 3;
// What an absent _STA means.
inline constexpr uint32_t kStaDefault = 0x0F;

// One device as tables and kernel together describe it.
struct MergedDevice {
  std::string path;                          // "\_SB_.HPET"
  const NamespaceDevice* tables = nullptr;   // nullptr: known from the kernel alone
  const KernelAcpiDevice* kernel = nullptr;  // nullptr: offline, or the kernel made none
  std::optional<std::string> hid;
  std::vector<std::string> cids;
  std::optional<std::string> uid;
  std::optional<uint64_t> adr;
  std::optional<uint32_t> status;  // nullopt: a _STA method, and no kernel to ask
  std::string status_source;       // "default (no _STA)", "_STA (static)", "kernel: status", ...
  // The device's resources, each with its origin; the producer memory
  // windows of a bridge included (MemoryRange::producer).
  std::vector<DeviceMemory> memory;
  std::vector<DeviceIo> io;
  std::vector<DeviceInterrupt> interrupts;
  // Why the resources are not known, when they are not ("_CRS needs the
  // kernel: ...; offline"); empty otherwise.
  std::string resources_note;

  // Status known and present (bit 0); or unknown (offline): may be present.
  bool MayBePresent() const { return !status || (*status & kStaPresent) != 0; }
};

// The devices of `tables_view` (may be nullptr: the kernel's alone) merged
// with `kernel` (nullptr: offline), in namespace order; devices the kernel
// alone knows come after. The pointers point into the arguments.
std::vector<MergedDevice> MergeDevices(const Namespace* tables_view, const KernelView* kernel);

// The node id of `path`: "acpi/_SB_/PCI0".
std::string NodeIdOf(std::string_view path);

// The properties of `device`'s node.
Result<bus::Properties> PropertiesOf(const MergedDevice& device);

enum class AcpiRoute : uint8_t { DEVMEM, UIO };
std::string_view RouteName(AcpiRoute route);  // "devmem", "uio"

struct AcpiBusOptions {
  sysfs::LinuxPaths paths;
  AcpiRoute route = AcpiRoute::DEVMEM;
  // A directory of table files or an acpidump text dump to read instead
  // of this machine's tables (tables.h ReadTables); such a bus lists,
  // never opens.
  std::string tables;
  bus::Logger log;  // what Enumerate left out and why (may be empty)
};

class AcpiBus final : public bus::Bus {
 public:
  // Reads the tables, the namespace and (live) the kernel's view: NOT_FOUND
  // on a machine without ACPI; the table reader's errors offline.
  static Result<std::unique_ptr<AcpiBus>> Create(AcpiBusOptions options = {});

  AcpiBus(const AcpiBus&) = delete;
  AcpiBus& operator=(const AcpiBus&) = delete;

  std::string_view name() const override { return kBusName; }

  // What the bus merged, and how it read it.
  const std::vector<MergedDevice>& devices() const { return devices_; }
  const TableSet& tables() const { return tables_; }
  const Namespace& names() const { return namespace_; }
  const std::optional<KernelView>& kernel() const { return kernel_; }
  // The device at `path`; nullptr when there is none.
  const MergedDevice* Find(std::string_view path) const;

  Result<std::vector<bus::DeviceNode>> Enumerate() const override;
  // INVALID_ARGS for a node of another bus; NOT_FOUND when no device has
  // its path; BAD_STATE for a device that is not present (naming its
  // status and where it came from), or when the bus reads another
  // machine's tables. Over uio: NOT_SUPPORTED for a device the kernel made
  // no platform or amba device of, NOT_FOUND while the module is not
  // loaded, the route's errors otherwise with the node given back to its
  // driver.
  Result<std::unique_ptr<bus::BoundDevice>> Open(const bus::DeviceNode& node) override;

 private:
  // `have_tables`: false when the live tables could not be read (not
  // root); the kernel's view alone then describes the devices.
  AcpiBus(AcpiBusOptions options, TableSet tables, Namespace names, std::optional<KernelView> kernel,
          bool have_tables);

  AcpiBusOptions options_;
  TableSet tables_;
  Namespace namespace_;
  std::optional<KernelView> kernel_;
  std::vector<MergedDevice> devices_;  // points into namespace_ and kernel_
};

}  // namespace udrv::acpi
