// Watches at the engine (reference section 3.3; C xenstored 4.17 xenstored_watch.c):
// matching, the first event, RM events, relative paths, XSA-115 filtering, special
// watches, WATCH/UNWATCH/RESET_WATCHES errors, transactions, XSA-324, and the order of
// events and replies.
#include <doctest/doctest.h>

#include "engine_fixture.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::testing::write_payload;
using dxs::wire::MsgType;
using Strings = std::vector<std::string>;

namespace {

std::string reply_of(uint64_t conn, std::string_view what = "OK") {
  return "reply " + std::to_string(conn) + " " + std::string(what);
}

std::string event_of(uint64_t conn, std::string_view path_token) {
  return "event " + std::to_string(conn) + " " + std::string(path_token);
}

}  // namespace

TEST_CASE("WATCH answers OK, then fires once at once, whatever exists or is readable") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.write(dom0, "/secret", "s");
  f.set_perms(dom0, "/secret", {"n0"});

  f.ok(g7, MsgType::kWatch, args({"/secret", "t1"}));
  CHECK(f.last_outbound() == Strings{reply_of(g7), event_of(g7, "/secret|t1")});
  f.ok(g7, MsgType::kWatch, args({"/does/not/exist", "t2"}));
  CHECK(f.last_outbound() == Strings{reply_of(g7), event_of(g7, "/does/not/exist|t2")});
  f.ok(dom0, MsgType::kWatch, args({"/x", "t3"}));
  CHECK(f.events(g7) == Strings{"/secret|t1", "/does/not/exist|t2"});
  CHECK(f.events(dom0) == Strings{"/x|t3"});

  // WATCH ignores the transaction id (XSA-115): even an unknown one.
  f.ok(g7, MsgType::kWatch, args({"/y", "t4"}), 99);
  CHECK(f.events(g7) == Strings{"/y|t4"});
}

TEST_CASE("a watch fires for its path and everything below it; / watches everything") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t w = f.open_socket();
  f.ok(w, MsgType::kWatch, args({"/a", "a"}));
  f.ok(w, MsgType::kWatch, args({"/", "root"}));
  f.events(w);

  f.write(dom0, "/a/b/c", "1");  // creates /a and /a/b too: one event, for the path
  CHECK(f.events(w) == Strings{"/a/b/c|root", "/a/b/c|a"});
  f.write(dom0, "/ab", "1");  // a sibling sharing a prefix
  CHECK(f.events(w) == Strings{"/ab|root"});
  f.write(dom0, "/a", "v");
  CHECK(f.events(w) == Strings{"/a|root", "/a|a"});
  f.write(dom0, "/", "v");  // above the watch: only / fires
  CHECK(f.events(w) == Strings{"/|root"});
  f.set_perms(dom0, "/a/b", {"n0", "r1"});
  CHECK(f.events(w) == Strings{"/a/b|root", "/a/b|a"});
  f.ok(dom0, MsgType::kMkdir, args({"/a/b"}));  // exists: no change, no event
  CHECK(f.events(w).empty());
  f.read(dom0, "/a/b/c");  // reads fire nothing
  f.directory(dom0, "/a");
  CHECK(f.events(w).empty());
  // Special events are not nodes: / does not see them.
  REQUIRE(f.introduce(5) == "");
  CHECK(f.events(w).empty());
}

TEST_CASE("RM fires once per watched removed node: the root's watchers and exact watches below") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t w = f.open_socket();
  f.write(dom0, "/r/a/b", "1");
  f.write(dom0, "/r/c", "2");
  for (const char* p : {"/", "/r", "/r/a", "/r/a/b", "/r/c", "/r/missing", "/other"}) {
    f.ok(w, MsgType::kWatch, args({p, p}));
  }
  f.events(w);

  f.ok(dom0, MsgType::kRm, args({"/r"}));
  // Children first, as C's post-order walk: each descendant fires only the watches on it;
  // the root fires the watches at or above it.
  CHECK(f.events(w) == Strings{"/r/a/b|/r/a/b", "/r/a|/r/a", "/r/c|/r/c", "/r|/", "/r|/r"});
  // An absent node (parent present) is removed without an event.
  f.ok(dom0, MsgType::kRm, args({"/r"}));
  CHECK(f.events(w).empty());
}

TEST_CASE("a relative watch gets events relative to the connection's home") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.ok(dom0, MsgType::kMkdir, args({"/local/domain/7"}));
  f.set_perms(dom0, "/local/domain/7", {"n7"});

  f.ok(g7, MsgType::kWatch, args({"data", "rel"}));
  f.ok(g7, MsgType::kWatch, args({"/local/domain/7/data", "abs"}));
  CHECK(f.events(g7) == Strings{"data|rel", "/local/domain/7/data|abs"});
  // A watch is its canonical path: relative and absolute spellings are the same watch.
  CHECK(f.err(g7, MsgType::kWatch, args({"/local/domain/7/data", "rel"})) == "EEXIST");
  f.write(dom0, "/local/domain/7/data/x", "1");
  CHECK(f.events(g7) == Strings{"data/x|rel", "/local/domain/7/data/x|abs"});
  f.write(g7, "data", "2");
  CHECK(f.events(g7) == Strings{"data|rel", "/local/domain/7/data|abs"});

  // dom0's home is /local/domain/0.
  f.ok(dom0, MsgType::kWatch, args({"foo", "d"}));
  CHECK(f.events(dom0) == Strings{"foo|d"});
  f.write(dom0, "/local/domain/0/foo/bar", "");
  CHECK(f.events(dom0) == Strings{"foo/bar|d"});

  // UNWATCH resolves the path the same way: the relative one is the absolute one.
  f.ok(g7, MsgType::kUnwatch, args({"/local/domain/7/data", "rel"}));
  f.ok(g7, MsgType::kUnwatch, args({"data", "abs"}));
  f.write(dom0, "/local/domain/7/data/y", "1");
  CHECK(f.events(g7).empty());
}

TEST_CASE("a guest hears of a change only if it may read the node or its parent (XSA-115)") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.ok(g7, MsgType::kWatch, args({"/", "all"}));
  f.events(g7);
  f.ok(dom0, MsgType::kMkdir, args({"/pub"}));
  CHECK(f.events(g7).empty());  // /pub is "n0", and so is /
  f.set_perms(dom0, "/pub", {"n0", "r7"});
  CHECK(f.events(g7) == Strings{"/pub|all"});

  f.write(dom0, "/secret/x", "s");  // created "n0" under "n0"
  CHECK(f.events(g7).empty());
  f.write(dom0, "/pub/x", "1");  // readable node
  CHECK(f.events(g7) == Strings{"/pub/x|all"});
  f.set_perms(dom0, "/pub/x", {"n0"});  // readable before the change: told
  CHECK(f.events(g7) == Strings{"/pub/x|all"});
  f.write(dom0, "/pub/x", "2");  // unreadable node, readable parent: told
  CHECK(f.events(g7) == Strings{"/pub/x|all"});
  f.write(dom0, "/pub/x/y", "3");  // unreadable node and parent: not told
  CHECK(f.events(g7).empty());
  f.set_perms(dom0, "/pub/x/y", {"n0", "r8"});  // unreadable before and after
  CHECK(f.events(g7).empty());
  f.set_perms(dom0, "/pub/x/y", {"n0", "r7"});  // readable after
  CHECK(f.events(g7) == Strings{"/pub/x/y|all"});
  f.set_perms(dom0, "/pub/x/y", {"n0"});
  f.events(g7);

  // RM: every removed node is judged with the permissions it had, its parent's too.
  f.ok(g7, MsgType::kWatch, args({"/pub/x/y", "y"}));
  f.events(g7);
  f.ok(dom0, MsgType::kRm, args({"/pub/x"}));
  CHECK(f.events(g7) == Strings{"/pub/x|all"});
  f.ok(dom0, MsgType::kRm, args({"/secret"}));
  CHECK(f.events(g7).empty());

  // A device model hears what its target may read.
  uint64_t dm = f.open_domain(8);
  f.ok(dom0, MsgType::kSetTarget, args({"8", "7"}));
  f.ok(dm, MsgType::kWatch, args({"/pub", "dm"}));
  f.events(dm);
  f.write(dom0, "/pub/z", "");
  CHECK(f.events(dm) == Strings{"/pub/z|dm"});
  CHECK(f.events(g7) == Strings{"/pub/z|all"});
  // A privileged watcher hears everything.
  uint64_t w0 = f.open_socket();
  f.ok(w0, MsgType::kWatch, args({"/", "w0"}));
  f.events(w0);
  f.write(dom0, "/secret2", "");
  CHECK(f.events(w0) == Strings{"/secret2|w0"});
}

TEST_CASE("special watches fire for privileged watchers and those the special ACL lets read") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t g7 = f.open_domain(7);
  f.ok(dom0, MsgType::kWatch, args({"@introduceDomain", "i0"}));
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain", "r0"}));
  f.ok(g7, MsgType::kWatch, args({"@introduceDomain", "i7"}));
  f.ok(g7, MsgType::kWatch, args({"@releaseDomain", "r7"}));
  CHECK(f.events(dom0) == Strings{"@introduceDomain|i0", "@releaseDomain|r0"});
  CHECK(f.events(g7) == Strings{"@introduceDomain|i7", "@releaseDomain|r7"});

  REQUIRE(f.introduce(5) == "");
  CHECK(f.events(dom0) == Strings{"@introduceDomain|i0"});
  REQUIRE(f.introduce(5) == "");  // re-introduction: no event
  CHECK(f.events(dom0).empty());
  f.ok(dom0, MsgType::kRelease, args({"5"}));
  CHECK(f.events(dom0) == Strings{"@releaseDomain|r0"});
  CHECK(f.events(g7).empty());

  f.set_perms(dom0, "@introduceDomain", {"n0", "r7"});
  REQUIRE(f.introduce(5) == "");
  CHECK(f.events(g7) == Strings{"@introduceDomain|i7"});
  f.ok(dom0, MsgType::kRelease, args({"5"}));
  CHECK(f.events(g7).empty());
  CHECK(f.events(dom0) == Strings{"@introduceDomain|i0", "@releaseDomain|r0"});

  // Special names are matched exactly; any @name may be watched, never fires.
  f.ok(dom0, MsgType::kWatch, args({"@releaseDomain/5", "sub"}));
  f.ok(dom0, MsgType::kWatch, args({"@other", "o"}));
  f.events(dom0);
  REQUIRE(f.introduce(5) == "");
  f.ok(dom0, MsgType::kRelease, args({"5"}));
  CHECK(f.events(dom0) == Strings{"@introduceDomain|i0", "@releaseDomain|r0"});
  CHECK(f.err(dom0, MsgType::kWatch, args({"@" + std::string(2048, 'a'), "long"})) == "EINVAL");
}

TEST_CASE("WATCH and UNWATCH errors") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t c = f.open_socket();
  f.ok(c, MsgType::kWatch, args({"/a", "t"}));
  CHECK(f.err(c, MsgType::kWatch, args({"/a", "t"})) == "EEXIST");
  CHECK(f.err(c, MsgType::kWatch, args({"/local/domain/0/../a", "t"})) == "EINVAL");
  // The same path with another token, the same token on another path, the same pair on
  // another connection: all distinct watches.
  f.ok(c, MsgType::kWatch, args({"/a", "u"}));
  f.ok(c, MsgType::kWatch, args({"/b", "t"}));
  uint64_t d = f.open_socket();
  f.ok(d, MsgType::kWatch, args({"/a", "t"}));
  f.events(c);
  f.events(d);
  f.write(dom0, "/a", "");
  CHECK(f.events(c) == Strings{"/a|t", "/a|u"});
  CHECK(f.events(d) == Strings{"/a|t"});

  CHECK(f.err(c, MsgType::kUnwatch, args({"/a", "nope"})) == "ENOENT");
  CHECK(f.err(c, MsgType::kUnwatch, args({"/nope", "t"})) == "ENOENT");
  CHECK(f.err(c, MsgType::kUnwatch, args({"invalid path!", "t"})) == "ENOENT");
  f.ok(c, MsgType::kUnwatch, args({"/a", "t"}));
  CHECK(f.err(c, MsgType::kUnwatch, args({"/a", "t"})) == "ENOENT");
  f.write(dom0, "/a", "");
  CHECK(f.events(c) == Strings{"/a|u"});
  CHECK(f.events(d) == Strings{"/a|t"});
  // The pair is free again.
  f.ok(c, MsgType::kWatch, args({"/a", "t"}));
  CHECK(f.events(c) == Strings{"/a|t"});
  // A path and a token, nothing more (4.17 has no watch depth).
  CHECK(f.err(c, MsgType::kWatch, args({"/a"})) == "EINVAL");
  CHECK(f.err(c, MsgType::kWatch, args({"/z", "t", "1"})) == "EINVAL");
  CHECK(f.err(c, MsgType::kUnwatch, args({"/a", "t", "1"})) == "EINVAL");
}

TEST_CASE("RESET_WATCHES drops the connection's watches and transactions, nothing else") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  REQUIRE(f.introduce(7) == "");
  uint64_t g7 = f.open_domain(7);
  uint64_t other = f.open_socket();
  f.ok(dom0, MsgType::kMkdir, args({"/w"}));
  f.set_perms(dom0, "/w", {"n0", "b7"});
  f.ok(g7, MsgType::kWatch, args({"/w", "a"}));
  f.ok(g7, MsgType::kWatch, args({"@releaseDomain", "b"}));
  f.ok(other, MsgType::kWatch, args({"/w", "o"}));
  uint32_t t1 = f.start(g7);
  uint32_t t2 = f.start(g7);
  f.write(g7, "/w/in-tx", "1", t1);
  CHECK(f.usage(7, "transactions") == 2);
  CHECK(f.usage(7, "watches") == 2);
  f.events(g7);
  f.events(other);

  f.ok(g7, MsgType::kResetWatches, args({""}));
  CHECK(f.usage(7, "transactions") == 0);
  CHECK(f.usage(7, "watches") == 0);
  CHECK(f.err(g7, MsgType::kRead, args({"/w/in-tx"}), t1) == "ENOENT");
  CHECK(f.commit(g7, t2) == "ENOENT");
  f.write(dom0, "/w/x", "");
  CHECK(f.events(g7).empty());
  CHECK(f.events(other) == Strings{"/w/x|o"});
  CHECK(f.err(dom0, MsgType::kRead, args({"/w/in-tx"})) == "ENOENT");
  // The same pairs may be registered again.
  f.ok(g7, MsgType::kWatch, args({"/w", "a"}));
  CHECK(f.events(g7) == Strings{"/w|a"});

  // Inside a transaction (XSA-484): the transaction goes too, the reply is OK.
  uint32_t t3 = f.start(g7);
  f.ok(g7, MsgType::kResetWatches, args({""}), t3);
  CHECK(f.commit(g7, t3) == "ENOENT");
  CHECK(f.usage(7, "transactions") == 0);
  CHECK(f.start(g7) != 0);
}

TEST_CASE("a transaction's events fire at its commit, and never after an abort") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t w = f.open_socket();
  f.ok(w, MsgType::kWatch, args({"/t", "t"}));
  f.events(w);

  uint32_t tx = f.start(dom0);
  f.write(dom0, "/t/a", "1", tx);
  f.write(dom0, "/t/b", "2", tx);
  f.ok(dom0, MsgType::kRm, args({"/t/b"}), tx);
  f.set_perms(dom0, "/t/a", {"n0", "r3"}, tx);
  CHECK(f.events(w).empty());
  CHECK(f.err(w, MsgType::kRead, args({"/t/a"})) == "ENOENT");
  CHECK(f.commit(dom0, tx) == "");
  // Once per node the transaction changed, however often (as C): /t/a, written and
  // its permissions set. /t/b, created and removed again, is no change and fires nothing.
  CHECK(f.events(w) == Strings{"/t/a|t"});
  CHECK(f.read(w, "/t/a") == "1");

  // Changed many times, still once; removed, with exact events below as for RM.
  f.write(dom0, "/t/sub/c", "1");
  f.ok(w, MsgType::kWatch, args({"/t/sub/c", "c"}));
  f.events(w);
  tx = f.start(dom0);
  f.write(dom0, "/t/a", "2", tx);
  f.write(dom0, "/t/a", "3", tx);
  f.write(dom0, "/t/sub/c", "2", tx);
  f.ok(dom0, MsgType::kRm, args({"/t/sub"}), tx);
  CHECK(f.commit(dom0, tx) == "");
  CHECK(f.events(w) == Strings{"/t/a|t", "/t/sub/c|t", "/t/sub/c|c", "/t/sub|t"});
  f.ok(w, MsgType::kUnwatch, args({"/t/sub/c", "c"}));

  // A guest hears of a node it could read when the transaction first found it.
  uint64_t g7 = f.open_domain(7);
  f.set_perms(dom0, "/t/a", {"n0", "r7"});
  f.ok(g7, MsgType::kWatch, args({"/t", "g"}));
  f.events(g7);
  tx = f.start(dom0);
  f.write(dom0, "/t/a", "secret now", tx);
  f.set_perms(dom0, "/t/a", {"n0"}, tx);
  f.write(dom0, "/t/hidden", "", tx);
  CHECK(f.commit(dom0, tx) == "");
  CHECK(f.events(g7) == Strings{"/t/a|g"});
  f.events(w);

  uint32_t aborted = f.start(dom0);
  f.write(dom0, "/t/c", "1", aborted);
  f.ok(dom0, MsgType::kRm, args({"/t"}), aborted);
  f.ok(dom0, MsgType::kTransactionEnd, args({"F"}), aborted);
  CHECK(f.events(w).empty());

  // A commit that fails fires nothing either.
  uint32_t conflict = f.start(dom0);
  f.read(dom0, "/t/a", conflict);
  f.write(dom0, "/t/d", "1", conflict);
  f.write(w, "/t/a", "changed");
  f.events(w);
  CHECK(f.commit(dom0, conflict) == "EAGAIN");
  CHECK(f.events(w).empty());
}

TEST_CASE("an event that would not fit in 4096 bytes is dropped, not truncated (XSA-324)") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t w = f.open_socket();
  const std::string token(3000, 'k');
  f.ok(w, MsgType::kWatch, args({"/", token}));
  CHECK(f.events(w).size() == 1);
  f.ok(w, MsgType::kWatch, args({"/", "small"}));
  f.events(w);

  std::string deep;
  while (deep.size() < 1200) deep += "/abcdefghi";
  f.write(dom0, deep, "x");
  // 1200 + 3000 + 2 bytes do not fit: only the watch with the small token hears of it.
  CHECK(f.events(w) == Strings{deep + "|small"});
  f.write(dom0, "/short", "x");
  CHECK(f.events(w) == Strings{"/short|" + token, "/short|small"});
  CHECK(f.read(w, deep) == "x");
}

TEST_CASE("events a change fires come before its reply; a WATCH's first event after it") {
  EngineFixture f;
  uint64_t dom0 = f.open_socket();
  uint64_t w = f.open_socket();
  f.ok(dom0, MsgType::kWatch, args({"/o", "self"}));
  CHECK(f.last_outbound() == Strings{reply_of(dom0), event_of(dom0, "/o|self")});
  f.ok(w, MsgType::kWatch, args({"/o", "other"}));
  CHECK(f.last_outbound() == Strings{reply_of(w), event_of(w, "/o|other")});

  f.write(dom0, "/o/x", "1");
  CHECK(f.last_outbound() ==
        Strings{event_of(dom0, "/o/x|self"), event_of(w, "/o/x|other"), reply_of(dom0)});
  f.ok(dom0, MsgType::kRm, args({"/o"}));
  CHECK(f.last_outbound() ==
        Strings{event_of(dom0, "/o|self"), event_of(w, "/o|other"), reply_of(dom0)});
  uint32_t tx = f.start(dom0);
  f.write(dom0, "/o/y", "1", tx);
  CHECK(f.last_outbound() == Strings{reply_of(dom0)});
  f.ok(dom0, MsgType::kTransactionEnd, args({"T"}), tx);
  CHECK(f.last_outbound() ==
        Strings{event_of(dom0, "/o/y|self"), event_of(w, "/o/y|other"), reply_of(dom0)});
  // A failed request fires nothing.
  CHECK(f.err(dom0, MsgType::kWrite, write_payload("/o/bad name", "")) == "EINVAL");
  CHECK(f.last_outbound() == Strings{reply_of(dom0, "EINVAL")});
}
