// net-traffic: a driver for the nodes NIC drivers publish (bus "net", a
// net::Device). As it starts it waits for the link, sends tx-count test
// frames (net/traffic.h: sizes cycled, to the broadcast address), then
// receives and verifies rx-count of them, and logs what each took, frames
// per second and CPU time per frame, and the NIC's counters. A send the
// NIC's tx_packets counter does not confirm, or a receive that is not every
// frame, in order, byte for byte, fails the start. With both counts 0 (the
// defaults) it only says which port it bound.
//
// Before receiving it logs "receiving N test frames": the sender on the
// other end starts after that line.
//
//   udrv-driver-manager --driver-option net-traffic.tx-count=1000
//                       --driver-option net-traffic.sizes=60,1514
#pragma once

#include <string_view>

#include "udrv/bus/driver.h"

namespace udrv::drivers::net_traffic {

inline constexpr std::string_view kDriverName = "net-traffic";

bus::Driver MakeBusDriver();

}  // namespace udrv::drivers::net_traffic
