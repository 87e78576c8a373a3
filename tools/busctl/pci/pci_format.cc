#include "pci_format.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "output.h"
#include "udrv/core/text.h"
#include "udrv/sysfs/file.h"

namespace udrv::busctl {

std::string HexId(uint64_t value, int digits) {
  char text[24];
  std::snprintf(text, sizeof(text), "%0*llx", digits, static_cast<unsigned long long>(value));
  return text;
}

std::string SummaryLine(const pci::DeviceInfo& info, const pci::Names& names, bool numeric) {
  std::string line = info.address.ToString() + " ";
  if (numeric) {
    line += HexId(info.class_code >> 8, 4) + ": " + HexId(info.vendor_id, 4) + ":" +
            HexId(info.device_id, 4);
  } else {
    line += Printable(names.ClassLabel(info.base_class(), info.sub_class())) + ": " +
            Printable(names.DeviceLabel(info.vendor_id, info.device_id));
  }
  if (info.revision != 0) line += " (rev " + HexId(info.revision, 2) + ")";
  return line;
}

Json NameOrNull(std::string name) { return name.empty() ? Json() : Json(std::move(name)); }

void SetIdentity(Json& object, const pci::DeviceInfo& info, const pci::Names& names) {
  object["address"] = info.address.ToString();
  object["vendor_id"] = HexId(info.vendor_id, 4);
  object["device_id"] = HexId(info.device_id, 4);
  object["subsystem_vendor_id"] = HexId(info.subsystem_vendor_id, 4);
  object["subsystem_id"] = HexId(info.subsystem_id, 4);
  object["vendor"] = NameOrNull(names.Vendor(info.vendor_id));
  object["device"] = NameOrNull(names.Device(info.vendor_id, info.device_id));
  object["subsystem_vendor"] = NameOrNull(names.Vendor(info.subsystem_vendor_id));
  object["class"] = HexId(info.class_code >> 8, 4);
  object["prog_if"] = HexId(info.prog_if(), 2);
  object["class_name"] = NameOrNull(names.Class(info.base_class(), info.sub_class()));
  object["prog_if_name"] = NameOrNull(names.ProgIf(info.base_class(), info.sub_class(), info.prog_if()));
  object["revision"] = HexId(info.revision, 2);
}

Json FunctionToJson(const pci::DeviceInfo& info, const pci::Names& names) {
  Json object = Json::object();
  object["bus"] = pci::kBusName;
  SetIdentity(object, info, names);
  object["driver"] = info.driver ? Json(*info.driver) : Json();
  object["iommu_group"] = info.iommu_group ? Json(*info.iommu_group) : Json();
  object["iommu_group_error"] = info.iommu_group_error ? ErrorToJson(*info.iommu_group_error) : Json();
  object["numa_node"] = info.numa_node >= 0 ? Json(info.numa_node) : Json();
  object["parent"] = info.parent_bridge ? Json(info.parent_bridge->ToString()) : Json();
  return object;
}

std::optional<std::string> ReadOptionalAttribute(const std::string& path, Skipped& skipped) {
  auto text = sysfs::ReadAttribute(path);
  if (!text) {
    if (text.error().err_no != ENOENT) skipped.Add(path, text.error().ToString());
    return std::nullopt;
  }
  if (text->empty()) return std::nullopt;
  return std::move(*text);
}

Result<pci::ConfigSpace> ReadConfigNoting(const pci::SysfsPci& sysfs, const pci::Address& address,
                                          Skipped& skipped) {
  auto config = sysfs.ReadConfig(address);
  if (!config) return config;
  struct stat st{};
  const std::string path = sysfs.DevicePath(address) + "/config";
  if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) > config->size()) {
    skipped.Add("config space 0x" + HexId(config->size(), 2) + "-0x" +
                    HexId(static_cast<uint64_t>(st.st_size) - 1, 2) + " of " + address.ToString() +
                    " (and the capabilities there)",
                kConfigNeedsRoot);
  }
  return config;
}

Result<pci::DeviceInfo> ReadDevice(const GlobalOptions& options, const pci::Address& address) {
  auto info = pci::SysfsPci(options.paths()).Read(address);
  if (!info && info.error().status == Status::IO_NOT_PRESENT) {
    return Fail(Status::NOT_FOUND,
                "no such PCI function in " + options.sysfs_root + "/bus/pci/devices",
                address.ToString());
  }
  return info;
}

}  // namespace udrv::busctl
