// common/path: path syntax, resolution of relative paths and the length rule, as in the
// reference §1.4 and C xenstored's is_valid_nodename() (§5.2 item 4).
#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "common/path.h"
#include "common/wire.h"

using dxs::path::basename;
using dxs::path::canonicalize;
using dxs::path::home_of;
using dxs::path::is_at_or_below;
using dxs::path::is_relative;
using dxs::path::is_special;
using dxs::path::is_valid;
using dxs::path::kDefaultPathMax;
using dxs::path::parent;
using dxs::path::strip_home;

namespace {

using namespace std::string_literals;

// `prefix` followed by name characters up to `len` characters in all (prefix ends in '/').
std::string padded(std::string_view prefix, size_t len) {
  REQUIRE(prefix.size() < len);
  std::string p(prefix);
  // Names of 63 characters separated by '/', never ending in '/'.
  while (p.size() < len) p.push_back(p.size() % 64 == 0 && p.back() != '/' ? '/' : 'a');
  if (p.back() == '/') p.back() = 'b';
  return p;
}

// A relative path of exactly `len` characters.
std::string relative_of(size_t len) {
  std::string p = padded("/", len + 1).substr(1);
  REQUIRE(p.size() == len);
  return p;
}

std::string canon(std::string_view raw, uint32_t domid, uint32_t path_max = kDefaultPathMax) {
  auto r = canonicalize(raw, domid, path_max);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return r.value();
}

int canon_err(std::string_view raw, uint32_t domid, uint32_t path_max = kDefaultPathMax) {
  return canonicalize(raw, domid, path_max).err();
}

}  // namespace

TEST_CASE("the test helpers build paths of the requested length") {
  for (size_t len : {2u, 63u, 64u, 65u, 128u, 2048u, 2049u, 3073u}) {
    CAPTURE(len);
    std::string p = padded("/", len);
    CHECK(p.size() == len);
    CHECK(p.find("//") == std::string::npos);
    CHECK(p.back() != '/');
  }
}

TEST_CASE("home_of is /local/domain/<domid>") {
  CHECK(home_of(0) == "/local/domain/0");
  CHECK(home_of(7) == "/local/domain/7");
  CHECK(home_of(65535) == "/local/domain/65535");
  CHECK(home_of(dxs::wire::kDomidSelf) == "/local/domain/32752");
}

TEST_CASE("is_valid accepts canonical absolute paths") {
  for (std::string_view p :
       {"/", "/a", "/a/b", "/local/domain/0", "/local/domain/7/device/vif/0", "/A-Z_a-z/0-9", "/-",
        "/_", "/@", "/tool/xenstored", "/local/domain/0/backend/vbd/1/51712/state"}) {
    CAPTURE(p);
    CHECK(is_valid(p));
  }
}

TEST_CASE("is_valid rejects empty, relative and badly slashed paths") {
  for (std::string_view p : {"", "a", "a/", "a/b", "local/domain/0", "//", "//a", "/a//b", "/a/b//",
                             "/a/", "/a/b/", "/local/domain/", "///"}) {
    CAPTURE(p);
    CHECK_FALSE(is_valid(p));
  }
}

TEST_CASE("'@' is an ordinary name character inside a path, as in C's valid_chars") {
  CHECK(is_valid("/a@b"));
  CHECK(is_valid("/@introduceDomain"));
  CHECK(is_valid("/local/domain/1/@x/y@"));
  // A special name is not a canonical path: the store handles it before canonicalize().
  CHECK_FALSE(is_valid("@introduceDomain"));
  CHECK_FALSE(is_valid("@releaseDomain/5"));
  CHECK(canon_err("@introduceDomain", 0) == EINVAL);
  CHECK(canon_err("@", 3) == EINVAL);
}

TEST_CASE("is_valid rejects every character outside [A-Za-z0-9_@/-]") {
  int accepted = 0;
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || ch == '-' || ch == '_' || ch == '@' || ch == '/';
    std::string p = "/a";
    p.push_back(ch);
    p += "b";
    CAPTURE(c);
    CHECK(is_valid(p) == allowed);
    if (allowed) ++accepted;
  }
  CHECK(accepted == 26 + 26 + 10 + 4);

  SUBCASE("named hostile characters") {
    for (std::string_view p : {"/a b",   " /a",    "/a ",     "/a.b",  "/.",    "/..",   "/a/../b",
                               "/a/./b", "/a%20b", "/%2e%2e", "/a\tb", "/a\nb", "/a\\b", "/a:b",
                               "/a+b",   "/a~",    "/a*",     "/a,b",  "/a=b",  "/a\x7f"}) {
      CAPTURE(p);
      CHECK_FALSE(is_valid(p));
      CHECK(canon_err(p, 0) == EINVAL);
    }
  }
  SUBCASE("UTF-8 and other high bytes") {
    for (std::string p : {"/caf\xc3\xa9"s, "/\xe2\x82\xac"s, "/\xf0\x9f\x98\x80"s, "/a\x80"s,
                          "/\xff"s, "/\xc0\xaf"s /* overlong '/' */}) {
      CAPTURE(p);
      CHECK_FALSE(is_valid(p));
      CHECK(canon_err(p, 0) == EINVAL);
      CHECK(canon_err(p.substr(1), 5) == EINVAL);
    }
  }
  SUBCASE("NUL anywhere") {
    // C would stop reading at the NUL; dxs sees the whole string and refuses it.
    for (std::string p : {"/a\0b"s, "/a\0"s, "\0"s, "/\0"s, "\0/a"s, "/a/\0/b"s}) {
      CAPTURE(p.size());
      CHECK_FALSE(is_valid(p));
      CHECK(canon_err(p, 0) == EINVAL);
    }
    CHECK(canon_err("a\0b"s, 1) == EINVAL);
  }
}

TEST_CASE("canonicalize explains why a path is refused") {
  auto detail = [](std::string_view raw) { return canonicalize(raw, 0).status().detail(); };
  CHECK(detail("/a/") == "path ends with /");
  CHECK(detail("/a//b") == "empty path element");
  CHECK(detail("@x") == "path is not absolute");
  CHECK(detail("/a.b") == "invalid character 0x2e in path");
  CHECK(detail("/\xc3\xa9") == "invalid character 0xc3 in path");
  CHECK(detail(padded("/", 2049)) == "path of 2049 bytes is too long");
  CHECK(canonicalize("/ok", 0).status().is_ok());
}

TEST_CASE("canonicalize resolves relative paths against /local/domain/<domid>") {
  CHECK(canon("name", 7) == "/local/domain/7/name");
  CHECK(canon("device/vif/0/state", 12) == "/local/domain/12/device/vif/0/state");
  CHECK(canon("x", 0) == "/local/domain/0/x");  // a socket connection's home
  CHECK(canon("a@b/-_", 3) == "/local/domain/3/a@b/-_");
  CHECK(canon("/abs/path", 7) == "/abs/path");  // absolute paths are taken as they are
  CHECK(canon("/", 7) == "/");
  CHECK(canon("/local/domain/9/x", 7) == "/local/domain/9/x");
}

TEST_CASE("relative paths that do not resolve to a canonical path are refused") {
  // "" would name the home with a trailing '/' (C: "/local/domain/7/", refused the same).
  for (std::string_view raw : {"", "a/", "a//b", ".", "..", "../0", "./x", " x", "x y"}) {
    CAPTURE(raw);
    CHECK(canon_err(raw, 7) == EINVAL);
  }
}

TEST_CASE("is_relative and is_special look only at the first character") {
  CHECK(is_relative(""));
  CHECK(is_relative("a"));
  CHECK(is_relative("a/b"));
  CHECK(is_relative(" /a"));
  CHECK(is_relative(".@"));
  CHECK_FALSE(is_relative("/"));
  CHECK_FALSE(is_relative("/a"));
  CHECK_FALSE(is_relative("@releaseDomain"));
  CHECK_FALSE(is_relative("@"));

  CHECK(is_special("@"));
  CHECK(is_special("@introduceDomain"));
  CHECK(is_special("@releaseDomain/5"));
  CHECK_FALSE(is_special(""));
  CHECK_FALSE(is_special("/@a"));
  CHECK_FALSE(is_special("a@"));
}

TEST_CASE("/local/domain/ and domain directories with odd domids") {
  // XSA-481: "/local/domain/" made C's canonicalize() assert.
  CHECK_FALSE(is_valid("/local/domain/"));
  CHECK(canon_err("/local/domain/", 0) == EINVAL);
  CHECK(is_valid("/local/domain"));
  CHECK(is_valid("/local/domain/0"));
  // Domids over 65535 are only names here; whether they exist is the store's business.
  for (std::string_view p : {"/local/domain/65535", "/local/domain/65536", "/local/domain/99999",
                             "/local/domain/100000", "/local/domain/4294967296",
                             "/local/domain/00007", "/local/domain/-1", "/local/domain/65536/x"}) {
    CAPTURE(p);
    CHECK(is_valid(p));
    CHECK(canon(p, 0) == p);
  }
  CHECK(canon("x", 70000) == "/local/domain/70000/x");
}

TEST_CASE("length limit of paths outside a domain's home") {
  // C: strlen(path) <= path-max (2048) when there is no /local/domain/<domid>/ prefix.
  CHECK(is_valid(padded("/", 2048)));
  CHECK_FALSE(is_valid(padded("/", 2049)));
  CHECK(canon_err(padded("/", 2049), 0) == EINVAL);
  CHECK_FALSE(is_valid(padded("/", 3072)));
  CHECK_FALSE(is_valid(padded("/", 3073)));
  CHECK(is_valid(padded("/local/", 2048)));
  CHECK_FALSE(is_valid(padded("/local/", 2049)));
  CHECK(is_valid(padded("/local/domain/", 2048)));
  CHECK_FALSE(is_valid(padded("/local/domain/", 2049)));
  // The prefix only counts when the digits are followed by '/'.
  CHECK(is_valid(padded("/local/domain/5", 2048)));
  CHECK_FALSE(is_valid(padded("/local/domain/5", 2049)));
}

TEST_CASE("length limit below /local/domain/<1-5 digits>/ counts after the prefix") {
  for (std::string_view prefix : {"/local/domain/0/", "/local/domain/5/", "/local/domain/12345/",
                                  "/local/domain/99999/", "/local/domain/00000/"}) {
    CAPTURE(prefix);
    CHECK(is_valid(padded(prefix, prefix.size() + 2048)));
    CHECK_FALSE(is_valid(padded(prefix, prefix.size() + 2049)));
    CHECK(canon_err(padded(prefix, prefix.size() + 2049), 0) == EINVAL);
    // 3072/3073 characters are over the limit after any prefix of at most 20 characters.
    CHECK_FALSE(is_valid(padded(prefix, 3072)));
    CHECK_FALSE(is_valid(padded(prefix, 3073)));
  }
  SUBCASE("six digits are not a domain prefix (C: sscanf %5u then '/')") {
    const std::string_view prefix = "/local/domain/123456/";
    CHECK(is_valid(padded(prefix, 2048)));
    CHECK_FALSE(is_valid(padded(prefix, 2049)));
  }
  SUBCASE("only the first /local/domain/<domid>/ counts") {
    const std::string_view prefix = "/local/domain/5/local/domain/6/";
    CHECK(is_valid(padded(prefix, 16 + 2048)));
    CHECK_FALSE(is_valid(padded(prefix, 16 + 2049)));
  }
  SUBCASE("the prefix is not found elsewhere in the path") {
    const std::string_view prefix = "/x/local/domain/5/";
    CHECK(is_valid(padded(prefix, 2048)));
    CHECK_FALSE(is_valid(padded(prefix, 2049)));
  }
  SUBCASE("a sign is not a digit") {
    // C's sscanf("%5u") would take "-1" (and '-' is a valid character), granting the prefix
    // to /local/domain/-1/; dxs only counts decimal digits.
    const std::string_view prefix = "/local/domain/-1/";
    CHECK(is_valid(padded(prefix, 2048)));
    CHECK_FALSE(is_valid(padded(prefix, 2049)));
  }
}

TEST_CASE("relative paths of 2048/2049 and 3072/3073 characters") {
  // A relative path is measured after its home's prefix, so its limit does not depend on
  // the length of the domid.
  for (uint32_t domid : {0u, 5u, 12345u, 65535u}) {
    CAPTURE(domid);
    CHECK(canon(relative_of(2048), domid) == home_of(domid) + "/" + relative_of(2048));
    CHECK(canon_err(relative_of(2049), domid) == EINVAL);
    CHECK(canon_err(relative_of(3072), domid) == EINVAL);
    CHECK(canon_err(relative_of(3073), domid) == EINVAL);
  }
  SUBCASE("a six-digit home gets no allowance") {
    CHECK(canon_err(relative_of(2048), 123456) == EINVAL);
    CHECK(canon(relative_of(2048 - 21), 123456).size() == 2048);
  }
}

TEST_CASE("path_max other than the default") {
  constexpr uint32_t kAbs = dxs::wire::kAbsPathMax;  // 3072
  SUBCASE("3072: absolute 3072 accepted, 3073 refused") {
    CHECK(is_valid(padded("/", 3072), kAbs));
    CHECK_FALSE(is_valid(padded("/", 3073), kAbs));
    CHECK(canon(padded("/", 3072), 0, kAbs).size() == 3072);
    CHECK(canon_err(padded("/", 3073), 0, kAbs) == EINVAL);
    CHECK(canon(relative_of(3072), 7, kAbs).size() == 16 + 3072);
    CHECK(canon_err(relative_of(3073), 7, kAbs) == EINVAL);
    CHECK(is_valid(padded("/local/domain/7/", 16 + 3072), kAbs));
    CHECK_FALSE(is_valid(padded("/local/domain/7/", 16 + 3073), kAbs));
  }
  SUBCASE("1024 (oxenstored's quota-path-max)") {
    CHECK(is_valid(padded("/", 1024), 1024));
    CHECK_FALSE(is_valid(padded("/", 1025), 1024));
    CHECK(canon(relative_of(1024), 3, 1024).size() == 16 + 1024);
    CHECK(canon_err(relative_of(1025), 3, 1024) == EINVAL);
  }
  SUBCASE("tiny limits") {
    CHECK(is_valid("/", 1));
    CHECK_FALSE(is_valid("/a", 1));
    CHECK(is_valid("/a", 2));
    CHECK_FALSE(is_valid("/", 0));
    // Below a domain's home only what follows the prefix counts.
    CHECK(is_valid("/local/domain/1/a", 1));
    CHECK_FALSE(is_valid("/local/domain/1/ab", 1));
  }
  SUBCASE("the default is 2048") {
    CHECK(kDefaultPathMax == 2048);
    CHECK(is_valid(padded("/", 2048)) == is_valid(padded("/", 2048), 2048));
    CHECK(is_valid(padded("/", 2049)) == is_valid(padded("/", 2049), 2048));
  }
}

TEST_CASE("parent and basename") {
  CHECK(parent("/a") == "/");
  CHECK(basename("/a") == "a");
  CHECK(parent("/a/b") == "/a");
  CHECK(basename("/a/b") == "b");
  CHECK(parent("/local/domain/7/name") == "/local/domain/7");
  CHECK(basename("/local/domain/7/name") == "name");
  CHECK(parent("/@") == "/");
  CHECK(basename("/a/@b") == "@b");

  SUBCASE("walking up from a deep path ends at the root") {
    std::string_view p = "/a/b/c/d";
    std::vector<std::string> chain;
    while (p != "/") {
      chain.emplace_back(basename(p));
      p = parent(p);
    }
    CHECK(chain == std::vector<std::string>{"d", "c", "b", "a"});
  }
  SUBCASE("the results are views into the argument") {
    std::string p = "/x/yz";
    CHECK(parent(p).data() == p.data());
    CHECK(basename(p).data() == p.data() + 3);
  }
}

TEST_CASE("is_at_or_below") {
  CHECK(is_at_or_below("/", "/"));
  CHECK(is_at_or_below("/a", "/"));
  CHECK(is_at_or_below("/a/b/c", "/"));
  CHECK(is_at_or_below("/a", "/a"));
  CHECK(is_at_or_below("/a/b", "/a"));
  CHECK(is_at_or_below("/a/b/c", "/a/b"));
  CHECK_FALSE(is_at_or_below("/", "/a"));
  CHECK_FALSE(is_at_or_below("/a", "/a/b"));
  // A string prefix is not an ancestor.
  CHECK_FALSE(is_at_or_below("/ab", "/a"));
  CHECK_FALSE(is_at_or_below("/a-b/c", "/a"));
  CHECK_FALSE(is_at_or_below("/local/domain/12", "/local/domain/1"));
  CHECK_FALSE(is_at_or_below("/local/domain/12/x", "/local/domain/1"));
  CHECK(is_at_or_below("/local/domain/1/x", "/local/domain/1"));
  CHECK_FALSE(is_at_or_below("/b", "/a"));
  CHECK_FALSE(is_at_or_below("/a", "/b"));
}

TEST_CASE("strip_home") {
  const std::string home = home_of(1);
  CHECK(strip_home("/local/domain/1", home) == "");
  CHECK(strip_home("/local/domain/1/name", home) == "name");
  CHECK(strip_home("/local/domain/1/a/b", home) == "a/b");
  // Not below home: unchanged.
  CHECK(strip_home("/local/domain/12", home) == "/local/domain/12");
  CHECK(strip_home("/local/domain/12/x", home) == "/local/domain/12/x");
  CHECK(strip_home("/local/domain", home) == "/local/domain");
  CHECK(strip_home("/", home) == "/");
  CHECK(strip_home("/other", home) == "/other");
  CHECK(strip_home("@releaseDomain", home) == "@releaseDomain");

  SUBCASE("strip_home undoes canonicalize of a relative path") {
    for (std::string_view raw : {"x", "device/vif/0", "a@b"}) {
      CAPTURE(raw);
      CHECK(strip_home(canon(raw, 1), home) == raw);
    }
  }
}
