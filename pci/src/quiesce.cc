#include "quiesce.h"

#include "udrv/pci/config.h"

namespace udrv::pci::internal {

using bus::StepOf;
using Outcome = bus::ReleaseStep::Outcome;

bool Quiesce(Device& device, bus::ReleaseReport& report) {
  report.steps.push_back(StepOf("interrupts off", device.SetInterruptMode(InterruptMode::DISABLED, 0)));

  // Read back: a route may accept the write and the device ignore it.
  Result<void> master_off = device.SetBusMastering(false);
  std::string command_text;
  if (master_off) {
    auto command = device.ReadConfig16(kConfigCommand);
    if (!command) {
      master_off = Wrap(command.error(), "read back the command register");
    } else {
      command_text = "command register " + Hex(*command);
      if ((*command & kCommandBusMaster) != 0) {
        master_off = Fail(Status::IO, "the bus-master bit is still set: " + command_text,
                          device.address().ToString());
      }
    }
  }
  report.steps.push_back(StepOf("bus mastering off", master_off, command_text));

  Result<void> reset = device.ResetDevice();
  if (!reset && reset.error().status == Status::NOT_SUPPORTED) {
    report.steps.push_back({"reset", Outcome::NOT_SUPPORTED, reset.error().what});
  } else {
    report.steps.push_back(StepOf("reset", reset));
  }
  return master_off.has_value() || reset.has_value();
}

}  // namespace udrv::pci::internal
