// The e1000e driver's parts that need no device: ring index arithmetic,
// receive descriptor decoding, the interrupt option, and its registration.
#include <catch2/catch.hpp>
#include <string>

#include "registers.h"
#include "result_helpers.h"
#include "rings.h"
#include "udrv/bus/driver.h"
#include "udrv/drivers/e1000e/bus_driver.h"
#include "udrv/drivers/e1000e/e1000e.h"
#include "udrv/drivers/registry.h"

using udrv::testing::StatusOf;
using namespace udrv::drivers::e1000e;
namespace net = udrv::net;
namespace reg = udrv::drivers::e1000e::registers;

TEST_CASE("e1000e rings: next wraps, one slot stays empty", "[e1000e]") {
  CHECK(RingNext(0, 8) == 1);
  CHECK(RingNext(6, 8) == 7);
  CHECK(RingNext(7, 8) == 0);

  // Empty: tail == clean.
  CHECK(RingInFlight(3, 3, 8) == 0);
  CHECK(RingSpace(3, 3, 8) == 7);
  // Full: the tail one short of the oldest in flight, across the wrap too.
  CHECK(RingInFlight(7, 0, 8) == 7);
  CHECK(RingSpace(7, 0, 8) == 0);
  CHECK(RingInFlight(2, 3, 8) == 7);
  CHECK(RingSpace(2, 3, 8) == 0);
  // In between, wrapped.
  CHECK(RingInFlight(1, 6, 8) == 3);
  CHECK(RingSpace(1, 6, 8) == 4);

  // Filling a ring slot by slot from any start ends with exactly size - 1
  // in flight.
  for (uint32_t start = 0; start < 8; ++start) {
    uint32_t tail = start;
    uint32_t filled = 0;
    while (RingSpace(tail, start, 8) > 0) {
      tail = RingNext(tail, 8);
      ++filled;
    }
    CHECK(filled == 7);
    CHECK(RingNext(tail, 8) == start);
  }
}

TEST_CASE("e1000e receive descriptors: status, errors and length decoded", "[e1000e]") {
  using CS = net::ChecksumStatus;
  constexpr uint8_t kWhole = reg::kRxStatusDone | reg::kRxStatusEndOfPacket;
  SECTION("not written back") {
    CHECK_FALSE(DecodeRxDescriptor(0).done);
    CHECK_FALSE(DecodeRxDescriptor(RxWriteback(60, kWhole & ~reg::kRxStatusDone, 0)).deliverable());
  }
  SECTION("a whole frame, checksums not looked at (IXSM)") {
    const RxVerdict verdict = DecodeRxDescriptor(RxWriteback(
        1514, kWhole | reg::kRxStatusIgnoreChecksum | reg::kRxStatusIpChecksummed,
        reg::kRxErrorIpChecksum));
    CHECK(verdict.deliverable());
    CHECK(verdict.length == 1514);
    CHECK(verdict.ip_checksum == CS::NOT_CHECKED);
    CHECK(verdict.l4_checksum == CS::NOT_CHECKED);
  }
  SECTION("IP and TCP checksums good") {
    const RxVerdict verdict = DecodeRxDescriptor(RxWriteback(
        60, kWhole | reg::kRxStatusIpChecksummed | reg::kRxStatusTcpChecksummed, 0));
    CHECK(verdict.ip_checksum == CS::GOOD);
    CHECK(verdict.l4_checksum == CS::GOOD);
  }
  SECTION("UDP checksum bad: flagged, still delivered") {
    const RxVerdict verdict = DecodeRxDescriptor(RxWriteback(
        60, kWhole | reg::kRxStatusIpChecksummed | reg::kRxStatusUdpChecksummed,
        reg::kRxErrorL4Checksum));
    CHECK(verdict.ip_checksum == CS::GOOD);
    CHECK(verdict.l4_checksum == CS::BAD);
    CHECK(verdict.deliverable());
  }
  SECTION("IP checksum bad, no L4 verdict") {
    const RxVerdict verdict = DecodeRxDescriptor(
        RxWriteback(60, kWhole | reg::kRxStatusIpChecksummed, reg::kRxErrorIpChecksum));
    CHECK(verdict.ip_checksum == CS::BAD);
    CHECK(verdict.l4_checksum == CS::NOT_CHECKED);
  }
  SECTION("frame errors are fatal") {
    for (uint8_t error : {reg::kRxErrorCrc, reg::kRxErrorSymbol, reg::kRxErrorSequence,
                          reg::kRxErrorCarrierExtension, reg::kRxErrorData}) {
      const RxVerdict verdict = DecodeRxDescriptor(RxWriteback(60, kWhole, error));
      CHECK(verdict.fatal_error);
      CHECK_FALSE(verdict.deliverable());
    }
  }
  SECTION("a length the buffer cannot hold, or none, is never handed out") {
    CHECK(DecodeRxDescriptor(RxWriteback(kBufferSize, kWhole, 0)).deliverable());
    CHECK(DecodeRxDescriptor(RxWriteback(kBufferSize + 1, kWhole, 0)).bad_length);
    CHECK_FALSE(DecodeRxDescriptor(RxWriteback(0xffff, kWhole, 0)).deliverable());
    CHECK_FALSE(DecodeRxDescriptor(RxWriteback(0, kWhole, 0)).deliverable());
  }
  SECTION("a frame's first part") {
    const RxVerdict verdict = DecodeRxDescriptor(RxWriteback(2048, reg::kRxStatusDone, 0));
    CHECK(verdict.done);
    CHECK_FALSE(verdict.end_of_packet);
    CHECK_FALSE(verdict.deliverable());
  }
}

TEST_CASE("e1000e interrupt option: names round-trip, others refused", "[e1000e]") {
  for (InterruptChoice choice : {InterruptChoice::AUTO, InterruptChoice::MSI_X, InterruptChoice::MSI,
                                 InterruptChoice::LEGACY, InterruptChoice::POLLING}) {
    auto parsed = ParseInterruptChoice(InterruptChoiceName(choice));
    REQUIRE_OK(parsed);
    CHECK(*parsed == choice);
  }
  auto bad = ParseInterruptChoice("msi-x");
  CHECK(StatusOf(bad) == "INVALID_ARGS");
  CHECK(bad.error().what.find("auto, msix, msi, legacy, polling") != std::string::npos);
}

TEST_CASE("e1000e registration: rules, options with valid defaults, in the registry", "[e1000e]") {
  const udrv::bus::Driver driver = MakeBusDriver();
  CHECK(driver.name == "e1000e");
  REQUIRE(driver.rules.size() == 2);
  auto defaults = udrv::bus::DriverOptionValues::Defaults(driver.name, driver.options);
  REQUIRE_OK(defaults);
  CHECK(defaults->ToString() == "interrupts=auto itr=0 rx-ring=256 tx-ring=256 buffers=0");

  bool registered = false;
  for (const udrv::bus::Driver& each : udrv::drivers::AllDrivers()) registered |= each.name == "e1000e";
  CHECK(registered);
}

TEST_CASE("e1000e descriptors and statistics: layout as the datasheet's", "[e1000e]") {
  CHECK(sizeof(reg::RxDescriptor) == 16);
  CHECK(sizeof(reg::TxDescriptor) == 16);
  CHECK(reg::Ivar::Get()
            .FromValue(0)
            .set_rxq0_vector(0)
            .set_rxq0_valid(1)
            .set_txq0_vector(1)
            .set_txq0_valid(1)
            .set_other_vector(2)
            .set_other_valid(1)
            .set_tx_interrupt_every_writeback(1)
            .reg_value() == 0x800A0908);  // what Linux writes
  // Every statistics register once, each inside the statistics block.
  for (size_t i = 0; i < std::size(reg::kStatistics); ++i) {
    CHECK(reg::kStatistics[i].offset >= 0x4000);
    CHECK(reg::kStatistics[i].offset <= 0x4100);
    for (size_t j = 0; j < i; ++j) CHECK(reg::kStatistics[i].offset != reg::kStatistics[j].offset);
  }
}
