// Interrupt objects, as Zircon's (zx_interrupt_*). A driver either waits for
// its device's interrupt (Wait), or binds the interrupt to a port and gets one
// packet per interrupt, acking each before the next (Bind, Ack).
//
// On Linux an interrupt is an eventfd: the PCI layer has VFIO_DEVICE_SET_IRQS
// signal one for an MSI-X, MSI or INTx vector; a virtual interrupt is an
// eventfd the driver signals itself with Trigger (ZX_INTERRUPT_VIRTUAL). A
// device bound to a UIO driver signals through its /dev/uioN instead.
//
// Rights, as the syscalls: Wait needs WAIT, Trigger SIGNAL, Ack WRITE, Bind
// and Unbind READ (and WRITE on the port). Destroy needs only a valid handle,
// as zx_interrupt_destroy: the default interrupt rights carry no DESTROY, and
// a driver must always be able to stop its own waiters.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "udrv/core/handle.h"
#include "udrv/core/result.h"
#include "udrv/core/time.h"
#include "udrv/core/unique_fd.h"

namespace udrv {

class InterruptObject;
std::string DescribeObject(const InterruptObject& object);
class Port;
namespace internal {
struct InterruptAccess;
}

class Interrupt : public Handle<Interrupt, InterruptObject> {
 public:
  Interrupt() = default;

  // A virtual interrupt: only Trigger fires it. Default interrupt rights.
  static Result<Interrupt> CreateVirtual(std::string name = "virtual-interrupt");

  // A hardware interrupt that the kernel signals through `eventfd` (VFIO
  // SET_IRQS with DATA_EVENTFD). `on_ack` re-enables the source after each
  // interrupt (VFIO INTx: the unmask; empty for MSI/MSI-X, which need none);
  // it runs at Ack and, for an unbound interrupt, at the Wait after one that
  // returned an interrupt. WRONG_TYPE if `eventfd` is not an eventfd.
  static Result<Interrupt> CreateFromEventfd(UniqueFd eventfd, std::string name,
                                             std::function<Result<void>()> on_ack);

  // A hardware interrupt that a UIO driver signals through `uio_fd`, an open
  // /dev/uioN: poll says when the kernel's interrupt count moved, a read
  // returns it (4 bytes). `on_ack` re-enables the source as for
  // CreateFromEventfd (uio_pci_generic: clear the command register's
  // INTx-disable bit in config space; UIO drivers with an irqcontrol take a
  // 4-byte 1 written to the fd). WRONG_TYPE if `uio_fd` is not a UIO
  // device. Once the kernel removes the UIO device (the PCI device was
  // removed or unbound), Wait returns IO_NOT_PRESENT. Such an interrupt
  // cannot be sent to another process (NOT_SUPPORTED): its fd is no eventfd.
  static Result<Interrupt> CreateFromUio(UniqueFd uio_fd, std::string name,
                                         std::function<Result<void>()> on_ack);

  // Blocks until the interrupt fires or `deadline` passes (zx_interrupt_wait)
  // and returns its timestamp: the one passed to the first Trigger since the
  // last Wait, or, when the interrupt came from the hardware or another
  // process, the CLOCK_MONOTONIC time at which this wait saw it. Acks the
  // interrupt the previous Wait returned. TIMED_OUT at the deadline, CANCELED
  // once destroyed (also for waiters blocked at that moment), BAD_STATE while
  // bound to a port.
  Result<Time> Wait(Time deadline) const;

  // Fires a virtual interrupt (BAD_STATE for a hardware one). Triggers that
  // arrive before the interrupt is consumed coalesce and keep the first
  // timestamp, as in Zircon.
  Result<void> Trigger(Time timestamp) const;

  // Re-arms a port-bound interrupt after its packet (zx_interrupt_ack): runs
  // on_ack and lets the next packet out; one is queued at once if the
  // interrupt fired meanwhile. BAD_STATE when not bound; CANCELED once destroyed.
  Result<void> Ack() const;

  // Cancels waiters (their Wait returns CANCELED), stops port packets and
  // makes every later call return CANCELED. Repeating it is harmless. It acts
  // on this process's object only: a copy sent to another process lives on.
  Result<void> Destroy() const;
  // True once Destroy was called through any handle of this process's
  // object (false for an invalid handle). Needs no right: it says only
  // whether the handle is still any use.
  bool destroyed() const;

  // Delivers each interrupt as an INTERRUPT packet with `key` to `port`
  // (zx_interrupt_bind). ALREADY_BOUND when bound to a port already,
  // BAD_STATE while a thread is in Wait. An interrupt that fired before the
  // bind is delivered at once.
  Result<void> Bind(const Port& port, uint64_t key) const;

  // Undoes Bind (ZX_INTERRUPT_UNBIND); NOT_FOUND unless bound to `port`. An
  // interrupt that fires afterwards is seen by Wait again.
  Result<void> Unbind(const Port& port) const;

 private:
  friend class Handle<Interrupt, InterruptObject>;
  friend struct internal::InterruptAccess;
  Interrupt(std::shared_ptr<InterruptObject> object, Rights rights)
      : Handle(std::move(object), rights) {}
};

}  // namespace udrv
