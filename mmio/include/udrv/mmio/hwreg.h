// Typed hardware registers in the style of Fuchsia's hwreg: a register's
// fields are declared once, with their bit positions, and then read and
// written by name, without hand-written shifts and masks.
//
//   enum class Speed : uint32_t { SLOW = 0, FAST = 1, TURBO = 2 };
//
//   class Ctrl : public hwreg::RegisterBase<Ctrl, uint32_t, hwreg::EnablePrinter> {
//    public:
//     DEF_RSVDZ_FIELD(31, 10);             // reserved, must be written as zero
//     DEF_ENUM_FIELD(Speed, 9, 8, speed);
//     DEF_FIELD(7, 4, mode);
//     DEF_RSVDZ_BIT(3);
//     DEF_BIT(0, enable);
//     static auto Get() { return hwreg::RegisterAddr<Ctrl>(0x10); }
//   };
//
//   auto ctrl = Ctrl::Get().ReadFrom(&mmio);         // one Read32 at 0x10
//   ctrl.set_mode(3).set_enable(1).WriteTo(&mmio);    // one Write32, RsvdZ bits zeroed
//   Ctrl::Get().FromValue(0).set_speed(Speed::FAST).WriteTo(&mmio);
//
// `mmio` is anything with `template <T> T Read(uint64_t)` and `template <T>
// void Write(T, uint64_t)`: MmioBuffer, MmioView, a test double's buffer.
//
// Bits no field covers are kept as read across a read-modify-write. A field
// setter takes the value as uint64_t and keeps only the field's low bits: a
// value too wide for its field is masked, in every build (Fuchsia
// debug-asserts instead; a silent difference between build types is worse
// for a register library that tests run in release builds).
//
// With hwreg::EnablePrinter each register object also records its fields'
// names and positions as it is constructed, which allows Print(), ToString()
// and hwreg::Diff(). Without it a register object holds its value, address
// and two masks the compiler folds away: as cheap as a plain integer.
//
// The macros work in class templates too; they refer to the base only
// through `this`, so no `using` declarations are needed.
#pragma once

#include <array>
#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace udrv::hwreg {

// Tag for RegisterBase's third parameter: keep field metadata for printing.
struct EnablePrinter;

enum class FieldKind : uint8_t {
  FIELD = 0,  // DEF_FIELD, DEF_BIT
  ENUM = 1,   // DEF_ENUM_FIELD
  RSVDZ = 2,  // DEF_RSVDZ_FIELD, DEF_RSVDZ_BIT: written as zero
};

struct FieldInfo {
  const char* name = nullptr;  // "RsvdZ" for reserved-zero fields
  uint8_t hi = 0;              // inclusive
  uint8_t lo = 0;
  FieldKind kind = FieldKind::FIELD;
};

// One field whose value differs between two register values. Bits no field
// covers are reported as one change named "unknown" spanning the register.
struct FieldChange {
  std::string_view name;
  uint32_t hi = 0;
  uint32_t lo = 0;
  uint64_t before = 0;
  uint64_t after = 0;
};

namespace internal {

template <unsigned kHi, unsigned kLo, typename T>
constexpr T FieldMask() {
  static_assert(kHi >= kLo, "hwreg: the upper bit goes first: DEF_FIELD(high, low, name)");
  static_assert(kHi < sizeof(T) * CHAR_BIT, "hwreg: field lies outside the register");
  constexpr unsigned kWidth = kHi - kLo + 1;
  constexpr uint64_t kOnes = kWidth >= 64 ? ~uint64_t{0} : (uint64_t{1} << kWidth) - 1;
  return static_cast<T>(kOnes << kLo);
}

template <unsigned kHi, unsigned kLo, typename T>
constexpr T GetField(T reg) {
  return static_cast<T>((reg & FieldMask<kHi, kLo, T>()) >> kLo);
}

template <unsigned kHi, unsigned kLo, typename T>
constexpr T SetField(T reg, uint64_t value) {
  constexpr T kMask = FieldMask<kHi, kLo, T>();
  return static_cast<T>((reg & static_cast<T>(~kMask)) | (static_cast<T>(value << kLo) & kMask));
}

// Per-object field bookkeeping, filled in by the field members'
// constructors (a copy of a register copies it and adds nothing).
template <typename T, bool kPrinter>
struct FieldTable {
  using ValueType = T;
  T fields_mask = 0;
  T rsvdz_mask = 0;

  constexpr void Add(const char*, unsigned, unsigned, FieldKind kind, T mask) {
    fields_mask = static_cast<T>(fields_mask | mask);
    if (kind == FieldKind::RSVDZ) rsvdz_mask = static_cast<T>(rsvdz_mask | mask);
  }
};

template <typename T>
struct FieldTable<T, true> : FieldTable<T, false> {
  std::array<FieldInfo, sizeof(T) * CHAR_BIT> fields{};
  uint8_t count = 0;

  constexpr void Add(const char* name, unsigned hi, unsigned lo, FieldKind kind, T mask) {
    FieldTable<T, false>::Add(name, hi, lo, kind, mask);
    // More fields than bits means overlapping declarations; the first ones
    // fill the table.
    if (count < fields.size()) {
      fields[count++] = FieldInfo{name, static_cast<uint8_t>(hi), static_cast<uint8_t>(lo), kind};
    }
  }
};

// An empty member per declared field; `Tag` keeps each one a distinct type
// so [[no_unique_address]] lets them all take no space.
template <typename Tag, unsigned kHi, unsigned kLo, FieldKind kKind>
struct FieldMember {
  template <typename Table>
  constexpr FieldMember(Table& table, const char* name) {
    table.Add(name, kHi, kLo, kKind, FieldMask<kHi, kLo, typename Table::ValueType>());
  }
};

// Out of line: formatting for Print/ToString/Diff.
std::vector<std::string> FormatFields(std::span<const FieldInfo> fields, uint64_t value,
                                      uint64_t fields_mask, unsigned register_bits);
std::vector<FieldChange> DiffFields(std::span<const FieldInfo> fields, uint64_t before,
                                    uint64_t after, uint64_t fields_mask, unsigned register_bits);

}  // namespace internal

// Base of every register type: Derived is the register class itself (CRTP),
// IntType its width (uint8_t..uint64_t).
template <class Derived, class IntType, class PrinterState = void>
class RegisterBase {
  static_assert(std::is_same_v<IntType, uint8_t> || std::is_same_v<IntType, uint16_t> ||
                    std::is_same_v<IntType, uint32_t> || std::is_same_v<IntType, uint64_t>,
                "hwreg: registers are uint8_t, uint16_t, uint32_t or uint64_t");
  static_assert(std::is_void_v<PrinterState> || std::is_same_v<PrinterState, EnablePrinter>,
                "hwreg: the third parameter is hwreg::EnablePrinter or nothing");

 public:
  using SelfType = Derived;
  using ValueType = IntType;
  static constexpr bool kPrinterEnabled = std::is_same_v<PrinterState, EnablePrinter>;
  static constexpr unsigned kBits = sizeof(IntType) * CHAR_BIT;

  uint32_t reg_addr() const { return reg_addr_; }
  Derived& set_reg_addr(uint32_t addr) {
    reg_addr_ = addr;
    return self();
  }

  ValueType reg_value() const { return reg_value_; }
  Derived& set_reg_value(ValueType value) {
    reg_value_ = value;
    return self();
  }

  // Bits covered by some declared field, and those declared reserved-zero.
  ValueType fields_mask() const { return hwreg_fields_.fields_mask; }
  ValueType rsvdz_mask() const { return hwreg_fields_.rsvdz_mask; }

  template <typename Io>
  Derived& ReadFrom(Io* io) {
    reg_value_ = io->template Read<ValueType>(reg_addr_);
    return self();
  }

  // Writes the value with every reserved-zero bit cleared; the object keeps
  // its value as it was.
  template <typename Io>
  Derived& WriteTo(Io* io) {
    io->template Write<ValueType>(static_cast<ValueType>(reg_value_ & ~rsvdz_mask()), reg_addr_);
    return self();
  }

  // The fields in declaration order.
  std::span<const FieldInfo> fields() const requires kPrinterEnabled {
    return std::span<const FieldInfo>(hwreg_fields_.fields.data(), hwreg_fields_.count);
  }

  // Calls print(const char* line) once per field, in declaration order, as
  // "mode[7:4]: 0x3 (3)" ("enable[0]: 0x1 (1)" for a bit), and once more as
  // "unknown set bits: 0x00000400" when bits no field covers are set.
  template <typename F>
  void Print(F&& print) const requires kPrinterEnabled {
    for (const std::string& line :
         internal::FormatFields(fields(), reg_value_, fields_mask(), kBits)) {
      print(line.c_str());
    }
  }

  // Print's lines joined with '\n'.
  std::string ToString() const requires kPrinterEnabled {
    std::string text;
    for (const std::string& line :
         internal::FormatFields(fields(), reg_value_, fields_mask(), kBits)) {
      if (!text.empty()) text += '\n';
      text += line;
    }
    return text;
  }

 protected:
  internal::FieldTable<IntType, kPrinterEnabled> hwreg_fields_;

 private:
  Derived& self() { return *static_cast<Derived*>(this); }

  ValueType reg_value_ = 0;
  uint32_t reg_addr_ = 0;
};

// A register type at an address: makes register objects.
template <class RegType>
class RegisterAddr {
 public:
  constexpr explicit RegisterAddr(uint32_t addr) : addr_(addr) {}

  template <typename Io>
  RegType ReadFrom(Io* io) const {
    RegType reg;
    reg.set_reg_addr(addr_);
    reg.ReadFrom(io);
    return reg;
  }

  RegType FromValue(typename RegType::ValueType value) const {
    RegType reg;
    reg.set_reg_addr(addr_);
    reg.set_reg_value(value);
    return reg;
  }

  uint32_t addr() const { return addr_; }

 private:
  uint32_t addr_;
};

// Every field whose value differs between `before` and `after`, in
// declaration order, then the uncovered bits if they differ.
template <class Reg>
  requires Reg::kPrinterEnabled
std::vector<FieldChange> Diff(const Reg& before, const Reg& after) {
  return internal::DiffFields(before.fields(), before.reg_value(), after.reg_value(),
                              before.fields_mask(), Reg::kBits);
}

// "mode[7:4]: 0x3 -> 0x5; enable[0]: 0x0 -> 0x1"; empty for no changes.
std::string ToString(std::span<const FieldChange> changes);

}  // namespace udrv::hwreg

// clang-format off
#define HWREG_INTERNAL_FIELD(HI, LO, NAME_TEXT, KIND, ID)                                      \
  static_assert((HI) >= (LO), "hwreg: the upper bit goes first");                              \
  struct ID##_hwreg_tag {};                                                                    \
  [[no_unique_address]] ::udrv::hwreg::internal::FieldMember<ID##_hwreg_tag, (HI), (LO), KIND> \
      ID##_hwreg_field{this->hwreg_fields_, NAME_TEXT}
// clang-format on

// A field of bits HI..LO (inclusive): `NAME()` and `set_NAME(value)`.
#define DEF_FIELD(HI, LO, NAME)                                                                  \
  HWREG_INTERNAL_FIELD(HI, LO, #NAME, ::udrv::hwreg::FieldKind::FIELD, NAME);                    \
  auto NAME() const { return ::udrv::hwreg::internal::GetField<(HI), (LO)>(this->reg_value()); } \
  auto& set_##NAME(::std::uint64_t value) {                                                      \
    return this->set_reg_value(                                                                  \
        ::udrv::hwreg::internal::SetField<(HI), (LO)>(this->reg_value(), value));                \
  }                                                                                              \
  static_assert(true)

#define DEF_BIT(BIT, NAME) DEF_FIELD(BIT, BIT, NAME)

// A field read and written as the enum TYPE.
#define DEF_ENUM_FIELD(TYPE, HI, LO, NAME)                                                      \
  static_assert(::std::is_enum_v<TYPE>, "hwreg: " #TYPE " is not an enum");                     \
  HWREG_INTERNAL_FIELD(HI, LO, #NAME, ::udrv::hwreg::FieldKind::ENUM, NAME);                    \
  TYPE NAME() const {                                                                           \
    return static_cast<TYPE>(::udrv::hwreg::internal::GetField<(HI), (LO)>(this->reg_value())); \
  }                                                                                             \
  auto& set_##NAME(TYPE value) {                                                                \
    return this->set_reg_value(::udrv::hwreg::internal::SetField<(HI), (LO)>(                   \
        this->reg_value(), static_cast<::std::uint64_t>(value)));                               \
  }                                                                                             \
  static_assert(true)

// Reserved bits that must be written as zero: WriteTo clears them.
#define DEF_RSVDZ_FIELD(HI, LO)                                                              \
  HWREG_INTERNAL_FIELD(HI, LO, "RsvdZ", ::udrv::hwreg::FieldKind::RSVDZ, rsvdz_##HI##_##LO); \
  static_assert(true)

#define DEF_RSVDZ_BIT(BIT) DEF_RSVDZ_FIELD(BIT, BIT)
