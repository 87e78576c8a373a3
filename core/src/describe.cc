// DescribeObject for every core object, for Handle's error messages.
#include "interrupt_object.h"
#include "vmo_object.h"

namespace udrv {

std::string DescribeObject(const VmoObject& object) { return object.Describe(); }
std::string DescribeObject(const VmarObject& object) { return object.Describe(); }
std::string DescribeObject(const InterruptObject& object) { return object.Describe(); }
std::string DescribeObject(const PortObject& object) { return object.Describe(); }

}  // namespace udrv
