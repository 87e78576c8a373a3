// `busctl list`: one line per PCI function, in `lspci -Dnn`'s format so the
// two can be compared line by line, plus the bound kernel driver.
#include <cstdio>

#include "commands.h"
#include "udrv/pci/names.h"
#include "udrv/pci/sysfs.h"

namespace udrv::busctl {

int RunList(const GlobalOptions& options) {
  pci::SysfsPci sysfs(options.sysfs_root);
  auto addresses = sysfs.List();
  if (!addresses) {
    std::fprintf(stderr, "busctl list: %s\n", addresses.error().ToString().c_str());
    return 1;
  }
  auto names = pci::Names::Create(options.pci_ids);
  if (!names) {
    std::fprintf(stderr, "busctl list: %s\n", names.error().ToString().c_str());
    return 1;
  }
  int status = 0;
  for (const pci::Address& address : *addresses) {
    auto info = sysfs.Read(address);
    if (!info) {
      // A device can vanish between the listing and the read (hot unplug).
      std::fprintf(stderr, "busctl list: %s: %s\n", address.ToString().c_str(),
                   info.error().ToString().c_str());
      status = 1;
      continue;
    }
    std::string line = address.ToString() + " " +
                       names->ClassLabel(info->base_class(), info->sub_class()) + ": " +
                       names->DeviceLabel(info->vendor_id, info->device_id);
    if (info->revision != 0) {
      char revision[16];
      std::snprintf(revision, sizeof(revision), " (rev %02x)", info->revision);
      line += revision;
    }
    if (info->driver) line += " driver=" + *info->driver;
    std::printf("%s\n", line.c_str());
  }
  return status;
}

}  // namespace udrv::busctl
