// Quotas at the engine (reference section 3.5): cxenstored 4.17's defaults and errors,
// privileged domains exempt, per-domain overrides through CONTROL, and every refusal
// logged (domain, quota, path) and counted (CONTROL quota <domid>).
#include <doctest/doctest.h>

#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;

namespace {

// dom7 with a home it may write in, owned by dom0 so that it does not count.
uint64_t guest7(EngineFixture& f) {
  uint64_t dom0 = f.admin();
  REQUIRE(f.introduce(7) == "");
  f.ok(dom0, MsgType::kMkdir, args({"/local/domain/7"}));
  f.set_perms(dom0, "/local/domain/7", {"n0", "b7"});
  return f.open_domain(7);
}

}  // namespace

TEST_CASE("nodes: a guest owns at most 1000 nodes, however it creates them (ENOSPC)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  // Fifty to a directory: the node-size quota limits a guest's children lists too.
  for (int i = 0; i < 997; ++i) {
    const std::string dir = "/local/domain/7/d" + std::to_string(i / 50);
    if (i % 50 == 0) {
      f.ok(g7, MsgType::kMkdir, args({dir}));
    } else {
      f.write(g7, dir + "/n" + std::to_string(i), "");
    }
  }
  CHECK(f.usage(7, "nodes") == 997);

  // MKDIR and WRITE create every missing parent: all of them count, and none is created
  // when the last would not fit.
  const std::string before = f.tree_dump();
  CHECK(f.err(g7, MsgType::kMkdir, args({"/local/domain/7/a/b/c/d"})) == "ENOSPC");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/a/b/c/d", "")) == "ENOSPC");
  CHECK(f.tree_dump() == before);
  f.ok(g7, MsgType::kMkdir, args({"/local/domain/7/a/b/c"}));
  CHECK(f.usage(7, "nodes") == 1000);
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/one-more", "")) == "ENOSPC");
  // Existing nodes may still be written; removing makes room.
  f.write(g7, "/local/domain/7/d0/n1", "still fine");
  f.ok(g7, MsgType::kRm, args({"/local/domain/7/a/b"}));
  f.write(g7, "/local/domain/7/one-more", "");
  CHECK(f.usage(7, "nodes") == 999);

  CHECK(f.refusals(7, "nodes") == 3);
  CHECK(f.log().contains({"dom7", "nodes", "/local/domain/7/a/b/c/d"}));
  CHECK(f.log().contains({"dom7", "nodes", "/local/domain/7/one-more"}));

  // dom0 is exempt, even when what it creates counts for the guest.
  for (int i = 0; i < 5; ++i)
    f.write(f.admin(), "/local/domain/7/a/by-dom0-" + std::to_string(i), "");
  f.set_perms(f.admin(), "/local/domain/7/d0/n2", {"n7"});
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("nodes: a transaction is held to the quota as it goes and again at its commit") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  f.ok(f.admin(), MsgType::kControl, args({"quota", "set", "nodes", "20", "7"}));
  for (int i = 0; i < 15; ++i) f.write(g7, "/local/domain/7/n" + std::to_string(i), "");

  uint32_t t = f.start(g7);
  CHECK(f.err(g7, MsgType::kMkdir, args({"/local/domain/7/t/a/b/c/d/e"}), t) == "ENOSPC");
  f.ok(g7, MsgType::kMkdir, args({"/local/domain/7/t/a/b/c"}), t);  // 19 of 20
  CHECK(f.usage(7, "nodes") == 15);
  // Meanwhile the guest uses more outside: the commit would take it over its quota.
  f.write(g7, "/local/domain/7/outside/a", "");
  f.write(g7, "/local/domain/7/outside/b", "");
  f.write(g7, "/local/domain/7/outside/c", "");
  CHECK(f.commit(g7, t) == "ENOSPC");
  CHECK(f.usage(7, "nodes") == 19);
  CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/t"})) == "ENOENT");
  CHECK(f.usage(7, "transactions") == 0);
  CHECK(f.refusals(7, "nodes") == 2);
  CHECK(f.log().contains({"dom7", "nodes", "/local/domain/7/t/a/b/c"}));

  // Removing in the same transaction makes room for it.
  t = f.start(g7);
  f.ok(g7, MsgType::kRm, args({"/local/domain/7/outside"}), t);
  f.ok(g7, MsgType::kMkdir, args({"/local/domain/7/t/a/b/c"}), t);
  CHECK(f.commit(g7, t) == "");
  CHECK(f.usage(7, "nodes") == 19);
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("node-size: a node's record over 2048 bytes is refused (ENOSPC)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  // Header, two permissions and the value: a value of 1900 bytes fits, 2048 does not.
  f.write(g7, "/local/domain/7/v", std::string(1900, 'v'));
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/v", std::string(2048, 'v'))) ==
        "ENOSPC");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/new", std::string(2048, 'v'))) ==
        "ENOSPC");
  CHECK(f.read(g7, "/local/domain/7/v").size() == 1900);
  CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/new"})) == "ENOENT");
  // The list of children counts too: the parent's record grows with each child's name.
  const std::string name(100, 'c');
  for (int i = 0; i < 19; ++i)
    f.write(g7, "/local/domain/7/big/" + name.substr(2) + std::to_string(10 + i), "");
  CHECK(f.err(g7, MsgType::kWrite,
              write_payload("/local/domain/7/big/" + name.substr(2) + "99", "")) == "ENOSPC");
  CHECK(f.refusals(7, "node-size") == 3);
  CHECK(f.log().contains({"dom7", "node-size", "/local/domain/7/big"}));
  // dom0 is exempt.
  f.write(f.admin(), "/local/domain/7/big/" + name.substr(2) + "99", std::string(3000, 'x'));
}

TEST_CASE("watches: 128 per guest (E2BIG)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  for (int i = 0; i < 128; ++i) f.ok(g7, MsgType::kWatch, args({"/w" + std::to_string(i), "t"}));
  // C 4.17 checks "watches > 128" and so takes a 129th; dxs holds to the limit.
  CHECK(f.err(g7, MsgType::kWatch, args({"/one-more", "t"})) == "E2BIG");
  CHECK(f.usage(7, "watches") == 128);
  // A duplicate is still EEXIST (checked first, as in C).
  CHECK(f.err(g7, MsgType::kWatch, args({"/w0", "t"})) == "EEXIST");
  f.ok(g7, MsgType::kUnwatch, args({"/w0", "t"}));
  f.ok(g7, MsgType::kWatch, args({"/one-more", "t"}));
  CHECK(f.refusals(7, "watches") == 1);
  CHECK(f.log().contains({"dom7", "watches", "/one-more"}));
  uint64_t dom0 = f.admin();
  for (int i = 0; i < 200; ++i) f.ok(dom0, MsgType::kWatch, args({"/w" + std::to_string(i), "t"}));
}

TEST_CASE("transactions: 10 open per guest connection (ENOSPC)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  for (int i = 0; i < 10; ++i) f.start(g7);
  CHECK(f.err(g7, MsgType::kTransactionStart, args({""})) == "ENOSPC");
  CHECK(f.refusals(7, "transactions") == 1);
  CHECK(f.log().contains({"dom7", "transactions"}));
  f.ok(f.admin(), MsgType::kControl, args({"quota", "set", "transactions", "12", "7"}));
  f.start(g7);
  f.start(g7);
  CHECK(f.err(g7, MsgType::kTransactionStart, args({""})) == "ENOSPC");
  CHECK(f.refusals(7, "transactions") == 2);
}

TEST_CASE(
    "transactions: a privileged connection holds at most 1024 open (ENOSPC), guests' quota apart") {
  EngineFixture f;
  uint64_t dom0 = f.admin();
  std::vector<uint32_t> held;
  for (int64_t i = 0; i < dxs::store::kPrivilegedTransactions; ++i) held.push_back(f.start(dom0));
  CHECK(f.err(dom0, MsgType::kTransactionStart, args({""})) == "ENOSPC");
  CHECK(f.refusals(0, "transactions") == 1);
  CHECK(f.log().contains({"dom0", "transactions", "limit 1024"}));
  // Another dom0 connection is not held to this one's count, and ending one makes room.
  uint64_t other = f.open_socket();
  f.start(other);
  f.ok(dom0, MsgType::kTransactionEnd, args({"F"}), held.back());
  f.start(dom0);
  CHECK(f.err(dom0, MsgType::kTransactionStart, args({""})) == "ENOSPC");
  // A guest's own quota is untouched by the ceiling: still 10.
  uint64_t g7 = guest7(f);
  for (int i = 0; i < 10; ++i) f.start(g7);
  CHECK(f.err(g7, MsgType::kTransactionStart, args({""})) == "ENOSPC");
}

TEST_CASE("transaction-nodes: a guest's transaction touches at most 1024 nodes (ENOSPC)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  uint32_t t = f.start(g7);
  // 1019 absent nodes read, 4 created and their parent, whose children changed: 1024.
  for (int i = 0; i < 1019; ++i) {
    CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/r" + std::to_string(i)}), t) ==
          "ENOENT");
  }
  for (int i = 0; i < 4; ++i) f.write(g7, "/local/domain/7/w" + std::to_string(i), "", t);
  CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/r-one-more"}), t) == "ENOSPC");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/w-one-more", ""), t) == "ENOSPC");
  // What it touched already, it may touch again; and it still commits.
  CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/r7"}), t) == "ENOENT");
  f.write(g7, "/local/domain/7/w0", "again", t);
  CHECK(f.commit(g7, t) == "");
  CHECK(f.read(g7, "/local/domain/7/w0") == "again");
  CHECK(f.refusals(7, "transaction-nodes") == 2);
  CHECK(f.log().contains({"dom7", "transaction-nodes", "/local/domain/7/w-one-more"}));
  // dom0 is exempt.
  uint64_t dom0 = f.admin();
  t = f.start(dom0);
  for (int i = 0; i < 1100; ++i) {
    CHECK(f.err(dom0, MsgType::kRead, args({"/x" + std::to_string(i)}), t) == "ENOENT");
  }
  CHECK(f.commit(dom0, t) == "");
}

TEST_CASE("permissions: at most 5 entries per list for a guest (ENOSPC)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  f.write(g7, "/local/domain/7/p", "");
  f.set_perms(g7, "/local/domain/7/p", {"n7", "r1", "r2", "r3", "r4"});
  CHECK(f.err(g7, MsgType::kSetPerms,
              args({"/local/domain/7/p", "n7", "r1", "r2", "r3", "r4", "r5"})) == "ENOSPC");
  CHECK(f.get_perms(g7, "/local/domain/7/p") == Strings{"n7", "r1", "r2", "r3", "r4"});
  CHECK(f.refusals(7, "permissions") == 1);
  CHECK(f.log().contains({"dom7", "permissions", "/local/domain/7/p"}));
  f.set_perms(f.admin(), "/local/domain/7/p", {"n7", "r1", "r2", "r3", "r4", "r5", "r6", "r8"});
}

TEST_CASE("path-max: 2048 characters, after /local/domain/<domid>/ for a domain's paths (EINVAL)") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  uint64_t dom0 = f.admin();
  auto path_of = [](std::string prefix, size_t length) {
    std::string p = prefix;
    while (p.size() < length)
      p += "/" + std::string(std::min<size_t>(50, length - p.size() - 1), 'p');
    return p;
  };
  const std::string abs2048 = path_of("/x", 2048);
  REQUIRE(abs2048.size() == 2048);
  f.write(dom0, abs2048, "");
  CHECK(f.err(dom0, MsgType::kWrite, write_payload(abs2048 + "q", "")) == "EINVAL");
  // A domain's path may be as long again as its home: migration may change the domid.
  const std::string home = "/local/domain/7/";
  const std::string rel2048 = path_of("a", 2048);
  REQUIRE(rel2048.size() == 2048);
  f.write(g7, rel2048, "relative");
  CHECK(f.read(g7, home + rel2048) == "relative");
  CHECK(f.err(g7, MsgType::kWrite, write_payload(rel2048 + "q", "")) == "EINVAL");
  CHECK(f.err(g7, MsgType::kRead, args({home + rel2048 + "q"})) == "EINVAL");
  CHECK(f.refusals(7, "path-max") == 2);
  CHECK(f.log().contains({"dom7", "path-max"}));
  // Per domain, like any quota.
  f.ok(dom0, MsgType::kControl, args({"quota", "set", "path-max", "100", "7"}));
  CHECK(f.err(g7, MsgType::kRead, args({path_of("a", 101)})) == "EINVAL");
  CHECK(f.err(g7, MsgType::kRead, args({path_of("a", 100)})) == "ENOENT");
}

TEST_CASE("quotas are set globally or per domain with CONTROL, and survive a restart") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  REQUIRE(f.introduce(8) == "");
  f.ok(f.admin(), MsgType::kMkdir, args({"/local/domain/8"}));
  f.set_perms(f.admin(), "/local/domain/8", {"n0", "b8"});
  uint64_t g8 = f.open_domain(8);

  const std::string settings = f.control({"quota"});
  CHECK(settings.find("nodes") != std::string::npos);
  CHECK(settings.find("1000") != std::string::npos);
  CHECK(f.control({"quota", "set", "nodes", "3", "7"}) == "OK");
  CHECK(f.control({"quota", "set", "permissions", "2"}) == "OK");
  CHECK(f.control({"quota", "set", "nonsense", "2"}) == "EINVAL");
  CHECK(f.control({"quota", "set", "nodes", "-1"}) == "EINVAL");
  CHECK(f.control({"quota", "set", "nodes", "x", "7"}) == "EINVAL");
  CHECK(f.control({"quota", "set", "nodes", "5", "seven"}) == "EINVAL");
  CHECK(f.control({"quota", "set", "nodes", "5", "7", "extra"}) == "EINVAL");
  CHECK(f.control({"quota", "4242"}) == "ENOENT");

  f.restart();
  for (int i = 0; i < 3; ++i) f.write(g7, "/local/domain/7/n" + std::to_string(i), "");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/n3", "")) == "ENOSPC");
  for (int i = 0; i < 4; ++i) f.write(g8, "/local/domain/8/n" + std::to_string(i), "");
  CHECK(f.err(g8, MsgType::kSetPerms, args({"/local/domain/8/n0", "n8", "r1", "r2"})) == "ENOSPC");
  f.set_perms(g8, "/local/domain/8/n0", {"n8", "r1"});
  CHECK(f.refusals(7, "nodes") == 1);
  CHECK(f.refusals(8, "permissions") == 1);
  CHECK(f.refusals(8, "nodes") == 0);
}

TEST_CASE("nodes: cooperating guests cannot pool their quotas") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  REQUIRE(f.introduce(8) == "");
  uint64_t g8 = f.open_domain(8);
  f.write(g7, "/local/domain/7/shared", "");
  f.set_perms(g7, "/local/domain/7/shared", {"n7", "b8"});
  f.ok(f.admin(), MsgType::kControl, args({"quota", "set", "nodes", "5", "8"}));

  // What dom8 creates in dom7's directory is dom8's, and counts against dom8's quota.
  for (int i = 0; i < 5; ++i) f.write(g8, "/local/domain/7/shared/n" + std::to_string(i), "");
  CHECK(f.err(g8, MsgType::kWrite, write_payload("/local/domain/7/shared/n5", "")) == "ENOSPC");
  CHECK(f.usage(8, "nodes") == 5);
  CHECK(f.usage(7, "nodes") == 1);
  CHECK(f.get_perms(f.admin(), "/local/domain/7/shared/n0") == Strings{"n8", "b8"});
  // dom7 may remove them (write on its node): dom8's count follows.
  f.ok(g7, MsgType::kRm, args({"/local/domain/7/shared"}));
  CHECK(f.usage(8, "nodes") == 0);
  CHECK(f.usage(7, "nodes") == 0);
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("transaction-nodes: the same count before and after a restart of the store") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  f.ok(f.admin(), MsgType::kControl, args({"quota", "set", "transaction-nodes", "3", "7"}));
  bool restart = false;
  SUBCASE("without a restart") {}
  SUBCASE("with a restart") {
    restart = true;
  }
  uint32_t t = f.start(g7);
  // Each write touches the node and its parent, whose list of children changes.
  f.write(g7, "/local/domain/7/a", "", t);
  f.write(g7, "/local/domain/7/b", "", t);
  if (restart) f.restart();
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/c", ""), t) == "ENOSPC");
  f.write(g7, "/local/domain/7/a", "again", t);
  CHECK(f.commit(g7, t) == "");
}

TEST_CASE("node-size counts what xenstored's record holds, to the byte") {
  // C: sizeof(struct xs_tdb_record_hdr) = 24 (with padding), 8 bytes per permission, the
  // value and the children's names; a record of node-size (2048) bytes or more is refused.
  EngineFixture f;
  uint64_t g7 = guest7(f);
  // The node inherits two permissions (n7 b7): 24 + 16 + 2007 = 2047 fits.
  f.write(g7, "/local/domain/7/edge", std::string(2007, 'e'));
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/local/domain/7/edge", std::string(2008, 'e'))) ==
        "ENOSPC");
  CHECK(f.read(g7, "/local/domain/7/edge").size() == 2007);
}

TEST_CASE("node-size in a transaction counts the children the transaction sees") {
  EngineFixture f;
  uint64_t g7 = guest7(f);
  f.write(g7, "/local/domain/7/p/a", "");
  f.write(g7, "/local/domain/7/p/b", "");
  f.ok(g7, MsgType::kMkdir, args({"/local/domain/7/q"}));
  uint32_t t = f.start(g7);
  // Outside, after the transaction started: /p loses a child, /q gains a long one.
  f.ok(g7, MsgType::kRm, args({"/local/domain/7/p/a"}));
  f.write(g7, "/local/domain/7/q/" + std::string(1900, 'l'), "");

  // In its snapshot /q has no children: a child with a 120-character name fits there.
  f.write(g7, "/local/domain/7/q/" + std::string(120, 's'), "", t);
  // /p has both of its children: removing them leaves none (not fewer than none).
  f.ok(g7, MsgType::kRm, args({"/local/domain/7/p/a"}), t);
  f.ok(g7, MsgType::kRm, args({"/local/domain/7/p/b"}), t);
  f.write(g7, "/local/domain/7/p/" + std::string(1990, 'c'), "", t);
  // At the commit, /q holds both names: too big.
  CHECK(f.commit(g7, t) == "ENOSPC");
  CHECK(f.read(g7, "/local/domain/7/p/b") == "");
  CHECK(f.control({"check"}) == "OK");
}
