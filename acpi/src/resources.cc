// Resource templates (ACPI 6.5 §6.4), decoded as ACPICA's resource walk
// (utresrc.c) accepts them and printed as its disassembler (dmresrc*.c)
// prints them, so that `iasl -d` is the oracle descriptor by descriptor.
//
// What ACPICA accepts, and so this decoder: small descriptors of the fixed
// types must have their exact length (IRQ 2 or 3, StartDependentFn 0 or 1,
// VendorShort any); large ones at least their minimum; the walk ends at the
// first end tag and the bytes after it are not read (ACPICA ignores them
// too); a template without an end tag is an error. Unlike ACPICA, which
// refuses a large type past its table, an unknown large descriptor is kept
// as OTHER_LARGE: its length says where the next one starts.
#include "udrv/acpi/resources.h"

#include <cstdio>
#include <utility>

namespace udrv::acpi {
namespace {

// Little-endian reads inside a bounds-checked descriptor.
uint16_t Le16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}
uint32_t Le32(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint32_t>(Le16(b, at)) | (static_cast<uint32_t>(Le16(b, at + 2)) << 16);
}
uint64_t Le64(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint64_t>(Le32(b, at)) | (static_cast<uint64_t>(Le32(b, at + 4)) << 32);
}

std::string HexDigits(uint64_t value, int digits) {
  char text[24];
  std::snprintf(text, sizeof(text), "0x%0*llX", digits, static_cast<unsigned long long>(value));
  return text;
}

std::string Quoted(const std::string& path) {
  // iasl escapes the backslash of a root path: "\\_SB.PCI0".
  std::string out = "\"";
  for (char c : path) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ByteList(std::span<const uint8_t> bytes) {
  std::string out = "{";
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) out += ", ";
    out += HexDigits(bytes[i], 2);
  }
  return out + "}";
}

template <size_t N>
std::string Pick(const char* const (&names)[N], unsigned index) {
  return index < N ? names[index] : HexDigits(index, 2);
}

const char* const kConsume[] = {"ResourceProducer", "ResourceConsumer"};
const char* const kDecode[] = {"PosDecode", "SubDecode"};
const char* const kMin[] = {"MinNotFixed", "MinFixed"};
const char* const kMax[] = {"MaxNotFixed", "MaxFixed"};
const char* const kMem[] = {"NonCacheable", "Cacheable", "WriteCombining", "Prefetchable"};
const char* const kReadWrite[] = {"ReadOnly", "ReadWrite"};
const char* const kMemType[] = {"AddressRangeMemory", "AddressRangeReserved",
                                "AddressRangeACPI", "AddressRangeNVS"};
const char* const kTranslationType[] = {"TypeStatic", "TypeTranslation"};
const char* const kTranslationSparse[] = {"DenseTranslation", "SparseTranslation"};
const char* const kRanges[] = {"InvalidRanges", "NonISAOnlyRanges", "ISAOnlyRanges",
                               "EntireRange"};
const char* const kEdge[] = {"Level", "Edge"};
const char* const kActive[] = {"ActiveHigh", "ActiveLow"};
const char* const kGpioActive[] = {"ActiveHigh", "ActiveLow", "ActiveBoth"};
const char* const kShare[] = {"Exclusive", "Shared", "ExclusiveAndWake", "SharedAndWake"};
const char* const kShareShort[] = {"Exclusive", "Shared"};
const char* const kDmaSpeed[] = {"Compatibility", "TypeA", "TypeB", "TypeF"};
const char* const kBusMaster[] = {"NotBusMaster", "BusMaster"};
const char* const kTransfer[] = {"Transfer8", "Transfer8_16", "Transfer16", "InvalidSize"};
const char* const kIoDecode[] = {"Decode10", "Decode16"};
const char* const kWidth[] = {"Width8bit",  "Width16bit",  "Width32bit",
                              "Width64bit", "Width128bit", "Width256bit"};
const char* const kSpaces[] = {"SystemMemory", "SystemIO",         "PCI_Config",
                               "EmbeddedControl", "SMBus",         "SystemCMOS",
                               "PCIBARTarget",    "IPMI",          "GeneralPurposeIo",
                               "GenericSerialBus", "PCC",          "PlatformRtMechanism"};
const char* const kPinConfig[] = {"PullDefault", "PullUp", "PullDown", "PullNone"};
const char* const kIoRestriction[] = {"IoRestrictionNone", "IoRestrictionInputOnly",
                                      "IoRestrictionOutputOnly",
                                      "IoRestrictionNoneAndPreserve"};
const char* const kSlave[] = {"ControllerInitiated", "DeviceInitiated"};
const char* const kAddressing[] = {"AddressingMode7Bit", "AddressingMode10Bit"};
const char* const kWireMode[] = {"FourWireMode", "ThreeWireMode"};
const char* const kDevicePolarity[] = {"PolarityLow", "PolarityHigh"};
const char* const kClockPhase[] = {"ClockPhaseFirst", "ClockPhaseSecond"};
const char* const kClockPolarity[] = {"ClockPolarityLow", "ClockPolarityHigh"};
const char* const kDataBits[] = {"DataBitsFive", "DataBitsSix", "DataBitsSeven",
                                 "DataBitsEight", "DataBitsNine"};
const char* const kStopBits[] = {"StopBitsZero", "StopBitsOne", "StopBitsOnePlusHalf",
                                 "StopBitsTwo"};
const char* const kEndian[] = {"LittleEndian", "BigEndian"};
const char* const kParity[] = {"ParityTypeNone", "ParityTypeEven", "ParityTypeOdd",
                               "ParityTypeMark", "ParityTypeSpace"};
const char* const kFlow[] = {"FlowControlNone", "FlowControlHardware", "FlowControlXON"};

std::string SpaceName(uint8_t space) {
  if (space < std::size(kSpaces)) return kSpaces[space];
  if (space == 0x7F) return "FFixedHW";
  return HexDigits(space, 2);
}

// One descriptor being decoded: its bytes (tag included) and what becomes
// the Resource.
class Descriptor {
 public:
  Descriptor(std::span<const uint8_t> bytes, uint32_t offset, std::string_view object)
      : bytes_(bytes), object_(object) {
    resource_.offset = offset;
    resource_.length = static_cast<uint32_t>(bytes.size());
  }
  // A named argument of the macro, in iasl's order.
  void Arg(std::string name, std::string value) {
    resource_.fields.emplace_back(std::move(name), std::move(value));
  }
  std::unexpected<Error> Bad(const std::string& why) const {
    return Fail(Status::IO_INVALID,
                "resource template: " + resource_.macro + " descriptor at byte " +
                    std::to_string(resource_.offset) + ": " + why,
                std::string(object_));
  }
  std::span<const uint8_t> bytes_;
  std::string_view object_;
  Resource resource_;
};

// The optional resource source of an address or interrupt descriptor:
// `at` is where it starts, if the descriptor goes on.
ResourceSource ReadSource(std::span<const uint8_t> b, size_t at) {
  ResourceSource source;
  if (at >= b.size()) return source;
  source.index = b[at];
  for (size_t i = at + 1; i < b.size() && b[i] != 0; ++i) source.path += static_cast<char>(b[i]);
  return source;
}
void SourceArgs(Descriptor& d, const ResourceSource& source) {
  d.Arg("ResourceSourceIndex", source.index ? HexDigits(*source.index, 2) : "");
  d.Arg("ResourceSource", source.path.empty() ? "" : Quoted(source.path));
}
// A string at a 16-bit offset from the descriptor's start (GPIO, serial bus).
std::string StringAt(std::span<const uint8_t> b, size_t at) {
  std::string out;
  for (size_t i = at; i < b.size() && b[i] != 0; ++i) out += static_cast<char>(b[i]);
  return out;
}
std::string RawData(std::span<const uint8_t> data) {
  if (data.empty()) return "";
  return "RawDataBuffer (" + HexDigits(data.size(), 2) + ") " + ByteList(data);
}

Result<void> DecodeAddress(Descriptor& d, int width) {
  auto b = d.bytes_;
  const size_t fixed = width == 2 ? 16 : width == 4 ? 26 : width == 8 ? 46 : 56;
  if (b.size() < fixed) return d.Bad("length " + std::to_string(b.size()) + " below its " + std::to_string(fixed));
  AddressResource a;
  a.resource_type = b[3];
  const uint8_t flags = b[4];
  a.producer = !(flags & 1);
  a.subtractive = flags & 2;
  a.min_fixed = flags & 4;
  a.max_fixed = flags & 8;
  a.type_flags = b[5];
  size_t at = width == 0 ? 8 : 6;
  const int step = width == 0 ? 8 : width;
  auto next = [&] {
    uint64_t v = step == 2 ? Le16(b, at) : step == 4 ? Le32(b, at) : Le64(b, at);
    at += static_cast<size_t>(step);
    return v;
  };
  a.granularity = next();
  a.minimum = next();
  a.maximum = next();
  a.translation = next();
  a.length = next();
  if (width == 0) {
    a.type_attributes = next();
  } else {
    a.source = ReadSource(b, at);
  }
  const char* prefix = width == 2 ? "Word" : width == 4 ? "DWord" : width == 8 ? "QWord" : "Extended";
  const int digits = step * 2;
  const uint8_t t = a.resource_type;
  if (t > 2 && t < 0xC0) return d.Bad("resource type " + HexDigits(t, 2) + " is reserved");
  const uint8_t s = a.type_flags;
  if (t == 0) {
    d.resource_.macro = std::string(prefix) + "Memory";
    d.Arg("ResourceUsage", kConsume[flags & 1]);
    d.Arg("Decode", kDecode[(flags >> 1) & 1]);
    d.Arg("IsMinFixed", kMin[(flags >> 2) & 1]);
    d.Arg("IsMaxFixed", kMax[(flags >> 3) & 1]);
    d.Arg("Cacheable", kMem[(s >> 1) & 3]);
    d.Arg("ReadAndWrite", kReadWrite[s & 1]);
  } else if (t == 1) {
    d.resource_.macro = std::string(prefix) + "IO";
    d.Arg("ResourceUsage", kConsume[flags & 1]);
    d.Arg("IsMinFixed", kMin[(flags >> 2) & 1]);
    d.Arg("IsMaxFixed", kMax[(flags >> 3) & 1]);
    d.Arg("Decode", kDecode[(flags >> 1) & 1]);
    d.Arg("ISARanges", kRanges[s & 3]);
  } else if (t == 2) {
    d.resource_.macro = std::string(prefix) + "BusNumber";
    d.Arg("ResourceUsage", kConsume[flags & 1]);
    d.Arg("IsMinFixed", kMin[(flags >> 2) & 1]);
    d.Arg("IsMaxFixed", kMax[(flags >> 3) & 1]);
    d.Arg("Decode", kDecode[(flags >> 1) & 1]);
  } else {
    d.resource_.macro = std::string(prefix) + "Space";
    d.Arg("ResourceType", HexDigits(t, 2));
    d.Arg("ResourceUsage", kConsume[flags & 1]);
    d.Arg("Decode", kDecode[(flags >> 1) & 1]);
    d.Arg("IsMinFixed", kMin[(flags >> 2) & 1]);
    d.Arg("IsMaxFixed", kMax[(flags >> 3) & 1]);
    d.Arg("TypeSpecificFlags", HexDigits(s, 2));
  }
  d.Arg("AddressGranularity", HexDigits(a.granularity, digits));
  d.Arg("AddressMinimum", HexDigits(a.minimum, digits));
  d.Arg("AddressMaximum", HexDigits(a.maximum, digits));
  d.Arg("AddressTranslation", HexDigits(a.translation, digits));
  d.Arg("RangeLength", HexDigits(a.length, digits));
  if (width == 0) {
    d.Arg("TypeSpecificAttributes", HexDigits(a.type_attributes, digits));
  } else {
    SourceArgs(d, a.source);
  }
  d.Arg("DescriptorName", "");
  if (t == 0) {
    d.Arg("MemoryRangeType", kMemType[(s >> 3) & 3]);
    d.Arg("TranslationType", kTranslationType[(s >> 5) & 1]);
  } else if (t == 1) {
    d.Arg("TranslationType", kTranslationType[(s >> 4) & 1]);
    d.Arg("TranslationDensity", kTranslationSparse[(s >> 5) & 1]);
  }
  d.resource_.kind = width == 2   ? ResourceKind::ADDRESS16
                     : width == 4 ? ResourceKind::ADDRESS32
                     : width == 8 ? ResourceKind::ADDRESS64
                                  : ResourceKind::EXTENDED_ADDRESS;
  d.resource_.payload = std::move(a);
  return {};
}

Result<void> DecodeGpio(Descriptor& d) {
  auto b = d.bytes_;
  if (b.size() < 23) return d.Bad("length " + std::to_string(b.size()) + " below its 23");
  GpioResource g;
  const uint8_t connection = b[4];
  if (connection > 1) return d.Bad("connection type " + std::to_string(connection) + " is reserved");
  g.interrupt = connection == 0;
  g.producer = !(Le16(b, 5) & 1);
  g.flags = Le16(b, 7);
  g.pin_config = b[9];
  g.drive_strength = Le16(b, 10);
  g.debounce = Le16(b, 12);
  const size_t pins_at = Le16(b, 14);
  const size_t source_at = Le16(b, 17);
  const size_t vendor_at = Le16(b, 19);
  const size_t vendor_length = Le16(b, 21);
  if (pins_at > source_at || source_at > b.size())
    return d.Bad("pin table " + std::to_string(pins_at) + ".." + std::to_string(source_at) +
                 " outside its " + std::to_string(b.size()) + " bytes");
  if (vendor_length && vendor_at + vendor_length > b.size())
    return d.Bad("vendor data at " + std::to_string(vendor_at) + " overruns its " +
                 std::to_string(b.size()) + " bytes");
  for (size_t at = pins_at; at + 1 < source_at; at += 2) g.pins.push_back(Le16(b, at));
  g.source.index = b[16];
  g.source.path = StringAt(b.first(vendor_length ? vendor_at : b.size()), source_at);
  if (vendor_length) g.vendor_data.assign(b.begin() + vendor_at, b.begin() + vendor_at + vendor_length);
  const std::string pin_config = g.pin_config < 4 ? kPinConfig[g.pin_config] : HexDigits(g.pin_config, 2);
  if (g.interrupt) {
    d.resource_.kind = ResourceKind::GPIO_INT;
    d.resource_.macro = "GpioInt";
    d.Arg("EdgeLevel", kEdge[g.flags & 1]);
    d.Arg("ActiveLevel", Pick(kGpioActive, (g.flags >> 1) & 3));
    d.Arg("Shared", kShare[(g.flags >> 3) & 3]);
    d.Arg("PinConfig", pin_config);
    d.Arg("DebounceTimeout", HexDigits(g.debounce, 4));
  } else {
    d.resource_.kind = ResourceKind::GPIO_IO;
    d.resource_.macro = "GpioIo";
    d.Arg("Shared", kShare[(g.flags >> 3) & 3]);
    d.Arg("PinConfig", pin_config);
    d.Arg("DebounceTimeout", HexDigits(g.debounce, 4));
    d.Arg("DriveStrength", HexDigits(g.drive_strength, 4));
    d.Arg("IORestriction", kIoRestriction[g.flags & 3]);
  }
  d.Arg("ResourceSource", Quoted(g.source.path));
  d.Arg("ResourceSourceIndex", HexDigits(b[16], 2));
  d.Arg("ResourceUsage", kConsume[Le16(b, 5) & 1]);
  d.Arg("DescriptorName", "");
  d.Arg("VendorData", RawData(g.vendor_data));
  std::string pins = "{";
  for (size_t i = 0; i < g.pins.size(); ++i) pins += (i ? ", " : "") + HexDigits(g.pins[i], 4);
  d.Arg("Pins", pins + "}");
  d.resource_.payload = std::move(g);
  return {};
}

Result<void> DecodeSerialBus(Descriptor& d) {
  auto b = d.bytes_;
  if (b.size() < 12) return d.Bad("length " + std::to_string(b.size()) + " below its 12");
  SerialBusResource s;
  s.bus_type = b[5];
  const uint8_t general = b[6];
  s.device_initiated = general & 1;
  s.producer = !(general & 2);
  s.shared = general & 4;
  s.type_flags = Le16(b, 7);
  const size_t data_length = Le16(b, 10);
  const size_t data_end = 12 + data_length;
  if (data_end > b.size())
    return d.Bad("type data of " + std::to_string(data_length) + " bytes overruns its " +
                 std::to_string(b.size()));
  const size_t minimum = s.bus_type == 1 ? 6 : s.bus_type == 2 ? 9 : 10;
  if (data_length < minimum)
    return d.Bad("type data of " + std::to_string(data_length) + " bytes below its " +
                 std::to_string(minimum));
  s.vendor_data.assign(b.begin() + static_cast<std::ptrdiff_t>(12 + minimum),
                       b.begin() + static_cast<std::ptrdiff_t>(data_end));
  s.source.index = b[4];
  s.source.path = StringAt(b, data_end);
  const std::string source = Quoted(s.source.path);
  if (s.bus_type == 1) {
    d.resource_.kind = ResourceKind::I2C_SERIAL_BUS;
    d.resource_.macro = "I2cSerialBusV2";
    s.speed = Le32(b, 12);
    s.address = Le16(b, 16);
    d.Arg("SlaveAddress", HexDigits(s.address, 4));
    d.Arg("SlaveMode", kSlave[s.device_initiated]);
    d.Arg("ConnectionSpeed", HexDigits(s.speed, 8));
    d.Arg("AddressingMode", kAddressing[s.type_flags & 1]);
  } else if (s.bus_type == 2) {
    d.resource_.kind = ResourceKind::SPI_SERIAL_BUS;
    d.resource_.macro = "SpiSerialBusV2";
    s.speed = Le32(b, 12);
    s.data_bits = b[16];
    s.phase = b[17];
    s.polarity = b[18];
    s.address = Le16(b, 19);
    d.Arg("DeviceSelection", HexDigits(s.address, 4));
    d.Arg("DeviceSelectionPolarity", kDevicePolarity[(s.type_flags >> 1) & 1]);
    d.Arg("WireMode", kWireMode[s.type_flags & 1]);
    d.Arg("DataBitLength", HexDigits(s.data_bits, 2));
    d.Arg("SlaveMode", kSlave[s.device_initiated]);
    d.Arg("ConnectionSpeed", HexDigits(s.speed, 8));
    d.Arg("ClockPolarity", Pick(kClockPolarity, s.polarity));
    d.Arg("ClockPhase", Pick(kClockPhase, s.phase));
  } else {
    d.resource_.kind = ResourceKind::UART_SERIAL_BUS;
    d.resource_.macro = "UartSerialBusV2";
    s.speed = Le32(b, 12);
    s.rx_fifo = Le16(b, 16);
    s.tx_fifo = Le16(b, 18);
    s.parity = b[20];
    s.lines = b[21];
    d.Arg("InitialBaudRate", HexDigits(s.speed, 8));
    d.Arg("BitsPerByte", Pick(kDataBits, (s.type_flags >> 4) & 7));
    d.Arg("StopBits", kStopBits[(s.type_flags >> 2) & 3]);
    d.Arg("LinesInUse", HexDigits(s.lines, 2));
    d.Arg("IsBigEndian", kEndian[(s.type_flags >> 7) & 1]);
    d.Arg("Parity", Pick(kParity, s.parity));
    d.Arg("FlowControl", Pick(kFlow, s.type_flags & 3));
    d.Arg("ReceiveBufferSize", HexDigits(s.rx_fifo, 4));
    d.Arg("TransmitBufferSize", HexDigits(s.tx_fifo, 4));
  }
  d.Arg("ResourceSource", source);
  d.Arg("ResourceSourceIndex", HexDigits(b[4], 2));
  d.Arg("ResourceUsage", kConsume[!s.producer]);
  d.Arg("DescriptorName", "");
  d.Arg("Shared", kShareShort[s.shared]);
  d.Arg("VendorData", RawData(s.vendor_data));
  d.resource_.payload = std::move(s);
  return {};
}

std::string IrqList(uint16_t mask) {
  std::string out = "{";
  bool first = true;
  for (unsigned irq = 0; irq < 16; ++irq) {
    if (!(mask & (1u << irq))) continue;
    if (!first) out += ",";
    out += std::to_string(irq);
    first = false;
  }
  return out + "}";
}

// A small descriptor: type in bits 3-6, length in bits 0-2.
Result<void> DecodeSmall(Descriptor& d, uint8_t type) {
  auto b = d.bytes_;
  const size_t length = b.size() - 1;
  auto exact = [&](std::string macro, ResourceKind kind, size_t want) -> Result<void> {
    d.resource_.macro = std::move(macro);
    d.resource_.kind = kind;
    if (length != want)
      return d.Bad("length " + std::to_string(length) + ", its type has " + std::to_string(want));
    return {};
  };
  switch (type) {
    case 0x4: {
      d.resource_.macro = length == 3 ? "IRQ" : "IRQNoFlags";
      d.resource_.kind = ResourceKind::IRQ;
      if (length != 2 && length != 3) return d.Bad("length " + std::to_string(length) + ", IRQ has 2 or 3");
      IrqResource irq;
      irq.mask = Le16(b, 1);
      if (length == 3) {
        const uint8_t flags = b[3];
        irq.has_flags = true;
        irq.edge = flags & 1;
        irq.active_low = flags & 8;
        irq.shared = flags & 0x10;
        irq.wake = flags & 0x20;
        d.Arg("EdgeLevel", kEdge[flags & 1]);
        d.Arg("ActiveLevel", kActive[(flags >> 3) & 1]);
        d.Arg("Shared", kShare[(flags >> 4) & 3]);
      }
      d.Arg("DescriptorName", "");
      d.Arg("Interrupts", IrqList(irq.mask));
      d.resource_.payload = irq;
      return {};
    }
    case 0x5: {
      UDRV_TRY(exact("DMA", ResourceKind::DMA, 2));
      DmaResource dma{b[1], static_cast<uint8_t>((b[2] >> 5) & 3), (b[2] & 4) != 0,
                      static_cast<uint8_t>(b[2] & 3)};
      d.Arg("DmaType", kDmaSpeed[dma.speed]);
      d.Arg("IsBusMaster", kBusMaster[dma.bus_master]);
      d.Arg("DmaTransferSize", kTransfer[dma.transfer]);
      d.Arg("DescriptorName", "");
      d.Arg("Channels", IrqList(dma.channel_mask));
      d.resource_.payload = dma;
      return {};
    }
    case 0x6: {
      d.resource_.kind = ResourceKind::START_DEPENDENT;
      d.resource_.macro = length == 1 ? "StartDependentFn" : "StartDependentFnNoPri";
      if (length > 1) return d.Bad("length " + std::to_string(length) + ", StartDependentFn has 0 or 1");
      StartDependentResource start;
      if (length == 1) {
        start = {true, static_cast<uint8_t>(b[1] & 3), static_cast<uint8_t>((b[1] >> 2) & 3)};
        d.Arg("CompatibilityPriority", HexDigits(start.compatibility, 2));
        d.Arg("PerformanceRobustness", HexDigits(start.performance, 2));
      }
      d.resource_.payload = start;
      return {};
    }
    case 0x7:
      UDRV_TRY(exact("EndDependentFn", ResourceKind::END_DEPENDENT, 0));
      d.resource_.payload = EndDependentResource{};
      return {};
    case 0x8: {
      UDRV_TRY(exact("IO", ResourceKind::IO, 7));
      IoResource io{(b[1] & 1) != 0, Le16(b, 2), Le16(b, 4), b[6], b[7]};
      d.Arg("Decode", kIoDecode[io.decode16]);
      d.Arg("AddressMinimum", HexDigits(io.minimum, 4));
      d.Arg("AddressMaximum", HexDigits(io.maximum, 4));
      d.Arg("AddressAlignment", HexDigits(io.alignment, 2));
      d.Arg("RangeLength", HexDigits(io.length, 2));
      d.Arg("DescriptorName", "");
      d.resource_.payload = io;
      return {};
    }
    case 0x9: {
      UDRV_TRY(exact("FixedIO", ResourceKind::FIXED_IO, 3));
      FixedIoResource io{Le16(b, 1), b[3]};
      d.Arg("AddressBase", HexDigits(io.address, 4));
      d.Arg("RangeLength", HexDigits(io.length, 2));
      d.Arg("DescriptorName", "");
      d.resource_.payload = io;
      return {};
    }
    case 0xA: {
      UDRV_TRY(exact("FixedDMA", ResourceKind::FIXED_DMA, 5));
      FixedDmaResource dma{Le16(b, 1), Le16(b, 3), b[5]};
      d.Arg("DmaRequestLine", HexDigits(dma.request_line, 4));
      d.Arg("Channel", HexDigits(dma.channel, 4));
      d.Arg("DmaTransferWidth", Pick(kWidth, dma.width));
      d.Arg("DescriptorName", "");
      d.resource_.payload = dma;
      return {};
    }
    case 0xE: {
      d.resource_.macro = "VendorShort";
      d.resource_.kind = ResourceKind::VENDOR_SHORT;
      VendorResource vendor{std::vector<uint8_t>(b.begin() + 1, b.end())};
      d.Arg("DescriptorName", "");
      d.Arg("Data", ByteList(vendor.data));
      d.resource_.payload = std::move(vendor);
      return {};
    }
    default:
      d.resource_.macro = "small type " + HexDigits(type, 2);
      return d.Bad("the small resource type " + HexDigits(type, 2) + " is reserved");
  }
}

Result<void> DecodeLarge(Descriptor& d, uint8_t type) {
  auto b = d.bytes_;
  auto exact = [&](std::string macro, ResourceKind kind, size_t want) -> Result<void> {
    d.resource_.macro = std::move(macro);
    d.resource_.kind = kind;
    if (b.size() - 3 != want)
      return d.Bad("length " + std::to_string(b.size() - 3) + ", its type has " + std::to_string(want));
    return {};
  };
  switch (type) {
    case 0x01: {
      UDRV_TRY(exact("Memory24", ResourceKind::MEMORY24, 9));
      Memory24Resource m{(b[3] & 1) != 0, Le16(b, 4), Le16(b, 6), Le16(b, 8), Le16(b, 10)};
      d.Arg("ReadAndWrite", kReadWrite[m.writable]);
      d.Arg("AddressMinimum", HexDigits(m.minimum, 4));
      d.Arg("AddressMaximum", HexDigits(m.maximum, 4));
      d.Arg("AddressAlignment", HexDigits(m.alignment, 4));
      d.Arg("RangeLength", HexDigits(m.length, 4));
      d.Arg("DescriptorName", "");
      d.resource_.payload = m;
      return {};
    }
    case 0x02: {
      UDRV_TRY(exact("Register", ResourceKind::GENERIC_REGISTER, 12));
      GenericRegisterResource r{b[3], b[4], b[5], b[6], Le64(b, 7)};
      d.Arg("AddressSpaceKeyword", SpaceName(r.space));
      d.Arg("RegisterBitWidth", HexDigits(r.bit_width, 2));
      d.Arg("RegisterBitOffset", HexDigits(r.bit_offset, 2));
      d.Arg("RegisterAddress", HexDigits(r.address, 16));
      d.Arg("AccessSize", r.access_size ? HexDigits(r.access_size, 2) : "");
      d.Arg("DescriptorName", "");
      d.resource_.payload = r;
      return {};
    }
    case 0x04: {
      d.resource_.macro = "VendorLong";
      d.resource_.kind = ResourceKind::VENDOR_LONG;
      VendorResource vendor{std::vector<uint8_t>(b.begin() + 3, b.end())};
      d.Arg("DescriptorName", "");
      d.Arg("Data", ByteList(vendor.data));
      d.resource_.payload = std::move(vendor);
      return {};
    }
    case 0x05: {
      UDRV_TRY(exact("Memory32", ResourceKind::MEMORY32, 17));
      Memory32Resource m{(b[3] & 1) != 0, Le32(b, 4), Le32(b, 8), Le32(b, 12), Le32(b, 16)};
      d.Arg("ReadAndWrite", kReadWrite[m.writable]);
      d.Arg("AddressMinimum", HexDigits(m.minimum, 8));
      d.Arg("AddressMaximum", HexDigits(m.maximum, 8));
      d.Arg("AddressAlignment", HexDigits(m.alignment, 8));
      d.Arg("RangeLength", HexDigits(m.length, 8));
      d.Arg("DescriptorName", "");
      d.resource_.payload = m;
      return {};
    }
    case 0x06: {
      UDRV_TRY(exact("Memory32Fixed", ResourceKind::FIXED_MEMORY32, 9));
      FixedMemory32Resource m{(b[3] & 1) != 0, Le32(b, 4), Le32(b, 8)};
      d.Arg("ReadAndWrite", kReadWrite[m.writable]);
      d.Arg("AddressBase", HexDigits(m.base, 8));
      d.Arg("RangeLength", HexDigits(m.length, 8));
      d.Arg("DescriptorName", "");
      d.resource_.payload = m;
      return {};
    }
    case 0x07:
      d.resource_.macro = "DWordSpace";
      return DecodeAddress(d, 4);
    case 0x08:
      d.resource_.macro = "WordSpace";
      return DecodeAddress(d, 2);
    case 0x0A:
      d.resource_.macro = "QWordSpace";
      return DecodeAddress(d, 8);
    case 0x0B:
      d.resource_.macro = "ExtendedSpace";
      return DecodeAddress(d, 0);
    case 0x09: {
      d.resource_.macro = "Interrupt";
      d.resource_.kind = ResourceKind::EXTENDED_IRQ;
      if (b.size() < 5) return d.Bad("length " + std::to_string(b.size() - 3) + " below its 2");
      ExtendedIrqResource irq;
      const uint8_t flags = b[3];
      irq.producer = !(flags & 1);
      irq.edge = flags & 2;
      irq.active_low = flags & 4;
      irq.shared = flags & 8;
      irq.wake = flags & 0x10;
      const size_t count = b[4];
      if (count == 0) return d.Bad("an interrupt list of none");
      if (5 + 4 * count > b.size())
        return d.Bad(std::to_string(count) + " interrupts overrun its " + std::to_string(b.size()) + " bytes");
      std::string list = "{";
      for (size_t i = 0; i < count; ++i) {
        irq.interrupts.push_back(Le32(b, 5 + 4 * i));
        list += HexDigits(irq.interrupts.back(), 8) + ",";
      }
      irq.source = ReadSource(b, 5 + 4 * count);
      d.Arg("ResourceUsage", kConsume[flags & 1]);
      d.Arg("EdgeLevel", kEdge[(flags >> 1) & 1]);
      d.Arg("ActiveLevel", kActive[(flags >> 2) & 1]);
      d.Arg("Shared", kShare[(flags >> 3) & 3]);
      SourceArgs(d, irq.source);
      d.Arg("DescriptorName", "");
      d.Arg("Interrupts", list + "}");
      d.resource_.payload = std::move(irq);
      return {};
    }
    case 0x0C:
      d.resource_.macro = "GpioIo";
      return DecodeGpio(d);
    case 0x0E:
      d.resource_.macro = "SerialBus";
      if (b.size() >= 6 && b[5] >= 1 && b[5] <= 3) return DecodeSerialBus(d);
      break;
    default:
      break;
  }
  d.resource_.kind = ResourceKind::OTHER_LARGE;
  d.resource_.macro = "LargeResource" + HexDigits(0x80 | type, 2);
  OtherResource other{static_cast<uint8_t>(0x80 | type), std::vector<uint8_t>(b.begin() + 3, b.end())};
  d.Arg("Type", HexDigits(other.type, 2));
  d.Arg("Data", ByteList(other.data));
  d.resource_.payload = std::move(other);
  return {};
}

}  // namespace

Result<std::vector<Resource>> DecodeResourceTemplate(std::span<const uint8_t> bytes,
                                                     std::string_view object) {
  std::vector<Resource> resources;
  size_t at = 0;
  auto fail = [&](const std::string& why) {
    return Fail(Status::IO_INVALID, "resource template: " + why + " at byte " + std::to_string(at),
                std::string(object));
  };
  while (at < bytes.size()) {
    const uint8_t tag = bytes[at];
    size_t size;
    if (tag & 0x80) {
      if (at + 3 > bytes.size()) return fail("a large descriptor's header overruns the template");
      size = 3 + static_cast<size_t>(Le16(bytes, at + 1));
    } else {
      size = 1 + (tag & 7u);
    }
    if (at + size > bytes.size())
      return fail("a descriptor of " + std::to_string(size) + " bytes overruns the template of " +
                  std::to_string(bytes.size()));
    if (!(tag & 0x80) && ((tag >> 3) & 0xF) == 0xF) {
      if (size != 2) return fail("an end tag of length " + std::to_string(size - 1) + " (it has 1)");
      return resources;  // what follows the end tag is not read, as ACPICA does not
    }
    Descriptor d(bytes.subspan(at, size), static_cast<uint32_t>(at), object);
    if (tag & 0x80) {
      UDRV_TRY(DecodeLarge(d, tag & 0x7F));
    } else {
      UDRV_TRY(DecodeSmall(d, static_cast<uint8_t>((tag >> 3) & 0xF)));
    }
    resources.push_back(std::move(d.resource_));
    at += size;
  }
  return fail("no end tag");
}

std::string FormatResource(const Resource& resource) {
  std::string out = resource.macro + " (";
  std::string list;
  bool first = true;
  for (const auto& [name, value] : resource.fields) {
    // The lists follow the macro's parentheses, as iasl writes them.
    if (name == "Interrupts" || name == "Channels" || name == "Data" || name == "Pins") {
      list = " " + value;
      continue;
    }
    if (!first) out += ", ";
    out += value;
    first = false;
  }
  out += ")";
  return out + list;
}

std::vector<MemoryRange> MemoryRanges(std::span<const Resource> resources) {
  std::vector<MemoryRange> out;
  for (uint32_t i = 0; i < resources.size(); ++i) {
    const ResourcePayload& p = resources[i].payload;
    if (auto* m = std::get_if<FixedMemory32Resource>(&p)) {
      out.push_back({m->base, m->length, m->writable, false, i});
    } else if (auto* m32 = std::get_if<Memory32Resource>(&p); m32 && m32->minimum == m32->maximum) {
      out.push_back({m32->minimum, m32->length, m32->writable, false, i});
    } else if (auto* m24 = std::get_if<Memory24Resource>(&p); m24 && m24->minimum == m24->maximum) {
      out.push_back({uint64_t{m24->minimum} << 8, uint64_t{m24->length} << 8, m24->writable, false, i});
    } else if (auto* a = std::get_if<AddressResource>(&p); a && a->resource_type == 0 && a->length) {
      out.push_back({a->minimum + a->translation, a->length, (a->type_flags & 1) != 0, a->producer, i});
    }
  }
  return out;
}

std::vector<IoRange> IoRanges(std::span<const Resource> resources) {
  std::vector<IoRange> out;
  for (uint32_t i = 0; i < resources.size(); ++i) {
    const ResourcePayload& p = resources[i].payload;
    if (auto* io = std::get_if<IoResource>(&p)) {
      out.push_back({io->minimum, io->length, false, i});
    } else if (auto* fixed = std::get_if<FixedIoResource>(&p)) {
      out.push_back({fixed->address, fixed->length, false, i});
    } else if (auto* a = std::get_if<AddressResource>(&p); a && a->resource_type == 1 && a->length) {
      out.push_back({a->minimum + a->translation, a->length, a->producer, i});
    }
  }
  return out;
}

std::vector<InterruptInfo> Interrupts(std::span<const Resource> resources) {
  std::vector<InterruptInfo> out;
  for (uint32_t i = 0; i < resources.size(); ++i) {
    const ResourcePayload& p = resources[i].payload;
    if (auto* irq = std::get_if<IrqResource>(&p)) {
      for (uint32_t n = 0; n < 16; ++n) {
        if (irq->mask & (1u << n)) out.push_back({n, irq->edge, irq->active_low, irq->shared, irq->wake, i});
      }
    } else if (auto* ext = std::get_if<ExtendedIrqResource>(&p); ext) {
      for (uint32_t gsi : ext->interrupts) {
        out.push_back({gsi, ext->edge, ext->active_low, ext->shared, ext->wake, i});
      }
    }
  }
  return out;
}

}  // namespace udrv::acpi
