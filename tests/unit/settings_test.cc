// common/settings: one declaration per key serves the values, --help and the example.
#include "common/settings.h"

#include <doctest/doctest.h>

using dxs::Config;
using dxs::Setting;
using dxs::Settings;

namespace {

Settings table() {
  return Settings("dxs-test", {
                                  {"t.count", Setting::Type::kInt, "7", 1, 10, "how many\nat most"},
                                  {"t.flag", Setting::Type::kBool, "true", 0, 0, "a switch"},
                                  {"t.name", Setting::Type::kString, "x", 0, 0, "a name"},
                              });
}

Config parse(const Settings& s, std::string_view text) {
  auto c = Config::parse(text, "test", s.keys());
  REQUIRE(c.is_ok());
  return *c;
}

}  // namespace

TEST_CASE("values come from the file, else from the one declared default") {
  const Settings s = table();
  const Config empty = parse(s, "");
  CHECK(*s.get_int(empty, "t.count") == 7);
  CHECK(*s.get_bool(empty, "t.flag") == true);
  CHECK(s.get_string(empty, "t.name") == "x");
  CHECK(s.get_string(empty, "log.level") == "info");
  const Config set = parse(s, "t.count = 3\nt.flag = false\nt.name = y\n");
  CHECK(*s.get_int(set, "t.count") == 3);
  CHECK(*s.get_bool(set, "t.flag") == false);
  CHECK(s.get_string(set, "t.name") == "y");
}

TEST_CASE("the declared range is enforced and unknown keys are refused") {
  const Settings s = table();
  CHECK_FALSE(s.get_int(parse(s, "t.count = 11\n"), "t.count").is_ok());
  CHECK_FALSE(s.get_int(parse(s, "t.count = 0\n"), "t.count").is_ok());
  CHECK_FALSE(Config::parse("t.other = 1\n", "test", s.keys()).is_ok());
}

TEST_CASE("--help and --print-config list every key with its default") {
  const Settings s = table();
  const std::string help = s.help_text();
  CHECK(help.find("t.count = 7") != std::string::npos);
  CHECK(help.find("how many") != std::string::npos);
  CHECK(help.find("at most") == std::string::npos);  // --help has the first line only
  CHECK(help.find("log.level = info") != std::string::npos);
  const std::string example = s.example();
  CHECK(example.rfind("# --- dxs-test ", 0) == 0);
  CHECK(example.find("# how many\n# at most\n#t.count = 7\n") != std::string::npos);
  CHECK(example.find("# a switch\n#t.flag = true\n") != std::string::npos);
}
