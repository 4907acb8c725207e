// Permissions at the engine (reference section 3.1; C xenstored 4.17 perm_for_conn,
// get_node, errno_from_parents, construct_node, do_set_perms): as dom0, as an
// unprivileged guest and as a guest holding a target (SET_TARGET).
#include <doctest/doctest.h>

#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;

TEST_CASE("the owner has every right, entry 0 is the default, the first matching entry wins") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  f.write(dom0, "/p/x", "v");
  f.set_perms(dom0, "/p/x", {"n5", "r7", "w7", "b8"});
  uint64_t g5 = f.open_domain(5);
  uint64_t g7 = f.open_domain(7);
  uint64_t g8 = f.open_domain(8);
  uint64_t g9 = f.open_domain(9);

  // The owner: everything, although entry 0 says "n".
  CHECK(f.read(g5, "/p/x") == "v");
  f.write(g5, "/p/x", "5");
  CHECK(f.get_perms(g5, "/p/x") == Strings{"n5", "r7", "w7", "b8"});
  f.set_perms(g5, "/p/x", {"n5", "r7", "w7", "b8"});

  // r7 comes before w7: dom7 may read and not write.
  CHECK(f.read(g7, "/p/x") == "5");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/p/x", "7")) == "EACCES");
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/p/x", "n5"})) == "EACCES");

  CHECK(f.read(g8, "/p/x") == "5");
  f.write(g8, "/p/x", "8");

  // Not listed: entry 0's access.
  CHECK(f.err(g9, MsgType::kRead, args({"/p/x"})) == "EACCES");
  CHECK(f.err(g9, MsgType::kWrite, write_payload("/p/x", "9")) == "EACCES");
  f.set_perms(g5, "/p/x", {"r5"});
  CHECK(f.read(g9, "/p/x") == "8");
  CHECK(f.err(g9, MsgType::kWrite, write_payload("/p/x", "9")) == "EACCES");
  CHECK(f.err(g9, MsgType::kDirectory, args({"/p"})) == "EACCES");

  // Reading a node needs no right on its ancestors (/p is "n0").
  CHECK(f.get_perms(dom0, "/p") == Strings{"n0"});
  CHECK(f.read(g7, "/p/x") == "8");
}

TEST_CASE("new nodes inherit the parent's list; unprivileged creators own them, dom0 does not") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.ok(dom0, MsgType::kMkdir, args({"/local/domain/7"}));
  f.set_perms(dom0, "/local/domain/7", {"n0", "b7", "r9"});

  // Every missing node on the way is created with the closest ancestor's list, entry 0
  // naming the creator.
  f.write(g7, "/local/domain/7/a/b", "x");
  CHECK(f.get_perms(dom0, "/local/domain/7/a") == Strings{"n7", "b7", "r9"});
  CHECK(f.get_perms(dom0, "/local/domain/7/a/b") == Strings{"n7", "b7", "r9"});
  f.ok(g7, MsgType::kMkdir, args({"/local/domain/7/m"}));
  CHECK(f.get_perms(dom0, "/local/domain/7/m") == Strings{"n7", "b7", "r9"});
  CHECK(f.usage(7, "nodes") == 3);

  // A privileged creator keeps the parent's owner, whoever that is.
  f.write(dom0, "/local/domain/7/c", "");
  CHECK(f.get_perms(dom0, "/local/domain/7/c") == Strings{"n0", "b7", "r9"});
  f.write(dom0, "/local/domain/7/a/d", "");
  CHECK(f.get_perms(dom0, "/local/domain/7/a/d") == Strings{"n7", "b7", "r9"});
  CHECK(f.usage(7, "nodes") == 4);

  // Relative paths are the guest's home.
  f.write(g7, "rel", "r");
  CHECK(f.read(dom0, "/local/domain/7/rel") == "r");
  CHECK(f.get_perms(g7, "rel") == Strings{"n7", "b7", "r9"});
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("EACCES instead of ENOENT unless the closest existing ancestor grants the access") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.write(dom0, "/secret/x", "1");
  f.set_perms(dom0, "/secret", {"n0"});
  f.set_perms(dom0, "/secret/x", {"n0"});
  f.write(dom0, "/pub/x", "1");
  f.set_perms(dom0, "/pub", {"n0", "r7"});
  f.set_perms(dom0, "/pub/x", {"n0"});
  f.ok(dom0, MsgType::kMkdir, args({"/w"}));
  f.set_perms(dom0, "/w", {"n0", "b7"});

  // Hidden: present or absent, the same answer.
  for (const char* p : {"/secret/x", "/secret/nothing", "/secret/x/y/z", "/nothing"}) {
    INFO(p);
    CHECK(f.err(g7, MsgType::kRead, args({p})) == "EACCES");
    CHECK(f.err(g7, MsgType::kDirectory, args({p})) == "EACCES");
    CHECK(f.err(g7, MsgType::kGetPerms, args({p})) == "EACCES");
    CHECK(f.err(g7, MsgType::kDirectoryPart, args({p, "0"})) == "EACCES");
  }
  // The closest existing ancestor is readable: absence may be told.
  CHECK(f.err(g7, MsgType::kRead, args({"/pub/missing"})) == "ENOENT");
  CHECK(f.err(g7, MsgType::kRead, args({"/pub/missing/deeper"})) == "ENOENT");
  CHECK(f.err(g7, MsgType::kRead, args({"/pub/x"})) == "EACCES");  // exists, unreadable
  // ... but only for the access asked: /pub grants no write.
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/pub/new", "")) == "EACCES");
  CHECK(f.err(g7, MsgType::kRm, args({"/pub/missing"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/pub/missing", "n7"})) == "EACCES");
  // Writable ancestor: RM of an absent node is fine if its parent exists, ENOENT if not.
  f.ok(g7, MsgType::kRm, args({"/w/a"}));
  CHECK(f.err(g7, MsgType::kRm, args({"/w/a/b"})) == "ENOENT");
  CHECK(f.err(g7, MsgType::kRead, args({"/w/a"})) == "ENOENT");
  // SET_PERMS asks for write and owner: as in C, an ancestor granting either lets the
  // caller learn that the node is absent.
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/w/a", "n7"})) == "ENOENT");
  // dom0 is told the truth everywhere.
  CHECK(f.err(dom0, MsgType::kRead, args({"/secret/nothing"})) == "ENOENT");
}

TEST_CASE("WRITE, MKDIR and RM need write on the node, or on the closest existing ancestor") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.ok(dom0, MsgType::kMkdir, args({"/w"}));
  f.set_perms(dom0, "/w", {"n0", "b7"});
  f.write(dom0, "/w/ro", "keep");
  f.set_perms(dom0, "/w/ro", {"n0", "r7"});
  const std::string before = f.tree_dump();

  CHECK(f.err(g7, MsgType::kWrite, write_payload("/w/ro", "x")) == "EACCES");
  CHECK(f.err(g7, MsgType::kMkdir, args({"/w/ro"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kRm, args({"/w/ro"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/w/ro/child", "x")) == "EACCES");
  CHECK(f.err(g7, MsgType::kMkdir, args({"/w/ro/a/b"})) == "EACCES");
  CHECK(f.tree_dump() == before);

  // Write on the closest existing ancestor creates the whole missing chain.
  f.ok(g7, MsgType::kMkdir, args({"/w/new/deep"}));
  CHECK(f.directory(g7, "/w/new") == Strings{"deep"});
  f.ok(g7, MsgType::kMkdir, args({"/w/new/deep"}));  // exists: nothing to do
  f.ok(g7, MsgType::kRm, args({"/w/new"}));
  CHECK(f.err(g7, MsgType::kRead, args({"/w/new"})) == "ENOENT");

  // RM needs write on the node only: the descendants' permissions are not checked.
  f.write(dom0, "/w/t/locked/in", "x");
  f.set_perms(dom0, "/w/t/locked", {"n0"});
  f.set_perms(dom0, "/w/t/locked/in", {"n0"});
  f.ok(g7, MsgType::kRm, args({"/w/t"}));
  CHECK(f.err(dom0, MsgType::kRead, args({"/w/t/locked/in"})) == "ENOENT");
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("SET_PERMS needs write and ownership; the unprivileged may not change the owner") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  uint64_t g8 = f.open_domain(8);
  f.ok(dom0, MsgType::kMkdir, args({"/w"}));
  f.set_perms(dom0, "/w", {"n0", "b7", "b8"});
  f.write(g7, "/w/g", "mine");
  CHECK(f.get_perms(dom0, "/w/g") == Strings{"n7", "b7", "b8"});

  f.set_perms(g7, "/w/g", {"n7", "r8"});
  CHECK(f.get_perms(g7, "/w/g") == Strings{"n7", "r8"});
  // XSA-352: giving a node away would move it to another domain's quota.
  const std::string before = f.tree_dump();
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/w/g", "n8"})) == "EPERM");
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/w/g", "b0"})) == "EPERM");
  CHECK(f.tree_dump() == before);
  // Write without ownership is not enough; no right at all is EACCES before EPERM.
  CHECK(f.err(g8, MsgType::kSetPerms, args({"/w", "n0"})) == "EACCES");
  CHECK(f.err(g8, MsgType::kSetPerms, args({"/w/g", "n9"})) == "EACCES");
  f.set_perms(g7, "/w/g", {"n7", "b8"});
  CHECK(f.err(g8, MsgType::kSetPerms, args({"/w/g", "n7"})) == "EACCES");

  // dom0 may hand a node to anyone; the node counts move with it.
  CHECK(f.usage(7, "nodes") == 1);
  f.set_perms(dom0, "/w/g", {"n9"});
  CHECK(f.usage(7, "nodes") == 0);
  CHECK(f.usage(9, "nodes") == 1);
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/w/g", "n7"})) == "EACCES");
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("/ is permission-checked like any node (XSA-353)") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.write(dom0, "/top", "t");
  const std::string before = f.tree_dump();

  CHECK(f.err(g7, MsgType::kRead, args({"/"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kDirectory, args({"/"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kGetPerms, args({"/"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/", "x")) == "EACCES");
  CHECK(f.err(g7, MsgType::kMkdir, args({"/"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kRm, args({"/"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kSetPerms, args({"/", "b7"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kWrite, write_payload("/newtop", "x")) == "EACCES");
  CHECK(f.err(g7, MsgType::kRm, args({"/top"})) == "EACCES");
  CHECK(f.tree_dump() == before);

  // Nobody removes the root, not even with write on it.
  CHECK(f.err(dom0, MsgType::kRm, args({"/"})) == "EINVAL");
  f.set_perms(dom0, "/", {"n0", "b7"});
  CHECK(f.directory(g7, "/") == Strings{"tool", "top"});
  CHECK(f.err(g7, MsgType::kRm, args({"/"})) == "EINVAL");
  CHECK(f.directory(dom0, "/") == Strings{"tool", "top"});
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("a guest holding a target acts as the target's owner and matches its ACL entries") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  REQUIRE(f.introduce(8) == "");
  f.ok(dom0, MsgType::kSetTarget, args({"8", "7"}));
  uint64_t g7 = f.open_domain(7);
  uint64_t dm = f.open_domain(8);  // the device model of dom7
  uint64_t g9 = f.open_domain(9);

  f.ok(dom0, MsgType::kMkdir, args({"/local/domain/7"}));
  f.set_perms(dom0, "/local/domain/7", {"n7"});
  f.write(dom0, "/local/domain/7/x", "guest's");
  // Owned by the target: every right, as the owner.
  CHECK(f.read(dm, "/local/domain/7/x") == "guest's");
  f.write(dm, "/local/domain/7/x", "dm's");
  f.set_perms(dm, "/local/domain/7/x", {"n7", "r9"});
  // ... except giving it away: the owner stays the target.
  CHECK(f.err(dm, MsgType::kSetPerms, args({"/local/domain/7/x", "n8"})) == "EPERM");
  CHECK(f.err(g9, MsgType::kWrite, write_payload("/local/domain/7/x", "")) == "EACCES");

  // Nodes the device model creates are its own (C: the connection's domid).
  f.write(dm, "/local/domain/7/dm-state", "running");
  CHECK(f.get_perms(dom0, "/local/domain/7/dm-state") == Strings{"n8"});
  CHECK(f.usage(8, "nodes") == 1);
  // The target gains nothing from its device model.
  CHECK(f.err(g7, MsgType::kRead, args({"/local/domain/7/dm-state"})) == "EACCES");
  f.set_perms(dm, "/local/domain/7/dm-state", {"n8", "r7"});
  CHECK(f.read(g7, "/local/domain/7/dm-state") == "running");

  // ACL entries naming the target apply, the first matching entry (own or target) wins.
  f.write(dom0, "/acl/a", "a");
  f.set_perms(dom0, "/acl/a", {"n0", "r7"});
  CHECK(f.read(dm, "/acl/a") == "a");
  CHECK(f.err(dm, MsgType::kWrite, write_payload("/acl/a", "")) == "EACCES");
  f.set_perms(dom0, "/acl/a", {"n0", "w7", "r8"});
  CHECK(f.err(dm, MsgType::kRead, args({"/acl/a"})) == "EACCES");
  f.write(dm, "/acl/a", "written through w7");
  f.set_perms(dom0, "/acl/a", {"n0", "r8", "w7"});
  CHECK(f.read(dm, "/acl/a") == "written through w7");

  // A target is no privilege.
  CHECK(f.err(dm, MsgType::kRead, args({"/acl"})) == "EACCES");
  CHECK(f.err(dm, MsgType::kIntroduce, args({"10", "1", "1"})) == "EACCES");
  CHECK(f.err(g9, MsgType::kRead, args({"/acl/a"})) == "EACCES");
  CHECK(f.control({"check"}) == "OK");
}

TEST_CASE("@introduceDomain and @releaseDomain have their own ACL, set with SET_PERMS") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  CHECK(f.err(g7, MsgType::kSetPerms, args({"@releaseDomain", "n7"})) == "EACCES");
  CHECK(f.err(g7, MsgType::kSetPerms, args({"@introduceDomain", "r7"})) == "EACCES");
  CHECK(f.err(dom0, MsgType::kSetPerms, args({"@otherDomain", "r7"})) == "EINVAL");
  // Special names are not nodes.
  CHECK(f.err(dom0, MsgType::kGetPerms, args({"@releaseDomain"})) == "EINVAL");
  CHECK(f.err(dom0, MsgType::kRead, args({"@releaseDomain"})) == "EINVAL");

  f.ok(g7, MsgType::kWatch, args({"@introduceDomain", "i"}));
  f.ok(g7, MsgType::kWatch, args({"@releaseDomain", "r"}));
  CHECK(f.events(g7) == Strings{"@introduceDomain|i", "@releaseDomain|r"});
  REQUIRE(f.introduce(9) == "");
  f.ok(dom0, MsgType::kRelease, args({"9"}));
  CHECK(f.events(g7).empty());

  f.set_perms(dom0, "@releaseDomain", {"n0", "r7"});
  REQUIRE(f.introduce(9) == "");
  CHECK(f.events(g7).empty());
  f.ok(dom0, MsgType::kRelease, args({"9"}));
  CHECK(f.events(g7) == Strings{"@releaseDomain|r"});

  // Ownership of a special ACL lets a guest (a driver domain) manage it.
  f.set_perms(dom0, "@introduceDomain", {"n7"});
  f.set_perms(g7, "@introduceDomain", {"n7", "r8"});
  REQUIRE(f.introduce(9) == "");
  CHECK(f.events(g7) == Strings{"@introduceDomain|i"});
  // The permissions quota applies to special ACLs too.
  CHECK(f.err(g7, MsgType::kSetPerms,
              args({"@introduceDomain", "n7", "r1", "r2", "r3", "r4", "r5"})) == "ENOSPC");
}
