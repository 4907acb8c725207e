// WatchTable: registered watches, matching (reference 3.3), and the index rebuilt from
// cf watches on a real RocksDB.
#include "store/watch.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "temp_db.h"

using dxs::store::Watch;
using dxs::store::WatchTable;
using dxs::store::WriteSet;
using dxs::testing::TempDb;
using Fired = std::vector<std::string>;

namespace {

// "conn:path:token" of every watch fired by a change at path, sorted.
Fired fired(const WatchTable& table, std::string_view path, bool exact = false) {
  Fired out;
  table.for_each_match(path, exact, [&](const Watch& w) {
    out.push_back(std::to_string(w.conn) + ":" + w.path + ":" + w.token);
  });
  std::sort(out.begin(), out.end());
  return out;
}

void add(WatchTable& table, WriteSet& ws, uint64_t conn, std::string path, std::string token,
         bool relative = false) {
  table.add(ws, Watch{conn, std::move(path), std::move(token), relative});
}

}  // namespace

TEST_CASE("a change fires the watches at or above its path, not siblings or below") {
  TempDb t;
  WriteSet ws(t.db());
  WatchTable table;
  add(table, ws, 1, "/", "root");
  add(table, ws, 1, "/a", "a");
  add(table, ws, 2, "/a", "a2");
  add(table, ws, 1, "/a/b", "ab");
  add(table, ws, 1, "/a/b/c", "abc");
  add(table, ws, 1, "/a/bc", "sibling-prefix");
  add(table, ws, 1, "/a/c", "sibling");
  add(table, ws, 1, "/b", "b");

  CHECK(fired(table, "/a/b") == Fired{"1:/:root", "1:/a/b:ab", "1:/a:a", "2:/a:a2"});
  CHECK(fired(table, "/a") == Fired{"1:/:root", "1:/a:a", "2:/a:a2"});
  CHECK(fired(table, "/") == Fired{"1:/:root"});
  CHECK(fired(table, "/c/d") == Fired{"1:/:root"});
  CHECK(fired(table, "/a/b/c/d") ==
        Fired{"1:/:root", "1:/a/b/c:abc", "1:/a/b:ab", "1:/a:a", "2:/a:a2"});

  // Exact: a node removed below the root of an RM fires only the watches on it.
  CHECK(fired(table, "/a/b", true) == Fired{"1:/a/b:ab"});
  CHECK(fired(table, "/a/x", true).empty());
}

TEST_CASE("special events fire only the watches on exactly that name") {
  TempDb t;
  WriteSet ws(t.db());
  WatchTable table;
  add(table, ws, 1, "@introduceDomain", "i");
  add(table, ws, 1, "@releaseDomain", "r");
  add(table, ws, 2, "@releaseDomain/7", "r7");
  add(table, ws, 1, "/", "root");

  CHECK(fired(table, "@introduceDomain") == Fired{"1:@introduceDomain:i"});
  CHECK(fired(table, "@releaseDomain") == Fired{"1:@releaseDomain:r"});
  CHECK(fired(table, "@releaseDomain/7") == Fired{"2:@releaseDomain/7:r7"});
  CHECK(fired(table, "/local") == Fired{"1:/:root"});
}

TEST_CASE("exists, remove and remove_all act on one connection's watches; count follows") {
  TempDb t;
  WriteSet ws(t.db());
  WatchTable table;
  add(table, ws, 1, "/a", "t1");
  add(table, ws, 1, "/a", "t2");
  add(table, ws, 1, "/b", "t1");
  add(table, ws, 2, "/a", "t1");
  CHECK(table.count(1) == 3);
  CHECK(table.count(2) == 1);
  CHECK(table.count(3) == 0);
  CHECK(table.exists(1, "/a", "t2"));
  CHECK_FALSE(table.exists(1, "/a", "t3"));
  CHECK_FALSE(table.exists(3, "/a", "t1"));

  CHECK_FALSE(table.remove(ws, 1, "/a", "nope"));
  CHECK_FALSE(table.remove(ws, 3, "/a", "t1"));
  CHECK_FALSE(table.remove(ws, 1, "/c", "t1"));
  CHECK(table.count(1) == 3);

  CHECK(table.remove(ws, 1, "/a", "t1"));
  CHECK_FALSE(table.exists(1, "/a", "t1"));
  CHECK(table.exists(2, "/a", "t1"));
  CHECK(table.count(1) == 2);
  CHECK(fired(table, "/a") == Fired{"1:/a:t2", "2:/a:t1"});
  CHECK_FALSE(table.remove(ws, 1, "/a", "t1"));  // already gone

  table.remove_all(ws, 1);
  CHECK(table.count(1) == 0);
  CHECK(table.count(2) == 1);
  CHECK(fired(table, "/a") == Fired{"2:/a:t1"});
  CHECK(fired(table, "/b").empty());
  table.remove_all(ws, 1);  // nothing left: no-op
  CHECK(table.count(2) == 1);
}

TEST_CASE("load() rebuilds the index from what was committed") {
  TempDb t;
  {
    WriteSet ws(t.db());
    WatchTable table;
    add(table, ws, 1, "/a", "t1");
    add(table, ws, 1, "/a/b", "rel", true);
    add(table, ws, 2, "@releaseDomain", "r");
    add(table, ws, 2, "/gone", "g");
    add(table, ws, 3, "/x", "x");
    ws.commit();
    CHECK(table.remove(ws, 2, "/gone", "g"));
    table.remove_all(ws, 3);
    ws.commit();
    add(table, ws, 4, "/uncommitted", "u");
  }
  t.reopen();
  WatchTable loaded;
  CHECK(loaded.load(t.db()) == 3);
  CHECK(loaded.count(1) == 2);
  CHECK(loaded.count(2) == 1);
  CHECK(loaded.count(3) == 0);
  CHECK(loaded.count(4) == 0);
  CHECK(fired(loaded, "/a/b") == Fired{"1:/a/b:rel", "1:/a:t1"});
  CHECK(fired(loaded, "@releaseDomain") == Fired{"2:@releaseDomain:r"});
  CHECK(fired(loaded, "/gone").empty());
  bool relative = false;
  loaded.for_each_match("/a/b", true, [&](const Watch& w) { relative = w.relative; });
  CHECK(relative);

  // load() replaces what the table held.
  WriteSet ws(t.db());
  add(loaded, ws, 9, "/z", "z");
  CHECK(loaded.load(t.db()) == 3);
  CHECK(loaded.count(9) == 0);
}
