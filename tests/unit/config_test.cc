// common/config: "key = value" files, typed getters and parse_int.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <string_view>

#include "common/config.h"

using dxs::Config;
using dxs::parse_int;

namespace {

using namespace std::string_literals;

const std::set<std::string> kKnown = {"quota.nodes", "store.sync", "store.spin-us", "name", "a.b"};
const std::set<std::string> kSkipped = {"frontend.", "dxsctl."};

Config parsed(std::string_view text, const std::set<std::string>& skipped = kSkipped) {
  auto r = Config::parse(text, "test.conf", kKnown, skipped);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return r.value();
}

// The error detail of a parse that must fail with EINVAL.
std::string parse_error(std::string_view text, const std::set<std::string>& skipped = kSkipped) {
  auto r = Config::parse(text, "test.conf", kKnown, skipped);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.err() == EINVAL);
  return r.status().detail();
}

// A file in the temporary directory, removed at the end of the scope.
class TempFile {
 public:
  explicit TempFile(std::string_view contents) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("dxs_config_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
                .string();
    std::ofstream out(path_, std::ios::binary);
    out << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

TEST_CASE("key = value lines") {
  Config c = parsed("quota.nodes = 1000\nstore.sync = true\n");
  CHECK(c.values().size() == 2);
  CHECK(c.has("quota.nodes"));
  CHECK(c.get_string("quota.nodes", "") == "1000");
  CHECK(c.get_string("store.sync", "") == "true");
  CHECK_FALSE(c.has("name"));
  CHECK(c.get_string("name", "fallback") == "fallback");
}

TEST_CASE("empty and blank texts give an empty configuration") {
  for (std::string_view text : {"", "\n", "\n\n\n", "   \n\t\n", "# only a comment", "\r\n"}) {
    CAPTURE(text);
    CHECK(parsed(text).values().empty());
  }
}

TEST_CASE("whitespace around keys and values is ignored") {
  Config c = parsed("  quota.nodes=5\n\tname\t=\tvm 1\t\nstore.sync   =   yes   \n");
  CHECK(c.get_string("quota.nodes", "") == "5");
  CHECK(c.get_string("name", "") == "vm 1");  // inner blanks are kept
  CHECK(c.get_string("store.sync", "") == "yes");

  SUBCASE("CRLF line ends") {
    Config d = parsed("name = x\r\nquota.nodes = 7\r\n");
    CHECK(d.get_string("name", "") == "x");
    CHECK(d.get_string("quota.nodes", "") == "7");
  }
  SUBCASE("the last line needs no newline") {
    CHECK(parsed("name = last").get_string("name", "") == "last");
  }
}

TEST_CASE("comments") {
  Config c = parsed(
      "# a comment\n"
      "   # an indented comment\n"
      "name = value # a trailing comment\n"
      "quota.nodes = 3#no blank before the comment\n"
      "#store.sync = true\n");
  CHECK(c.values().size() == 2);
  CHECK(c.get_string("name", "") == "value");
  CHECK(c.get_string("quota.nodes", "") == "3");
  CHECK_FALSE(c.has("store.sync"));

  SUBCASE("'#' always starts a comment, even inside a value") {
    CHECK(parsed("name = a#b").get_string("name", "") == "a");
    CHECK(parsed("name = #x").get_string("name", "?") == "");
  }
  SUBCASE("a comment cannot hide a key with no '='") {
    CHECK(parse_error("name # = x") == "test.conf:1: expected 'key = value'");
  }
}

TEST_CASE("values") {
  SUBCASE("an empty value") {
    Config c = parsed("name =\n");
    CHECK(c.has("name"));
    CHECK(c.get_string("name", "fallback") == "");
  }
  SUBCASE("'=' inside a value belongs to the value") {
    CHECK(parsed("name = a=b = c").get_string("name", "") == "a=b = c");
  }
  SUBCASE("the last of duplicate keys wins") {
    CHECK(parsed("name = one\nname = two\n").get_string("name", "") == "two");
  }
}

TEST_CASE("syntax errors name the origin and line") {
  CHECK(parse_error("quota.nodes") == "test.conf:1: expected 'key = value'");
  CHECK(parse_error("name = ok\n\n# c\nbroken line\n") == "test.conf:4: expected 'key = value'");
  CHECK(parse_error("name = ok\r\nquota.nodes 5\r\n") == "test.conf:2: expected 'key = value'");
  // Lines after the error are not looked at.
  CHECK(parse_error("oops\nunknown = 1\n") == "test.conf:1: expected 'key = value'");
}

TEST_CASE("unknown keys are errors with file:line") {
  CHECK(parse_error("quota.node = 5") == "test.conf:1: unknown key 'quota.node'");
  CHECK(parse_error("\n\nname = 1\nQUOTA.NODES = 1") == "test.conf:4: unknown key 'QUOTA.NODES'");
  CHECK(parse_error("quota nodes = 1") == "test.conf:1: unknown key 'quota nodes'");
  CHECK(parse_error("= 5") == "test.conf:1: unknown key ''");
  CHECK(parse_error("a.b.c = 5") == "test.conf:1: unknown key 'a.b.c'");
  CHECK(parse_error("a = 5") == "test.conf:1: unknown key 'a'");

  SUBCASE("with no known keys every key is unknown") {
    auto r = Config::parse("name = 1", "empty.conf", {});
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().detail() == "empty.conf:1: unknown key 'name'");
  }
}

TEST_CASE("keys under a skipped prefix are ignored") {
  Config c = parsed("frontend.spin-us = 50\nname = x\ndxsctl.anything = whatever = it is\n");
  CHECK(c.values().size() == 1);
  CHECK_FALSE(c.has("frontend.spin-us"));
  CHECK(c.get_string("name", "") == "x");

  SUBCASE("a skipped key is not even checked for a value") {
    CHECK(parsed("frontend.bogus =").values().empty());
  }
  SUBCASE("a skipped line still needs '='") {
    CHECK(parse_error("frontend.spin-us") == "test.conf:1: expected 'key = value'");
  }
  SUBCASE("the prefix must match from the start of the key") {
    CHECK(parse_error("x.frontend.a = 1") == "test.conf:1: unknown key 'x.frontend.a'");
    // "frontend" alone does not start with "frontend.".
    CHECK(parse_error("frontend = 1") == "test.conf:1: unknown key 'frontend'");
  }
  SUBCASE("without skipped prefixes those keys are unknown") {
    CHECK(parse_error("frontend.spin-us = 5", {}) == "test.conf:1: unknown key 'frontend.spin-us'");
  }
}

TEST_CASE("get_int") {
  Config c =
      parsed("quota.nodes = 1000\nstore.spin-us = -1\nname = abc\na.b =\nstore.sync = 0x10\n");
  auto v = c.get_int("quota.nodes", 5, 0, 1000);
  REQUIRE(v.is_ok());
  CHECK(*v == 1000);

  SUBCASE("a missing key gives the fallback, even outside the range") {
    CHECK(c.get_int("missing", 42, 0, 10).value() == 42);
  }
  SUBCASE("values out of range are EINVAL with the range in the detail") {
    auto r = c.get_int("quota.nodes", 5, 0, 999);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.err() == EINVAL);
    CHECK(r.status().detail() == "quota.nodes = '1000': expected an integer in [0, 999]");
    CHECK(c.get_int("store.spin-us", 0, 0, 100).err() == EINVAL);
    CHECK(c.get_int("store.spin-us", 0, -1, 100).value() == -1);
    CHECK(c.get_int("quota.nodes", 0, 1001, 2000).err() == EINVAL);
  }
  SUBCASE("values that are not integers are EINVAL") {
    CHECK(c.get_int("name", 0, 0, 100).err() == EINVAL);
    CHECK(c.get_int("a.b", 0, 0, 100).err() == EINVAL);         // empty
    CHECK(c.get_int("store.sync", 0, 0, 100).err() == EINVAL);  // hex
    CHECK(c.get_int("name", 0, 0, 100).status().detail() ==
          "name = 'abc': expected an integer in [0, 100]");
  }
  SUBCASE("full int64 range") {
    Config d = parsed("quota.nodes = 9223372036854775807\nname = -9223372036854775808\n");
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    CHECK(d.get_int("quota.nodes", 0, kMin, kMax).value() == kMax);
    CHECK(d.get_int("name", 0, kMin, kMax).value() == kMin);
  }
}

TEST_CASE("get_bool") {
  for (std::string_view t : {"true", "yes", "1"}) {
    CAPTURE(t);
    Config c = parsed("store.sync = "s + std::string(t));
    CHECK(c.get_bool("store.sync", false).value() == true);
  }
  for (std::string_view f : {"false", "no", "0"}) {
    CAPTURE(f);
    Config c = parsed("store.sync = "s + std::string(f));
    CHECK(c.get_bool("store.sync", true).value() == false);
  }
  for (std::string_view bad : {"TRUE", "True", "on", "off", "y", "n", "2", "-1", "01", "", "t"}) {
    CAPTURE(bad);
    Config c = parsed("store.sync = "s + std::string(bad));
    auto r = c.get_bool("store.sync", true);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.err() == EINVAL);
  }
  CHECK(parsed("store.sync = maybe").get_bool("store.sync", true).status().detail() ==
        "store.sync = 'maybe': expected true or false");
  CHECK(parsed("").get_bool("store.sync", true).value() == true);
  CHECK(parsed("").get_bool("store.sync", false).value() == false);
}

TEST_CASE("parse_int accepts plain decimal integers in range") {
  int64_t v = -99;
  CHECK(parse_int("0", 0, 10, v));
  CHECK(v == 0);
  CHECK(parse_int("-0", -10, 10, v));
  CHECK(v == 0);
  CHECK(parse_int("10", 0, 10, v));
  CHECK(v == 10);
  CHECK(parse_int("-10", -10, 10, v));
  CHECK(v == -10);
  // Leading zeros are decimal, not octal.
  CHECK(parse_int("007", 0, 10, v));
  CHECK(v == 7);
  CHECK(parse_int("010", 0, 100, v));
  CHECK(v == 10);
  CHECK(parse_int("-007", -10, 10, v));
  CHECK(v == -7);
  CHECK(parse_int("9223372036854775807", 0, std::numeric_limits<int64_t>::max(), v));
  CHECK(v == std::numeric_limits<int64_t>::max());
  CHECK(parse_int("-9223372036854775808", std::numeric_limits<int64_t>::min(), 0, v));
  CHECK(v == std::numeric_limits<int64_t>::min());
}

TEST_CASE("parse_int refuses anything else and leaves out unchanged") {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (std::string s : {""s,
                        "-"s,
                        "+"s,
                        "+1"s,
                        " 1"s,
                        "1 "s,
                        "\t1"s,
                        "1\n"s,
                        "1a"s,
                        "a1"s,
                        "0x10"s,
                        "0X10"s,
                        "1.0"s,
                        "1e3"s,
                        "--1"s,
                        "-+1"s,
                        "1,000"s,
                        "1_000"s,
                        "1\0"s,
                        std::string{'\0', '1'},
                        "\xd9\xa3"s,
                        "9223372036854775808"s,
                        "-9223372036854775809"s,
                        "99999999999999999999999"s,
                        "18446744073709551616"s}) {
    CAPTURE(s);
    int64_t v = 12345;
    CHECK_FALSE(parse_int(s, kMin, kMax, v));
    CHECK(v == 12345);
  }
}

TEST_CASE("parse_int range bounds are inclusive") {
  int64_t v = 0;
  CHECK(parse_int("5", 5, 5, v));
  CHECK_FALSE(parse_int("4", 5, 10, v));
  CHECK_FALSE(parse_int("11", 5, 10, v));
  CHECK_FALSE(parse_int("-1", 0, 10, v));
  CHECK(v == 5);
  CHECK_FALSE(parse_int("1", 2, 1, v));  // an empty range accepts nothing
  CHECK(parse_int("65535", 0, 65535, v));
  CHECK_FALSE(parse_int("65536", 0, 65535, v));
}

TEST_CASE("Config::load reads a file and names it in errors") {
  SUBCASE("a good file") {
    TempFile f("# dxs.conf\nquota.nodes = 12\nfrontend.spin-us = 3\n");
    auto r = Config::load(f.path(), kKnown, kSkipped);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->get_int("quota.nodes", 0, 0, 100).value() == 12);
    CHECK(r->values().size() == 1);
  }
  SUBCASE("an unknown key") {
    TempFile f("name = 1\n\ntypo = 2\n");
    auto r = Config::load(f.path(), kKnown);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.err() == EINVAL);
    CHECK(r.status().detail() == f.path() + ":3: unknown key 'typo'");
  }
  SUBCASE("an empty file") {
    TempFile f("");
    auto r = Config::load(f.path(), kKnown);
    REQUIRE(r.is_ok());
    CHECK(r->values().empty());
  }
  SUBCASE("a missing file is ENOENT") {
    auto r = Config::load("/nonexistent/dxs/dxs.conf", kKnown);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.err() == ENOENT);
    CHECK(r.status().detail() == "cannot open config file /nonexistent/dxs/dxs.conf");
  }
  SUBCASE("a NUL byte is an ordinary character") {
    TempFile f("name = a\0b\n"s);
    auto r = Config::load(f.path(), kKnown);
    REQUIRE(r.is_ok());
    CHECK(r->get_string("name", "") == "a\0b"s);
  }
}
