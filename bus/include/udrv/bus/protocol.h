// The protocols a device speaks to its driver, as Fuchsia's
// device_get_protocol: a bus hands the driver a set of named protocol
// objects (PCI: a pci::Device, named "pci"), and the driver asks for the one
// it speaks by type. Each protocol type names itself once, where it is
// declared, with a ProtocolTraits specialisation:
//
//   template <>
//   struct udrv::bus::ProtocolTraits<udrv::pci::Device> {
//     static constexpr std::string_view kName = "pci";
//   };
//
// The set holds pointers the bus owns: they stay valid until the device is
// released. In-process a protocol is the bus's own object; in a driver host
// (the isolated way, to come) it is a proxy implementing the same interface
// over handles it was sent.
#pragma once

#include <any>
#include <string>
#include <string_view>
#include <vector>

#include "udrv/core/result.h"

namespace udrv::bus {

template <typename Protocol>
struct ProtocolTraits;  // static constexpr std::string_view kName

class ProtocolSet {
 public:
  // Offers `object` as its protocol, replacing an earlier one of that name.
  template <typename Protocol>
  void Add(Protocol* object) {
    const std::string_view name = ProtocolTraits<Protocol>::kName;
    for (Entry& entry : entries_) {
      if (entry.name == name) {
        entry.object = object;
        return;
      }
    }
    entries_.push_back(Entry{std::string(name), object});
  }

  // The object for Protocol. NOT_SUPPORTED naming the protocols the device
  // does offer when it lacks this one; WRONG_TYPE when the name is offered
  // by an object of another type.
  template <typename Protocol>
  Result<Protocol*> Get() const {
    const std::string_view name = ProtocolTraits<Protocol>::kName;
    for (const Entry& entry : entries_) {
      if (entry.name != name) continue;
      if (Protocol* const* object = std::any_cast<Protocol*>(&entry.object)) return *object;
      return Fail(Status::WRONG_TYPE,
                  "protocol '" + std::string(name) + "' is offered by an object of another type");
    }
    return Fail(Status::NOT_SUPPORTED,
                "the device offers no protocol '" + std::string(name) + "' (it offers: " +
                    Names() + ")");
  }

  // "pci, ..." or "none".
  std::string Names() const;

 private:
  struct Entry {
    std::string name;
    std::any object;  // Protocol*
  };
  std::vector<Entry> entries_;
};

}  // namespace udrv::bus
