#include "udrv/pci/names.h"

#include <csetjmp>
#include <cstdarg>
#include <cstdio>

extern "C" {
#include <pci/pci.h>
}

namespace udrv::pci {
namespace {

// libpci reports a malformed pci.ids through a callback that must not return
// (its default calls exit()). Ours jumps back to the guarded lookup instead,
// which then answers with numbers only and stops consulting the database.
thread_local std::jmp_buf* t_lookup_escape = nullptr;

// libpci's own spelling of noreturn: under clang it is part of the function
// pointer's type (pci_access::error), which [[noreturn]] is not.
PCI_NONRET void OnLibpciError(char* format, ...) {
  va_list args;
  va_start(args, format);
  std::fprintf(stderr, "udrv: pci.ids: ");
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::longjmp(*t_lookup_escape, 1);
}

void OnLibpciWarning(char*, ...) {}
void OnLibpciDebug(char*, ...) {}

// Kept apart from its caller so that no caller local lives across setjmp.
const char* GuardedLookup(pci_access* access, char* buffer, int size, int flags, int a, int b,
                          int c, bool& failed) {
  std::jmp_buf escape;
  t_lookup_escape = &escape;
  const char* name = nullptr;
  if (setjmp(escape) == 0) {
    name = pci_lookup_name(access, buffer, size, flags, a, b, c);
  } else {
    failed = true;
  }
  t_lookup_escape = nullptr;
  return name;
}

}  // namespace

struct Names::Access {
  pci_access* pacc = nullptr;
  bool broken = false;
  std::string ids_file;
  ~Access() {
    if (pacc) pci_cleanup(pacc);
  }

  // NO_NUMBERS: a name or empty. MIXED: name and numbers, lspci -nn style.
  std::string Lookup(int flags, int a, int b = 0, int c = 0) {
    return LookupRaw(flags | PCI_LOOKUP_NO_NUMBERS, a, b, c);
  }
  std::string LookupMixed(int flags, int a, int b = 0) {
    return LookupRaw(flags | PCI_LOOKUP_MIXED, a, b, 0);
  }

  std::string LookupRaw(int flags, int a, int b, int c) {
    if (broken) {
      if ((flags & PCI_LOOKUP_MIXED) == 0) return {};
      flags = (flags & ~PCI_LOOKUP_MIXED) | PCI_LOOKUP_NUMERIC;
    }
    char buffer[256];
    bool failed = false;
    const char* name = GuardedLookup(pacc, buffer, sizeof(buffer), flags, a, b, c, failed);
    if (failed) {
      broken = true;
      return LookupRaw(flags, a, b, c);
    }
    return name ? std::string(name) : std::string();
  }
};

Names::Names(std::unique_ptr<Access> access) : access_(std::move(access)) {}
Names::Names(Names&&) noexcept = default;
Names& Names::operator=(Names&&) noexcept = default;
Names::~Names() = default;

Result<Names> Names::Create(std::string ids_file) {
  auto access = std::make_unique<Access>();
  access->pacc = pci_alloc();
  if (access->pacc == nullptr) return Fail(Status::NO_MEMORY, "pci_alloc failed");
  access->pacc->error = OnLibpciError;
  access->pacc->warning = OnLibpciWarning;
  access->pacc->debug = OnLibpciDebug;  // pci_init would set these; names need no access method
  if (!ids_file.empty()) {
    access->ids_file = std::move(ids_file);
    pci_set_name_list_path(access->pacc, access->ids_file.data(), 0);
  }
  return Names(std::move(access));
}

std::string Names::Vendor(uint16_t vendor_id) const {
  return access_->Lookup(PCI_LOOKUP_VENDOR, vendor_id);
}

std::string Names::Device(uint16_t vendor_id, uint16_t device_id) const {
  return access_->Lookup(PCI_LOOKUP_DEVICE, vendor_id, device_id);
}

std::string Names::Class(uint8_t base_class, uint8_t sub_class) const {
  return access_->Lookup(PCI_LOOKUP_CLASS, (base_class << 8) | sub_class);
}

std::string Names::ProgIf(uint8_t base_class, uint8_t sub_class, uint8_t prog_if) const {
  return access_->Lookup(PCI_LOOKUP_PROGIF, (base_class << 8) | sub_class, prog_if);
}

std::string Names::ClassLabel(uint8_t base_class, uint8_t sub_class) const {
  return access_->LookupMixed(PCI_LOOKUP_CLASS, (base_class << 8) | sub_class);
}

std::string Names::DeviceLabel(uint16_t vendor_id, uint16_t device_id) const {
  return access_->LookupMixed(PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE, vendor_id, device_id);
}

}  // namespace udrv::pci
