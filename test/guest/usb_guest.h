// What the USB guest suites (guest_usb_tests) share: Linux's view of who
// holds a USB device or interface, and waiting for the kernel to get there.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <thread>

namespace udrv::testing {

// Where this file exists, guest-rogue-usb-host unconfigures the device it
// was lent (usb_isolation_test.cc creates it for one test case).
inline constexpr const char* kUnconfigureMarker = "/tmp/udrv-rogue-usb-unconfigure";

// The kernel driver bound to a USB device or interface ("2-1:1.0"): its
// sysfs driver link's name, "" for none. usbfs's claims show as "usbfs".
inline std::string UsbDriverOf(const std::string& name) {
  std::error_code error;
  const std::filesystem::path link =
      std::filesystem::read_symlink("/sys/bus/usb/devices/" + name + "/driver", error);
  return error ? std::string() : link.filename().string();
}

// Polls `condition` every 50 ms until it holds (true) or `limit` passed (false).
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace udrv::testing
