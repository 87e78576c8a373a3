#include "udrv/drivers/usb_mass_storage/bot.h"

#include <utility>

#include "byte_order.h"

namespace udrv::drivers::usb_mass_storage {

namespace {

// bmRequestType of a class request to an interface (USB 2.0 §9.3.1).
constexpr uint8_t kClassInterfaceOut = 0x21;
constexpr uint8_t kClassInterfaceIn = 0xA1;
constexpr uint8_t kCbwFlagIn = 0x80;

bool IsStall(const Error& error) { return error.status == Status::IO_REFUSED; }

std::string Opcode(uint8_t opcode) { return "SCSI opcode " + Hex(opcode); }

}  // namespace

Result<std::array<std::byte, kCbwSize>> EncodeCbw(const CommandBlockWrapper& cbw) {
  if (cbw.command_block.empty() || cbw.command_block.size() > kMaxCommandBlock) {
    return Fail(Status::INVALID_ARGS,
                "a command block is 1 to 16 bytes, not " + std::to_string(cbw.command_block.size()));
  }
  if (cbw.lun > kMaxLun) return Fail(Status::INVALID_ARGS, "LUN " + std::to_string(cbw.lun) + " past 15");
  std::array<std::byte, kCbwSize> bytes{};
  StoreLe32(bytes, 0, kCbwSignature);
  StoreLe32(bytes, 4, cbw.tag);
  StoreLe32(bytes, 8, cbw.data_transfer_length);
  bytes[12] = std::byte{cbw.direction == Direction::IN ? kCbwFlagIn : uint8_t{0}};
  bytes[13] = std::byte{cbw.lun};
  bytes[14] = std::byte{static_cast<uint8_t>(cbw.command_block.size())};
  for (size_t i = 0; i < cbw.command_block.size(); ++i) bytes[15 + i] = cbw.command_block[i];
  return bytes;
}

Result<CommandStatusWrapper> ParseCsw(std::span<const std::byte> bytes, uint32_t expected_tag,
                                      uint32_t data_transfer_length, std::string_view object) {
  const std::string where(object);
  if (bytes.size() != kCswSize) {
    return Fail(Status::IO_INVALID,
                "CSW of " + std::to_string(bytes.size()) + " bytes, not 13 (not valid, BOT 6.3.1)", where);
  }
  if (const uint32_t signature = LoadLe32(bytes, 0); signature != kCswSignature) {
    return Fail(Status::IO_INVALID,
                "CSW signature " + Hex(signature) + ", not " + Hex(kCswSignature) + " (not valid, BOT 6.3.1)",
                where);
  }
  CommandStatusWrapper csw;
  csw.tag = LoadLe32(bytes, 4);
  if (csw.tag != expected_tag) {
    return Fail(Status::IO_INVALID,
                "CSW tag " + Hex(csw.tag) + " does not echo the CBW's " + Hex(expected_tag) +
                    " (not valid, BOT 6.3.1)",
                where);
  }
  csw.residue = LoadLe32(bytes, 8);
  const auto status = static_cast<uint8_t>(bytes[12]);
  if (status > static_cast<uint8_t>(CswStatus::PHASE_ERROR)) {
    return Fail(Status::IO_INVALID,
                "CSW status " + Hex(status) + " is none of 0, 1, 2 (not meaningful, BOT 6.3.2)", where);
  }
  csw.status = static_cast<CswStatus>(status);
  if (csw.status != CswStatus::PHASE_ERROR && csw.residue > data_transfer_length) {
    return Fail(Status::IO_INVALID,
                "CSW residue " + std::to_string(csw.residue) + " past the CBW's transfer length " +
                    std::to_string(data_transfer_length) + " (not meaningful, BOT 6.3.2)",
                where);
  }
  return csw;
}

Result<BulkEndpoints> FindBulkEndpoints(const usb::Descriptors& descriptors, uint8_t configuration,
                                        uint8_t interface_number, std::string_view object) {
  const std::string where(object);
  for (const usb::ConfigurationDescriptor& config : descriptors.configurations) {
    if (config.value != configuration) continue;
    for (const usb::Interface& interface : config.interfaces) {
      if (interface.number != interface_number) continue;
      for (const usb::InterfaceDescriptor& setting : interface.alternates) {
        if (setting.alternate_setting != 0) continue;
        BulkEndpoints found;
        for (const usb::EndpointDescriptor& endpoint : setting.endpoints) {
          if (endpoint.type() != usb::EndpointDescriptor::Type::BULK) continue;
          const auto max_packet = static_cast<uint16_t>(endpoint.max_packet_size & 0x7FF);
          if (endpoint.is_in() && found.in == 0) {
            found.in = endpoint.address;
            found.in_max_packet = max_packet;
          } else if (!endpoint.is_in() && found.out == 0) {
            found.out = endpoint.address;
            found.out_max_packet = max_packet;
          }
        }
        if (found.in == 0 || found.out == 0) {
          return Fail(Status::NOT_FOUND,
                      "interface " + std::to_string(interface_number) + " lacks a bulk " +
                          (found.in == 0 ? "IN" : "OUT") + " endpoint",
                      where);
        }
        return found;
      }
    }
    return Fail(Status::NOT_FOUND,
                "configuration " + std::to_string(configuration) + " has no interface " +
                    std::to_string(interface_number) + " alternate setting 0",
                where);
  }
  return Fail(Status::NOT_FOUND, "no configuration " + std::to_string(configuration), where);
}

Result<BulkOnlyTransport> BulkOnlyTransport::Create(usb::Device& device, Duration timeout) {
  std::string object = device.GetNode().id;
  UDRV_TRY_ASSIGN(
      const BulkEndpoints endpoints,
      FindBulkEndpoints(device.GetDescriptors(), device.configuration(), device.interface_number(), object));
  return BulkOnlyTransport(&device, endpoints, timeout, std::move(object));
}

Result<uint8_t> BulkOnlyTransport::GetMaxLun() {
  std::array<std::byte, 1> answer{};
  const usb::ControlSetup setup{.request_type = kClassInterfaceIn,
                                .request = kRequestGetMaxLun,
                                .value = 0,
                                .index = device_->interface_number()};
  auto moved = device_->Control(setup, answer, timeout_);
  if (!moved) {
    if (IsStall(moved.error())) return uint8_t{0};
    return Wrap(std::move(moved).error(), "GET MAX LUN");
  }
  if (*moved != answer.size()) {
    return Fail(Status::IO_INVALID, "GET MAX LUN answered " + std::to_string(*moved) + " bytes, not 1",
                object_);
  }
  const auto max_lun = static_cast<uint8_t>(answer[0]);
  if (max_lun > kMaxLun) {
    return Fail(Status::IO_INVALID, "GET MAX LUN answered " + std::to_string(max_lun) + ", past 15", object_);
  }
  return max_lun;
}

Result<CommandResult> BulkOnlyTransport::Execute(uint8_t lun, std::span<const std::byte> command_block,
                                                 Direction direction, std::span<std::byte> data) {
  if (data.size() > UINT32_MAX) return Fail(Status::INVALID_ARGS, "a data stage past 4 GiB", object_);
  if (direction == Direction::NONE && !data.empty()) {
    return Fail(Status::INVALID_ARGS, "data for a command without a data stage", object_);
  }
  const auto length = static_cast<uint32_t>(data.size());
  const uint32_t tag = next_tag_++;
  UDRV_TRY_ASSIGN(const auto cbw, EncodeCbw({.tag = tag,
                                             .data_transfer_length = length,
                                             .direction = length == 0 ? Direction::NONE : direction,
                                             .lun = lun,
                                             .command_block = command_block}));
  const uint8_t opcode = static_cast<uint8_t>(command_block[0]);
  std::array<std::byte, kCbwSize> cbw_bytes = cbw;
  if (auto sent = device_->Bulk(endpoints_.out, cbw_bytes, timeout_); !sent) {
    // A stalled CBW is a device that wants reset recovery (BOT §6.6.1).
    return FailAfterRecovery(Wrap(std::move(sent).error(), "CBW").error(), opcode);
  } else if (*sent != kCbwSize) {
    return FailAfterRecovery(
        Error{Status::IO, "CBW: " + std::to_string(*sent) + " of 31 bytes sent", object_}, opcode);
  }

  CommandResult result;
  if (length != 0) {
    const uint8_t endpoint = direction == Direction::IN ? endpoints_.in : endpoints_.out;
    auto moved = device_->Bulk(endpoint, data, timeout_);
    if (moved) {
      result.transferred = *moved;
    } else if (IsStall(moved.error())) {
      // The device ended the data stage early: clear the halt, then the CSW
      // says how the command went.
      if (auto cleared = device_->ClearHalt(endpoint); !cleared) {
        return FailAfterRecovery(Wrap(std::move(cleared).error(), "clear the data stage's stall").error(),
                                 opcode);
      }
    } else {
      return FailAfterRecovery(Wrap(std::move(moved).error(), "data stage").error(), opcode);
    }
  }

  auto csw = ReadCsw(tag, length);
  if (!csw) return FailAfterRecovery(std::move(csw).error(), opcode);
  if (csw->status == CswStatus::PHASE_ERROR) {
    return FailAfterRecovery(Error{Status::IO, "the device reported a phase error (CSW status 2)", object_},
                             opcode);
  }
  result.status = csw->status;
  result.residue = csw->residue;
  return result;
}

Result<CommandStatusWrapper> BulkOnlyTransport::ReadCsw(uint32_t tag, uint32_t data_transfer_length) {
  std::array<std::byte, kCswSize> bytes{};
  auto received = device_->Bulk(endpoints_.in, bytes, timeout_);
  if (!received && IsStall(received.error())) {
    UDRV_TRY(device_->ClearHalt(endpoints_.in));
    received = device_->Bulk(endpoints_.in, bytes, timeout_);
  }
  if (!received) return Wrap(std::move(received).error(), "CSW");
  return ParseCsw(std::span(bytes).first(*received), tag, data_transfer_length, object_);
}

Result<void> BulkOnlyTransport::ResetRecovery() {
  const usb::ControlSetup reset{.request_type = kClassInterfaceOut,
                                .request = kRequestMassStorageReset,
                                .value = 0,
                                .index = device_->interface_number()};
  if (auto done = device_->Control(reset, {}, timeout_); !done) {
    return Wrap(std::move(done).error(), "Bulk-Only Mass Storage Reset");
  }
  if (auto done = device_->ClearHalt(endpoints_.in); !done) {
    return Wrap(std::move(done).error(), "reset recovery: clear halt on bulk IN");
  }
  if (auto done = device_->ClearHalt(endpoints_.out); !done) {
    return Wrap(std::move(done).error(), "reset recovery: clear halt on bulk OUT");
  }
  return {};
}

std::unexpected<Error> BulkOnlyTransport::FailAfterRecovery(Error error, uint8_t opcode) {
  error.what = Opcode(opcode) + ": " + error.what;
  if (error.object.empty()) error.object = object_;
  if (auto recovered = ResetRecovery(); !recovered) {
    error.what += "; reset recovery failed too: " + recovered.error().what;
  } else {
    error.what += "; reset recovery done";
  }
  return std::unexpected(std::move(error));
}

}  // namespace udrv::drivers::usb_mass_storage
