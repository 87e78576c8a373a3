// The Intel 82574L's registers in BAR 0 and its legacy descriptors, as the
// datasheet (82574 GbE Controller Family, rev. 3.x, chapters 10 and 7)
// names them; only what the driver uses. Every register is 32 bits wide.
#pragma once

#include <cstdint>

#include "udrv/mmio/hwreg.h"

namespace udrv::drivers::e1000e::registers {

// 0x0000 Device Control.
class Ctrl : public hwreg::RegisterBase<Ctrl, uint32_t> {
 public:
  DEF_BIT(31, phy_reset);
  DEF_BIT(30, vlan_mode_enable);          // VME
  DEF_BIT(28, transmit_flow_control);     // TFCE
  DEF_BIT(27, receive_flow_control);      // RFCE
  DEF_BIT(26, reset);                     // RST: global reset, self-clearing
  DEF_BIT(12, force_duplex);              // FRCDPX
  DEF_BIT(11, force_speed);               // FRCSPD
  DEF_BIT(6, set_link_up);                // SLU
  DEF_BIT(5, auto_speed_detection);       // ASDE
  DEF_BIT(2, gio_master_disable);
  DEF_BIT(0, full_duplex);                // FD
  static auto Get() { return hwreg::RegisterAddr<Ctrl>(0x0000); }
};

enum class LinkSpeed : uint32_t { MBPS_10 = 0, MBPS_100 = 1, MBPS_1000 = 2, MBPS_1000_TOO = 3 };

// 0x0008 Device Status, read only.
class DeviceStatus : public hwreg::RegisterBase<DeviceStatus, uint32_t> {
 public:
  DEF_BIT(19, gio_master_enable);
  DEF_ENUM_FIELD(LinkSpeed, 7, 6, speed);
  DEF_BIT(4, transmit_off);               // TXOFF: paused by flow control
  DEF_BIT(1, link_up);                    // LU
  DEF_BIT(0, full_duplex);                // FD
  static auto Get() { return hwreg::RegisterAddr<DeviceStatus>(0x0008); }
};

// 0x0010 EEPROM/Flash Control.
class Eecd : public hwreg::RegisterBase<Eecd, uint32_t> {
 public:
  DEF_BIT(9, auto_read_done);             // AUTO_RD: the NVM was read after reset
  DEF_BIT(8, present);                    // PRES
  static auto Get() { return hwreg::RegisterAddr<Eecd>(0x0010); }
};

// 0x0018 Extended Device Control.
class CtrlExt : public hwreg::RegisterBase<CtrlExt, uint32_t> {
 public:
  DEF_BIT(31, pba_clear);                 // PBA_CLR: MSI-X pending bits clear when IMS is written
  DEF_BIT(28, driver_loaded);             // DRV_LOAD
  DEF_BIT(27, interrupt_auto_mask);       // IAME: reading ICR masks IAM's causes
  DEF_BIT(24, extended_auto_mask);        // EIAME: an MSI-X vector masks its EIAC causes
  DEF_BIT(15, speed_bypass);              // SPD_BYPS
  static auto Get() { return hwreg::RegisterAddr<CtrlExt>(0x0018); }
};

// One layout, five registers: the Interrupt Cause Read (0x00C0: read, and
// written 1 to clear), Cause Set (0x00C8), Mask Set/Read (0x00D0), Mask
// Clear (0x00D8), and MSI-X's Extended Auto Clear (0x00DC, EIAC: only the
// rxq/txq causes mean anything there).
class Interrupts : public hwreg::RegisterBase<Interrupts, uint32_t> {
 public:
  DEF_BIT(31, asserted);                  // INT_ASSERTED (ICR only)
  DEF_BIT(24, other);                     // OTHER: MSI-X, any cause that is not rx/tx queue
  DEF_BIT(22, txq0);                      // TXQ0: MSI-X, queue 0 wrote back a descriptor
  DEF_BIT(20, rxq0);                      // RXQ0: MSI-X, queue 0 received
  DEF_BIT(7, rx_timer);                   // RXT0: a frame arrived (after RDTR)
  DEF_BIT(6, rx_overrun);                 // RXO
  DEF_BIT(4, rx_min_threshold);           // RXDMT0
  DEF_BIT(2, link_status_change);         // LSC
  DEF_BIT(1, tx_queue_empty);             // TXQE
  DEF_BIT(0, tx_descriptor_written);      // TXDW
  static auto GetCause() { return hwreg::RegisterAddr<Interrupts>(0x00C0); }
  static auto GetCauseSet() { return hwreg::RegisterAddr<Interrupts>(0x00C8); }
  static auto GetMaskSet() { return hwreg::RegisterAddr<Interrupts>(0x00D0); }
  static auto GetMaskClear() { return hwreg::RegisterAddr<Interrupts>(0x00D8); }
  static auto GetMsixAutoClear() { return hwreg::RegisterAddr<Interrupts>(0x00DC); }
};

// 0x00C4 Interrupt Throttling (legacy and MSI), and 0x00E8 + 4n the MSI-X
// vector n's (EITR): the least time between interrupts, in 256 ns units
// (0: none). QEMU raises any value written below 500 to 500 (7813/s).
class Throttling : public hwreg::RegisterBase<Throttling, uint32_t> {
 public:
  DEF_FIELD(15, 0, interval);
  static auto Get() { return hwreg::RegisterAddr<Throttling>(0x00C4); }
  static auto GetVector(uint32_t vector) {
    return hwreg::RegisterAddr<Throttling>(0x00E8 + 4 * vector);
  }
};
inline constexpr uint32_t kThrottlingUnitNs = 256;

// 0x00E0 Interrupt Acknowledge Auto Mask: the causes an ICR read masks when
// CTRL_EXT.IAME is set.
class AutoMask : public hwreg::RegisterBase<AutoMask, uint32_t> {
 public:
  DEF_FIELD(31, 0, causes);
  static auto Get() { return hwreg::RegisterAddr<AutoMask>(0x00E0); }
};

// 0x00E4 Interrupt Vector Allocation (MSI-X): which vector each cause
// raises, each entry valid only with its bit 3.
class Ivar : public hwreg::RegisterBase<Ivar, uint32_t> {
 public:
  DEF_BIT(31, tx_interrupt_every_writeback);
  DEF_BIT(19, other_valid);
  DEF_FIELD(18, 16, other_vector);
  DEF_BIT(15, txq1_valid);
  DEF_FIELD(14, 12, txq1_vector);
  DEF_BIT(11, txq0_valid);
  DEF_FIELD(10, 8, txq0_vector);
  DEF_BIT(7, rxq1_valid);
  DEF_FIELD(6, 4, rxq1_vector);
  DEF_BIT(3, rxq0_valid);
  DEF_FIELD(2, 0, rxq0_vector);
  static auto Get() { return hwreg::RegisterAddr<Ivar>(0x00E4); }
};

enum class RxBufferSize : uint32_t { BYTES_2048 = 0, BYTES_1024 = 1, BYTES_512 = 2, BYTES_256 = 3 };
enum class RxMinThreshold : uint32_t { HALF = 0, QUARTER = 1, EIGHTH = 2 };

// 0x0100 Receive Control.
class Rctl : public hwreg::RegisterBase<Rctl, uint32_t> {
 public:
  DEF_BIT(26, strip_crc);                 // SECRC: no FCS in the buffers
  DEF_BIT(25, buffer_size_extension);     // BSEX: BSIZE x 16
  DEF_BIT(15, broadcast_accept);          // BAM
  DEF_FIELD(11, 10, descriptor_type);     // DTYP: 0 legacy/extended, 1 packet split
  DEF_ENUM_FIELD(RxMinThreshold, 9, 8, min_threshold);  // RDMTS
  DEF_FIELD(7, 6, loopback_mode);         // LBM
  DEF_BIT(5, long_packets);               // LPE
  DEF_BIT(4, multicast_promiscuous);      // MPE
  DEF_BIT(3, unicast_promiscuous);        // UPE
  DEF_BIT(2, store_bad_packets);          // SBP
  DEF_BIT(1, enable);                     // EN
  DEF_ENUM_FIELD(RxBufferSize, 17, 16, buffer_size);  // BSIZE
  static auto Get() { return hwreg::RegisterAddr<Rctl>(0x0100); }
};

// 0x0400 Transmit Control.
class Tctl : public hwreg::RegisterBase<Tctl, uint32_t> {
 public:
  DEF_BIT(28, multiple_request);          // MULR
  DEF_BIT(24, retransmit_late_collision); // RTLC
  DEF_FIELD(21, 12, collision_distance);  // COLD
  DEF_FIELD(11, 4, collision_threshold);  // CT
  DEF_BIT(3, pad_short_packets);          // PSP: pads frames to 64 bytes with the FCS
  DEF_BIT(1, enable);                     // EN
  static auto Get() { return hwreg::RegisterAddr<Tctl>(0x0400); }
};

// 0x0410 Transmit Inter Packet Gap.
class Tipg : public hwreg::RegisterBase<Tipg, uint32_t> {
 public:
  DEF_FIELD(29, 20, ipgr2);
  DEF_FIELD(19, 10, ipgr1);
  DEF_FIELD(9, 0, ipgt);
  static auto Get() { return hwreg::RegisterAddr<Tipg>(0x0410); }
};

// 0x5000 Receive Checksum Control.
class Rxcsum : public hwreg::RegisterBase<Rxcsum, uint32_t> {
 public:
  DEF_BIT(13, packet_checksum_disable);   // PCSD: must stay 0 for the IP/L4 status
  DEF_BIT(9, l4_offload);                 // TUOFLD
  DEF_BIT(8, ip_offload);                 // IPOFLD
  static auto Get() { return hwreg::RegisterAddr<Rxcsum>(0x5000); }
};

// 0x5008 Receive Filter Control.
class Rfctl : public hwreg::RegisterBase<Rfctl, uint32_t> {
 public:
  DEF_BIT(15, extended_status);           // EXTEN: stays 0: legacy 16-byte RX descriptors
  DEF_BIT(13, ack_data_disable);
  DEF_BIT(12, ack_disable);               // ACK_DIS
  static auto Get() { return hwreg::RegisterAddr<Rfctl>(0x5008); }
};

// A descriptor ring's registers: receive queue 0 at 0x2800, transmit
// queue 0 at 0x3800, with the same offsets inside.
class RingBaseLow : public hwreg::RegisterBase<RingBaseLow, uint32_t> {
 public:
  DEF_FIELD(31, 0, address);  // 16-byte aligned (128 advised)
  static auto Get(uint32_t ring) { return hwreg::RegisterAddr<RingBaseLow>(ring + 0x00); }
};
class RingBaseHigh : public hwreg::RegisterBase<RingBaseHigh, uint32_t> {
 public:
  DEF_FIELD(31, 0, address);
  static auto Get(uint32_t ring) { return hwreg::RegisterAddr<RingBaseHigh>(ring + 0x04); }
};
class RingLength : public hwreg::RegisterBase<RingLength, uint32_t> {
 public:
  DEF_FIELD(19, 0, bytes);  // a multiple of 128
  static auto Get(uint32_t ring) { return hwreg::RegisterAddr<RingLength>(ring + 0x08); }
};
class RingHead : public hwreg::RegisterBase<RingHead, uint32_t> {
 public:
  DEF_FIELD(15, 0, index);
  static auto Get(uint32_t ring) { return hwreg::RegisterAddr<RingHead>(ring + 0x10); }
};
class RingTail : public hwreg::RegisterBase<RingTail, uint32_t> {
 public:
  DEF_FIELD(15, 0, index);
  static auto Get(uint32_t ring) { return hwreg::RegisterAddr<RingTail>(ring + 0x18); }
};
// RDTR / TIDV (+0x20) and RADV / TADV (+0x2C): interrupt delays in 1.024 us.
class RingInterruptDelay : public hwreg::RegisterBase<RingInterruptDelay, uint32_t> {
 public:
  DEF_FIELD(15, 0, delay);
  static auto GetDelay(uint32_t ring) { return hwreg::RegisterAddr<RingInterruptDelay>(ring + 0x20); }
  static auto GetAbsolute(uint32_t ring) {
    return hwreg::RegisterAddr<RingInterruptDelay>(ring + 0x2C);
  }
};
// RXDCTL / TXDCTL (+0x28): prefetch and write-back thresholds.
class RingControl : public hwreg::RegisterBase<RingControl, uint32_t> {
 public:
  DEF_BIT(24, granularity_descriptors);   // GRAN
  DEF_FIELD(21, 16, writeback_threshold); // WTHRESH
  DEF_FIELD(13, 8, host_threshold);       // HTHRESH
  DEF_FIELD(5, 0, prefetch_threshold);    // PTHRESH
  static auto Get(uint32_t ring) { return hwreg::RegisterAddr<RingControl>(ring + 0x28); }
};
inline constexpr uint32_t kRxRing = 0x2800;
inline constexpr uint32_t kTxRing = 0x3800;

// 0x5400 + 8n Receive Address n: the station address, n = 0 from the NVM.
class ReceiveAddressLow : public hwreg::RegisterBase<ReceiveAddressLow, uint32_t> {
 public:
  DEF_FIELD(31, 0, bytes_0_to_3);  // byte 0 in bits 7:0
  static auto Get(uint32_t n) { return hwreg::RegisterAddr<ReceiveAddressLow>(0x5400 + 8 * n); }
};
class ReceiveAddressHigh : public hwreg::RegisterBase<ReceiveAddressHigh, uint32_t> {
 public:
  DEF_BIT(31, address_valid);      // AV
  DEF_FIELD(17, 16, select);       // ASEL: 0 destination address
  DEF_FIELD(15, 0, bytes_4_to_5);
  static auto Get(uint32_t n) { return hwreg::RegisterAddr<ReceiveAddressHigh>(0x5404 + 8 * n); }
};
inline constexpr uint32_t kReceiveAddresses = 16;

// 0x5200 + 4n Multicast Table Array, 128 entries.
class MulticastTable : public hwreg::RegisterBase<MulticastTable, uint32_t> {
 public:
  DEF_FIELD(31, 0, bits);
  static auto Get(uint32_t n) { return hwreg::RegisterAddr<MulticastTable>(0x5200 + 4 * n); }
};
inline constexpr uint32_t kMulticastTableEntries = 128;

// Statistics (0x4000..0x40FF): each clears when read. A 64-bit count is a
// low and a high register; the low is read first.
class Statistic : public hwreg::RegisterBase<Statistic, uint32_t> {
 public:
  DEF_FIELD(31, 0, count);
  static auto Get(uint32_t offset) { return hwreg::RegisterAddr<Statistic>(offset); }
};
struct StatisticRegister {
  const char* name;  // the datasheet's, without L/H for 64-bit counts
  uint32_t offset;
  bool is_64bit;
};
inline constexpr StatisticRegister kStatistics[] = {
    {"CRCERRS", 0x4000, false}, {"ALGNERRC", 0x4004, false}, {"SYMERRS", 0x4008, false},
    {"RXERRC", 0x400C, false},  {"MPC", 0x4010, false},      {"SCC", 0x4014, false},
    {"ECOL", 0x4018, false},    {"MCC", 0x401C, false},      {"LATECOL", 0x4020, false},
    {"COLC", 0x4028, false},    {"DC", 0x4030, false},       {"TNCRS", 0x4034, false},
    {"SEC", 0x4038, false},     {"CEXTERR", 0x403C, false},  {"RLEC", 0x4040, false},
    {"XONRXC", 0x4048, false},  {"XONTXC", 0x404C, false},   {"XOFFRXC", 0x4050, false},
    {"XOFFTXC", 0x4054, false}, {"FCRUC", 0x4058, false},    {"PRC64", 0x405C, false},
    {"PRC127", 0x4060, false},  {"PRC255", 0x4064, false},   {"PRC511", 0x4068, false},
    {"PRC1023", 0x406C, false}, {"PRC1522", 0x4070, false},  {"GPRC", 0x4074, false},
    {"BPRC", 0x4078, false},    {"MPRC", 0x407C, false},     {"GPTC", 0x4080, false},
    {"GORC", 0x4088, true},     {"GOTC", 0x4090, true},      {"RNBC", 0x40A0, false},
    {"RUC", 0x40A4, false},     {"RFC", 0x40A8, false},      {"ROC", 0x40AC, false},
    {"RJC", 0x40B0, false},     {"MGTPRC", 0x40B4, false},   {"MGTPDC", 0x40B8, false},
    {"MGTPTC", 0x40BC, false},  {"TOR", 0x40C0, true},       {"TOT", 0x40C8, true},
    {"TPR", 0x40D0, false},     {"TPT", 0x40D4, false},      {"PTC64", 0x40D8, false},
    {"PTC127", 0x40DC, false},  {"PTC255", 0x40E0, false},   {"PTC511", 0x40E4, false},
    {"PTC1023", 0x40E8, false}, {"PTC1522", 0x40EC, false},  {"MPTC", 0x40F0, false},
    {"BPTC", 0x40F4, false},    {"TSCTC", 0x40F8, false},    {"TSCTFC", 0x40FC, false},
    {"IAC", 0x4100, false},
};

// The registers the driver touches end here: BAR 0 must reach this far.
inline constexpr uint64_t kRegistersEnd = 0x5800;

// Legacy receive descriptor (datasheet 7.1.4): the driver writes the
// buffer address; the NIC writes the rest back.
struct RxDescriptor {
  uint64_t buffer_address;
  uint16_t length;
  uint16_t packet_checksum;
  uint8_t status;
  uint8_t errors;
  uint16_t vlan_tag;
};
static_assert(sizeof(RxDescriptor) == 16);

// RxDescriptor::status bits.
inline constexpr uint8_t kRxStatusDone = 1u << 0;              // DD
inline constexpr uint8_t kRxStatusEndOfPacket = 1u << 1;       // EOP
inline constexpr uint8_t kRxStatusIgnoreChecksum = 1u << 2;    // IXSM
inline constexpr uint8_t kRxStatusUdpChecksummed = 1u << 4;    // UDPCS
inline constexpr uint8_t kRxStatusTcpChecksummed = 1u << 5;    // TCPCS
inline constexpr uint8_t kRxStatusIpChecksummed = 1u << 6;     // IPCS
// RxDescriptor::errors bits.
inline constexpr uint8_t kRxErrorCrc = 1u << 0;                // CE
inline constexpr uint8_t kRxErrorSymbol = 1u << 1;             // SE
inline constexpr uint8_t kRxErrorSequence = 1u << 2;           // SEQ
inline constexpr uint8_t kRxErrorCarrierExtension = 1u << 4;   // CXE
inline constexpr uint8_t kRxErrorL4Checksum = 1u << 5;         // TCPE
inline constexpr uint8_t kRxErrorIpChecksum = 1u << 6;         // IPE
inline constexpr uint8_t kRxErrorData = 1u << 7;               // RXE
// The errors that make a frame unusable (the checksum ones only flag it).
inline constexpr uint8_t kRxErrorsFatal =
    kRxErrorCrc | kRxErrorSymbol | kRxErrorSequence | kRxErrorCarrierExtension | kRxErrorData;

// Legacy transmit descriptor (datasheet 7.2.10.1).
struct TxDescriptor {
  uint64_t buffer_address;
  uint16_t length;
  uint8_t checksum_offset;
  uint8_t command;
  uint8_t status;
  uint8_t checksum_start;
  uint16_t vlan_tag;
};
static_assert(sizeof(TxDescriptor) == 16);

// TxDescriptor::command bits.
inline constexpr uint8_t kTxCommandEndOfPacket = 1u << 0;     // EOP
inline constexpr uint8_t kTxCommandInsertFcs = 1u << 1;       // IFCS
inline constexpr uint8_t kTxCommandReportStatus = 1u << 3;    // RS: write DD back
inline constexpr uint8_t kTxCommandExtension = 1u << 5;       // DEXT: 0 for legacy
// TxDescriptor::status bits.
inline constexpr uint8_t kTxStatusDone = 1u << 0;             // DD

}  // namespace udrv::drivers::e1000e::registers
