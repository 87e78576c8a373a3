// GTDT: Arm's generic timers: the per-CPU timer interrupts, then the
// memory-mapped timer blocks (with their frames) and the watchdogs.
#include "decode_fields.h"

namespace udrv::acpi::decode {
namespace {

enum : uint8_t { kTimerBlock = 0, kWatchdog = 1 };

std::string_view GtdtTypeName(uint64_t type) {
  static constexpr std::string_view kNames[] = {"Generic Timer Block", "Generic Watchdog Timer",
                                                "Unknown Subtable Type"};
  return Lookup(kNames, type);
}

constexpr Bits kTimerFlags[] = {{"Trigger Mode", 0}, {"Polarity", 1}, {"Always On", 2}};
constexpr Spec kGtdt[] = {
    U64("Counter Block Address"),
    U32("Reserved"),
    U32("Secure EL1 Interrupt"),
    U32("EL1 Flags (decoded below)", kTimerFlags),
    U32("Non-Secure EL1 Interrupt"),
    U32("NEL1 Flags (decoded below)", kTimerFlags),
    U32("Virtual Timer Interrupt"),
    U32("VT Flags (decoded below)", kTimerFlags),
    U32("Non-Secure EL2 Interrupt"),
    U32("NEL2 Flags (decoded below)", kTimerFlags),
    U64("Counter Read Block Address"),
    U32("Platform Timer Count"),
    U32("Platform Timer Offset"),
};
// Revision 3 (ACPI 6.3) adds the virtual EL2 timer.
constexpr Spec kGtdtEl2[] = {U32("Virtual EL2 Timer GSIV"), U32("Virtual EL2 Timer Flags")};

constexpr Spec kHeader[] = {Enum(1, "Subtable Type", GtdtTypeName), U16("Length")};
constexpr Spec kTimerBlockLayout[] = {U8("Reserved"), U64("Block Address"), U32("Timer Count"),
                                      U32("Timer Offset")};
constexpr Bits kFrameFlags[] = {{"Trigger Mode", 0}, {"Polarity", 1}};
constexpr Bits kCommonFlags[] = {{"Secure", 0}, {"Always On", 1}};
constexpr Spec kTimerFrame[] = {
    U8("Frame Number"),
    U24("Reserved"),
    U64("Base Address"),
    U64("EL0 Base Address"),
    U32("Timer Interrupt"),
    U32("Timer Flags (decoded below)", kFrameFlags),
    U32("Virtual Timer Interrupt"),
    U32("Virtual Timer Flags (decoded below)", kFrameFlags),
    U32("Common Flags (decoded below)", kCommonFlags),
};
constexpr uint32_t kTimerFrameSize = 40;
constexpr Bits kWatchdogFlags[] = {{"Trigger Mode", 0}, {"Polarity", 1}, {"Security", 2}};
constexpr Spec kWatchdogLayout[] = {U8("Reserved"), U64("Refresh Frame Address"), U64("Control Frame Address"),
                                    U32("Timer Interrupt"), U32("Timer Flags (decoded below)", kWatchdogFlags)};

// A timer block's frames, `count` of them at `timer_offset` from its start.
Result<void> AppendFrames(const Decoder& decoder, uint32_t block, uint32_t end, std::vector<Field>& children) {
  UDRV_TRY_ASSIGN(uint64_t count, decoder.Read(block + 12, 4, "GTDT timer block"));
  UDRV_TRY_ASSIGN(uint64_t timer_offset, decoder.Read(block + 16, 4, "GTDT timer block"));
  const uint64_t start = block + timer_offset;
  if (start + count * kTimerFrameSize > end) {
    return decoder.Overrun("the " + std::to_string(count) + " frames of the GTDT timer block at " + Hex(block),
                           start, count * kTimerFrameSize);
  }
  for (uint64_t i = 0; i < count; i++) {
    const uint32_t offset = static_cast<uint32_t>(start + i * kTimerFrameSize);
    std::vector<Field> frame;
    UDRV_TRY(decoder.Append(frame, offset, kTimerFrame));
    children.push_back(Group("Timer Frame", offset, kTimerFrameSize, std::move(frame)));
  }
  return {};
}

}  // namespace

// The platform timers start after the fixed part, as iasl reads them
// (Platform Timer Offset says the same in a well-formed table).
Result<void> DecodeGtdt(const Decoder& decoder, std::vector<Field>& fields) {
  UDRV_TRY_ASSIGN(uint32_t offset, decoder.Append(fields, kHeaderEnd, kGtdt));
  if (decoder.table().header.revision > 2) {
    UDRV_TRY_ASSIGN(offset, decoder.Append(fields, offset, kGtdtEl2));
  }
  while (offset < decoder.end()) {
    UDRV_TRY_ASSIGN(uint32_t length, decoder.SubtableLength(offset, 1, 2, 3, "GTDT subtable"));
    UDRV_TRY_ASSIGN(uint64_t type, decoder.Read(offset, 1, "GTDT subtable"));
    const uint32_t end = offset + length;
    std::vector<Field> children;
    UDRV_TRY_ASSIGN(uint32_t next, decoder.Append(children, offset, kHeader, end));
    if (type == kTimerBlock) {
      UDRV_TRY(decoder.Append(children, next, kTimerBlockLayout, end));
      UDRV_TRY(AppendFrames(decoder, offset, end, children));
    } else if (type == kWatchdog) {
      UDRV_TRY(decoder.Append(children, next, kWatchdogLayout, end));
    }
    fields.push_back(Group(std::string(GtdtTypeName(type)), offset, length, std::move(children)));
    offset = end;
  }
  return {};
}

}  // namespace udrv::acpi::decode
