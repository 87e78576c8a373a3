// The 82574L driver (see e1000e.h).
#include "udrv/drivers/e1000e/e1000e.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

#include "registers.h"
#include "rings.h"
#include "udrv/pci/config.h"
#include "udrv/pci/driver_support.h"

namespace udrv::drivers::e1000e {

namespace {

constexpr uint64_t kBar0Size = 128 * 1024;
constexpr uint32_t kAllOnes = 0xffffffff;
constexpr uint32_t kNoBuffer = 0xffffffff;
constexpr uint32_t kEthernetHeader = 14;
constexpr uint64_t kFcsBytes = 4;
constexpr uint32_t kPageBytes = 4096;
constexpr auto kLinkPollInterval = std::chrono::milliseconds(100);
constexpr auto kRegisterPollInterval = std::chrono::milliseconds(1);

// Keys of the port packets. work_port_: the receive and transmit vectors
// (MSI-X) and the service thread's word that the single vector raised
// receive or transmit causes. service_port_: the other vector (MSI-X), the
// single vector (MSI, legacy), and Stop's word.
constexpr uint64_t kKeyRxVector = 1;
constexpr uint64_t kKeyTxVector = 2;
constexpr uint64_t kKeyWorkSignal = 3;
constexpr uint64_t kKeyOtherVector = 4;
constexpr uint64_t kKeySharedVector = 5;
constexpr uint64_t kKeyStop = 6;

// MSI-X vectors, as IVAR routes the causes.
constexpr uint32_t kRxVector = 0;
constexpr uint32_t kTxVector = 1;
constexpr uint32_t kOtherVector = 2;
constexpr uint32_t kMsixVectors = 3;

// A descriptor is two 64-bit words; the driver reads and writes them whole.
static_assert(offsetof(registers::RxDescriptor, length) == 8);
static_assert(offsetof(registers::RxDescriptor, status) == 12);
static_assert(offsetof(registers::RxDescriptor, errors) == 13);
static_assert(offsetof(registers::TxDescriptor, command) == 11);
static_assert(offsetof(registers::TxDescriptor, status) == 12);

constexpr size_t StatisticIndex(std::string_view name) {
  for (size_t i = 0; i < std::size(registers::kStatistics); ++i) {
    if (registers::kStatistics[i].name == name) return i;
  }
  return std::size(registers::kStatistics);  // a compile error where used in a constant
}
constexpr size_t kGprc = StatisticIndex("GPRC");
constexpr size_t kGptc = StatisticIndex("GPTC");
constexpr size_t kGorc = StatisticIndex("GORC");
constexpr size_t kMpc = StatisticIndex("MPC");
static_assert(kGprc < std::size(registers::kStatistics) && kGptc < std::size(registers::kStatistics) &&
              kGorc < std::size(registers::kStatistics) &&
              kMpc < std::size(registers::kStatistics));

// The causes WaitForWork arms: MSI-X's queue causes, or the single
// vector's receive timer and descriptor write-back.
uint32_t MsixWorkCauses() {
  return registers::Interrupts::GetCause().FromValue(0).set_rxq0(1).set_txq0(1).reg_value();
}

uint32_t SharedWorkCauses() {
  return registers::Interrupts::GetCause()
      .FromValue(0)
      .set_rx_timer(1)
      .set_tx_descriptor_written(1)
      .reg_value();
}

uint32_t ThrottlingInterval(uint32_t interrupts_per_second) {
  if (interrupts_per_second == 0) return 0;
  const uint64_t units =
      (1'000'000'000ull + uint64_t{interrupts_per_second} * registers::kThrottlingUnitNs - 1) /
      (uint64_t{interrupts_per_second} * registers::kThrottlingUnitNs);
  return static_cast<uint32_t>(std::clamp<uint64_t>(units, 1, 0xffff));
}


}  // namespace

std::string_view InterruptChoiceName(InterruptChoice choice) {
  switch (choice) {
    case InterruptChoice::AUTO: return "auto";
    case InterruptChoice::MSI_X: return "msix";
    case InterruptChoice::MSI: return "msi";
    case InterruptChoice::LEGACY: return "legacy";
    case InterruptChoice::POLLING: return "polling";
  }
  return "unknown";
}

Result<InterruptChoice> ParseInterruptChoice(std::string_view text) {
  for (InterruptChoice choice : {InterruptChoice::AUTO, InterruptChoice::MSI_X, InterruptChoice::MSI,
                                 InterruptChoice::LEGACY, InterruptChoice::POLLING}) {
    if (text == InterruptChoiceName(choice)) return choice;
  }
  return Fail(Status::INVALID_ARGS,
              "interrupt mode '" + std::string(text) +
                  "': not one of auto, msix, msi, legacy, polling");
}

Result<std::unique_ptr<E1000e>> E1000e::Create(pci::Device& device, Options options) {
  const std::string name =
      "e1000e " + device.address().ToString() + " (" + std::string(device.route()) + ")";
  auto fail = [&](Error inner, std::string_view step) {
    return pci::DriverStepError(std::move(inner), step, name, device);
  };

  for (auto [size, what] : {std::pair{options.rx_ring_size, "receive"},
                            std::pair{options.tx_ring_size, "transmit"}}) {
    if (size < kMinRingSize || size > kMaxRingSize || size % kRingAlignment != 0) {
      return Fail(Status::INVALID_ARGS,
                  std::string(what) + " ring of " + std::to_string(size) +
                      " descriptors: must be a multiple of 8 from " + std::to_string(kMinRingSize) +
                      " to " + std::to_string(kMaxRingSize),
                  name);
    }
  }
  if (options.pool_size == 0) options.pool_size = options.rx_ring_size + options.tx_ring_size + 512;
  if (options.pool_size <= options.rx_ring_size) {
    return Fail(Status::INVALID_ARGS,
                "a pool of " + std::to_string(options.pool_size) +
                    " buffers leaves none beyond the receive ring's " +
                    std::to_string(options.rx_ring_size),
                name);
  }

  if (auto ids = pci::CheckDeviceIds(device, kVendorId, kDeviceId, "the 82574L"); !ids) {
    return fail(ids.error(), "check the device");
  }
  auto mapped =
      pci::MapRegisters(device, 0, kBar0Size, registers::kRegistersEnd, "the 82574L");
  if (!mapped) return fail(mapped.error(), "map the registers");

  std::unique_ptr<E1000e> driver(
      new E1000e(device, name, options, std::move(mapped->vmar), std::move(mapped->mmio)));
  // From here the destructor (Stop) undoes whatever was set up.
  UDRV_TRY(driver->Reset());
  UDRV_TRY(driver->ReadMacAddress());
  driver->SetUpLink();
  driver->ClearStatistics();
  UDRV_TRY(driver->AllocateMemory());
  UDRV_TRY(driver->SetUpInterrupts());
  auto mastering = device.SetBusMastering(true);
  if (!mastering) return driver->Failure(mastering.error(), "enable bus mastering");
  driver->bus_mastering_ = true;
  driver->ConfigureTx();
  driver->ConfigureRx();
  driver->CheckLink();
  UDRV_TRY(driver->StartServiceThread());
  return driver;
}

E1000e::E1000e(pci::Device& device, std::string name, Options options, Vmar vmar,
               mmio::MmioBuffer registers)
    : device_(&device),
      name_(std::move(name)),
      options_(options),
      vmar_(std::move(vmar)),
      registers_(std::move(registers)),
      statistics_(std::size(registers::kStatistics), 0) {}

E1000e::~E1000e() { (void)Stop(); }

std::unexpected<Error> E1000e::Failure(Status status, std::string what) const {
  return Fail(status, std::move(what), name_);
}

std::unexpected<Error> E1000e::Failure(Error inner, std::string_view step) const {
  return pci::DriverStepError(std::move(inner), step, name_, *device_);
}

bool E1000e::DeviceGone() {
  if (gone_.load(std::memory_order_relaxed)) return true;
  if (registers::DeviceStatus::Get().ReadFrom(&registers_).reg_value() == kAllOnes) {
    gone_.store(true);
    return true;
  }
  return false;
}

bool E1000e::DeviceTakenAway() {
  if (DeviceGone()) return true;
  // A bus that takes the device back (vfio-pci's removal request) closes
  // it: config space says so, while the driver's own BAR mapping still
  // reaches the NIC until it is dropped.
  auto vendor = device_->ReadConfig16(pci::kConfigVendorId);
  if (!vendor && vendor.error().status == Status::IO_NOT_PRESENT) {
    gone_.store(true);
    return true;
  }
  return false;
}

Result<void> E1000e::CheckUsable(std::string_view step) {
  if (stopped_) return Failure(Status::BAD_STATE, std::string(step) + ": the driver was stopped");
  if (gone_.load(std::memory_order_relaxed)) {
    return Failure(Status::IO_NOT_PRESENT,
                   std::string(step) +
                       ": the device is gone (its registers read all ones, or its bus took it "
                       "back)");
  }
  return {};
}

Result<void> E1000e::Reset() {
  if (DeviceGone()) {
    return Failure(Status::IO_NOT_PRESENT, "reset: the device's registers read all ones");
  }
  // Nothing may interrupt or move data while the NIC resets (datasheet
  // 4.6.1: mask interrupts, stop receive and transmit, then CTRL.RST).
  registers::Interrupts::GetMaskClear().FromValue(kAllOnes).WriteTo(&registers_);
  registers::Rctl::Get().FromValue(0).WriteTo(&registers_);
  registers::Tctl::Get().FromValue(0).set_pad_short_packets(1).WriteTo(&registers_);
  (void)registers::DeviceStatus::Get().ReadFrom(&registers_);  // posts the writes
  // Lets DMA already under way end.
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  registers::Ctrl::Get().ReadFrom(&registers_).set_reset(1).WriteTo(&registers_);
  std::this_thread::sleep_for(kRegisterPollInterval);

  const Time deadline = DeadlineAfter(options_.reset_timeout);
  for (;;) {
    const auto ctrl = registers::Ctrl::Get().ReadFrom(&registers_);
    const auto eecd = registers::Eecd::Get().ReadFrom(&registers_);
    if (ctrl.reg_value() == kAllOnes) {
      gone_.store(true);
      return Failure(Status::IO_NOT_PRESENT, "reset: the device's registers read all ones");
    }
    if (!ctrl.reset() && eecd.auto_read_done()) break;
    if (Now() >= deadline) {
      return Failure(Status::TIMED_OUT,
                     std::string("reset: ") +
                         (ctrl.reset() ? "CTRL.RST still set" : "no EEPROM auto-read (EECD.AUTO_RD)") +
                         " after " + std::to_string(options_.reset_timeout / 1'000'000) +
                         " ms (CTRL " + Hex(ctrl.reg_value()) + ", EECD " + Hex(eecd.reg_value()) +
                         ")");
    }
    std::this_thread::sleep_for(kRegisterPollInterval);
  }
  // The reset brings the interrupt mask back: mask again, clear the causes.
  registers::Interrupts::GetMaskClear().FromValue(kAllOnes).WriteTo(&registers_);
  const uint32_t causes = registers::Interrupts::GetCause().ReadFrom(&registers_).reg_value();
  registers::Interrupts::GetCause().FromValue(causes).WriteTo(&registers_);
  return {};
}

Result<void> E1000e::ReadMacAddress() {
  const auto low = registers::ReceiveAddressLow::Get(0).ReadFrom(&registers_);
  const auto high = registers::ReceiveAddressHigh::Get(0).ReadFrom(&registers_);
  const uint32_t bytes_0_to_3 = static_cast<uint32_t>(low.bytes_0_to_3());
  const uint32_t bytes_4_to_5 = static_cast<uint32_t>(high.bytes_4_to_5());
  for (size_t i = 0; i < 4; ++i) mac_.bytes[i] = static_cast<uint8_t>(bytes_0_to_3 >> (8 * i));
  for (size_t i = 0; i < 2; ++i) mac_.bytes[4 + i] = static_cast<uint8_t>(bytes_4_to_5 >> (8 * i));
  const bool all_zero = std::all_of(mac_.bytes.begin(), mac_.bytes.end(), [](uint8_t b) { return b == 0; });
  if (all_zero || (mac_.bytes[0] & 1) != 0) {
    return Failure(Status::IO, "read the MAC address: RAL0/RAH0 hold " + mac_.ToString() +
                                   ", no unicast address (the EEPROM gave none)");
  }
  // Written back valid, so that the NIC accepts frames for it; the other
  // receive addresses go.
  registers::ReceiveAddressLow::Get(0).FromValue(bytes_0_to_3).WriteTo(&registers_);
  registers::ReceiveAddressHigh::Get(0)
      .FromValue(0)
      .set_bytes_4_to_5(bytes_4_to_5)
      .set_select(0)
      .set_address_valid(1)
      .WriteTo(&registers_);
  for (uint32_t n = 1; n < registers::kReceiveAddresses; ++n) {
    registers::ReceiveAddressLow::Get(n).FromValue(0).WriteTo(&registers_);
    registers::ReceiveAddressHigh::Get(n).FromValue(0).WriteTo(&registers_);
  }
  return {};
}

void E1000e::SetUpLink() {
  // Link up, speed and duplex from the PHY's autonegotiation (datasheet
  // 3.2.7.1: SLU and ASDE, nothing forced).
  registers::Ctrl::Get()
      .ReadFrom(&registers_)
      .set_reset(0)
      .set_phy_reset(0)
      .set_vlan_mode_enable(0)
      .set_force_speed(0)
      .set_force_duplex(0)
      .set_auto_speed_detection(1)
      .set_set_link_up(1)
      .WriteTo(&registers_);
  registers::CtrlExt::Get().ReadFrom(&registers_).set_driver_loaded(1).WriteTo(&registers_);
  for (uint32_t n = 0; n < registers::kMulticastTableEntries; ++n) {
    registers::MulticastTable::Get(n).FromValue(0).WriteTo(&registers_);
  }
}

void E1000e::ClearStatistics() {
  for (const auto& statistic : registers::kStatistics) {
    (void)registers::Statistic::Get(statistic.offset).ReadFrom(&registers_);
    if (statistic.is_64bit) (void)registers::Statistic::Get(statistic.offset + 4).ReadFrom(&registers_);
  }
}

void E1000e::ReadStatistics() {
  for (size_t i = 0; i < std::size(registers::kStatistics); ++i) {
    const auto& statistic = registers::kStatistics[i];
    uint64_t count = registers::Statistic::Get(statistic.offset).ReadFrom(&registers_).count();
    if (statistic.is_64bit) {
      count |= uint64_t{registers::Statistic::Get(statistic.offset + 4).ReadFrom(&registers_).count()}
               << 32;
    }
    statistics_[i] += count;
  }
}

Result<void> E1000e::AllocateMemory() {
  auto bti = device_->GetBti(0);
  if (!bti) return Failure(bti.error(), "get the BTI");
  bti_ = std::move(*bti);

  rx_size_ = options_.rx_ring_size;
  tx_size_ = options_.tx_ring_size;
  const uint64_t rx_bytes = uint64_t{rx_size_} * sizeof(registers::RxDescriptor);
  const uint64_t tx_offset = (rx_bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  const uint64_t ring_bytes = tx_offset + uint64_t{tx_size_} * sizeof(registers::TxDescriptor);
  auto rings = dma::ContiguousBuffer::Create(bti_, ring_bytes,
                                             dma::kBtiPermRead | dma::kBtiPermWrite, "e1000e-rings");
  if (!rings) return Failure(rings.error(), "allocate and pin the descriptor rings");
  rings_ = std::move(*rings);
  std::memset(rings_.virt(), 0, rings_.size());
  rx_words_ = static_cast<volatile uint64_t*>(rings_.virt());
  tx_words_ = reinterpret_cast<volatile uint64_t*>(static_cast<std::byte*>(rings_.virt()) +
                                                   tx_offset);
  rx_buffer_.assign(rx_size_, kNoBuffer);
  tx_buffer_.assign(tx_size_, kNoBuffer);

  const uint32_t pool_size = options_.pool_size;
  constexpr uint32_t kBuffersPerChunk = static_cast<uint32_t>(kMaxChunkBytes / kBufferSize);
  buffer_data_.reserve(pool_size);
  buffer_address_.reserve(pool_size);
  for (uint32_t first = 0; first < pool_size; first += kBuffersPerChunk) {
    const uint32_t count = std::min(kBuffersPerChunk, pool_size - first);
    auto chunk = dma::ContiguousBuffer::Create(
        bti_, uint64_t{count} * kBufferSize, dma::kBtiPermRead | dma::kBtiPermWrite,
        "e1000e-buffers-" + std::to_string(pool_chunks_.size()));
    if (!chunk) {
      return Failure(chunk.error(), "allocate and pin buffers " + std::to_string(first) + ".." +
                                        std::to_string(first + count - 1) + " of the pool");
    }
    for (uint32_t i = 0; i < count; ++i) {
      buffer_data_.push_back(static_cast<std::byte*>(chunk->virt()) + uint64_t{i} * kBufferSize);
      buffer_address_.push_back(chunk->phys() + uint64_t{i} * kBufferSize);
    }
    pool_chunks_.push_back(std::move(*chunk));
  }
  buffer_owner_.assign(pool_size, Owner::POOL);
  free_buffers_.clear();
  free_buffers_.reserve(pool_size);
  for (uint32_t i = pool_size; i > 0; --i) free_buffers_.push_back(i - 1);
  return {};
}

uint32_t E1000e::TakeBuffer() {
  if (free_buffers_.empty()) return kNoBuffer;
  const uint32_t buffer = free_buffers_.back();
  free_buffers_.pop_back();
  return buffer;
}

void E1000e::GiveBuffer(uint32_t buffer) {
  buffer_owner_[buffer] = Owner::POOL;
  free_buffers_.push_back(buffer);
}

void E1000e::ConfigureTx() {
  const uint64_t base = rings_.phys() + (reinterpret_cast<uintptr_t>(tx_words_) -
                                         reinterpret_cast<uintptr_t>(rings_.virt()));
  using namespace registers;
  RingBaseLow::Get(kTxRing).FromValue(static_cast<uint32_t>(base)).WriteTo(&registers_);
  RingBaseHigh::Get(kTxRing).FromValue(static_cast<uint32_t>(base >> 32)).WriteTo(&registers_);
  RingLength::Get(kTxRing)
      .FromValue(0)
      .set_bytes(uint64_t{tx_size_} * sizeof(TxDescriptor))
      .WriteTo(&registers_);
  RingHead::Get(kTxRing).FromValue(0).WriteTo(&registers_);
  RingTail::Get(kTxRing).FromValue(0).WriteTo(&registers_);
  RingInterruptDelay::GetDelay(kTxRing).FromValue(0).WriteTo(&registers_);
  RingInterruptDelay::GetAbsolute(kTxRing).FromValue(0).WriteTo(&registers_);
  tx_tail_ = 0;
  tx_clean_ = 0;
  // The datasheet's values for copper (IPGT 8, IPGR1 8, IPGR2 6).
  Tipg::Get().FromValue(0).set_ipgt(8).set_ipgr1(8).set_ipgr2(6).WriteTo(&registers_);
  Tctl::Get()
      .FromValue(0)
      .set_enable(1)
      .set_pad_short_packets(1)
      .set_collision_threshold(0x0f)
      .set_collision_distance(0x3f)
      .set_retransmit_late_collision(1)
      .WriteTo(&registers_);
}

void E1000e::ConfigureRx() {
  using namespace registers;
  volatile uint64_t* words = rx_words_;
  for (uint32_t i = 0; i < rx_size_; ++i) {
    const uint32_t buffer = TakeBuffer();  // the pool holds more than the ring
    buffer_owner_[buffer] = Owner::RX_RING;
    rx_buffer_[i] = buffer;
    words[2 * i] = buffer_address_[buffer];
    words[2 * i + 1] = 0;
  }
  rx_next_ = 0;
  rx_discarding_ = false;
  const uint64_t base = rings_.phys();
  RingBaseLow::Get(kRxRing).FromValue(static_cast<uint32_t>(base)).WriteTo(&registers_);
  RingBaseHigh::Get(kRxRing).FromValue(static_cast<uint32_t>(base >> 32)).WriteTo(&registers_);
  RingLength::Get(kRxRing)
      .FromValue(0)
      .set_bytes(uint64_t{rx_size_} * sizeof(RxDescriptor))
      .WriteTo(&registers_);
  RingHead::Get(kRxRing).FromValue(0).WriteTo(&registers_);
  RingTail::Get(kRxRing).FromValue(0).WriteTo(&registers_);
  RingInterruptDelay::GetDelay(kRxRing).FromValue(0).WriteTo(&registers_);
  RingInterruptDelay::GetAbsolute(kRxRing).FromValue(0).WriteTo(&registers_);
  // Legacy descriptors (EXTEN 0); no interrupt for TCP ACKs alone (Linux
  // sets ACK_DIS against spurious interrupts in MSI-X mode).
  Rfctl::Get().ReadFrom(&registers_).set_extended_status(0).set_ack_disable(1).WriteTo(&registers_);
  Rxcsum::Get()
      .FromValue(0)
      .set_ip_offload(1)
      .set_l4_offload(1)
      .set_packet_checksum_disable(0)
      .WriteTo(&registers_);
  Rctl::Get()
      .FromValue(0)
      .set_enable(1)
      .set_broadcast_accept(1)
      .set_strip_crc(1)
      .set_buffer_size(RxBufferSize::BYTES_2048)
      .set_min_threshold(RxMinThreshold::HALF)
      .WriteTo(&registers_);
  // Every slot holds a buffer; the NIC gets all but one (the empty slot
  // that tells a full ring from an empty one).
  std::atomic_thread_fence(std::memory_order_release);
  RingTail::Get(kRxRing).FromValue(rx_size_ - 1).WriteTo(&registers_);
}

Result<void> E1000e::TrySetInterruptMode(pci::InterruptMode mode, uint32_t vectors) {
  auto set = device_->SetInterruptMode(mode, vectors);
  if (!set) return std::unexpected(set.error());
  interrupt_mode_ = mode;
  return {};
}

Result<void> E1000e::SetUpInterrupts() {
  using Mode = pci::InterruptMode;
  auto work_port = Port::Create("e1000e-work");
  if (!work_port) return Failure(work_port.error(), "create the work port");
  work_port_ = std::move(*work_port);
  auto service_port = Port::Create("e1000e-service");
  if (!service_port) return Failure(service_port.error(), "create the service port");
  service_port_ = std::move(*service_port);

  switch (options_.interrupts) {
    case InterruptChoice::POLLING: {
      polling_ = true;
      auto off = device_->SetInterruptMode(Mode::DISABLED, 0);
      if (!off) return Failure(off.error(), "switch interrupts off (polling)");
      interrupt_mode_ = Mode::DISABLED;
      return {};
    }
    case InterruptChoice::MSI_X:
      if (auto set = TrySetInterruptMode(Mode::MSI_X, kMsixVectors); !set) {
        return Failure(set.error(), "set MSI-X with 3 vectors");
      }
      break;
    case InterruptChoice::MSI:
      if (auto set = TrySetInterruptMode(Mode::MSI, 1); !set) return Failure(set.error(), "set MSI");
      break;
    case InterruptChoice::LEGACY:
      if (auto set = TrySetInterruptMode(Mode::LEGACY, 1); !set) {
        return Failure(set.error(), "set legacy INTx");
      }
      break;
    case InterruptChoice::AUTO: {
      std::string tried;
      for (auto [mode, vectors] : {std::pair{Mode::MSI_X, kMsixVectors}, std::pair{Mode::MSI, 1u},
                                   std::pair{Mode::LEGACY, 1u}}) {
        auto set = TrySetInterruptMode(mode, vectors);
        if (set) break;
        tried += std::string(tried.empty() ? "" : "; ") + std::string(pci::InterruptModeName(mode)) +
                 ": " + set.error().what;
      }
      if (interrupt_mode_ == Mode::DISABLED) {
        return Failure(Status::NOT_SUPPORTED, "set an interrupt mode: none works (" + tried + ")");
      }
      break;
    }
  }

  const uint32_t vectors = interrupt_mode_ == Mode::MSI_X ? kMsixVectors : 1;
  for (uint32_t vector = 0; vector < vectors; ++vector) {
    auto interrupt = device_->MapInterrupt(vector);
    if (!interrupt) {
      return Failure(interrupt.error(), "map interrupt vector " + std::to_string(vector));
    }
    interrupts_.push_back(std::move(*interrupt));
  }
  Result<void> bound;
  if (interrupt_mode_ == Mode::MSI_X) {
    bound = interrupts_[kRxVector].Bind(work_port_, kKeyRxVector);
    if (bound) bound = interrupts_[kTxVector].Bind(work_port_, kKeyTxVector);
    if (bound) bound = interrupts_[kOtherVector].Bind(service_port_, kKeyOtherVector);
  } else {
    bound = interrupts_[0].Bind(service_port_, kKeySharedVector);
  }
  if (!bound) return Failure(bound.error(), "bind the interrupts to the driver's ports");
  ConfigureInterruptCauses();
  return {};
}

void E1000e::ConfigureInterruptCauses() {
  using namespace registers;
  const uint32_t interval = ThrottlingInterval(options_.interrupt_rate);
  if (interrupt_mode_ == pci::InterruptMode::MSI_X) {
    // As Linux's e1000_configure_msix: receive -> vector 0, transmit -> 1,
    // other causes (link) -> 2, a transmit interrupt at every write-back;
    // an MSI-X vector clears and masks its queue cause as it fires (EIAC,
    // EIAME), WaitForWork unmasks it again.
    Ivar::Get()
        .FromValue(0)
        .set_rxq0_vector(kRxVector)
        .set_rxq0_valid(1)
        .set_txq0_vector(kTxVector)
        .set_txq0_valid(1)
        .set_other_vector(kOtherVector)
        .set_other_valid(1)
        .set_tx_interrupt_every_writeback(1)
        .WriteTo(&registers_);
    CtrlExt::Get()
        .ReadFrom(&registers_)
        .set_interrupt_auto_mask(0)
        .set_pba_clear(1)
        .set_extended_auto_mask(1)
        .WriteTo(&registers_);
    Interrupts::GetMsixAutoClear().FromValue(MsixWorkCauses()).WriteTo(&registers_);
    AutoMask::Get().FromValue(0).WriteTo(&registers_);
    for (uint32_t vector = 0; vector < kMsixVectors; ++vector) {
      Throttling::GetVector(vector).FromValue(0).set_interval(interval).WriteTo(&registers_);
    }
    Interrupts::GetMaskSet()
        .FromValue(0)
        .set_other(1)
        .set_link_status_change(1)
        .WriteTo(&registers_);
  } else {
    // One vector: the service thread reads ICR, clears what it saw and
    // dispatches. No auto-masking: the driver masks and unmasks itself.
    CtrlExt::Get()
        .ReadFrom(&registers_)
        .set_interrupt_auto_mask(0)
        .set_extended_auto_mask(0)
        .WriteTo(&registers_);
    AutoMask::Get().FromValue(0).WriteTo(&registers_);
    Throttling::Get().FromValue(0).set_interval(interval).WriteTo(&registers_);
    Interrupts::GetMaskSet().FromValue(0).set_link_status_change(1).WriteTo(&registers_);
  }
}

Result<void> E1000e::StartServiceThread() {
  try {
    service_thread_ = std::thread([this] { ServiceLoop(); });
  } catch (const std::system_error& e) {
    return Failure(Status::NO_RESOURCES, std::string("start the service thread: ") + e.what());
  }
  return {};
}

void E1000e::ServiceLoop() {
  for (;;) {
    auto packet = service_port_.Wait(DeadlineAfter(kLinkPollInterval));
    if (packet) {
      if (packet->type == PacketType::USER && packet->key == kKeyStop) return;
      if (packet->type == PacketType::INTERRUPT) {
        if (packet->key == kKeySharedVector) {
          HandleSharedInterrupt();
          (void)interrupts_[0].Ack();
        } else if (packet->key == kKeyOtherVector) {
          HandleOtherInterrupt();
          (void)interrupts_[kOtherVector].Ack();
        }
      }
      // A link change interrupts (LSC); polling mode looks each time.
      if (polling_ || packet->type == PacketType::INTERRUPT) CheckLink();
      continue;
    }
    if (packet.error().status != Status::TIMED_OUT) {
      // The port is broken: polling the link is all that is left.
      std::this_thread::sleep_for(kLinkPollInterval);
      CheckLink();
      continue;
    }
    if (polling_) CheckLink();
    // A device that vanished raises no interrupt: a WaitForWork is woken.
    if (DeviceTakenAway() && !polling_) SignalWork();
  }
}

void E1000e::HandleSharedInterrupt() {
  using namespace registers;
  const uint32_t causes = Interrupts::GetCause().ReadFrom(&registers_).reg_value();
  if (causes == kAllOnes) {
    gone_.store(true);
    return;
  }
  Interrupts::GetCause().FromValue(causes).WriteTo(&registers_);  // written 1 to clear
  const uint32_t work = SharedWorkCauses();
  if ((causes & work) != 0) {
    // Masked until WaitForWork wants them again (as NAPI does).
    Interrupts::GetMaskClear().FromValue(work).WriteTo(&registers_);
    SignalWork();
  }
}

void E1000e::SignalWork() {
  if (!work_signalled_.exchange(true)) {
    PortPacket signal;
    signal.key = kKeyWorkSignal;
    (void)work_port_.Queue(signal);
  }
}

void E1000e::HandleOtherInterrupt() {
  using namespace registers;
  const uint32_t causes = Interrupts::GetCause().ReadFrom(&registers_).reg_value();
  if (causes == kAllOnes) {
    gone_.store(true);
    return;
  }
  // The queue causes belong to their own vectors (EIAC clears them).
  Interrupts::GetCause().FromValue(causes & ~MsixWorkCauses()).WriteTo(&registers_);
  Interrupts::GetMaskSet().FromValue(0).set_other(1).set_link_status_change(1).WriteTo(&registers_);
}

void E1000e::CheckLink() {
  const auto status = registers::DeviceStatus::Get().ReadFrom(&registers_);
  bool up = status.link_up() != 0;
  if (status.reg_value() == kAllOnes) {
    gone_.store(true);
    up = false;
  }
  std::lock_guard lock(link_mutex_);
  if (up == link_up_) return;
  link_up_ = up;
  if (!link_port_.is_valid()) return;
  PortPacket packet;
  packet.key = link_key_;
  packet.user[0] = up ? 1 : 0;
  (void)link_port_.Queue(packet);
}

net::DeviceInfo E1000e::GetInfo() const {
  net::DeviceInfo info;
  info.driver = "e1000e";
  info.name = device_->address().ToString();
  info.mac = mac_;
  info.rx_ring_size = rx_size_;
  info.tx_ring_size = tx_size_;
  info.buffer_size = kBufferSize;
  info.pool_size = static_cast<uint32_t>(buffer_data_.size());
  info.interrupt_mode =
      polling_ ? "polling"
               : (interrupt_mode_ == pci::InterruptMode::MSI_X
                      ? "msi-x"
                      : (interrupt_mode_ == pci::InterruptMode::MSI ? "msi" : "legacy"));
  return info;
}

Result<net::LinkState> E1000e::GetLinkState() {
  UDRV_TRY(CheckUsable("read the link state"));
  const auto status = registers::DeviceStatus::Get().ReadFrom(&registers_);
  if (status.reg_value() == kAllOnes) {
    gone_.store(true);
    return std::unexpected(CheckUsable("read the link state").error());
  }
  net::LinkState state;
  state.up = status.link_up() != 0;
  if (state.up) {
    switch (status.speed()) {
      case registers::LinkSpeed::MBPS_10: state.speed_mbps = 10; break;
      case registers::LinkSpeed::MBPS_100: state.speed_mbps = 100; break;
      default: state.speed_mbps = 1000; break;
    }
    state.full_duplex = status.full_duplex() != 0;
  }
  return state;
}

Result<void> E1000e::WatchLink(Port port, uint64_t key) {
  UDRV_TRY(CheckUsable("watch the link"));
  std::lock_guard lock(link_mutex_);
  link_port_ = std::move(port);
  link_key_ = key;
  return {};
}

size_t E1000e::AllocBuffers(std::span<net::Packet> out) {
  if (stopped_) return 0;
  if (free_buffers_.size() < out.size()) ReclaimTx();
  size_t given = 0;
  while (given < out.size()) {
    const uint32_t buffer = TakeBuffer();
    if (buffer == kNoBuffer) break;
    buffer_owner_[buffer] = Owner::USER;
    out[given++] = net::Packet{.data = buffer_data_[buffer], .length = 0, .buffer = buffer};
  }
  return given;
}

void E1000e::FreeBuffers(std::span<const net::Packet> packets) {
  if (stopped_) return;
  for (const net::Packet& packet : packets) {
    // A buffer the caller does not hold (a stranger's, one freed twice)
    // would corrupt the pool: it is left alone.
    if (packet.buffer >= buffer_owner_.size() || buffer_owner_[packet.buffer] != Owner::USER) {
      continue;
    }
    GiveBuffer(packet.buffer);
  }
}

uint32_t E1000e::ReclaimTx() {
  volatile uint64_t* words = tx_words_;
  uint32_t reclaimed = 0;
  while (tx_clean_ != tx_tail_) {
    const uint64_t word = words[2 * tx_clean_ + 1];
    if ((static_cast<uint8_t>(word >> 32) & registers::kTxStatusDone) == 0) break;
    const uint32_t buffer = tx_buffer_[tx_clean_];
    if (buffer != kNoBuffer) GiveBuffer(buffer);
    tx_bytes_ += static_cast<uint16_t>(word);
    tx_buffer_[tx_clean_] = kNoBuffer;
    tx_clean_ = RingNext(tx_clean_, tx_size_);
    ++reclaimed;
  }
  return reclaimed;
}

Result<size_t> E1000e::RxBurst(std::span<net::Packet> out) {
  UDRV_TRY(CheckUsable("receive"));
  volatile uint64_t* words = rx_words_;
  size_t received = 0;
  uint32_t last_done = kNoBuffer;
  while (received < out.size()) {
    const uint32_t slot = rx_next_;
    const RxVerdict verdict = DecodeRxDescriptor(words[2 * slot + 1]);
    if (!verdict.done) break;
    // The frame's bytes only after its DD.
    std::atomic_thread_fence(std::memory_order_acquire);
    const uint32_t buffer = rx_buffer_[slot];
    if (rx_discarding_ || !verdict.deliverable()) {
      // Counted once per frame; the buffer stays in its slot.
      if (!rx_discarding_) ++rx_errors_;
      rx_discarding_ = !verdict.end_of_packet;
    } else {
      const uint32_t refill = TakeBuffer();
      if (refill == kNoBuffer) break;  // the caller holds the whole pool: try later
      buffer_owner_[buffer] = Owner::USER;
      out[received++] = net::Packet{.data = buffer_data_[buffer],
                                    .length = verdict.length,
                                    .buffer = buffer,
                                    .ip_checksum = verdict.ip_checksum,
                                    .l4_checksum = verdict.l4_checksum};
      if (verdict.ip_checksum == net::ChecksumStatus::BAD ||
          verdict.l4_checksum == net::ChecksumStatus::BAD) {
        ++rx_checksum_bad_;
      }
      buffer_owner_[refill] = Owner::RX_RING;
      rx_buffer_[slot] = refill;
      words[2 * slot] = buffer_address_[refill];
    }
    words[2 * slot + 1] = 0;
    last_done = slot;
    rx_next_ = RingNext(slot, rx_size_);
  }
  if (last_done != kNoBuffer) {
    // The slot just refilled becomes the empty one; the one before it goes
    // to the NIC.
    std::atomic_thread_fence(std::memory_order_release);
    registers::RingTail::Get(registers::kRxRing).FromValue(last_done).WriteTo(&registers_);
  }
  return received;
}

Result<size_t> E1000e::TxBurst(std::span<const net::Packet> packets) {
  UDRV_TRY(CheckUsable("transmit"));
  ReclaimTx();
  const size_t count = std::min<size_t>(packets.size(), RingSpace(tx_tail_, tx_clean_, tx_size_));
  // Each packet is checked and taken before any is queued; a refusal gives
  // back the ones taken. Taking them here also refuses one buffer given
  // twice in a burst (two ring slots, then two pool entries, for one buffer).
  auto refuse = [&](size_t taken, std::string what) {
    for (size_t j = 0; j < taken; ++j) buffer_owner_[packets[j].buffer] = Owner::USER;
    return Failure(Status::INVALID_ARGS, "transmit: packet " + std::to_string(taken) + " " + what);
  };
  for (size_t i = 0; i < count; ++i) {
    const net::Packet& packet = packets[i];
    if (packet.buffer >= buffer_owner_.size() || buffer_owner_[packet.buffer] != Owner::USER ||
        packet.data != buffer_data_[packet.buffer]) {
      return refuse(i, "(buffer " + std::to_string(packet.buffer) +
                           ") is no buffer of this device's pool the caller holds (or it came "
                           "twice)");
    }
    if (packet.length < kEthernetHeader || packet.length > kMaxFrame) {
      return refuse(i, "has " + std::to_string(packet.length) + " bytes, not " +
                           std::to_string(kEthernetHeader) + ".." + std::to_string(kMaxFrame));
    }
    buffer_owner_[packet.buffer] = Owner::TX_RING;
  }
  volatile uint64_t* words = tx_words_;
  constexpr uint64_t kCommand = registers::kTxCommandEndOfPacket |
                                registers::kTxCommandInsertFcs |
                                registers::kTxCommandReportStatus;
  for (size_t i = 0; i < count; ++i) {
    const net::Packet& packet = packets[i];
    words[2 * tx_tail_] = buffer_address_[packet.buffer];
    words[2 * tx_tail_ + 1] = uint64_t{packet.length} | (kCommand << 24);
    tx_buffer_[tx_tail_] = packet.buffer;
    tx_tail_ = RingNext(tx_tail_, tx_size_);
  }
  if (count > 0) {
    std::atomic_thread_fence(std::memory_order_release);
    registers::RingTail::Get(registers::kTxRing).FromValue(tx_tail_).WriteTo(&registers_);
  }
  return count;
}

void E1000e::ArmWorkInterrupts() {
  const uint32_t causes =
      interrupt_mode_ == pci::InterruptMode::MSI_X ? MsixWorkCauses() : SharedWorkCauses();
  registers::Interrupts::GetMaskSet().FromValue(causes).WriteTo(&registers_);
}

Result<void> E1000e::WaitForWork(Time deadline) {
  UDRV_TRY(CheckUsable("wait for work"));
  if (polling_) return {};
  ArmWorkInterrupts();
  // Work that came before the causes were armed does not interrupt.
  if (ReclaimTx() > 0) return {};
  volatile uint64_t* words = rx_words_;
  if (DecodeRxDescriptor(words[2 * rx_next_ + 1]).done) return {};
  auto packet = work_port_.Wait(deadline);
  if (!packet) {
    if (packet.error().status == Status::TIMED_OUT) {
      UDRV_TRY(CheckUsable("wait for work"));
    }
    return Failure(packet.error(), "wait for work");
  }
  if (packet->type == PacketType::INTERRUPT) {
    const uint32_t vector = packet->key == kKeyRxVector ? kRxVector : kTxVector;
    auto acked = interrupts_[vector].Ack();
    if (!acked) return Failure(acked.error(), "wait for work: acknowledge the interrupt");
  } else {
    work_signalled_.store(false);
  }
  return CheckUsable("wait for work");
}

Result<net::Counters> E1000e::GetCounters() {
  UDRV_TRY(CheckUsable("read the counters"));
  if (DeviceGone()) return std::unexpected(CheckUsable("read the counters").error());
  ReadStatistics();
  net::Counters counters;
  counters.rx_packets = statistics_[kGprc];
  counters.tx_packets = statistics_[kGptc];
  // GORC counts each frame's FCS too (4 bytes), even stripped. GOTC
  // should as well (datasheet), but QEMU 7.2's leaves it out: the driver
  // counts what it sent itself.
  counters.rx_bytes = statistics_[kGorc] - kFcsBytes * statistics_[kGprc];
  counters.tx_bytes = tx_bytes_;
  counters.rx_missed = statistics_[kMpc];
  counters.rx_errors = rx_errors_;
  counters.rx_checksum_bad = rx_checksum_bad_;
  counters.device.reserve(statistics_.size());
  for (size_t i = 0; i < statistics_.size(); ++i) {
    counters.device.push_back(net::NamedCounter{registers::kStatistics[i].name, statistics_[i]});
  }
  return counters;
}

Result<UnpinnedTxOutcome> E1000e::SendUnpinnedForTest(uint64_t device_address, uint32_t length,
                                                      Duration timeout) {
  UDRV_TRY(CheckUsable("send from an unpinned address"));
  if (length == 0 || length > kMaxFrame) {
    return Failure(Status::INVALID_ARGS, "send from an unpinned address: " +
                                             std::to_string(length) + " bytes, not 1.." +
                                             std::to_string(kMaxFrame));
  }
  ReclaimTx();
  if (tx_clean_ != tx_tail_) {
    return Failure(Status::BAD_STATE,
                   "send from an unpinned address: " +
                       std::to_string(RingInFlight(tx_tail_, tx_clean_, tx_size_)) +
                       " frame(s) still in flight");
  }
  ReadStatistics();
  const uint64_t sent_before = statistics_[kGptc];
  const uint32_t slot = tx_tail_;
  const uint32_t head_before = static_cast<uint32_t>(
      registers::RingHead::Get(registers::kTxRing).ReadFrom(&registers_).index());
  volatile uint64_t* words = tx_words_;
  constexpr uint64_t kCommand = registers::kTxCommandEndOfPacket |
                                registers::kTxCommandInsertFcs |
                                registers::kTxCommandReportStatus;
  words[2 * slot] = device_address;
  words[2 * slot + 1] = uint64_t{length} | (kCommand << 24);
  tx_buffer_[slot] = kNoBuffer;
  tx_tail_ = RingNext(slot, tx_size_);
  std::atomic_thread_fence(std::memory_order_release);
  registers::RingTail::Get(registers::kTxRing).FromValue(tx_tail_).WriteTo(&registers_);

  UnpinnedTxOutcome outcome;
  const Time deadline = DeadlineAfter(timeout);
  for (;;) {
    outcome.descriptor_done =
        (static_cast<uint8_t>(words[2 * slot + 1] >> 32) & registers::kTxStatusDone) != 0;
    if (outcome.descriptor_done || Now() >= deadline) break;
    std::this_thread::sleep_for(kRegisterPollInterval);
  }
  const auto head = registers::RingHead::Get(registers::kTxRing).ReadFrom(&registers_);
  if (head.reg_value() == kAllOnes) gone_.store(true);
  outcome.head_advanced = head.index() != head_before;
  ReadStatistics();
  outcome.frames_sent = statistics_[kGptc] - sent_before;
  if (outcome.descriptor_done) tx_clean_ = tx_tail_;
  return outcome;
}

Result<void> E1000e::ResetTxRing() {
  UDRV_TRY(CheckUsable("reset the transmit ring"));
  using namespace registers;
  Tctl::Get().ReadFrom(&registers_).set_enable(0).WriteTo(&registers_);
  (void)DeviceStatus::Get().ReadFrom(&registers_);  // posts the write
  volatile uint64_t* words = tx_words_;
  for (uint32_t slot = 0; slot < tx_size_; ++slot) {
    if (tx_buffer_[slot] != kNoBuffer) GiveBuffer(tx_buffer_[slot]);
    tx_buffer_[slot] = kNoBuffer;
    words[2 * slot] = 0;
    words[2 * slot + 1] = 0;
  }
  std::atomic_thread_fence(std::memory_order_release);
  RingHead::Get(kTxRing).FromValue(0).WriteTo(&registers_);
  RingTail::Get(kTxRing).FromValue(0).WriteTo(&registers_);
  tx_tail_ = 0;
  tx_clean_ = 0;
  Tctl::Get().ReadFrom(&registers_).set_enable(1).WriteTo(&registers_);
  if (DeviceGone()) return std::unexpected(CheckUsable("reset the transmit ring").error());
  return {};
}

Result<void> E1000e::Stop() {
  if (stopped_) return {};
  stopped_ = true;
  Result<void> result;
  auto keep_first = [&result](Result<void> step) {
    if (result && !step) result = std::move(step);
  };
  using namespace registers;

  // Frames already queued go out first, while the rings still work (none
  // go out while the link is down: those are dropped).
  const Time deadline = DeadlineAfter(options_.stop_timeout);
  if (tx_words_ != nullptr && !DeviceGone() &&
      DeviceStatus::Get().ReadFrom(&registers_).link_up()) {
    for (;;) {
      const auto head = RingHead::Get(kTxRing).ReadFrom(&registers_);
      const auto tail = RingTail::Get(kTxRing).ReadFrom(&registers_);
      if (head.reg_value() == kAllOnes) {
        gone_.store(true);
        break;
      }
      if (head.index() == tail.index()) break;
      if (Now() >= deadline) {
        keep_first(Failure(Status::TIMED_OUT,
                           "stop: the transmit ring did not drain (TDH " +
                               std::to_string(head.index()) + ", TDT " +
                               std::to_string(tail.index()) + ")"));
        break;
      }
      std::this_thread::sleep_for(kRegisterPollInterval);
    }
  }
  // No more DMA: receive and transmit off, then masked interrupts.
  Rctl::Get().FromValue(0).WriteTo(&registers_);
  Tctl::Get().FromValue(0).set_pad_short_packets(1).WriteTo(&registers_);
  (void)DeviceStatus::Get().ReadFrom(&registers_);  // posts the writes
  Interrupts::GetMaskClear().FromValue(kAllOnes).WriteTo(&registers_);
  const uint32_t causes = Interrupts::GetCause().ReadFrom(&registers_).reg_value();
  if (causes != kAllOnes) Interrupts::GetCause().FromValue(causes).WriteTo(&registers_);

  if (service_thread_.joinable()) {
    PortPacket stop;
    stop.key = kKeyStop;
    if (auto queued = service_port_.Queue(stop); !queued) {
      keep_first(Failure(queued.error(), "stop: wake the service thread"));
    }
    service_thread_.join();
  }
  for (Interrupt& interrupt : interrupts_) (void)interrupt.Destroy();
  interrupts_.clear();
  if (interrupt_mode_ != pci::InterruptMode::DISABLED) {
    auto off = device_->SetInterruptMode(pci::InterruptMode::DISABLED, 0);
    if (!off) keep_first(Failure(off.error(), "stop: switch interrupts off"));
    interrupt_mode_ = pci::InterruptMode::DISABLED;
  }
  if (bus_mastering_) {
    auto off = device_->SetBusMastering(false);
    if (!off) keep_first(Failure(off.error(), "stop: disable bus mastering"));
    bus_mastering_ = false;
  }

  // Only now can the memory go: the NIC can no longer reach it.
  rx_words_ = nullptr;
  tx_words_ = nullptr;
  rings_ = dma::ContiguousBuffer();
  pool_chunks_.clear();
  buffer_data_.clear();
  buffer_address_.clear();
  buffer_owner_.clear();
  free_buffers_.clear();
  rx_buffer_.clear();
  tx_buffer_.clear();
  return result;
}

}  // namespace udrv::drivers::e1000e
