// Config space: the bounds-checked snapshot, both capability walks on
// well-formed and hostile lists, and every decoder on capabilities laid out
// as the PCI, PCIe and VirtIO specifications place their fields.
#include <catch2/catch.hpp>
#include <random>

#include "config_builder.h"
#include "result_helpers.h"
#include "udrv/pci/config.h"

using udrv::Status;
using udrv::pci::Capability;
using udrv::pci::ConfigSpace;
using udrv::pci::testing::ConfigBuilder;
using udrv::testing::StatusOf;
namespace pci = udrv::pci;

TEST_CASE("config space: reads are little endian and bounded", "[pci][config]") {
  ConfigBuilder builder(64);
  builder.Set32(0x10, 0xfebc0004);
  const ConfigSpace config = builder.Build("0000:00:02.0 config");
  CHECK(config.size() == 64);
  CHECK(*config.Read16(pci::kConfigVendorId) == 0x8086);
  CHECK(*config.Read16(pci::kConfigDeviceId) == 0x10d3);
  CHECK(*config.Read32(0x10) == 0xfebc0004);
  CHECK(*config.Read8(0x13) == 0xfe);
  CHECK(*config.Read16(0x12) == 0xfebc);
  CHECK(*config.Read32(60) == 0);

  auto past = config.Read32(62);
  REQUIRE_FALSE(past);
  CHECK(past.error().status == Status::OUT_OF_RANGE);
  CHECK_THAT(past.error().what, Catch::Contains("0x3e") && Catch::Contains("64 bytes"));
  CHECK(past.error().object == "0000:00:02.0 config");
  CHECK(StatusOf(config.Read8(64)) == "OUT_OF_RANGE");
  CHECK(StatusOf(ConfigSpace().Read8(0)) == "OUT_OF_RANGE");
}

TEST_CASE("config space: bytes past 4 KiB are no registers", "[pci][config]") {
  // 64 KiB + 2: with 16-bit offsets the last bytes would alias offset 0.
  std::vector<uint8_t> bytes(0x10002, 0);
  bytes[0x10000] = 0xaa;
  const ConfigSpace config(std::move(bytes), "big");
  CHECK(config.size() == pci::kExtendedConfigSize);
  CHECK(*config.Read8(0) == 0);
  CHECK(StatusOf(config.Read8(0x1000)) == "OUT_OF_RANGE");
}

TEST_CASE("config space: the standard capability list in order", "[pci][config]") {
  ConfigBuilder builder;
  builder.AddCap(0xc8, pci::kCapPowerManagement)
      .AddCap(0xd0, pci::kCapMsi)
      .AddCap(0xe0, pci::kCapPciExpress)
      .AddCap(0xa0, pci::kCapMsix)
      .AddCap(0x40, 0x13);
  auto caps = pci::ListCapabilities(builder.Build());
  REQUIRE_OK(caps);
  REQUIRE(caps->size() == 5);
  const uint16_t offsets[] = {0xc8, 0xd0, 0xe0, 0xa0, 0x40};
  const uint16_t ids[] = {0x01, 0x05, 0x10, 0x11, 0x13};
  for (size_t i = 0; i < 5; ++i) {
    CHECK((*caps)[i].offset == offsets[i]);
    CHECK((*caps)[i].id == ids[i]);
    CHECK_FALSE((*caps)[i].extended);
  }
  CHECK(pci::CapabilityName((*caps)[0]) == "Power Management");
  CHECK(pci::CapabilityName((*caps)[3]) == "MSI-X");
  CHECK(pci::CapabilityName((*caps)[4]) == "PCI Advanced Features");
  CHECK(pci::CapabilityName(Capability{.id = 0x3a}) == "capability 0x3a");
  CHECK(pci::CapabilityName(Capability{.id = 0x1, .extended = true}) == "Advanced Error Reporting");
  CHECK(pci::CapabilityName(Capability{.id = 0x99, .extended = true}) ==
        "extended capability 0x0099");

  auto msi = pci::FindCapability(builder.Build(), pci::kCapMsi);
  REQUIRE_OK(msi);
  REQUIRE(*msi);
  CHECK((*msi)->offset == 0xd0);
  auto vendor = pci::FindCapability(builder.Build(), pci::kCapVendorSpecific);
  REQUIRE_OK(vendor);
  CHECK_FALSE(*vendor);
}

TEST_CASE("config space: list edge cases that are not errors", "[pci][config]") {
  SECTION("no capabilities bit: an empty list, whatever the pointer says") {
    ConfigBuilder builder;
    builder.Set8(pci::kConfigCapabilitiesPointer, 0x40);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_OK(caps);
    CHECK(caps->empty());
  }
  SECTION("a list bit with a null pointer: empty") {
    ConfigBuilder builder;
    builder.Set16(pci::kConfigStatus, pci::kStatusCapabilitiesList);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_OK(caps);
    CHECK(caps->empty());
  }
  SECTION("the reserved low bits of pointers are ignored") {
    ConfigBuilder builder;
    builder.AddCap(0x40, pci::kCapPowerManagement).AddCap(0x50, pci::kCapMsi);
    builder.Set8(pci::kConfigCapabilitiesPointer, 0x43).Set8(0x41, 0x52);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_OK(caps);
    REQUIRE(caps->size() == 2);
    CHECK((*caps)[0].offset == 0x40);
    CHECK((*caps)[1].offset == 0x50);
  }
  SECTION("a CardBus bridge keeps its pointer at 0x14") {
    ConfigBuilder builder;
    builder.Set8(pci::kConfigHeaderType, 0x02).AddCap(0x80, pci::kCapPowerManagement);
    builder.Set8(pci::kConfigCapabilitiesPointer, 0).Set8(0x14, 0x80);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_OK(caps);
    REQUIRE(caps->size() == 1);
    CHECK((*caps)[0].offset == 0x80);
  }
  SECTION("a 256-byte capture has no extended list") {
    ConfigBuilder builder;
    auto caps = pci::ListExtendedCapabilities(builder.Build());
    REQUIRE_OK(caps);
    CHECK(caps->empty());
  }
}

TEST_CASE("config space: hostile standard lists give errors, never hangs", "[pci][config]") {
  SECTION("a pointer into the header") {
    ConfigBuilder builder;
    builder.Set16(pci::kConfigStatus, pci::kStatusCapabilitiesList)
        .Set8(pci::kConfigCapabilitiesPointer, 0x20);
    auto caps = pci::ListCapabilities(builder.Build("0000:03:00.0 config"));
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::IO_INVALID);
    CHECK_THAT(caps.error().what, Catch::Contains("0x20") && Catch::Contains("header"));
    CHECK(caps.error().object == "0000:03:00.0 config");
  }
  SECTION("a next pointer into the header") {
    ConfigBuilder builder;
    builder.AddCap(0x40, pci::kCapPowerManagement).Set8(0x41, 0x3c);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::IO_INVALID);
    CHECK_THAT(caps.error().what, Catch::Contains("0x41") && Catch::Contains("0x3c"));
  }
  SECTION("two capabilities pointing at each other") {
    ConfigBuilder builder;
    builder.AddCap(0x40, pci::kCapPowerManagement).AddCap(0x50, pci::kCapMsi).Set8(0x51, 0x40);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::IO_INVALID);
    CHECK_THAT(caps.error().what, Catch::Contains("loops") && Catch::Contains("0x40"));
  }
  SECTION("a capability pointing at itself") {
    ConfigBuilder builder;
    builder.AddCap(0x60, pci::kCapMsi).Set8(0x61, 0x60);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::IO_INVALID);
    CHECK_THAT(caps.error().what, Catch::Contains("loops"));
  }
  SECTION("a capability with ID 0xff: a broken chain") {
    ConfigBuilder builder;
    builder.AddCap(0x40, pci::kCapPowerManagement).AddCap(0x48, 0xff);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::IO_INVALID);
    CHECK_THAT(caps.error().what, Catch::Contains("0x48"));
  }
  SECTION("a 64-byte capture (what an unprivileged reader gets): past the end") {
    ConfigBuilder builder(64);
    builder.Set16(pci::kConfigStatus, pci::kStatusCapabilitiesList)
        .Set8(pci::kConfigCapabilitiesPointer, 0x40);
    auto caps = pci::ListCapabilities(builder.Build());
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::OUT_OF_RANGE);
    CHECK_THAT(caps.error().what, Catch::Contains("0x40") && Catch::Contains("64 bytes"));
  }
  SECTION("less than a header") {
    ConfigBuilder builder(32);
    CHECK(StatusOf(pci::ListCapabilities(builder.Build())) == "IO_INVALID");
    CHECK(StatusOf(pci::ListExtendedCapabilities(builder.Build())) == "IO_INVALID");
    CHECK(StatusOf(pci::ListCapabilities(ConfigSpace())) == "IO_INVALID");
  }
  SECTION("all ones: the device is gone") {
    const ConfigSpace config(std::vector<uint8_t>(4096, 0xff), "0000:00:02.0 config");
    auto caps = pci::ListCapabilities(config);
    REQUIRE_FALSE(caps);
    CHECK(caps.error().status == Status::IO_NOT_PRESENT);
    CHECK_THAT(caps.error().what, Catch::Contains("all ones"));
    CHECK(StatusOf(pci::ListExtendedCapabilities(config)) == "IO_NOT_PRESENT");
    CHECK(StatusOf(pci::FindCapability(config, pci::kCapMsix)) == "IO_NOT_PRESENT");
  }
}

TEST_CASE("config space: the extended capability list", "[pci][config]") {
  ConfigBuilder builder(4096);
  builder.AddExtCap(0x100, pci::kExtCapAer, 2)
      .AddExtCap(0x148, pci::kExtCapAcs, 1)
      .AddExtCap(0x160, pci::kExtCapSriov, 1)
      .AddExtCap(0xffc, 0x0003, 1);
  auto caps = pci::ListExtendedCapabilities(builder.Build());
  REQUIRE_OK(caps);
  REQUIRE(caps->size() == 4);
  CHECK((*caps)[0].offset == 0x100);
  CHECK((*caps)[0].id == pci::kExtCapAer);
  CHECK((*caps)[0].version == 2);
  CHECK((*caps)[0].extended);
  CHECK((*caps)[1].offset == 0x148);
  CHECK((*caps)[2].id == pci::kExtCapSriov);
  CHECK((*caps)[3].offset == 0xffc);
  CHECK(pci::CapabilityName((*caps)[3]) == "Device Serial Number");

  auto sriov = pci::FindCapability(builder.Build(), pci::kExtCapSriov, true);
  REQUIRE_OK(sriov);
  REQUIRE(*sriov);
  CHECK((*sriov)->offset == 0x160);

  SECTION("no extended capabilities: a zero or all-ones header at 0x100") {
    ConfigBuilder empty(4096);
    CHECK(pci::ListExtendedCapabilities(empty.Build())->empty());
    empty.Set32(0x100, 0xffffffff);
    CHECK(pci::ListExtendedCapabilities(empty.Build())->empty());
  }
  SECTION("a list that loops") {
    builder.Set32(0xffc, 0x0003 | 1u << 16 | 0x148u << 20);
    auto looped = pci::ListExtendedCapabilities(builder.Build());
    REQUIRE_FALSE(looped);
    CHECK(looped.error().status == Status::IO_INVALID);
    CHECK_THAT(looped.error().what, Catch::Contains("loops") && Catch::Contains("0x148"));
  }
  SECTION("a capability pointing at itself") {
    ConfigBuilder self(4096);
    self.Set32(0x100, pci::kExtCapAer | 1u << 16 | 0x100u << 20);
    CHECK(StatusOf(pci::ListExtendedCapabilities(self.Build())) == "IO_INVALID");
  }
  SECTION("a next pointer below 0x100") {
    builder.Set32(0x148, pci::kExtCapAcs | 1u << 16 | 0x0c0u << 20);
    auto low = pci::ListExtendedCapabilities(builder.Build());
    REQUIRE_FALSE(low);
    CHECK(low.error().status == Status::IO_INVALID);
    CHECK_THAT(low.error().what, Catch::Contains("below 0x100") && Catch::Contains("0xc0"));
  }
  SECTION("a next pointer past a short capture") {
    std::vector<uint8_t> bytes = builder.bytes;
    bytes.resize(0x150);
    auto past = pci::ListExtendedCapabilities(ConfigSpace(bytes, "short"));
    REQUIRE_FALSE(past);
    CHECK(past.error().status == Status::OUT_OF_RANGE);
    CHECK_THAT(past.error().what, Catch::Contains("0x160"));
  }
}

TEST_CASE("config space: walks over random bytes always end", "[pci][config]") {
  std::mt19937 random(20261122);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> bytes(round % 3 == 0 ? 256 : 4096);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(random));
    bytes[pci::kConfigStatus] |= pci::kStatusCapabilitiesList;
    // Pointers with a fair chance of landing on other pointers: a dense web of links.
    if (round % 2 == 0) {
      for (size_t offset = 0x40; offset < 0x100; offset += 4) {
        bytes[offset + 1] = static_cast<uint8_t>(0x40 + (byte(random) % 48) * 4);
      }
    }
    const ConfigSpace config(bytes, "random");
    auto caps = pci::ListCapabilities(config);
    if (caps) CHECK(caps->size() <= 48);
    auto extended = pci::ListExtendedCapabilities(config);
    if (extended) CHECK(extended->size() <= 960);
    for (const Capability& cap : caps.value_or(std::vector<Capability>{})) {
      // Decoders on garbage: an answer or an error, nothing else.
      (void)pci::DecodeMsi(config, cap);
      (void)pci::DecodeMsix(config, cap);
      (void)pci::DecodePciExpress(config, cap);
      (void)pci::DecodePowerManagement(config, cap);
      (void)pci::DecodeVirtio(config, cap);
    }
  }
}

TEST_CASE("config space: Power Management", "[pci][config]") {
  ConfigBuilder builder;
  builder.AddCap(0x40, pci::kCapPowerManagement)
      .Set16(0x42, 0x3 | 1u << 9 | 0x19u << 11)  // version 3, D1, PME from D0, D3hot, D3cold
      .Set16(0x44, 0x3 | 1u << 3);               // D3hot, No_Soft_Reset
  auto pm = pci::DecodePowerManagement(builder.Build(), {.id = 0x01, .offset = 0x40});
  REQUIRE_OK(pm);
  CHECK(pm->version == 3);
  CHECK(pm->d1_support);
  CHECK_FALSE(pm->d2_support);
  CHECK(pm->pme_support == 0x19);
  CHECK(pm->power_state == 3);
  CHECK(pm->no_soft_reset);
}

TEST_CASE("config space: MSI, 32- and 64-bit", "[pci][config]") {
  SECTION("32-bit, 4 vectors capable, 2 enabled") {
    ConfigBuilder builder;
    builder.AddCap(0x50, pci::kCapMsi).Set16(0x52, 0x1 | 2u << 1 | 1u << 4);
    auto msi = pci::DecodeMsi(builder.Build(), {.id = 0x05, .offset = 0x50});
    REQUIRE_OK(msi);
    CHECK(msi->enabled);
    CHECK_FALSE(msi->is_64bit);
    CHECK_FALSE(msi->per_vector_masking);
    CHECK(msi->vectors_capable == 4);
    CHECK(msi->vectors_enabled == 2);
  }
  SECTION("64-bit with per-vector masking, 32 vectors") {
    ConfigBuilder builder;
    builder.AddCap(0x50, pci::kCapMsi).Set16(0x52, 5u << 1 | 1u << 7 | 1u << 8);
    auto msi = pci::DecodeMsi(builder.Build(), {.id = 0x05, .offset = 0x50});
    REQUIRE_OK(msi);
    CHECK_FALSE(msi->enabled);
    CHECK(msi->is_64bit);
    CHECK(msi->per_vector_masking);
    CHECK(msi->vectors_capable == 32);
    CHECK(msi->vectors_enabled == 1);
  }
  SECTION("a 64-bit masked layout that runs off the end") {
    ConfigBuilder builder;
    builder.AddCap(0xf0, pci::kCapMsi).Set16(0xf2, 1u << 7 | 1u << 8);
    auto msi = pci::DecodeMsi(builder.Build(), {.id = 0x05, .offset = 0xf0});
    REQUIRE_FALSE(msi);
    CHECK(msi.error().status == Status::OUT_OF_RANGE);
    CHECK_THAT(msi.error().what, Catch::Contains("24 bytes"));
  }
  SECTION("a reserved vector count") {
    ConfigBuilder builder;
    builder.AddCap(0x50, pci::kCapMsi).Set16(0x52, 7u << 1);
    CHECK(StatusOf(pci::DecodeMsi(builder.Build(), {.id = 0x05, .offset = 0x50})) == "IO_INVALID");
  }
}

TEST_CASE("config space: MSI-X table and PBA", "[pci][config]") {
  ConfigBuilder builder;
  builder.AddCap(0x70, pci::kCapMsix)
      .Set16(0x72, 0x3f | 1u << 14 | 1u << 15)
      .Set32(0x74, 0x2000 | 2)
      .Set32(0x78, 0x3000 | 4);
  auto msix = pci::DecodeMsix(builder.Build(), {.id = 0x11, .offset = 0x70});
  REQUIRE_OK(msix);
  CHECK(msix->enabled);
  CHECK(msix->function_mask);
  CHECK(msix->table_size == 64);
  CHECK(msix->table_bar == 2);
  CHECK(msix->table_offset == 0x2000);
  CHECK(msix->pba_bar == 4);
  CHECK(msix->pba_offset == 0x3000);

  builder.Set32(0x74, 0x2000 | 7);
  auto bad = pci::DecodeMsix(builder.Build(), {.id = 0x11, .offset = 0x70});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().status == Status::IO_INVALID);
  CHECK_THAT(bad.error().what, Catch::Contains("table BAR 7"));
}

TEST_CASE("config space: PCI Express device and link", "[pci][config]") {
  ConfigBuilder builder;
  builder.AddCap(0x80, pci::kCapPciExpress)
      .Set16(0x82, 0x2 | 0u << 4)              // v2 endpoint
      .Set32(0x84, 0x1 | 1u << 28)             // 256-byte payload supported, FLR
      .Set16(0x88, 0u << 5 | 2u << 12)         // payload 128, read request 512
      .Set32(0x8c, 0x3 | 4u << 4)              // 8 GT/s x4
      .Set16(0x92, 0x2 | 1u << 4);             // trained at 5 GT/s x1
  auto pcie = pci::DecodePciExpress(builder.Build(), {.id = 0x10, .offset = 0x80});
  REQUIRE_OK(pcie);
  CHECK(pcie->version == 2);
  CHECK(pcie->port_type == 0);
  CHECK(pcie->max_payload_supported == 256);
  CHECK(pcie->max_payload == 128);
  CHECK(pcie->max_read_request == 512);
  CHECK(pcie->flr_capable);
  CHECK(pcie->has_link);
  CHECK(pcie->link_speed_max == 3);
  CHECK(pcie->link_width_max == 4);
  CHECK(pcie->link_speed == 2);
  CHECK(pcie->link_width == 1);

  SECTION("a root complex integrated endpoint has no link") {
    builder.Set16(0x82, 0x2 | 9u << 4);
    auto integrated = pci::DecodePciExpress(builder.Build(), {.id = 0x10, .offset = 0x80});
    REQUIRE_OK(integrated);
    CHECK_FALSE(integrated->has_link);
    CHECK(integrated->link_width == 0);
  }
  SECTION("a reserved payload encoding") {
    builder.Set32(0x84, 0x7);
    auto bad = pci::DecodePciExpress(builder.Build(), {.id = 0x10, .offset = 0x80});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().status == Status::IO_INVALID);
    CHECK_THAT(bad.error().what, Catch::Contains("max payload supported"));
  }
  SECTION("link registers past the end") {
    ConfigBuilder tail;
    tail.AddCap(0xf0, pci::kCapPciExpress);
    CHECK(StatusOf(pci::DecodePciExpress(tail.Build(), {.id = 0x10, .offset = 0xf0})) ==
          "OUT_OF_RANGE");
  }
}

TEST_CASE("config space: VirtIO vendor capabilities", "[pci][config]") {
  ConfigBuilder builder(256, 0x1af4, 0x1041);
  builder.AddCap(0x40, pci::kCapVendorSpecific)
      .Set8(0x42, 16).Set8(0x43, 1).Set8(0x44, 4).Set32(0x48, 0x0).Set32(0x4c, 0x1000)
      .AddCap(0x54, pci::kCapVendorSpecific)
      .Set8(0x56, 20).Set8(0x57, 2).Set8(0x58, 4).Set32(0x5c, 0x3000).Set32(0x60, 0x1000)
      .Set32(0x64, 4);
  const ConfigSpace config = builder.Build();
  auto common = pci::DecodeVirtio(config, {.id = 0x09, .offset = 0x40});
  REQUIRE_OK(common);
  CHECK(common->cfg_type == 1);
  CHECK(common->bar == 4);
  CHECK(common->offset == 0);
  CHECK(common->length == 0x1000);
  CHECK_FALSE(common->notify_off_multiplier);
  auto notify = pci::DecodeVirtio(config, {.id = 0x09, .offset = 0x54});
  REQUIRE_OK(notify);
  CHECK(notify->cfg_type == 2);
  CHECK(notify->offset == 0x3000);
  REQUIRE(notify->notify_off_multiplier);
  CHECK(*notify->notify_off_multiplier == 4);

  SECTION("another vendor's capability 0x09 is not VirtIO's") {
    builder.Set16(pci::kConfigVendorId, 0x8086);
    auto other = pci::DecodeVirtio(builder.Build(), {.id = 0x09, .offset = 0x40});
    REQUIRE_FALSE(other);
    CHECK(other.error().status == Status::WRONG_TYPE);
    CHECK_THAT(other.error().what, Catch::Contains("no VirtIO device"));
  }
  SECTION("a capability too short for its layout") {
    builder.Set8(0x42, 12);
    CHECK(StatusOf(pci::DecodeVirtio(builder.Build(), {.id = 0x09, .offset = 0x40})) ==
          "IO_INVALID");
    builder.Set8(0x56, 16);
    CHECK(StatusOf(pci::DecodeVirtio(builder.Build(), {.id = 0x09, .offset = 0x54})) ==
          "IO_INVALID");
  }
}

TEST_CASE("config space: SR-IOV, AER and ACS", "[pci][config]") {
  ConfigBuilder builder(4096);
  builder.AddExtCap(0x100, pci::kExtCapAer, 2)
      .Set32(0x104, 0x00100000)  // uncorrectable: unsupported request
      .Set32(0x108, 0x00400000)
      .Set32(0x10c, 0x00462030)
      .Set32(0x110, 0x00000001)  // correctable: receiver error
      .Set32(0x114, 0x00002000)
      .AddExtCap(0x148, pci::kExtCapAcs, 1)
      .Set16(0x14c, 0x005f)
      .Set16(0x14e, 0x001d)
      .AddExtCap(0x160, pci::kExtCapSriov, 1)
      .Set16(0x168, 0x0001)  // VF enable
      .Set16(0x16c, 64)      // initial VFs
      .Set16(0x16e, 64)      // total VFs
      .Set16(0x170, 8)       // num VFs
      .Set16(0x174, 0x80)    // first VF offset
      .Set16(0x176, 2)       // stride
      .Set16(0x17a, 0x1515);
  const ConfigSpace config = builder.Build();
  auto caps = pci::ListExtendedCapabilities(config);
  REQUIRE_OK(caps);
  REQUIRE(caps->size() == 3);

  auto aer = pci::DecodeAer(config, (*caps)[0]);
  REQUIRE_OK(aer);
  CHECK(aer->uncorrectable_status == 0x00100000);
  CHECK(aer->uncorrectable_mask == 0x00400000);
  CHECK(aer->uncorrectable_severity == 0x00462030);
  CHECK(aer->correctable_status == 1);
  CHECK(aer->correctable_mask == 0x2000);

  auto acs = pci::DecodeAcs(config, (*caps)[1]);
  REQUIRE_OK(acs);
  CHECK(acs->capability == 0x005f);
  CHECK(acs->control == 0x001d);

  auto sriov = pci::DecodeSriov(config, (*caps)[2]);
  REQUIRE_OK(sriov);
  CHECK(sriov->vf_enable);
  CHECK(sriov->initial_vfs == 64);
  CHECK(sriov->total_vfs == 64);
  CHECK(sriov->num_vfs == 8);
  CHECK(sriov->first_vf_offset == 0x80);
  CHECK(sriov->vf_stride == 2);
  CHECK(sriov->vf_device_id == 0x1515);

  SECTION("an SR-IOV capability cut off by the end of the space") {
    auto cut = pci::DecodeSriov(config, {.id = 0x10, .offset = 0xfe0, .extended = true});
    REQUIRE_FALSE(cut);
    CHECK(cut.error().status == Status::OUT_OF_RANGE);
  }
}

TEST_CASE("config space: a decoder given another capability is WRONG_TYPE", "[pci][config]") {
  ConfigBuilder builder(4096);
  builder.AddCap(0x40, pci::kCapPowerManagement).AddExtCap(0x100, pci::kExtCapAer, 1);
  const ConfigSpace config = builder.Build();
  const Capability pm{.id = 0x01, .offset = 0x40};
  auto msi = pci::DecodeMsi(config, pm);
  REQUIRE_FALSE(msi);
  CHECK(msi.error().status == Status::WRONG_TYPE);
  CHECK_THAT(msi.error().what, Catch::Contains("Power Management"));
  CHECK(StatusOf(pci::DecodeMsix(config, pm)) == "WRONG_TYPE");
  CHECK(StatusOf(pci::DecodePciExpress(config, pm)) == "WRONG_TYPE");
  CHECK(StatusOf(pci::DecodeVirtio(config, pm)) == "WRONG_TYPE");
  CHECK(StatusOf(pci::DecodeAcs(config, {.id = 0x01, .offset = 0x100, .extended = true})) ==
        "WRONG_TYPE");
  // The same number in the other list is another capability: 0x10 standard
  // is PCIe, extended is SR-IOV.
  CHECK(StatusOf(pci::DecodeSriov(config, {.id = 0x10, .offset = 0x40})) == "WRONG_TYPE");
  CHECK(StatusOf(pci::DecodeAer(config, {.id = 0x01, .offset = 0x40})) == "WRONG_TYPE");
}
