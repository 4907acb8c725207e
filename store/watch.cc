#include "store/watch.h"

#include <algorithm>

#include "proto/records.pb.h"

namespace dxs::store {

size_t WatchTable::load(Db& db) {
  by_path_.clear();
  by_conn_.clear();
  size_t n = 0;
  for_each_record<pb::WatchRecord>(
      db, Cf::kWatches, {}, [&](std::string_view key, pb::WatchRecord& r) {
        if (key.size() < 8) fail_stop_corrupt(Cf::kWatches, key);
        index(Watch{keys::conn_of_key(key), r.path(), r.token(), r.relative()});
        ++n;
      });
  return n;
}

void WatchTable::index(const Watch& w) {
  by_path_[w.path].push_back(w);
  by_conn_[w.conn].emplace_back(w.path, w.token);
}

bool WatchTable::exists(uint64_t conn, std::string_view path, std::string_view token) const {
  auto it = by_path_.find(std::string(path));
  if (it == by_path_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const Watch& w) { return w.conn == conn && w.token == token; });
}

void WatchTable::add(WriteSet& ws, const Watch& w) {
  if (exists(w.conn, w.path, w.token)) return;  // one watch per (conn, path, token)
  pb::WatchRecord r;
  r.set_path(w.path);
  r.set_token(w.token);
  r.set_relative(w.relative);
  ws.put_record(Cf::kWatches, keys::watch(w.conn, w.path, w.token), r);
  index(w);
}

bool WatchTable::remove(WriteSet& ws, uint64_t conn, std::string_view path,
                        std::string_view token) {
  auto it = by_path_.find(std::string(path));
  if (it == by_path_.end()) return false;
  auto& list = it->second;
  auto w = std::find_if(list.begin(), list.end(),
                        [&](const Watch& x) { return x.conn == conn && x.token == token; });
  if (w == list.end()) return false;
  list.erase(w);
  if (list.empty()) by_path_.erase(it);
  // The two indexes hold the same watches; by_conn_ is searched, never grown, here.
  if (auto c = by_conn_.find(conn); c != by_conn_.end()) {
    auto& mine = c->second;
    auto entry = std::find(mine.begin(), mine.end(),
                           std::make_pair(std::string(path), std::string(token)));
    if (entry != mine.end()) mine.erase(entry);
    if (mine.empty()) by_conn_.erase(c);
  }
  ws.del(Cf::kWatches, keys::watch(conn, path, token));
  return true;
}

void WatchTable::remove_all(WriteSet& ws, uint64_t conn) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end()) return;
  auto mine = std::move(it->second);
  by_conn_.erase(it);
  for (const auto& [path, token] : mine) {
    auto p = by_path_.find(path);
    if (p != by_path_.end()) {
      auto& list = p->second;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const Watch& x) { return x.conn == conn && x.token == token; }),
                 list.end());
      if (list.empty()) by_path_.erase(p);
    }
    ws.del(Cf::kWatches, keys::watch(conn, path, token));
  }
}

size_t WatchTable::count(uint64_t conn) const {
  auto it = by_conn_.find(conn);
  return it == by_conn_.end() ? 0 : it->second.size();
}

void WatchTable::for_each_match(std::string_view path, bool exact,
                                const std::function<void(const Watch&)>& fn) const {
  auto visit = [&](std::string_view p) {
    auto it = by_path_.find(std::string(p));
    if (it == by_path_.end()) return;
    for (const Watch& w : it->second) fn(w);
  };
  if (exact || path.empty() || path[0] != '/') {
    visit(path);
    return;
  }
  // "/" and every ancestor, then the path itself.
  visit("/");
  for (size_t slash = path.find('/', 1); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    visit(path.substr(0, slash));
  }
  if (path != "/") visit(path);
}

}  // namespace dxs::store
