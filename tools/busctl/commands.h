// busctl's subcommands; each returns the process exit status.
#pragma once

#include <string>

namespace udrv::busctl {

struct GlobalOptions {
  std::string sysfs_root = "/sys";
  std::string pci_ids;  // empty: libpci's default database
};

int RunList(const GlobalOptions& options);

}  // namespace udrv::busctl
