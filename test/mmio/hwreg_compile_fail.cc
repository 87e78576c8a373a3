// Registers that must not compile; CMakeLists.txt builds each HWREG_CASE and
// expects the named static_assert.
#include <cstdint>

#include "udrv/mmio/hwreg.h"

namespace hwreg = udrv::hwreg;

#if HWREG_CASE == 1
class Reversed : public hwreg::RegisterBase<Reversed, uint32_t> {
 public:
  DEF_FIELD(3, 7, backwards);
};
#elif HWREG_CASE == 2
class TooHigh : public hwreg::RegisterBase<TooHigh, uint16_t> {
 public:
  DEF_FIELD(16, 8, past_the_top);
};
int Use() { return TooHigh().past_the_top(); }
#elif HWREG_CASE == 3
template <int kN>
class TemplateTooHigh : public hwreg::RegisterBase<TemplateTooHigh<kN>, uint8_t> {
 public:
  DEF_BIT(8, past_the_top);
};
TemplateTooHigh<0> instance;
#endif
