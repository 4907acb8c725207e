// Engine: every Xenstore semantic, applied to the durable state.
//
// The engine takes batches of inbound items (connections opening and closing, requests,
// acknowledgements) and applies each batch as one group commit: every request's whole
// effect (node changes, commit record, watch events, connection markers, recorded reply)
// goes into the batch's WriteSet, and nothing is answered before that set is durable.
// A request that fails changes nothing (its savepoint is rolled back).
//
// Dispatch is one function per message type (engine_*.cc), as oxenstored's process.ml:
// each parses its arguments, asks the model (tree, watch, txn, domain modules) and builds
// the reply payload.
//
// Thread-safety: none. The caller serialises every call (the session service runs the
// engine on one thread; the ops service takes the same lock).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "proto/session.pb.h"
#include "store/connection.h"
#include "store/db.h"
#include "store/domain.h"
#include "store/history.h"
#include "store/listing_cache.h"
#include "store/quota.h"
#include "store/tree.h"
#include "store/txn.h"
#include "store/watch.h"

namespace dxs::store {

struct EngineOptions {
  QuotaLimits quota;
  // A domain with dom0's rights besides dom0 (xenstored -p).
  std::optional<uint32_t> privileged_domid;
  // On release, hand a dead domain's nodes to dom0 instead of removing them
  // (xenstored -K / --keep-orphans).
  bool keep_orphans = false;
};

// Memory for recent DIRECTORY answers (listing_cache.h).
constexpr size_t kListingCacheBytes = 1 << 20;

// The connection id of the ops API's own privileged client.
constexpr uint64_t kOpsConnection = 1;

// Watch events sent to the frontend and not yet acknowledged, per connection. The rest
// wait in RocksDB, so a client that does not read costs the frontend a bounded buffer.
constexpr uint64_t kEventWindow = 64;
// Undelivered events kept for a privileged connection (unprivileged ones have the
// watch-events quota); beyond it new events are dropped, and logged.
constexpr uint64_t kPrivilegedEventBacklog = 65536;

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(Db& db, const EngineOptions& options, Logger& log);

  // A frontend attached: advance the connection-id base and list known connections.
  // `out` receives the watch events not yet acknowledged, to be sent after the Welcome.
  Result<pb::Welcome> hello(const pb::Hello& hello, std::vector<pb::Outbound>& out);

  // Applies `items` as one group commit. On success `out` receives, in delivery order,
  // everything the clients must now see. A storage failure is returned as EIO; the
  // caller must not continue (crash-only: a restart recovers the last durable state).
  Status apply(const google::protobuf::RepeatedPtrField<pb::Inbound>& items,
               std::vector<pb::Outbound>& out);

  // One request from the ops API, as the privileged ops client. `out` receives what other
  // connections must see (watch events).
  Status ops_request(const pb::Request& request, pb::Reply& reply, std::vector<pb::Outbound>& out);

  // Statistics for `control` and dxsctl.
  struct Stats {
    uint64_t requests = 0;
    uint64_t batches = 0;
    uint64_t commits = 0;
    uint64_t eagain = 0;
  };
  const Stats& stats() const { return stats_; }
  uint64_t head() const { return history_.head(); }

  Engine(Db& db, const EngineOptions& options, Logger& log);
  ~Engine();

 private:
  struct Request;  // one request in flight: connection, caller, pending effects
  class PendingAccounting;
  class TxnAccounting;

  Status recover();
  void init_tree();

  // Batch items.
  void open_connection(const pb::OpenConnection& open);
  void close_connection(uint64_t conn, std::string_view reason);
  void ack_events(const pb::EventAck& ack);
  // Sends queued events of c to the frontend while fewer than kEventWindow are
  // unacknowledged, and the replies held behind them.
  void send_queued_events(Connection& c, std::vector<pb::Outbound>& out);
  // Sends an item for c now if nothing of c's is waiting; otherwise it waits its turn.
  // A reply or command follows c's events up to `after` (an event follows its id order).
  void deliver(Connection& c, pb::Outbound&& item, uint64_t after = 0);
  void handle_request(const pb::Request& req, bool record);
  // Writes the batch, with the connection records changed since the last one.
  Status commit_batch();
  pb::Reply run_request(Request& r);

  // Dispatch, one handler per type. Each returns the reply payload or an error.
  Result<std::string> dispatch(Request& r);
  Result<std::string> do_read(Request& r);
  Result<std::string> do_directory(Request& r);
  Result<std::string> do_directory_part(Request& r);
  // The NUL-separated children of path (node n, as the view has it), from listings_
  // when the request reads the live tree.
  std::string listing(const Request& r, const std::string& path, const Node& n, NodeView& view);
  Result<std::string> do_get_perms(Request& r);
  Result<std::string> do_write(Request& r);
  Result<std::string> do_mkdir(Request& r);
  Result<std::string> do_rm(Request& r);
  Result<std::string> do_set_perms(Request& r);
  Result<std::string> do_watch(Request& r);
  Result<std::string> do_unwatch(Request& r);
  Result<std::string> do_transaction_start(Request& r);
  Result<std::string> do_transaction_end(Request& r);
  Result<std::string> do_introduce(Request& r);
  Result<std::string> do_release(Request& r);
  Result<std::string> do_resume(Request& r);
  Result<std::string> do_set_target(Request& r);
  Result<std::string> do_get_domain_path(Request& r);
  Result<std::string> do_is_domain_introduced(Request& r);
  Result<std::string> do_reset_watches(Request& r);
  Result<std::string> do_control(Request& r);

  // Shared pieces.
  Result<std::string> canonical_path(Request& r, std::string_view raw);
  Status check_txn_access(Request& r, std::string_view path);
  bool owned_by_txn(Request& r, std::string_view path, pb::TxnLogEntry::Observation kind,
                    const std::optional<Node>& seen);
  template <typename Fn>
  auto with_tree(Request& r, Fn&& fn);
  // The shared steps of the four reads (engine_nodes.cc); `answer(path, node, view)`
  // makes the reply once the node is found and readable.
  template <typename Fn>
  Result<std::string> read_node(Request& r, const std::string& raw_path,
                                pb::TxnLogEntry::Observation kind, Fn&& answer);
  uint32_t path_max(const Request& r);
  Result<std::string> path_change(Request& r, std::string_view verb,
                                  Status (Tree::*change)(const std::string&, const Caller&,
                                                         ChangeList&));
  Result<std::string> mutate(Request& r, pb::TxnLogEntry&& op,
                             const std::function<Status(Tree&, ChangeList&)>& fn);
  Result<std::string> commit_transaction(Request& r, Transaction& t);
  void finish_commit(Request& r, const CommitInfo& info, uint64_t merged = 0);
  void fire_watches(Request& r, const ChangeList& changes);
  void fire_special(Request& r, std::string_view name);
  void queue_event(Request& r, uint64_t conn, std::string_view path, std::string_view token,
                   bool after_reply = false);
  bool watch_permitted(Request& r, const Connection& watcher, const Change& change);
  Caller caller_of(const Connection& c);
  bool is_privileged_domid(uint32_t domid) const;
  void observe(Request& r, pb::TxnLogEntry::Observation kind, std::string_view path,
               const std::optional<Node>& seen);
  Perms special_perms(std::string_view name);
  void release_domain(Request& r, uint32_t domid);
  void drop_connection_state(uint64_t conn);
  std::string author(const Request& r) const;
  Status refuse_quota(uint32_t domid, QuotaKind kind, int err, std::string_view what);
  int64_t quota_limit(uint32_t domid, QuotaKind kind);
  int64_t now_ns() const;

  Db& db_;
  EngineOptions options_;
  Logger& logger_;
  std::unique_ptr<WriteSet> ws_;
  ConnectionTable connections_;
  DomainTable domains_;
  WatchTable watches_;
  TransactionTable txns_;
  CommitLog history_;
  ListingCache listings_{kListingCacheBytes};
  std::vector<pb::Outbound>* out_ = nullptr;  // the batch being applied
  Stats stats_;
};

}  // namespace dxs::store
