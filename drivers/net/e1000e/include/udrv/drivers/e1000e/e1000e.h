// A driver for the Intel 82574L gigabit NIC (8086:10d3), the `e1000e` QEMU
// emulates, written on udrv's public API only: a pci::Device from any route
// (VFIO, UIO with a physical Bti, a driver host's remote one), hwreg
// registers over BAR 0, interrupts from MapInterrupt and DMA memory from
// the device's Bti. It implements net::Device (udrv/net/device.h).
//
// Rings: one receive and one transmit ring of legacy 16-byte descriptors
// (RFCTL.EXTEN stays 0). Buffers: a pool of kBufferSize-byte buffers pinned
// once, in ContiguousBuffer chunks of at most 2 MiB (a physical Bti pins
// only memory inside one huge page), recycled through a free list without a
// system call. Frames are 60..1514 bytes without the FCS: the NIC strips it
// on receive (RCTL.SECRC), appends it and pads short frames on transmit.
//
// Interrupts (Options::interrupts): MSI-X with three vectors (receive,
// transmit, other = link), else MSI, else legacy INTx, or none at all
// (polling). WaitForWork waits for the receive/transmit causes; a thread of
// the driver (the service thread) takes the other causes: link changes
// (LSC; in polling mode it reads STATUS every 100 ms instead), queued to
// the WatchLink port, and every 100 ms it looks for a device that reads
// all ones or that its bus took back (vfio-pci's removal request: config
// space IO_NOT_PRESENT); gone, every call then says IO_NOT_PRESENT, and no
// wait hangs.
//
// DMA is taken to be cache coherent (PCIe on x86): no cache maintenance.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "udrv/core/interrupt.h"
#include "udrv/core/port.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/vmar.h"
#include "udrv/dma/bti.h"
#include "udrv/dma/buffer.h"
#include "udrv/mmio/mmio_buffer.h"
#include "udrv/net/device.h"
#include "udrv/pci/device.h"

namespace udrv::drivers::e1000e {

inline constexpr uint16_t kVendorId = 0x8086;
inline constexpr uint16_t kDeviceId = 0x10d3;  // 82574L
// Each pool buffer; RCTL.BSIZE is set to it.
inline constexpr uint32_t kBufferSize = 2048;
// Frames without the FCS: the Ethernet minimum and maximum (no jumbo frames).
inline constexpr uint32_t kMinFrame = 60;
inline constexpr uint32_t kMaxFrame = 1514;
// Ring sizes: RDLEN/TDLEN are multiples of 128 bytes (8 descriptors).
inline constexpr uint32_t kRingAlignment = 8;
inline constexpr uint32_t kMinRingSize = 8;
inline constexpr uint32_t kMaxRingSize = 4096;
// The largest DMA chunk: one 2 MiB huge page of a physical Bti.
inline constexpr uint64_t kMaxChunkBytes = 2u << 20;

enum class InterruptChoice : uint8_t {
  AUTO,     // MSI-X with 3 vectors, else MSI, else legacy INTx
  MSI_X,
  MSI,
  LEGACY,
  POLLING,  // no interrupts at all; link checked every 100 ms
};
std::string_view InterruptChoiceName(InterruptChoice choice);  // "auto", "msix", ...
// "auto", "msix", "msi", "legacy" or "polling"; INVALID_ARGS otherwise.
Result<InterruptChoice> ParseInterruptChoice(std::string_view text);

struct Options {
  InterruptChoice interrupts = InterruptChoice::AUTO;
  // The most interrupts per second each vector raises (ITR / EITR, which
  // count in 256 ns units); 0: no throttling. QEMU 7.2 raises any value
  // written below 500 units, 0 included, to 500: at most 7813 interrupts/s
  // whatever this says (Linux's e1000e gets the same).
  uint32_t interrupt_rate = 0;
  uint32_t rx_ring_size = 256;  // descriptors: kMinRingSize..kMaxRingSize, multiples of 8
  uint32_t tx_ring_size = 256;
  // Buffers in the pool; 0: rx_ring_size + tx_ring_size + 512. It must
  // exceed rx_ring_size (the receive ring holds rx_ring_size - 1 of them).
  uint32_t pool_size = 0;
  // How long the global reset and the EEPROM auto-read may take, and how
  // long Stop waits for the rings to go idle.
  Duration reset_timeout = 1'000'000'000;
  Duration stop_timeout = 1'000'000'000;
};

// What SendUnpinnedForTest saw.
struct UnpinnedTxOutcome {
  bool descriptor_done = false;   // the NIC wrote DD back
  bool head_advanced = false;     // TDH moved past the descriptor
  uint64_t frames_sent = 0;       // good frames the NIC counted as sent meanwhile (GPTC)
};

class E1000e final : public net::Device {
 public:
  // Takes `device` (which must outlive the driver): checks the IDs, maps
  // BAR 0, brings the NIC up in the datasheet's order (interrupts off,
  // global reset, EEPROM auto-read, interrupts off again, MAC address from
  // RAL0/RAH0 written back valid, link up, multicast table and statistics
  // cleared), pins the rings and the pool, sets the interrupt mode, enables
  // bus mastering, receive and transmit, and starts the service thread.
  // NOT_SUPPORTED for another device; TIMED_OUT for a reset that does not
  // end; IO_NOT_PRESENT for a device that reads all ones. Errors name the
  // device and the step.
  static Result<std::unique_ptr<E1000e>> Create(pci::Device& device, Options options = {});

  E1000e(const E1000e&) = delete;
  E1000e& operator=(const E1000e&) = delete;
  // Stop, if not stopped yet.
  ~E1000e() override;

  // "e1000e 0000:00:03.0 (vfio)", as errors name it.
  const std::string& name() const { return name_; }
  // DISABLED in polling mode.
  pci::InterruptMode interrupt_mode() const { return interrupt_mode_; }
  const Options& options() const { return options_; }

  // net::Device. After Stop every call is BAD_STATE (AllocBuffers gives 0).
  net::DeviceInfo GetInfo() const override;
  Result<net::LinkState> GetLinkState() override;
  Result<void> WatchLink(Port port, uint64_t key) override;
  size_t AllocBuffers(std::span<net::Packet> out) override;
  void FreeBuffers(std::span<const net::Packet> packets) override;
  Result<size_t> RxBurst(std::span<net::Packet> out) override;
  Result<size_t> TxBurst(std::span<const net::Packet> packets) override;
  Result<void> WaitForWork(Time deadline) override;
  Result<net::Counters> GetCounters() override;

  // Stops the NIC and lets go of its memory, in this order: receive and
  // transmit off (RCTL/TCTL), the rings idle (TDH reaches TDT, up to
  // stop_timeout), interrupts masked and the mode DISABLED, bus mastering
  // off, the service thread ended; only then are the rings and the pool
  // unpinned. Buffers the caller still holds become invalid. Repeating it
  // is harmless; the first failure is returned (every step is tried).
  Result<void> Stop();

  // Diagnostics for the IOMMU check (not part of net::Device): queues one
  // transmit descriptor whose buffer is `device_address` (`length` bytes),
  // an address the caller knows is not pinned for this device, and waits
  // up to `timeout` for the NIC to deal with it. Needs an idle transmit
  // ring (BAD_STATE while frames are in flight). What the IOMMU does is
  // logged by the kernel (a DMAR fault); what the NIC did is returned.
  // QEMU 7.2's e1000e under VT-d: the fault is logged, and the NIC writes
  // DD back and sends a frame of the zeros the failed read gave (GPTC
  // counts it). Afterwards call ResetTxRing.
  Result<UnpinnedTxOutcome> SendUnpinnedForTest(uint64_t device_address, uint32_t length,
                                                Duration timeout);
  // Recovery for a transmit ring the NIC may have left anywhere: transmit
  // off, every in-flight buffer back to the pool, the ring emptied and its
  // head and tail at 0, transmit on again.
  Result<void> ResetTxRing();

 private:
  enum class Owner : uint8_t { POOL, RX_RING, TX_RING, USER };

  E1000e(pci::Device& device, std::string name, Options options, Vmar vmar,
         mmio::MmioBuffer registers);

  Result<void> Reset();
  Result<void> ReadMacAddress();
  void SetUpLink();
  void ClearStatistics();
  Result<void> AllocateMemory();
  void ConfigureRx();
  void ConfigureTx();
  Result<void> SetUpInterrupts();
  Result<void> TrySetInterruptMode(pci::InterruptMode mode, uint32_t vectors);
  void ConfigureInterruptCauses();
  Result<void> StartServiceThread();
  void ServiceLoop();
  void HandleSharedInterrupt();
  void HandleOtherInterrupt();
  void CheckLink();
  void ArmWorkInterrupts();
  // Wakes a WaitForWork (once until it runs).
  void SignalWork();

  bool DeviceGone();
  // DeviceGone, or the bus took the device back (config space reads
  // IO_NOT_PRESENT). A system call: the service thread's, every 100 ms.
  bool DeviceTakenAway();
  Result<void> CheckUsable(std::string_view step);
  // Takes back the transmit descriptors the NIC is done with; returns how many.
  uint32_t ReclaimTx();
  void ReadStatistics();
  void Quiesce();

  uint32_t TakeBuffer();  // kNoBuffer when the pool is empty
  void GiveBuffer(uint32_t buffer);

  std::unexpected<Error> Failure(Status status, std::string what) const;
  std::unexpected<Error> Failure(Error inner, std::string_view step) const;

  pci::Device* device_;
  std::string name_;
  Options options_;
  Vmar vmar_;
  mmio::MmioBuffer registers_;
  net::MacAddress mac_;
  pci::InterruptMode interrupt_mode_ = pci::InterruptMode::DISABLED;
  bool polling_ = false;
  bool bus_mastering_ = false;
  bool stopped_ = false;

  dma::Bti bti_;
  dma::ContiguousBuffer rings_;  // the receive ring, then the transmit ring
  // The rings' descriptors, each two 64-bit words the driver reads and
  // writes whole (registers.h has their layout).
  volatile uint64_t* rx_words_ = nullptr;
  volatile uint64_t* tx_words_ = nullptr;
  uint32_t rx_size_ = 0;
  uint32_t tx_size_ = 0;
  uint32_t rx_next_ = 0;       // the next descriptor the NIC writes back
  bool rx_discarding_ = false; // inside a frame whose earlier part was dropped
  uint32_t tx_tail_ = 0;       // the next descriptor the driver fills
  uint32_t tx_clean_ = 0;      // the oldest one not taken back
  std::vector<uint32_t> rx_buffer_;  // the buffer in each receive slot
  std::vector<uint32_t> tx_buffer_;  // ... each transmit slot

  std::vector<dma::ContiguousBuffer> pool_chunks_;
  std::vector<std::byte*> buffer_data_;
  std::vector<uint64_t> buffer_address_;
  std::vector<Owner> buffer_owner_;
  std::vector<uint32_t> free_buffers_;  // a stack

  // Statistics accumulated since Create (the registers clear when read).
  std::vector<uint64_t> statistics_;
  uint64_t tx_bytes_ = 0;  // frames the NIC completed (DD), FCS excluded
  uint64_t rx_errors_ = 0;
  uint64_t rx_checksum_bad_ = 0;

  // Interrupts: work_port_ gets the receive/transmit vectors (MSI-X) or the
  // service thread's word that they fired (MSI, legacy); service_port_ the
  // other vector (MSI-X) or the single one (MSI, legacy), and Stop's word.
  std::vector<Interrupt> interrupts_;
  Port work_port_;
  Port service_port_;
  std::atomic<bool> work_signalled_ = false;
  std::thread service_thread_;
  std::atomic<bool> gone_ = false;

  std::mutex link_mutex_;  // guards what follows
  bool link_up_ = false;
  Port link_port_;
  uint64_t link_key_ = 0;
};

}  // namespace udrv::drivers::e1000e
