// Engine semantics, driven directly as dom0, as an unprivileged guest and as a guest
// holding a target (reference sections 3.1-3.5; ARCHITECTURE.md section 5).
#include <doctest/doctest.h>

#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;

TEST_CASE("a new store has the tree xenstored starts with") {
  EngineFixture f;
  uint64_t c = f.open_socket();
  CHECK(f.directory(c, "/") == std::vector<std::string>{"tool"});
  CHECK(f.directory(c, "/tool") == std::vector<std::string>{"xenstored"});
  CHECK(f.ok(c, MsgType::kGetPerms, args({"/"})) == args({"n0"}));
}

TEST_CASE("write creates parents, read returns the value, rm removes the subtree") {
  EngineFixture f;
  uint64_t c = f.open_socket();
  f.write(c, "/a/b/c", "hello");
  CHECK(f.read(c, "/a/b/c") == "hello");
  CHECK(f.read(c, "/a/b") == "");
  CHECK(f.directory(c, "/a") == std::vector<std::string>{"b"});
  f.ok(c, MsgType::kRm, args({"/a"}));
  CHECK(f.err(c, MsgType::kRead, args({"/a/b/c"})) == "ENOENT");
  CHECK(f.err(c, MsgType::kRead, args({"/a"})) == "ENOENT");
}

TEST_CASE("state survives a restart of the engine") {
  EngineFixture f;
  uint64_t c = f.open_socket();
  f.write(c, "/persist", "yes");
  f.restart();
  uint64_t c2 = f.open_socket();
  CHECK(f.read(c2, "/persist") == "yes");
}

TEST_CASE("relative paths resolve against the connection's home") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  f.write(dom0, "data", "x");
  CHECK(f.read(dom0, "/local/domain/0/data") == "x");
}

TEST_CASE("guests see only what permissions allow, and learn no more") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t guest = f.open_domain(7);
  f.write(dom0, "/secret/x", "1");
  f.ok(dom0, MsgType::kSetPerms, args({"/secret", "n0"}));
  CHECK(f.err(guest, MsgType::kRead, args({"/secret"})) == "EACCES");
  // The child is readable by dom0 only: a guest may not tell absent from hidden.
  CHECK(f.err(guest, MsgType::kRead, args({"/secret/nothing"})) == "EACCES");
  f.write(dom0, "/local/domain/7/x", "");
  f.ok(dom0, MsgType::kSetPerms, args({"/local/domain/7", "n0", "r7"}));
  CHECK(f.err(guest, MsgType::kRead, args({"/local/domain/7/absent"})) == "ENOENT");
}

TEST_CASE("transactions merge children created under a common parent") {
  EngineFixture f;
  uint64_t a = f.open_socket();
  uint64_t b = f.open_socket();
  f.write(a, "/vm", "");
  uint32_t ta = f.start(a);
  uint32_t tb = f.start(b);
  f.write(a, "/vm/A/name", "a", ta);
  f.write(b, "/vm/B/name", "b", tb);
  CHECK(f.commit(a, ta) == "");
  CHECK(f.commit(b, tb) == "");
  std::vector<std::string> expect{"A", "B"};
  CHECK(f.directory(a, "/vm") == expect);
}

TEST_CASE("a transaction that read something changed since its start fails with EAGAIN") {
  EngineFixture f;
  uint64_t a = f.open_socket();
  uint64_t b = f.open_socket();
  f.write(a, "/k", "a");
  uint32_t t = f.start(a);
  CHECK(f.read(a, "/k", t) == "a");
  f.write(b, "/k", "b");
  CHECK(f.read(a, "/k", t) == "a");  // its snapshot
  f.write(a, "/k", "c", t);
  CHECK(f.commit(a, t) == "EAGAIN");
  CHECK(f.read(a, "/k") == "b");
}

TEST_CASE("a directory listed again reflects every change of its children") {
  EngineFixture f;
  uint64_t c = f.open_socket();
  uint64_t other = f.open_socket();
  f.write(c, "/l/a", "");
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"a"});
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"a"});  // answered from memory

  f.write(other, "/l/b", "");
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"a", "b"});
  f.write(other, "/l/b", "a value: the list is unchanged");
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"a", "b"});
  f.ok(other, MsgType::kRm, args({"/l/a"}));
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"b"});

  // A merged transaction, and one that failed.
  uint32_t t = f.start(other);
  f.write(other, "/l/c", "", t);
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"b"});
  CHECK(f.directory(other, "/l", t) == std::vector<std::string>{"b", "c"});
  CHECK(f.commit(other, t) == "");
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"b", "c"});
  uint32_t doomed = f.start(other);
  f.read(other, "/l/b", doomed);
  f.write(other, "/l/d", "", doomed);
  f.write(c, "/l/b", "changed: the transaction fails");
  CHECK(f.commit(other, doomed) == "EAGAIN");
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"b", "c"});

  // Removed and created again.
  f.ok(c, MsgType::kRm, args({"/l"}));
  CHECK(f.err(c, MsgType::kDirectory, args({"/l"})) == "ENOENT");
  f.write(c, "/l/e", "");
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"e"});

  // After a restart the listing comes from the database again.
  f.restart();
  CHECK(f.directory(c, "/l") == std::vector<std::string>{"e"});
}
