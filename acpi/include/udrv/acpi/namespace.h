// The ACPI namespace's devices, read from the DSDT and every SSDT by udrv's
// own AML reader (aml.h says why udrv reads AML itself).
//
// For each Device(): its path and the objects a user and a bind rule need
// (_HID, _CID, _UID, _ADR, _STA, _CRS). An object is a Name() (STATIC), a
// Method the reader could evaluate without touching hardware (EVALUATED:
// it builds a buffer from a template, patches it with CreateDWordField /
// Store, branches on arguments and locals) or one it could not
// (NEEDS_KERNEL: it reads an OperationRegion, calls what the reader does
// not do; `detail` says what). The reader never guesses: NEEDS_KERNEL is
// completed from the kernel's view on a live machine (kernel_view.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udrv/acpi/resources.h"
#include "udrv/acpi/tables.h"
#include "udrv/core/result.h"

namespace udrv::acpi {

enum class ValueSource : uint8_t {
  ABSENT,        // the device has no such object
  STATIC,        // Name(_XXX, ...)
  EVALUATED,     // Method(_XXX) run by the reader, touching no hardware
  NEEDS_KERNEL,  // a Method the reader must not or cannot run: `detail` says why
  BROKEN,        // malformed AML or data: `detail` names the table and the offset
};
std::string_view ValueSourceName(ValueSource source);  // "absent", "static", ...

template <typename T>
struct AmlValue {
  ValueSource source = ValueSource::ABSENT;
  std::optional<T> value;  // for STATIC and EVALUATED
  std::string detail;
};

struct ResourceTemplate {
  std::vector<uint8_t> bytes;       // what _CRS gave, end tag included
  std::vector<Resource> resources;  // decoded
};

struct NamespaceDevice {
  // As Linux's /sys/bus/acpi/devices/*/path writes it: 4-character
  // segments with their padding, "\_SB_.PCI0.SF8_.COM1".
  std::string path;
  std::string table;    // the table that declared it: "DSDT", "SSDT1"
  uint32_t offset = 0;  // of its Device op in that table
  AmlValue<std::string> hid;               // EISA IDs decoded: "PNP0103"
  AmlValue<std::vector<std::string>> cid;  // one or a package of them
  AmlValue<std::string> uid;               // an integer _UID as decimal text, as Linux shows it
  AmlValue<uint64_t> adr;
  AmlValue<uint32_t> sta;                  // ABSENT means present and enabled (0x0F)
  AmlValue<ResourceTemplate> crs;          // a template that does not decode is BROKEN
};

struct Namespace {
  std::vector<NamespaceDevice> devices;  // in definition order, parents before children
  // What could not be read at all (a definition block whose AML breaks off),
  // naming table and offset; the devices before it are kept.
  std::vector<Error> problems;
};

// The namespace of the DSDT and the SSDTs of `tables`, in that order.
Namespace ReadNamespace(const TableSet& tables);

}  // namespace udrv::acpi
