// Driver options: declarations, typed values, `--driver-option` assignments
// and their errors, and the values reaching the driver's context.
#include <catch2/catch.hpp>

#include "fake_bus.h"
#include "result_helpers.h"
#include "udrv/bus/driver_manager.h"

using udrv::bus::Driver;
using udrv::bus::DriverContext;
using udrv::bus::DriverManager;
using udrv::bus::DriverManagerOptions;
using udrv::bus::DriverOption;
using udrv::bus::DriverOptionValues;
using udrv::bus::ParseDriverOptions;
using udrv::testing::StatusOf;
using namespace udrv::bus::testing;

namespace {

using Type = DriverOption::Type;

std::vector<DriverOption> Declared() {
  return {{"verbose", Type::BOOL, "false", "say more"},
          {"queue-depth", Type::NUMBER, "64", "entries per queue"},
          {"idle-timeout", Type::DURATION, "2s", "how long to wait"},
          {"firmware", Type::STRING, "", "firmware file"}};
}

Driver Declaring(std::string name, EventLog* log) {
  Driver driver = FakeDriver(std::move(name), {udrv::bus::BindRule::Equal("fake.vendor", 1)}, log);
  driver.options = Declared();
  return driver;
}

std::string What(const udrv::Result<udrv::bus::DriverOptionSettings>& result) {
  return result ? "OK" : result.error().what;
}

}  // namespace

TEST_CASE("driver options: defaults, typed values and what is refused", "[bus][options]") {
  auto values = DriverOptionValues::Defaults("nic", Declared());
  REQUIRE_OK(values);
  CHECK(values->ToString() == "verbose=false queue-depth=64 idle-timeout=2s firmware=");
  CHECK(values->GetBool("verbose") == false);
  CHECK(values->GetNumber("queue-depth") == 64u);
  CHECK(values->GetDuration("idle-timeout") == 2'000'000'000);
  CHECK(values->GetString("firmware") == "");

  REQUIRE_OK(values->Set("verbose", "true"));
  REQUIRE_OK(values->Set("queue-depth", "0x100"));
  REQUIRE_OK(values->Set("idle-timeout", "250ms"));
  CHECK(values->GetBool("verbose") == true);
  CHECK(values->GetNumber("queue-depth") == 256u);
  CHECK(values->GetDuration("idle-timeout") == 250'000'000);
  for (auto [text, ns] : {std::pair{"7ns", 7LL}, {"3us", 3'000LL}, {"1min", 60'000'000'000LL}}) {
    REQUIRE_OK(values->Set("idle-timeout", text));
    CHECK(values->GetDuration("idle-timeout") == ns);
  }

  auto unknown = values->Set("colour", "red");
  CHECK(StatusOf(unknown) == "INVALID_ARGS");
  CHECK(unknown.error().object == "driver 'nic' option 'colour'");
  CHECK_THAT(unknown.error().what,
             Catch::Contains("no such option (nic has verbose, queue-depth, idle-timeout, firmware)"));
  for (auto [name, text, says] :
       {std::tuple{"verbose", "yes", "'yes' is no bool (true or false)"},
        {"queue-depth", "-1", "'-1' is no number"}, {"queue-depth", "99999999999999999999", "is no number"},
        {"idle-timeout", "2", "'2' is no duration (a whole number and ns, us, ms, s or min"},
        {"idle-timeout", "1.5s", "is no duration"}, {"idle-timeout", "0x10s", "is no duration"},
        {"idle-timeout", "99999999999min", "is no duration"}}) {
    INFO(name << "=" << text);
    auto bad = values->Set(name, text);
    CHECK(StatusOf(bad) == "INVALID_ARGS");
    CHECK_THAT(bad.error().what, Catch::Contains(says));
  }
  CHECK(values->GetDuration("idle-timeout") == 60'000'000'000);  // the last good value stays

  CHECK(StatusOf(values->GetBool("colour")) == "NOT_FOUND");
  CHECK(StatusOf(values->GetBool("queue-depth")) == "WRONG_TYPE");

  SECTION("declarations that cannot work") {
    std::vector<DriverOption> twice = {{"a", Type::BOOL, "true", ""}, {"a", Type::BOOL, "true", ""}};
    CHECK_THAT(DriverOptionValues::Defaults("nic", twice).error().what, Catch::Contains("declared twice"));
    std::vector<DriverOption> bad_name = {{"Bad_Name", Type::BOOL, "true", ""}};
    CHECK(StatusOf(DriverOptionValues::Defaults("nic", bad_name)) == "INVALID_ARGS");
    std::vector<DriverOption> bad_default = {{"n", Type::NUMBER, "many", ""}};
    CHECK_THAT(DriverOptionValues::Defaults("nic", bad_default).error().what,
               Catch::Contains("a bad default: 'many' is no number"));
    // The driver manager refuses such a driver.
    EventLog log;
    FakeBus bus("fake", {}, &log);
    DriverManager manager(bus, {});
    Driver driver = Declaring("nic", &log);
    driver.options.push_back({"verbose", Type::BOOL, "false", ""});
    auto registered = manager.Register(std::move(driver));
    CHECK(StatusOf(registered) == "INVALID_ARGS");
    CHECK_THAT(registered.error().what, Catch::Contains("declared twice"));
  }
}

TEST_CASE("driver options: DRIVER.OPTION=VALUE assignments against the registered drivers",
          "[bus][options]") {
  EventLog log;
  const std::vector<Driver> drivers = {Declaring("nic", &log), FakeDriver("plain", {udrv::bus::BindRule::Equal("fake.vendor", 2)}, &log)};
  const std::vector<std::string> good = {"nic.queue-depth=8", "nic.verbose", "nic.firmware=a=b"};
  auto settings = ParseDriverOptions(drivers, good);
  REQUIRE_OK(settings);
  CHECK(settings->at("nic").ToString() == "verbose=true queue-depth=8 idle-timeout=2s firmware=a=b");
  CHECK(settings->at("plain").ToString().empty());

  struct Case {
    std::string assignment;
    const char* says;
  };
  const Case cases[] = {
      {"verbose=true", "expected DRIVER.OPTION=VALUE"},
      {".verbose=true", "expected DRIVER.OPTION=VALUE"},
      {"nic=verbose.true", "expected DRIVER.OPTION=VALUE"},
      {"disk.verbose=true", "no driver 'disk' (the drivers are: nic, plain)"},
      {"nic.colour=red", "driver 'nic' option 'colour': no such option (nic has verbose, queue-depth"},
      {"nic.idle-timeout=soon", "driver 'nic' option 'idle-timeout': 'soon' is no duration"},
      {"nic.idle-timeout", "this option is no bool"},
      {"plain.verbose=true", "driver 'plain' option 'verbose': no such option (plain has none)"},
  };
  for (const Case& c : cases) {
    INFO(c.assignment);
    auto bad = ParseDriverOptions(drivers, std::vector<std::string>{c.assignment});
    CHECK(StatusOf(bad) == "INVALID_ARGS");
    CHECK_THAT(What(bad), Catch::Contains(c.says));
    if (!bad) CHECK(bad.error().object == "driver option '" + c.assignment + "'");
  }
}

TEST_CASE("driver options: the manager gives each driver its values in its context",
          "[bus][options]") {
  EventLog log;
  FakeBus bus("fake", {FakeNode("fake", "a", 1, 1)}, &log);
  std::vector<std::string> seen;
  Driver driver = Declaring("nic", &log);
  const auto fake_start = driver.start;
  driver.start = [&seen, fake_start](DriverContext& context) {
    seen.push_back(context.options().ToString());
    return fake_start(context);
  };
  DriverManagerOptions options;
  SECTION("as set") {
    auto settings = ParseDriverOptions(std::vector<Driver>{driver},
                                       std::vector<std::string>{"nic.idle-timeout=5s"});
    REQUIRE_OK(settings);
    options.driver_options = std::move(*settings);
    DriverManager manager(bus, options);
    REQUIRE_OK(manager.Register(driver));
    REQUIRE_OK(manager.BindAll());
    CHECK(seen == std::vector<std::string>{"verbose=false queue-depth=64 idle-timeout=5s firmware="});
  }
  SECTION("defaults when none were set") {
    DriverManager manager(bus, options);
    REQUIRE_OK(manager.Register(driver));
    REQUIRE_OK(manager.BindAll());
    CHECK(seen == std::vector<std::string>{"verbose=false queue-depth=64 idle-timeout=2s firmware="});
  }
}
