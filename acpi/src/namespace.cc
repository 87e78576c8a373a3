// The namespace's devices and their identifying objects (namespace.h),
// read through the AML reader and the resource decoder.
#include "udrv/acpi/namespace.h"

#include "udrv/acpi/aml.h"

namespace udrv::acpi {
namespace {

template <typename T, typename Convert>
AmlValue<T> Read(AmlNamespace& aml, const std::string& device, std::string_view name, Convert convert) {
  AmlValue<T> out;
  const std::string path = device + "." + std::string(name);
  const auto kind = aml.KindOf(path);
  if (!kind) return out;
  auto value = aml.Evaluate(path);
  if (!value) {
    out.source = value.error().status == Status::NOT_SUPPORTED ? ValueSource::NEEDS_KERNEL : ValueSource::BROKEN;
    out.detail = value.error().what;
    return out;
  }
  Result<T> converted = convert(*value, path);
  if (!converted) {
    out.source = ValueSource::BROKEN;
    out.detail = converted.error().what;
    return out;
  }
  out.source = *kind == AmlObjectKind::METHOD ? ValueSource::EVALUATED : ValueSource::STATIC;
  out.value = std::move(*converted);
  return out;
}

std::unexpected<Error> WrongType(const std::string& path, std::string_view want) {
  return Fail(Status::IO_INVALID, path + " is not " + std::string(want), path);
}

Result<std::string> Id(const AmlData& data, const std::string& path) {
  if (data.type == AmlData::Type::INTEGER) return DecodeEisaId(static_cast<uint32_t>(data.integer));
  if (data.type == AmlData::Type::STRING) return data.string;
  return WrongType(path, "an EISA ID or a string");
}

Result<uint64_t> Integer(const AmlData& data, const std::string& path) {
  if (data.type != AmlData::Type::INTEGER) return WrongType(path, "an integer");
  return data.integer;
}

}  // namespace

std::string_view ValueSourceName(ValueSource source) {
  switch (source) {
    case ValueSource::ABSENT: return "absent";
    case ValueSource::STATIC: return "static";
    case ValueSource::EVALUATED: return "evaluated";
    case ValueSource::NEEDS_KERNEL: return "needs-kernel";
    case ValueSource::BROKEN: return "broken";
  }
  return "unknown";
}

Namespace ReadNamespace(const TableSet& tables) {
  AmlNamespace aml = AmlNamespace::Load(tables);
  Namespace out;
  out.problems = aml.problems();
  // Copied: evaluating methods may define and drop names, not devices.
  const std::vector<AmlNamespace::DeviceEntry> entries = aml.devices();
  for (const auto& entry : entries) {
    NamespaceDevice device;
    device.path = entry.path;
    device.table = entry.table;
    device.offset = entry.offset;
    device.hid = Read<std::string>(aml, entry.path, "_HID", Id);
    device.cid = Read<std::vector<std::string>>(
        aml, entry.path, "_CID", [](const AmlData& data, const std::string& path) -> Result<std::vector<std::string>> {
          if (data.type != AmlData::Type::PACKAGE) {
            UDRV_TRY_ASSIGN(std::string id, Id(data, path));
            return std::vector<std::string>{id};
          }
          std::vector<std::string> ids;
          for (const AmlData& element : data.package) {
            UDRV_TRY_ASSIGN(std::string id, Id(element, path));
            ids.push_back(std::move(id));
          }
          return ids;
        });
    // Linux shows an integer _UID in decimal (ACPICA's _UID conversion).
    device.uid = Read<std::string>(aml, entry.path, "_UID", [](const AmlData& data, const std::string& path) -> Result<std::string> {
      if (data.type == AmlData::Type::INTEGER) return std::to_string(data.integer);
      if (data.type == AmlData::Type::STRING) return data.string;
      return WrongType(path, "an integer or a string");
    });
    device.adr = Read<uint64_t>(aml, entry.path, "_ADR", Integer);
    device.sta = Read<uint32_t>(aml, entry.path, "_STA", [](const AmlData& data, const std::string& path) -> Result<uint32_t> {
      UDRV_TRY_ASSIGN(uint64_t n, Integer(data, path));
      return static_cast<uint32_t>(n);
    });
    device.crs = Read<ResourceTemplate>(aml, entry.path, "_CRS", [](const AmlData& data, const std::string& path) -> Result<ResourceTemplate> {
      if (data.type != AmlData::Type::BUFFER) return WrongType(path, "a buffer");
      ResourceTemplate crs;
      crs.bytes = data.buffer;
      UDRV_TRY_ASSIGN(crs.resources, DecodeResourceTemplate(crs.bytes, path));
      return crs;
    });
    out.devices.push_back(std::move(device));
  }
  return out;
}

}  // namespace udrv::acpi
