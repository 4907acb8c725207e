// Hostile input at the engine (reference section 5.2, the items that reach the store):
// malformed payloads for every type and the order of the errors, numbers that are not
// numbers, bad paths and permissions, deep trees, RM of /, oversized replies, a guest
// flooding watch events. After each refused request nothing else may have changed: the
// tree is as before, no commit was made, and CONTROL check finds the store consistent.
#include <doctest/doctest.h>

#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;

namespace {

MsgType type(uint32_t t) {
  return static_cast<MsgType>(t);
}

// The store as it is now, to compare with after refused requests.
struct Unchanged {
  explicit Unchanged(EngineFixture& f) : f(f), tree(f.tree_dump()), head(f.engine().head()) {}
  void check() {
    CHECK(f.tree_dump() == tree);
    CHECK(f.engine().head() == head);
    CHECK(f.control({"check"}) == "OK");
  }
  EngineFixture& f;
  std::string tree;
  uint64_t head;
};

// A guest with a home, a watch and an open transaction, so that refusals can be seen
// not to disturb any of them.
struct Scene {
  explicit Scene(EngineFixture& f) : f(f) {
    dom0 = f.open_socket();
    REQUIRE(f.introduce(7) == "");
    f.ok(dom0, MsgType::kMkdir, args({"/local/domain/7"}));
    f.set_perms(dom0, "/local/domain/7", {"n0", "b7"});
    f.write(dom0, "/local/domain/7/k", "v");
    guest = f.open_domain(7);
    f.ok(guest, MsgType::kWatch, args({"/local/domain/7", "w"}));
    tx = f.start(guest);
    f.write(guest, "/local/domain/7/in-tx", "t", tx);
    f.events(guest);
  }
  // The connection still works, its transaction and watch too.
  void still_usable() {
    CHECK(f.read(guest, "/local/domain/7/k") == "v");
    CHECK(f.read(guest, "/local/domain/7/in-tx", tx) == "t");
    CHECK(f.events(guest).empty());
  }
  EngineFixture& f;
  uint64_t dom0 = 0;
  uint64_t guest = 0;
  uint32_t tx = 0;
};

constexpr uint32_t kAllTypes = 28;
const uint32_t kPrivilegedOnly[] = {0, 8, 9, 17, 18, 19, 24};

bool is_privileged_only(uint32_t t) {
  for (uint32_t p : kPrivilegedOnly) {
    if (p == t) return true;
  }
  return false;
}

bool is_unknown(uint32_t t) {
  return t >= 25 || t == 15 || t == 16 || t == 20;
}

}  // namespace

TEST_CASE("errors come in C's order: ENOSYS, EACCES, ENOENT for the tx id, then EINVAL") {
  EngineFixture f;
  Scene s(f);
  Unchanged before(f);
  const std::string garbage("\xff\x01no nul at all", 14);
  for (uint32_t t = 0; t < kAllTypes; ++t) {
    INFO("type ", t);
    const bool notid = t == 4 || t == 5;  // WATCH and UNWATCH ignore the tx id
    for (uint64_t conn : {s.guest, s.dom0}) {
      const bool guest = conn == s.guest;
      std::string want;
      if (is_unknown(t)) {
        want = "ENOSYS";
      } else if (guest && is_privileged_only(t)) {
        want = "EACCES";
      } else if (!notid) {
        want = "ENOENT";
      }
      if (want.empty()) continue;
      CHECK(f.err(conn, type(t), garbage, 0xdeadbeef) == want);
      CHECK(f.err(conn, type(t), "", 0xdeadbeef) == want);
    }
  }
  // Unknown types whatever the payload and the transaction, 0xffff included.
  CHECK(f.err(s.dom0, type(0xffff), args({"/"})) == "ENOSYS");
  CHECK(f.err(s.guest, type(0xffffffff), "") == "ENOSYS");
  CHECK(f.err(s.guest, MsgType::kWatchEvent, args({"/local/domain/7", "w"})) == "ENOSYS");
  CHECK(f.err(s.guest, MsgType::kError, args({"EINVAL"})) == "ENOSYS");
  CHECK(f.err(s.guest, MsgType::kRestrict, args({"7"}), s.tx) == "ENOSYS");
  before.check();
  s.still_usable();
}

TEST_CASE("a payload of the wrong shape is EINVAL for every type, in or out of a transaction") {
  EngineFixture f;
  Scene s(f);
  Unchanged before(f);
  const std::string two_paths = args({"/local/domain/7/k", "/local/domain/7"});
  struct Case {
    MsgType type;
    std::string payload;
  };
  const std::vector<Case> cases = {
      // One path, exactly: NUL-terminated, nothing after it.
      {MsgType::kRead, ""},
      {MsgType::kRead, "/local/domain/7/k"},
      {MsgType::kRead, two_paths},
      {MsgType::kRead, std::string("/local/domain/7/k\0junk", 22)},
      {MsgType::kDirectory, ""},
      {MsgType::kDirectory, two_paths},
      {MsgType::kGetPerms, "/local/domain/7"},
      {MsgType::kMkdir, ""},
      {MsgType::kMkdir, two_paths},
      {MsgType::kRm, "/local/domain/7/k"},
      {MsgType::kRm, two_paths},
      // A path and a value: at least the path's NUL.
      {MsgType::kWrite, ""},
      {MsgType::kWrite, "/local/domain/7/k"},
      // A path and one permission at least.
      {MsgType::kSetPerms, ""},
      {MsgType::kSetPerms, args({"/local/domain/7/k"})},
      {MsgType::kSetPerms, "/local/domain/7/k"},
      // A path and a token.
      {MsgType::kWatch, ""},
      {MsgType::kWatch, args({"/local/domain/7"})},
      {MsgType::kUnwatch, args({"/local/domain/7"})},
      {MsgType::kUnwatch, "/local/domain/7"},
      {MsgType::kTransactionEnd, ""},
      {MsgType::kTransactionEnd, "T"},
      {MsgType::kTransactionEnd, args({"T", "T"})},
      {MsgType::kTransactionEnd, args({"t"})},
      {MsgType::kTransactionEnd, args({"TRUE"})},
      {MsgType::kGetDomainPath, ""},
      {MsgType::kGetDomainPath, "7"},
      {MsgType::kDirectoryPart, ""},
      {MsgType::kDirectoryPart, args({"/local/domain/7"})},
      {MsgType::kDirectoryPart, args({"/local/domain/7", "0", "0"})},
  };
  for (const Case& c : cases) {
    INFO(dxs::wire::type_name(dxs::wire::to_u32(c.type)), " '", c.payload, "'");
    CHECK(f.err(s.guest, c.type, c.payload) == "EINVAL");
    CHECK(f.err(s.dom0, c.type, c.payload) == "EINVAL");
    if (c.type != MsgType::kTransactionEnd) {
      CHECK(f.err(s.guest, c.type, c.payload, s.tx) == "EINVAL");
    }
  }
  // dom0's privileged operations.
  for (MsgType t : {MsgType::kIntroduce, MsgType::kRelease, MsgType::kIsDomainIntroduced,
                    MsgType::kResume, MsgType::kSetTarget, MsgType::kControl}) {
    CHECK(f.err(s.dom0, t, "") == "EINVAL");
    CHECK(f.err(s.dom0, t, "7") == "EINVAL");
  }
  CHECK(f.err(s.dom0, MsgType::kControl, args({"no-such-command"})) == "EINVAL");
  CHECK(f.err(s.dom0, MsgType::kControl, args({"check", "extra"})) == "EINVAL");
  CHECK(f.err(s.dom0, MsgType::kControl, args({"log", "sideways"})) == "EINVAL");
  // TRANSACTION_START and RESET_WATCHES take no arguments, and look at none.
  uint64_t other = f.open_socket();
  f.ok(other, MsgType::kTransactionStart, "anything at all");
  f.ok(other, MsgType::kResetWatches, "");
  before.check();
  s.still_usable();
  // The guest's transaction is intact and commits.
  CHECK(f.commit(s.guest, s.tx) == "");
  CHECK(f.read(s.dom0, "/local/domain/7/in-tx") == "t");
}

TEST_CASE("numbers that are not numbers: domids, tx ids, offsets") {
  EngineFixture f;
  Scene s(f);
  f.write(s.dom0, "/dir/a", "");
  f.write(s.dom0, "/dir/b", "");
  Unchanged before(f);
  // dxs reads decimal domids in [0, 65535] and nothing else (C's atoi would read "7x" as
  // 7, "x" as 0 and wrap 4294967303 to 7).
  for (const char* bad : {"", "x", "7x", " 7", "7 ", "+7", "-7", "0x7", "07x", "4294967303",
                          "99999999999999999999", "65536", "1e3"}) {
    INFO("domid '", bad, "'");
    CHECK(f.err(s.dom0, MsgType::kIntroduce, args({bad, "1", "1"})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kRelease, args({bad})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kResume, args({bad})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kIsDomainIntroduced, args({bad})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kSetTarget, args({bad, "7"})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kSetTarget, args({"7", bad})) == "EINVAL");
    CHECK(f.err(s.guest, MsgType::kGetDomainPath, args({bad})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kControl, args({"quota", bad})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kControl, args({"quota", "set", "nodes", "5", bad})) == "EINVAL");
  }
  // Ports and offsets.
  for (const char* bad : {"", "x", "-1", "1.5", "4294967296", "99999999999999999999"}) {
    INFO("number '", bad, "'");
    CHECK(f.err(s.dom0, MsgType::kIntroduce, args({"9", "1", bad})) == "EINVAL");
    CHECK(f.err(s.guest, MsgType::kDirectoryPart, args({"/local/domain/7", bad})) == "EINVAL");
  }
  // The largest offset is past the end: an empty chunk.
  const std::string end = f.ok(s.dom0, MsgType::kDirectoryPart, args({"/dir", "4294967295"}));
  CHECK(end.size() >= 3);
  CHECK(end.substr(end.size() - 2) == std::string("\0\0", 2));
  CHECK(f.ok(s.dom0, MsgType::kDirectoryPart, args({"/dir", "0"})).find(args({"a", "b", ""})) !=
        std::string::npos);
  // Transaction ids nobody was given.
  for (uint32_t tx : {0xffffffffu, 0x80000000u, s.tx + 1}) {
    CHECK(f.err(s.guest, MsgType::kRead, args({"/local/domain/7/k"}), tx) == "ENOENT");
    CHECK(f.err(s.guest, MsgType::kTransactionEnd, args({"T"}), tx) == "ENOENT");
    CHECK(f.err(s.guest, MsgType::kTransactionStart, args({""}), tx) == "ENOENT");
  }
  before.check();
  s.still_usable();
}

TEST_CASE("permission strings are parsed strictly") {
  EngineFixture f;
  Scene s(f);
  f.write(s.guest, "/local/domain/7/p", "");
  f.events(s.guest);
  Unchanged before(f);
  // C also takes hex, signs, blanks and domids over 65535; dxs answers EINVAL.
  for (const char* bad : {"", "r", "x5", "R7", "r 7", "r7x", "r-1", "r+7", "r0x7", "r65536",
                          "r99999999999", "rr7", "n7\x01", "b1234567"}) {
    INFO("perm '", bad, "'");
    CHECK(f.err(s.guest, MsgType::kSetPerms, args({"/local/domain/7/p", "n7", bad})) == "EINVAL");
    CHECK(f.err(s.guest, MsgType::kSetPerms, args({"/local/domain/7/p", bad})) == "EINVAL");
    CHECK(f.err(s.dom0, MsgType::kSetPerms, args({"@releaseDomain", bad})) == "EINVAL");
  }
  // Too many entries is refused before they are parsed (ENOSPC first, as in C).
  CHECK(f.err(s.guest, MsgType::kSetPerms,
              args({"/local/domain/7/p", "n7", "x", "x", "x", "x", "x"})) == "ENOSPC");
  before.check();
  CHECK(f.get_perms(s.guest, "/local/domain/7/p") == Strings{"n7", "b7"});
  s.still_usable();
}

TEST_CASE("bad paths are EINVAL and touch nothing") {
  EngineFixture f;
  Scene s(f);
  Unchanged before(f);
  for (const std::string& bad :
       {std::string("//a"), std::string("/a//b"), std::string("/a/"), std::string("a/"),
        std::string("/local/domain/"), std::string("/a b"), std::string("/a.b"),
        std::string("/a%b"), std::string("/caf\xc3\xa9"), std::string("/a\x01"),
        std::string("/a\\b"), std::string("/../a"), std::string("/" + std::string(2048, 'a'))}) {
    INFO("path '", bad, "'");
    for (uint64_t conn : {s.dom0, s.guest}) {
      CHECK(f.err(conn, MsgType::kRead, args({bad})) == "EINVAL");
      CHECK(f.err(conn, MsgType::kWrite, write_payload(bad, "x")) == "EINVAL");
      CHECK(f.err(conn, MsgType::kMkdir, args({bad})) == "EINVAL");
      CHECK(f.err(conn, MsgType::kRm, args({bad})) == "EINVAL");
      CHECK(f.err(conn, MsgType::kSetPerms, args({bad, "n0"})) == "EINVAL");
      CHECK(f.err(conn, MsgType::kWatch, args({bad, "t"})) == "EINVAL");
      CHECK(f.err(conn, MsgType::kDirectoryPart, args({bad, "0"})) == "EINVAL");
    }
  }
  // An empty path is relative: the home with a trailing "/", invalid (as in C).
  CHECK(f.err(s.guest, MsgType::kRead, args({""})) == "EINVAL");
  CHECK(f.err(s.dom0, MsgType::kRead, args({""})) == "EINVAL");
  before.check();
  // "@" is a valid character anywhere, and a domid of 6 digits is just a name.
  f.write(s.dom0, "/a@b/@c", "at");
  f.write(s.dom0, "/local/domain/123456/x", "");
  CHECK(f.read(s.dom0, "/a@b/@c") == "at");
  s.still_usable();
}

TEST_CASE("WRITE takes any bytes as the value, NULs included") {
  EngineFixture f;
  Scene s(f);
  f.write(s.guest, "/local/domain/7/empty", "");
  CHECK(f.read(s.guest, "/local/domain/7/empty").empty());
  const std::string binary("a\0b\0\0\xff", 6);
  f.write(s.guest, "/local/domain/7/bin", binary);
  CHECK(f.read(s.guest, "/local/domain/7/bin") == binary);
  // The biggest request: a value filling the payload.
  const std::string path = "/big";
  const std::string value(4096 - path.size() - 1, 'v');
  f.write(s.dom0, path, value);
  CHECK(f.read(s.dom0, path) == value);
}

TEST_CASE("RM of / is EINVAL for dom0, EACCES for a guest") {
  EngineFixture f;
  Scene s(f);
  Unchanged before(f);
  CHECK(f.err(s.dom0, MsgType::kRm, args({"/"})) == "EINVAL");
  CHECK(f.err(s.guest, MsgType::kRm, args({"/"})) == "EACCES");
  CHECK(f.err(s.guest, MsgType::kRm, args({"/"}), s.tx) == "EACCES");
  uint32_t t = f.start(s.dom0);
  CHECK(f.err(s.dom0, MsgType::kRm, args({"/"}), t) == "EINVAL");
  CHECK(f.commit(s.dom0, t) == "");
  before.check();
  s.still_usable();
}

TEST_CASE("a reply over 4096 bytes is E2BIG; DIRECTORY_PART lists the rest") {
  EngineFixture f;
  Scene s(f);
  const std::string prefix(200, 'n');
  for (int i = 0; i < 30; ++i) f.write(s.dom0, "/wide/" + prefix + std::to_string(100 + i), "");
  Unchanged before(f);
  CHECK(f.err(s.dom0, MsgType::kDirectory, args({"/wide"})) == "E2BIG");
  uint32_t t = f.start(s.dom0);
  CHECK(f.err(s.dom0, MsgType::kDirectory, args({"/wide"}), t) == "E2BIG");
  CHECK(f.commit(s.dom0, t) == "");
  // Chunk by chunk, each ends with whole names; the last with an empty one.
  std::vector<std::string> names;
  size_t offset = 0;
  for (int chunks = 0; chunks < 10; ++chunks) {
    const std::string part =
        f.ok(s.dom0, MsgType::kDirectoryPart, args({"/wide", std::to_string(offset)}));
    CHECK(part.size() <= 4096);
    dxs::wire::Strings got = dxs::wire::split_strings(part);
    REQUIRE(got.strings.size() >= 2);
    bool done = false;
    for (size_t i = 1; i < got.strings.size(); ++i) {
      if (got.strings[i].empty()) {
        done = true;
        break;
      }
      names.emplace_back(got.strings[i]);
      offset += got.strings[i].size() + 1;
    }
    if (done) break;
  }
  CHECK(names.size() == 30);
  before.check();
}

TEST_CASE("the deepest trees a path allows are made, checked and removed without recursion") {
  EngineFixture f;
  Scene s(f);
  uint64_t w = f.open_socket();

  SUBCASE("within the default path-max") {
    // 1-character names: 1024 levels below dom0's home fit its 2048 characters.
    std::string deep = "/local/domain/0";
    for (int i = 0; i < 1024; ++i) deep += "/a";
    f.write(s.dom0, deep, "bottom");
    CHECK(f.err(s.dom0, MsgType::kWrite, write_payload(deep + "/a", "")) == "EINVAL");
    CHECK(f.read(s.dom0, deep) == "bottom");
    CHECK(f.control({"check"}) == "OK");
    f.ok(w, MsgType::kWatch, args({deep, "bottom"}));
    f.ok(w, MsgType::kWatch, args({"/local/domain/0/a", "top"}));
    f.events(w);
    f.ok(s.dom0, MsgType::kRm, args({"/local/domain/0/a"}));
    CHECK(f.events(w) == Strings{deep + "|bottom", "/local/domain/0/a|top"});
    CHECK(f.directory(s.dom0, "/local/domain/0").empty());
  }
  SUBCASE("at the payload limit, path-max raised") {
    CHECK(f.control({"quota", "set", "path-max", "4095"}) == "OK");
    std::string deep;
    while (deep.size() + 2 <= 4095) deep += "/a";
    REQUIRE(deep.size() == 4094);  // 2047 levels, and a 1-byte value fills the payload
    f.write(s.dom0, deep, "b");
    CHECK(f.read(s.dom0, deep) == "b");
    CHECK(f.control({"check"}) == "OK");
    // Removed inside a transaction, then at its commit.
    uint32_t t = f.start(s.dom0);
    f.ok(s.dom0, MsgType::kRm, args({"/a/a"}), t);
    CHECK(f.directory(s.dom0, "/a", t).empty());
    CHECK(f.read(s.dom0, deep) == "b");
    CHECK(f.commit(s.dom0, t) == "");
    CHECK(f.err(s.dom0, MsgType::kRead, args({"/a/a"})) == "ENOENT");
    f.write(s.dom0, deep, "c");
    f.ok(s.dom0, MsgType::kRm, args({"/a"}));
  }
  CHECK(f.control({"check"}) == "OK");
  s.still_usable();
}

TEST_CASE("a guest that reads no events loses the newest beyond its quota, nobody else does") {
  // dom0's watcher, which reads no more than the guest here, would hold the writer up
  // after 1024 (backpressure.h, engine_backpressure_test.cc): not this test's concern.
  dxs::store::EngineOptions options;
  options.backpressure.behind = 0;
  EngineFixture f(options);
  Scene s(f);
  uint64_t w0 = f.open_socket();
  f.ok(w0, MsgType::kWatch, args({"/local/domain/7", "dom0"}));
  f.events(w0);
  f.set_auto_ack(s.guest, false);
  f.set_auto_ack(w0, false);

  // 1100 changes: the guest keeps 1024 undelivered (watch-events quota), dom0 all.
  for (int i = 0; i < 1100; ++i) f.write(s.dom0, "/local/domain/7/flood", std::to_string(i));
  std::vector<std::string> got;
  std::vector<std::string> got0;
  for (int round = 0; round < 100; ++round) {
    auto e = f.events(s.guest);
    auto e0 = f.events(w0);
    if (e.empty() && e0.empty()) break;
    got.insert(got.end(), e.begin(), e.end());
    got0.insert(got0.end(), e0.begin(), e0.end());
    f.ack_all(s.guest);
    f.ack_all(w0);
  }
  CHECK(got.size() == 1024);
  CHECK(got0.size() == 1100);
  CHECK(f.refusals(7, "watch-events") == 76);
  CHECK(f.log().contains({"dom7", "watch-events", "/local/domain/7/flood"}));
  // Read, the guest hears of changes again.
  f.set_auto_ack(s.guest, true);
  f.write(s.dom0, "/local/domain/7/flood", "after");
  CHECK(f.events(s.guest) == Strings{"/local/domain/7/flood|w"});
  // The writer was never affected.
  CHECK(f.read(s.dom0, "/local/domain/7/flood") == "after");
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("a connection closed mid-transaction leaves nothing behind") {
  EngineFixture f;
  Scene s(f);
  // Another guest's ring, with rights on the scene's home.
  f.set_perms(s.dom0, "/local/domain/7", {"n0", "b7", "b8"});
  f.events(s.guest);
  uint64_t g8 = f.open_domain(8);
  Unchanged before(f);
  uint32_t t = f.start(g8);
  f.write(g8, "/local/domain/7/x/y/z", "1", t);
  f.ok(g8, MsgType::kWatch, args({"/local/domain/7", "gone"}));
  f.close(g8);
  CHECK(f.usage(8, "transactions") == 0);
  CHECK(f.usage(8, "watches") == 0);
  CHECK(f.usage(7, "transactions") == 1);  // the scene's own
  CHECK(f.usage(7, "watches") == 1);
  CHECK(f.tree_dump() == before.tree);
  CHECK(f.control({"check"}) == "OK");
  s.still_usable();
}
