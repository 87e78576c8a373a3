// `busctl read` and `busctl write` of a platform device: one register of a
// region of its `reg`, as the device tree translates it, through /dev/mem
// (mmio/devmem.h). The region's bounds and the alignment are checked
// from the tree before /dev/mem is opened; IO_STRICT_DEVMEM's refusal names
// the kernel driver that holds the device.
#include <cstdio>
#include <string>
#include <vector>

#include "output.h"
#include "platform/module.h"
#include "platform/view.h"
#include "privilege.h"
#include "register_io.h"
#include "udrv/core/text.h"
#include "udrv/platform/platform_bus.h"
#include "udrv/core/vmar.h"
#include "udrv/mmio/devmem.h"
#include "udrv/mmio/mmio_buffer.h"

namespace udrv::busctl {

namespace {

// One register access, checked against the tree.
struct PlatformAccess {
  std::string path;
  uint32_t region = 0;
  std::string region_name;  // its reg-names entry; "" when none
  uint64_t phys = 0;        // the region's CPU physical address
  uint64_t size = 0;        // the region's size
  uint64_t offset = 0;
  uint32_t width = 32;
  std::optional<platform::KernelDevice> kernel;
  std::vector<std::string> warnings;

  uint32_t bytes() const { return width / 8; }
};

std::string DescribeRegions(const platform::DtDevice& device) {
  if (device.regs.empty()) return "it has no `reg`";
  std::string text = "it has";
  for (const platform::RegEntry& reg : device.regs) {
    text += std::string(reg.index == 0 ? " " : ", ") + "region " + std::to_string(reg.index) +
            (reg.name.empty() ? "" : " \"" + reg.name + "\"") + " (" + Hex(reg.size) + " bytes)";
  }
  return text;
}

// "/pl031@9010000 region 0 offset 0xfe0 (32-bit, through devmem)"
std::string DescribeAccess(const PlatformAccess& access) {
  return access.path + " region " + std::to_string(access.region) + " offset " +
         Hex(access.offset) + " (" + std::to_string(access.width) + "-bit, through devmem)";
}

Result<PlatformAccess> PlanAccess(const GlobalOptions& options, std::string_view op,
                                  const RegisterArguments& arguments) {
  PlatformAccess access;
  access.path = NodePathOf(arguments.device);
  access.offset = arguments.offset;
  access.width = arguments.width;
  const std::string what = std::string(op) + " " +
                           (arguments.region ? "region " + *arguments.region : "region 0") +
                           " at " + Hex(access.offset) + " (" + std::to_string(access.width) +
                           "-bit)";
  auto view = ReadPlatformView(options);
  if (!view) return Wrap(view.error(), what);
  if (!*view) {
    return Fail(Status::NOT_FOUND,
                what + ": this machine has no device tree (no " + platform::LiveTreePath(options.paths()) + ")",
                access.path);
  }
  UDRV_TRY_ASSIGN(const PlatformEntry* entry, (*view)->Find(access.path));
  const platform::DtDevice& device = entry->device;
  access.kernel = entry->kernel;

  // REGION: an index of `reg`, or a name of `reg-names`.
  const platform::RegEntry* reg = nullptr;
  const std::string region = arguments.region.value_or("0");
  const std::optional<uint64_t> index = ParseNumber(region);
  for (const platform::RegEntry& candidate : device.regs) {
    if (index ? candidate.index == *index : candidate.name == region) reg = &candidate;
  }
  if (reg == nullptr) {
    return Fail(Status::NOT_FOUND,
                what + ": the node has no region " + (index ? region : "\"" + region + "\"") +
                    "; " + DescribeRegions(device),
                access.path);
  }
  access.region = reg->index;
  access.region_name = reg->name;
  access.size = reg->size;
  if (!device.enabled) {
    return Fail(Status::BAD_STATE, what + ": the node is disabled (status \"" + device.status + "\")",
                access.path);
  }
  if (!reg->phys) {
    return Fail(Status::NOT_SUPPORTED,
                what + ": region " + std::to_string(reg->index) +
                    " is not memory-mapped: " + reg->untranslated,
                access.path);
  }
  access.phys = *reg->phys;
  if (access.offset % access.bytes() != 0) {
    return Fail(Status::INVALID_ARGS,
                what + ": offset " + Hex(access.offset) +
                    " is not aligned to the access width (a " + std::to_string(access.width) +
                    "-bit access needs a multiple of " + std::to_string(access.bytes()) + ")",
                access.path);
  }
  if (access.offset >= reg->size || reg->size - access.offset < access.bytes()) {
    return Fail(Status::OUT_OF_RANGE,
                what + ": " + std::to_string(access.bytes()) + " bytes at " + Hex(access.offset) +
                    " are past the end of region " + std::to_string(reg->index) + " (size " +
                    Hex(reg->size) + ")",
                access.path);
  }
  if (access.kernel && access.kernel->driver) {
    access.warnings.push_back("kernel driver " + *access.kernel->driver +
                              " holds the device and may use the register too (busctl unbind " +
                              access.path + ")");
  }
  return access;
}

// The register mapped. Members go in reverse order: the mapping before the
// region it maps.
struct MappedRegister {
  Vmar vmar;
  mmio::MmioBuffer buffer;
};

Result<MappedRegister> MapRegister(const GlobalOptions& options, std::string_view op,
                                   const PlatformAccess& access) {
  const std::string what = std::string(op) + " " + DescribeAccess(access);
  std::optional<mmio::RegionHolder> kernel;
  if (access.kernel) {
    kernel = mmio::RegionHolder{access.kernel->bus + " device " + access.kernel->name,
                                access.kernel->driver};
  }
  const mmio::RegionHolder* holder = kernel ? &*kernel : nullptr;
  auto mmio =
      udrv::mmio::OpenDevmemRegion(options.paths(), access.phys, access.size, access.path, holder);
  if (!mmio) {
    Error error = mmio.error();
    if (error.status == Status::ACCESS_DENIED && holder != nullptr && holder->driver) {
      error.what += " (busctl unbind " + access.path + ")";
    } else if (error.err_no == EACCES && !IsRoot()) {
      error.what = std::string(op) + " needs root: /dev/mem is root's (" + error.what + ")";
    }
    return Wrap(error, what);
  }
  auto vmar = Vmar::Create(PageSize(), "busctl " + std::string(op));
  if (!vmar) return Wrap(vmar.error(), what);
  auto buffer = mmio::MmioBuffer::Create(*vmar, mmio->offset + access.offset, access.bytes(),
                                         std::move(mmio->vmo), CachePolicy::UNCACHED_DEVICE);
  if (!buffer) return Wrap(buffer.error(), what);
  return MappedRegister{std::move(*vmar), std::move(*buffer)};
}

Json AccessToJson(std::string_view command, const PlatformAccess& access, uint64_t value) {
  Json document = NewDocument(command);
  document["path"] = access.path;
  document["region"] = access.region;
  document["region_name"] = access.region_name.empty() ? Json() : Json(access.region_name);
  document["phys"] = access.phys + access.offset;
  document["offset"] = access.offset;
  document["width"] = access.width;
  document["route"] = "devmem";
  document["value"] = value;
  document["value_hex"] = FormatRegisterValue(value, access.width);
  SetWarnings(document, access.warnings);
  return document;
}

}  // namespace

int RunPlatformRead(const GlobalOptions& options, const RegisterArguments& arguments) {
  if (auto live = RequireLiveMachine(options, "read"); !live) {
    return ReportError(options, "read", live.error());
  }
  auto access = PlanAccess(options, "read", arguments);
  if (!access) return ReportError(options, "read", access.error());
  auto mapped = MapRegister(options, "read", *access);
  if (!mapped) return ReportError(options, "read", mapped.error());
  const uint64_t value = ReadRegister(mapped->buffer, access->width);
  if (options.json) {
    PrintDocument(AccessToJson("read", *access, value));
  } else {
    PrintWarnings("read", access->warnings);
    std::printf("%s %s\n", FormatRegisterValue(value, access->width).c_str(),
                Printable(DescribeAccess(*access)).c_str());
  }
  return kExitOk;
}

int RunPlatformWrite(const GlobalOptions& options, const WriteArguments& arguments) {
  if (!arguments.dry_run) {
    if (auto live = RequireLiveMachine(options, "write"); !live) {
      return ReportError(options, "write", live.error());
    }
    auto root = RequireRoot("write", "it maps the region through /dev/mem, which is root's "
                                     "(--dry-run works without root)");
    if (!root) return ReportError(options, "write", root.error());
  }
  auto access = PlanAccess(options, "write", arguments.target);
  if (!access) return ReportError(options, "write", access.error());
  const std::string shown = FormatRegisterValue(arguments.value, access->width);
  Json document = AccessToJson("write", *access, arguments.value);
  document["dry_run"] = arguments.dry_run;
  if (arguments.dry_run) {
    document["written"] = false;
    if (options.json) {
      PrintDocument(document);
    } else {
      PrintWarnings("write", access->warnings);
      std::printf("dry run: would write %s to %s; nothing written\n", shown.c_str(),
                  Printable(DescribeAccess(*access)).c_str());
    }
    return kExitOk;
  }
  if (!arguments.yes) {
    auto confirmed = ConfirmWrite("write " + shown + " to " + Printable(DescribeAccess(*access)));
    if (!confirmed) return ReportError(options, "write", confirmed.error());
  }
  auto mapped = MapRegister(options, "write", *access);
  if (!mapped) return ReportError(options, "write", mapped.error());
  WriteRegister(mapped->buffer, access->width, arguments.value);
  document["written"] = true;
  if (options.json) {
    PrintDocument(document);
  } else {
    PrintWarnings("write", access->warnings);
    std::printf("wrote %s to %s\n", shown.c_str(), Printable(DescribeAccess(*access)).c_str());
  }
  return kExitOk;
}

}  // namespace udrv::busctl
