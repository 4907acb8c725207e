// Domains at the engine (reference sections 1.2 and 1.8, 3.1 on stale permissions; C
// xenstored 4.17 xenstored_domain.c): INTRODUCE, IS_DOMAIN_INTRODUCED, RELEASE and the
// cleanup after a domain (XSA-322/419/483), RESUME, SET_TARGET, GET_DOMAIN_PATH, and the
// privileged-only operations.
#include <doctest/doctest.h>

#include <algorithm>

#include "engine_fixture.h"

using dxs::store::Cf;
using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;

namespace {

std::string introduced(EngineFixture& f, uint64_t conn, std::string_view domid) {
  return f.ok(conn, MsgType::kIsDomainIntroduced, args({domid}));
}

// A domain as libxl sets it up: its home owned by dom0 and readable by it, with
// subdirectories it owns.
void make_home(EngineFixture& f, uint64_t dom0, uint32_t domid) {
  const std::string d = std::to_string(domid);
  const std::string home = "/local/domain/" + d;
  f.ok(dom0, MsgType::kMkdir, args({home}));
  f.set_perms(dom0, home, {"n0", "r" + d});
  f.ok(dom0, MsgType::kMkdir, args({home + "/data"}));
  f.set_perms(dom0, home + "/data", {"n" + d});
  f.ok(dom0, MsgType::kMkdir, args({home + "/device"}));
  f.set_perms(dom0, home + "/device", {"n" + d, "r0"});
}

}  // namespace

TEST_CASE("INTRODUCE fires @introduceDomain the first time only") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  f.ok(dom0, MsgType::kWatch, args({"@introduceDomain", "i"}));
  f.events(dom0);
  CHECK(introduced(f, dom0, "5") == args({"F"}));

  const uint64_t head = f.engine().head();
  f.ok(dom0, MsgType::kIntroduce, args({"5", "123456", "7"}));
  CHECK(f.events(dom0) == Strings{"@introduceDomain|i"});
  CHECK(introduced(f, dom0, "5") == args({"T"}));
  CHECK(f.engine().head() == head + 1);
  CHECK(f.commits()[head + 1].summary() == "dom0: introduce domain 5");

  // Again (a guest's kexec, resume): no event, and the guest's connection starts afresh,
  // as a new connection on the new port whose ring the frontend resets.
  uint64_t g5 = f.open_domain(5);
  f.ok(dom0, MsgType::kMkdir, args({"/local/domain/5"}));
  f.set_perms(dom0, "/local/domain/5", {"n5"});
  f.ok(g5, MsgType::kWatch, args({"/local/domain/5", "w"}));
  uint32_t t = f.start(g5);
  f.ok(dom0, MsgType::kIntroduce, args({"5", "123456", "8"}));
  CHECK(f.events(dom0).empty());
  CHECK(f.commits()[f.engine().head()].summary() == "dom0: reintroduce domain 5");
  const uint64_t new5 = f.open_domain(5);
  CHECK(new5 != g5);
  auto cmds = f.commands(new5);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].action() == dxs::pb::ConnectionCommand::OPEN_RING);
  CHECK(cmds[0].reset());
  CHECK(cmds[0].ring().remote_port() == 8);
  CHECK(f.commands(g5).back().action() == dxs::pb::ConnectionCommand::CLOSE);
  CHECK(f.commit(new5, t) == "ENOENT");
  f.events(new5);
  f.write(dom0, "/local/domain/5/x", "");
  CHECK(f.events(new5).empty());
  CHECK(f.read(new5, "/local/domain/5/x") == "");

  // dom0 is introduced from the start; DOMID_SELF (32752) always answers T.
  CHECK(introduced(f, dom0, "0") == args({"T"}));
  CHECK(introduced(f, dom0, "32752") == args({"T"}));
  CHECK(introduced(f, dom0, "6") == args({"F"}));

  // A domid, a frame number (signed, unused) and a port above 0; extra strings are
  // ignored as in C.
  f.ok(dom0, MsgType::kIntroduce, args({"6", "-1", "3", "/local/domain/6"}));
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"9", "1"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"9", "1", "0"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"9", "1", "-3"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"9", "x", "3"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"nine", "1", "3"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"32752", "1", "3"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kIntroduce, args({"65536", "1", "3"})) == "EINVAL");
  CHECK(introduced(f, dom0, "9") == args({"F"}));
  CHECK(f.events(dom0) == Strings{"@introduceDomain|i"});
}

TEST_CASE("RELEASE: errors, @releaseDomain, and the domain's connections closed") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  CHECK(f.err(dom0, MsgType::kRelease, args({"7"})) == "ENOENT");
  CHECK(f.err(dom0, MsgType::kRelease, args({"0"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kRelease, args({"seven"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kRelease, args({"7", "8"})) == "EINVAL");

  REQUIRE(f.introduce(7) == "");
  uint64_t g7 = f.open_domain(7);
  uint64_t g8 = f.open_domain(8);
  f.commands(g7);
  f.commands(g8);
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(dom0);
  f.ok(dom0, MsgType::kRelease, args({"7"}));
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r"});
  CHECK(introduced(f, dom0, "7") == args({"F"}));
  CHECK(f.err(dom0, MsgType::kRelease, args({"7"})) == "ENOENT");
  // The frontend is told to close the domain's ring connection, after the reply.
  auto closed = f.commands(g7);
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].action() == dxs::pb::ConnectionCommand::CLOSE);
  CHECK(f.commands(g8).empty());
  // The store has forgotten them: a late request is answered EIO.
  CHECK(f.call(g7, MsgType::kRead, args({"/"})).error() == "EIO");
  CHECK(f.err(g8, MsgType::kRead, args({"/"})) == "EACCES");
  CHECK(f.commits()[f.engine().head()].summary() == "dom0: release domain 7");
}

TEST_CASE("RELEASE removes what the domain owned and every right it had (XSA-322/419/483)") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  REQUIRE(f.introduce(8) == "");
  make_home(f, dom0, 7);
  make_home(f, dom0, 8);
  uint64_t g7 = f.open_domain(7);
  f.write(g7, "/local/domain/7/data/a/b", "1");
  f.write(dom0, "/local/domain/7/data/a/dom0s", "under a node of 7");
  f.set_perms(dom0, "/local/domain/7/data/a/dom0s", {"n0"});
  f.write(dom0, "/elsewhere/of7", "x");
  f.set_perms(dom0, "/elsewhere/of7", {"n7"});
  f.write(dom0, "/elsewhere/shared", "x");
  f.set_perms(dom0, "/elsewhere/shared", {"n8", "r7", "b9"});
  f.set_perms(dom0, "@releaseDomain", {"n0", "r7", "r8"});
  f.set_perms(dom0, "@introduceDomain", {"n7", "r8"});
  f.ok(dom0, MsgType::kControl, args({"quota", "set", "nodes", "50", "7"}));
  CHECK(f.usage(7, "nodes") == 5);
  const int64_t dom0_nodes = f.usage(0, "nodes");

  uint64_t w = f.open_socket();
  f.ok(w, MsgType::kWatch, args({"/local/domain/7/data/a/b", "b"}));
  f.ok(w, MsgType::kWatch, args({"/elsewhere", "e"}));
  f.ok(w, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(w);

  f.ok(dom0, MsgType::kRelease, args({"7"}));
  // Its nodes are gone with everything below them, whoever owned that.
  CHECK(f.directory(dom0, "/local/domain/7") == Strings{});
  CHECK(f.err(dom0, MsgType::kRead, args({"/elsewhere/of7"})) == "ENOENT");
  CHECK(f.read(dom0, "/elsewhere/shared") == "x");
  CHECK(f.usage(0, "nodes") == dom0_nodes - 1);
  // Watchers hear of each removal as with RM, then of the release (C's order).
  CHECK(f.events(w) ==
        Strings{"/elsewhere/of7|e", "/local/domain/7/data/a/b|b", "@releaseDomain|r"});
  // Its ACL entries are gone from nodes and special ACLs; ownership of a special ACL
  // returns to dom0.
  CHECK(f.get_perms(dom0, "/elsewhere/shared") == Strings{"n8", "b9"});
  CHECK(f.get_perms(dom0, "/local/domain/7") == Strings{"n0"});
  // Its usage and its quota overrides are forgotten.
  CHECK(f.usage(7, "nodes") == -1);
  CHECK(f.control({"check"}) == "OK");

  // A new domain 7 inherits nothing.
  REQUIRE(f.introduce(7) == "");
  uint64_t new7 = f.open_domain(7);
  CHECK(f.usage(7, "nodes") == 0);
  CHECK(f.err(new7, MsgType::kRead, args({"/elsewhere/shared"})) == "EACCES");
  CHECK(f.err(new7, MsgType::kSetPerms, args({"@introduceDomain", "n7"})) == "EACCES");
  f.ok(new7, MsgType::kWatch, args({"@releaseDomain", "r"}));
  f.events(new7);
  REQUIRE(f.introduce(9) == "");
  f.ok(dom0, MsgType::kRelease, args({"9"}));
  CHECK(f.events(new7).empty());
  // Its quota is the default again (1000, not the 50 of the old domain).
  f.set_perms(dom0, "/local/domain/7", {"n0", "b7"});
  for (int i = 0; i < 60; ++i) f.write(new7, "/local/domain/7/n" + std::to_string(i), "");
  CHECK(f.usage(7, "nodes") == 60);
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("with keep_orphans, RELEASE hands the domain's nodes to dom0") {
  dxs::store::EngineOptions options;
  options.keep_orphans = true;
  EngineFixture f(options);
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  make_home(f, dom0, 7);
  uint64_t g7 = f.open_domain(7);
  f.write(g7, "/local/domain/7/data/a", "1");
  f.set_perms(g7, "/local/domain/7/data/a", {"n7", "r7", "b8"});
  const int64_t dom0_nodes = f.usage(0, "nodes");
  CHECK(f.usage(7, "nodes") == 3);

  f.ok(dom0, MsgType::kRelease, args({"7"}));
  CHECK(f.read(dom0, "/local/domain/7/data/a") == "1");
  CHECK(f.get_perms(dom0, "/local/domain/7/data") == Strings{"n0"});
  CHECK(f.get_perms(dom0, "/local/domain/7/device") == Strings{"n0", "r0"});
  // Handed over, the node keeps no entry for the dead domain.
  CHECK(f.get_perms(dom0, "/local/domain/7/data/a") == Strings{"n0", "b8"});
  CHECK(f.usage(0, "nodes") == dom0_nodes + 3);
  CHECK(f.usage(7, "nodes") == -1);
  CHECK(f.control({"check"}) == "OK");
  REQUIRE(f.introduce(7) == "");
  uint64_t new7 = f.open_domain(7);
  CHECK(f.err(new7, MsgType::kRead, args({"/local/domain/7/data/a"})) == "EACCES");
}

TEST_CASE("RESUME and SET_TARGET need introduced domains") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  CHECK(f.err(dom0, MsgType::kResume, args({"7"})) == "ENOENT");
  CHECK(f.err(dom0, MsgType::kResume, args({"0"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kResume, args({"x"})) == "EINVAL");
  REQUIRE(f.introduce(7) == "");
  f.ok(dom0, MsgType::kResume, args({"7"}));

  CHECK(f.err(dom0, MsgType::kSetTarget, args({"8", "7"})) == "ENOENT");
  CHECK(f.err(dom0, MsgType::kSetTarget, args({"7", "8"})) == "ENOENT");
  CHECK(f.err(dom0, MsgType::kSetTarget, args({"8"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kSetTarget, args({"8", "x"})) == "EINVAL");
  REQUIRE(f.introduce(8) == "");
  f.ok(dom0, MsgType::kSetTarget, args({"8", "7"}));

  // The target's rights hold for every connection of the device model, at once.
  make_home(f, dom0, 7);
  uint64_t dm = f.open_domain(8);
  f.write(dm, "/local/domain/7/data/from-dm", "x");
  CHECK(f.read(dm, "/local/domain/7") == "");

  // Released, the target gives nothing any more, even to a new domain of the same domid.
  f.ok(dom0, MsgType::kRelease, args({"7"}));
  REQUIRE(f.introduce(7) == "");
  make_home(f, dom0, 7);
  CHECK(f.err(dm, MsgType::kRead, args({"/local/domain/7"})) == "EACCES");
  CHECK(f.err(dm, MsgType::kWrite, write_payload("/local/domain/7/data/x", "")) == "EACCES");
}

TEST_CASE("GET_DOMAIN_PATH is for anyone and only formats") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  CHECK(f.ok(g7, MsgType::kGetDomainPath, args({"7"})) == args({"/local/domain/7"}));
  CHECK(f.ok(g7, MsgType::kGetDomainPath, args({"12345"})) == args({"/local/domain/12345"}));
  CHECK(f.ok(dom0, MsgType::kGetDomainPath, args({"0"})) == args({"/local/domain/0"}));
  // C reads the domid with atoi ("x" is domain 0); dxs wants a number.
  CHECK(f.err(g7, MsgType::kGetDomainPath, args({"x"})) == "EINVAL");
  CHECK(f.err(g7, MsgType::kGetDomainPath, args({""})) == "EINVAL");
  CHECK(f.err(g7, MsgType::kGetDomainPath, args({"7", "8"})) == "EINVAL");
  CHECK(f.err(g7, MsgType::kGetDomainPath, "7") == "EINVAL");
}

TEST_CASE("privileged-only operations from a guest are refused with EACCES") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  REQUIRE(f.introduce(8) == "");
  uint64_t g7 = f.open_domain(7);
  const std::string before = f.tree_dump();
  const uint64_t head = f.engine().head();
  CHECK(f.err(g7, MsgType::kControl, args({"check"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kControl, args({"quota", "set", "nodes", "9999", "7"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kIntroduce, args({"9", "1", "1"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kRelease, args({"8"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kRelease, args({"7"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kIsDomainIntroduced, args({"8"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kResume, args({"8"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kSetTarget, args({"7", "8"})) == "EACCES");
  // Whatever the payload.
  CHECK(f.err(g7, MsgType::kIntroduce, "") == "EACCES");
  CHECK(f.err(g7, MsgType::kSetTarget, "garbage") == "EACCES");
  CHECK(f.tree_dump() == before);
  CHECK(f.engine().head() == head);
  CHECK(introduced(f, dom0, "8") == args({"T"}));
  CHECK(introduced(f, dom0, "9") == args({"F"}));

  // The privileged domain of xenstored -p has dom0's rights.
  dxs::store::EngineOptions options;
  options.privileged_domid = 3;
  EngineFixture p(options);
  uint64_t g3 = p.open_domain(3);
  p.ok(g3, MsgType::kIntroduce, args({"9", "1", "1"}));
  CHECK(introduced(p, g3, "9") == args({"T"}));
  p.write(p.admin(), "/secret", "s");
  CHECK(p.read(g3, "/secret") == "s");
  p.write(g3, "/by3", "");
  CHECK(p.get_perms(g3, "/by3") == Strings{"n0"});
}

TEST_CASE("a transaction that created nodes below a domain released meanwhile fails") {
  // Creating /local/domain/7/data/late read the permissions of /local/domain/7/data
  // (its right to create there, and what the new node inherits): the RELEASE removed
  // that node, so the transaction fails and leaves nothing of the old domain behind.
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  make_home(f, dom0, 7);
  f.write(dom0, "/local/domain/7/data", "");
  f.set_perms(dom0, "/local/domain/7/data", {"n7"});

  uint32_t t = f.start(dom0);
  f.write(dom0, "/local/domain/7/data/late", "x", t);
  CHECK(f.get_perms(dom0, "/local/domain/7/data/late", t) == Strings{"n7"});
  f.ok(dom0, MsgType::kRelease, args({"7"}));
  CHECK(f.commit(dom0, t) == "EAGAIN");
  CHECK(f.directory(dom0, "/local/domain/7") == Strings{});
  CHECK(f.usage(7, "nodes") == -1);
}

TEST_CASE("RELEASE finds the nodes naming the domain however their permissions got there") {
  // RELEASE reads the domain index (store/domain_nodes.h), not the tree: each way a node
  // comes to name a domain, or stops naming it, must reach the index.
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  make_home(f, dom0, 7);
  uint64_t g7 = f.open_domain(7);
  // Inherited from a parent the domain owns, created by the domain itself.
  f.write(g7, "/local/domain/7/data/x/y", "1");
  // Named in a transaction, and created in one.
  f.write(dom0, "/tx/acl", "");
  uint32_t t = f.start(dom0);
  f.set_perms(dom0, "/tx/acl", {"n0", "r7"}, t);
  f.write(dom0, "/tx/owned", "", t);
  f.set_perms(dom0, "/tx/owned", {"n7"}, t);
  REQUIRE(f.commit(dom0, t) == "");
  // Named, then no longer: the release leaves it as it is.
  f.write(dom0, "/was/named", "v");
  f.set_perms(dom0, "/was/named", {"n0", "w7"});
  f.set_perms(dom0, "/was/named", {"n0", "r8"});
  // Owned by the domain, removed, and created again by dom0.
  f.write(dom0, "/again", "");
  f.set_perms(dom0, "/again", {"n7"});
  f.ok(dom0, MsgType::kRm, args({"/again"}));
  f.write(dom0, "/again", "dom0's");
  // Named by a node a transaction removes.
  f.write(dom0, "/tx/gone", "");
  f.set_perms(dom0, "/tx/gone", {"n0", "b7"});
  t = f.start(dom0);
  f.ok(dom0, MsgType::kRm, args({"/tx/gone"}), t);
  REQUIRE(f.commit(dom0, t) == "");
  CHECK(f.control({"check"}) == "OK");

  const uint64_t before = f.engine().head();
  f.ok(dom0, MsgType::kRelease, args({"7"}));
  CHECK(f.directory(dom0, "/local/domain/7") == Strings{});
  CHECK(f.get_perms(dom0, "/tx/acl") == Strings{"n0"});
  CHECK(f.err(dom0, MsgType::kRead, args({"/tx/owned"})) == "ENOENT");
  CHECK(f.read(dom0, "/again") == "dom0's");
  CHECK(f.get_perms(dom0, "/was/named") == Strings{"n0", "r8"});
  // The release's commit changed those nodes and no other (the special nodes named no one).
  Strings changed;
  for (const auto& [seq, c] : f.commits()) {
    if (seq <= before) continue;
    for (const auto& ch : c.changes()) changed.push_back(ch.path());
  }
  std::sort(changed.begin(), changed.end());
  CHECK(changed == Strings{"/local/domain/7", "/local/domain/7/data", "/local/domain/7/data/x",
                           "/local/domain/7/data/x/y", "/local/domain/7/device", "/tx/acl",
                           "/tx/owned"});
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("a state from before the domain index gets one when the store opens") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  make_home(f, dom0, 7);
  f.write(dom0, "/elsewhere/shared", "x");
  f.set_perms(dom0, "/elsewhere/shared", {"n8", "r7"});
  // As schema 1 left it: no index.
  {
    rocksdb::WriteBatch batch;
    auto it = f.db().iterate(Cf::kDomainNodes);
    size_t entries = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries)
      batch.Delete(f.db().cf(Cf::kDomainNodes), it->key());
    CHECK(entries == 5);  // /local/domain/7 (r7), data and device (n7), shared (n8, r7)
    batch.Put(f.db().cf(Cf::kMeta), "schema_version", "1");
    f.db().write(&batch);
  }
  // The check sees what is missing.
  const std::string problems = f.control({"check"});
  CHECK(problems.find("/elsewhere/shared names domain 7, not listed") != std::string::npos);
  CHECK(problems.find("/local/domain/7/data names domain 7, not listed") != std::string::npos);

  f.restart();
  CHECK(f.log().contains({"upgraded the state from schema 1 to 2", "5 permission entries"}));
  std::string schema;
  REQUIRE(f.db().get(Cf::kMeta, "schema_version", &schema));
  CHECK(schema == "2");
  CHECK(f.control({"check"}) == "OK");
  dom0 = f.open_socket();
  f.ok(dom0, MsgType::kRelease, args({"7"}));
  CHECK(f.directory(dom0, "/local/domain/7") == Strings{});
  CHECK(f.get_perms(dom0, "/elsewhere/shared") == Strings{"n8"});
  CHECK(f.control({"check"}) == "OK");
}
