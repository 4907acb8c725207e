// WatchTable: every registered watch (cf watches) and an index from watched path to
// watchers, rebuilt from RocksDB at start.
//
// Matching (reference section 3.3): a change at path P fires every watch at P or above
// it; a node removed below the root of an RM fires only watches exactly on it; special
// events (@introduceDomain, @releaseDomain) fire watches on exactly that name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/db.h"

namespace dxs::store {

struct Watch {
  uint64_t conn = 0;
  std::string path;  // canonical absolute path or special @ name
  std::string token;
  bool relative = false;
};

class WatchTable {
 public:
  size_t load(Db& db);

  bool exists(uint64_t conn, std::string_view path, std::string_view token) const;
  // Adds w; nothing if the connection has that watch already.
  void add(WriteSet& ws, const Watch& w);
  // False if there is no such watch.
  bool remove(WriteSet& ws, uint64_t conn, std::string_view path, std::string_view token);
  void remove_all(WriteSet& ws, uint64_t conn);
  size_t count(uint64_t conn) const;

  // Calls fn for each watch matching a change at `path`; exact = only watches on `path`.
  void for_each_match(std::string_view path, bool exact,
                      const std::function<void(const Watch&)>& fn) const;

 private:
  void index(const Watch& w);
  std::unordered_map<std::string, std::vector<Watch>> by_path_;
  std::unordered_map<uint64_t, std::vector<std::pair<std::string, std::string>>> by_conn_;
};

}  // namespace dxs::store
