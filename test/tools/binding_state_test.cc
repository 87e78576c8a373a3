// busctl's JSON text (document.cc) and the binding state file it reads
// back (binding_state.cc), on files in a temporary directory.
#include "binding_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "document.h"
#include "result_helpers.h"
#include "udrv/pci/address.h"

namespace fs = std::filesystem;
using udrv::busctl::BindingState;
using udrv::busctl::DumpJson;
using udrv::busctl::Json;
using udrv::busctl::ParseJson;
using udrv::busctl::RollbackRecord;
using udrv::testing::StatusOf;

namespace {

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/udrv-busctl-state-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path_ = name;
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string Slurp(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

void Spit(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

RollbackRecord Record(const char* address, const char* command, std::string driver,
                      std::optional<std::string> previous_driver,
                      std::optional<std::string> previous_override) {
  auto parsed = udrv::pci::Address::Parse(address);
  REQUIRE(parsed);
  return RollbackRecord{command,         "pci",
                        parsed->ToString(), std::nullopt,
                        std::move(driver), std::move(previous_driver),
                        std::move(previous_override), "2026-11-22T07:50:00Z"};
}

}  // namespace

TEST_CASE("json: ParseJson reads back what DumpJson writes", "[busctl][json]") {
  Json document = Json::object();
  document["text"] = "quote \" backslash \\ newline \n tab \t control \x01 utf-8 \xc3\xa9";
  document["big"] = uint64_t{18446744073709551615u};
  document["negative"] = int64_t{-9223372036854775807 - 1};
  document["flags"] = Json::array({true, false, nullptr});
  document["empty_object"] = Json::object();
  document["empty_array"] = Json::array();
  auto parsed = ParseJson(DumpJson(document), "test");
  REQUIRE_OK(parsed);
  CHECK(DumpJson(*parsed) == DumpJson(document));
  CHECK(*parsed == document);
  CHECK(parsed->at("big").get<uint64_t>() == 18446744073709551615u);
  CHECK(parsed->at("negative").get<int64_t>() == -9223372036854775807 - 1);
  // Members keep the order they were added in.
  CHECK(parsed->begin().key() == "text");
}

TEST_CASE("json: controls, DEL, C1 and bytes that are not UTF-8 are escaped", "[busctl][json]") {
  // A window title (OSC 0), DEL, CSI as C1 (U+009B), a stray byte, then UTF-8.
  const std::string text = "\x1b]0;owned\x07 \x7f \xc2\x9b" "2J \xff \xc3\xa9";
  const std::string dumped = DumpJson(Json(text));
  CHECK(dumped == "\"\\u001b]0;owned\\u0007 \\u007f \\u009b2J \\ufffd \\u00e9\"\n");
  auto parsed = ParseJson(dumped, "test");
  REQUIRE_OK(parsed);
  CHECK(parsed->get<std::string>() ==
        "\x1b]0;owned\x07 \x7f \xc2\x9b" "2J \xef\xbf\xbd \xc3\xa9");
}

TEST_CASE("json: malformed text is IO_INVALID saying where", "[busctl][json]") {
  const std::pair<const char*, const char*> cases[] = {
      {"", "column 1"},
      {"{\"a\" 1}", "column 6"},
      {"[1 2]", "column 4"},
      {"\"a\nb\"", "control character"},
      {"\"\\ud800\"", "surrogate"},
      {"{} []", "column 4"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    auto parsed = ParseJson(text, "test");
    REQUIRE(StatusOf(parsed) == "IO_INVALID");
    CHECK_THAT(parsed.error().what, Catch::Contains(message));
  }
  // nlohmann parses without recursion, so deep nesting cannot exhaust the
  // stack: unterminated it is an error, terminated a value.
  CHECK(StatusOf(ParseJson(std::string(100000, '['), "test")) == "IO_INVALID");
  CHECK(ParseJson(std::string(100000, '[') + std::string(100000, ']'), "test").has_value());
}

TEST_CASE("binding state: a new file is created with its directory, and records survive",
          "[busctl][state]") {
  TempDir dir;
  const fs::path path = dir.path() / "run/udrv/bindings.json";
  {
    auto state = BindingState::Open(path);
    REQUIRE_OK(state);
    CHECK(state->records().empty());
    // Written at once: whatever busctl leaves behind is a state file.
    CHECK(Slurp(path) == "{\n  \"schema\": \"udrv.busctl.bindings/1\",\n  \"records\": []\n}\n");
    state->Append(Record("0000:00:02.0", "bind", "vfio-pci", std::nullopt, std::nullopt));
    state->Append(Record("0000:00:03.0", "unbind", "", "e1000e", "e1000e"));
    REQUIRE_OK(state->Save());
  }
  auto state = BindingState::Open(path);
  REQUIRE_OK(state);
  REQUIRE(state->records().size() == 2);
  const RollbackRecord& bind = state->records()[0];
  CHECK(bind.command == "bind");
  CHECK(bind.device == "0000:00:02.0");
  CHECK(bind.driver == "vfio-pci");
  CHECK_FALSE(bind.previous_driver);
  CHECK_FALSE(bind.previous_override);
  CHECK(bind.recorded_at == "2026-11-22T07:50:00Z");
  const RollbackRecord& unbind = state->records()[1];
  CHECK(unbind.driver.empty());
  CHECK(unbind.previous_driver == "e1000e");
  CHECK(unbind.previous_override == "e1000e");

  // Fewer records: the file shrinks with them.
  state->Erase(0);
  REQUIRE_OK(state->Save());
  CHECK(Slurp(path).find("0000:00:02.0") == std::string::npos);
  CHECK(Slurp(path).find("\"driver\": null") != std::string::npos);
}

TEST_CASE("binding state: a platform or AMBA record keeps its bus, device and node path",
          "[busctl][state]") {
  const RollbackRecord amba{"unbind", "amba", "9010000.pl031", "/pl031@9010000", "",
                            "rtc-pl031", std::nullopt, "2026-11-22T07:50:00Z"};
  const Json json = udrv::busctl::RecordToJson(amba);
  CHECK(json.dump() ==
        R"({"command":"unbind","bus":"amba","device":"9010000.pl031","path":"/pl031@9010000",)"
        R"("driver":null,"previous_driver":"rtc-pl031","previous_override":null,)"
        R"("recorded_at":"2026-11-22T07:50:00Z"})");
  Json file = Json::object();
  file["schema"] = udrv::busctl::kStateFileSchema;
  file["records"] = Json::array({json, udrv::busctl::RecordToJson(Record(
                                           "0000:00:02.0", "bind", "vfio-pci", "e1000e", {}))});
  auto records = udrv::busctl::ParseBindingRecords(DumpJson(file), "state");
  REQUIRE_OK(records);
  REQUIRE(records->size() == 2);
  CHECK((*records)[0].bus == "amba");
  CHECK((*records)[0].device == "9010000.pl031");
  CHECK((*records)[0].path == "/pl031@9010000");
  CHECK((*records)[0].shown() == "/pl031@9010000");
  CHECK((*records)[1].bus == "pci");
  CHECK((*records)[1].device == "0000:00:02.0");
  CHECK_FALSE((*records)[1].path);
  CHECK((*records)[1].shown() == "0000:00:02.0");

  // Names that would lead a restore outside sys/bus/<bus>/devices are refused.
  for (const char* bad : {R"("bus":"../../x","device":"a")", R"("bus":"amba","device":"../a/b")",
                          R"("bus":"..","device":"a")",
                          R"("bus":"pci","device":"0000:00:02.0")"}) {
    const std::string text = std::string(R"({"schema":"udrv.busctl.bindings/1","records":[{)") +
                             R"("command":"bind",)" + bad +
                             R"(,"path":null,"driver":null,"previous_driver":null,)"
                             R"("previous_override":null,"recorded_at":"x"}]})";
    CHECK(StatusOf(udrv::busctl::ParseBindingRecords(text, "state")) == "IO_INVALID");
  }
}

TEST_CASE("binding state: the lock makes a second busctl wait", "[busctl][state]") {
  TempDir dir;
  const fs::path path = dir.path() / "bindings.json";
  auto state = BindingState::Open(path);
  REQUIRE_OK(state);
  // Another open file description of the same file cannot take the lock.
  const int other = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(other >= 0);
  CHECK(::flock(other, LOCK_EX | LOCK_NB) != 0);
  CHECK(errno == EWOULDBLOCK);
  ::close(other);
}

TEST_CASE("binding state: files busctl did not write are refused", "[busctl][state]") {
  TempDir dir;
  const fs::path path = dir.path() / "bindings.json";
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "parse JSON"},
      {"[]", "not a busctl state file"},
      {"{\"schema\": \"udrv.busctl.bindings/2\", \"records\": []}", "not a busctl state file"},
      {"{\"schema\": \"udrv.busctl.bindings/1\"}", "\"records\" is missing or not an array"},
      {"{\"schema\": \"udrv.busctl.bindings/1\", \"records\": [{}]}",
       "\"command\" is missing or not a string"},
      {"{\"schema\": \"udrv.busctl.bindings/1\", \"records\": [{\"command\": \"bind\", "
       "\"address\": \"00:zz.0\"}]}",
       "read rollback record"},
      {"{\"schema\": \"udrv.busctl.bindings/1\", \"records\": [{\"command\": \"bind\", "
       "\"address\": \"0000:00:02.0\", \"driver\": 3}]}",
       "\"driver\" is missing or not a string or null"},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    Spit(path, text);
    auto state = BindingState::Open(path);
    REQUIRE(StatusOf(state) == "IO_INVALID");
    CHECK_THAT(state.error().what, Catch::Contains(message));
    CHECK(state.error().object == path.string());
    CHECK(Slurp(path) == text);  // left as it was
  }
}

TEST_CASE("binding state: a path that cannot be created names itself", "[busctl][state]") {
  TempDir dir;
  Spit(dir.path() / "file", "");
  auto state = BindingState::Open(dir.path() / "file/bindings.json");
  REQUIRE_FALSE(state);
  CHECK_THAT(state.error().what, Catch::Contains(dir.path().string() + "/file"));
}

TEST_CASE("binding state: a link or a special file is refused, and nothing written through it",
          "[busctl][state]") {
  TempDir dir;
  const fs::path other = dir.path() / "other-file";
  Spit(other, "someone else's");
  const fs::path path = dir.path() / "bindings.json";
  fs::create_symlink(other, path);
  auto state = BindingState::Open(path);
  REQUIRE(StatusOf(state) == "IO_INVALID");
  CHECK_THAT(state.error().what, Catch::Contains("a symbolic link, which busctl does not follow"));
  CHECK(state.error().object == path.string());
  CHECK(Slurp(other) == "someone else's");

  // /dev/null's numbers: a device node where the file belongs is not opened.
  fs::remove(path);
  if (::mknod(path.c_str(), S_IFCHR | 0644, ::makedev(1, 3)) == 0) {
    state = BindingState::Open(path);
    REQUIRE(StatusOf(state) == "IO_INVALID");
    CHECK_THAT(state.error().what, Catch::Contains("not a regular file"));
  }
}

TEST_CASE("binding state: a file past the size limit is refused unread", "[busctl][state]") {
  TempDir dir;
  const fs::path path = dir.path() / "bindings.json";
  // A state file padded with spaces to the limit exactly is read.
  std::string text = "{\"schema\": \"udrv.busctl.bindings/1\", \"records\": []}";
  text.resize(udrv::busctl::kMaxStateFileBytes, ' ');
  Spit(path, text);
  REQUIRE_OK(BindingState::Open(path));
  // One byte more (sparse: content that would not even parse) is not.
  fs::remove(path);
  Spit(path, "");
  fs::resize_file(path, udrv::busctl::kMaxStateFileBytes + 1);
  auto state = BindingState::Open(path);
  REQUIRE(StatusOf(state) == "FILE_BIG");
  CHECK_THAT(state.error().what,
             Catch::Contains("read state file: 1048577 bytes, more than a busctl state file may "
                             "hold (1048576 bytes)"));
  CHECK(state.error().object == path.string());
  CHECK(fs::file_size(path) == udrv::busctl::kMaxStateFileBytes + 1);  // left as it was
}
