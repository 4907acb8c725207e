// Engine: applies batches from the frontend to the store's state, as group commits.
//
// The engine takes batches of inbound items (connections opening and closing, requests,
// acknowledgements of watch events) and applies each batch as one group commit: every
// request's whole effect (node changes, commit record, watch events, connection
// markers, recorded reply) goes into the batch's WriteSet, and nothing is answered
// before that set is durable. A request that fails changes nothing (its savepoint is
// rolled back). It orchestrates, and decides nothing itself: the command table
// dispatches each request to its handler (commands.h), Delivery orders what each
// connection is sent, and the concepts live in their modules (state.h lists them).
//
// A storage failure stops the process (fail_stop.h): a restart recovers the last
// durable state (crash-only).
//
// Thread-safety: none. The caller serialises every call (the session service runs the
// engine on one thread; the ops service takes the same lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "common/wire.h"
#include "proto/session.pb.h"
#include "store/commands.h"
#include "store/commit_feed.h"
#include "store/db.h"
#include "store/held_requests.h"
#include "store/retention.h"
#include "store/state.h"

namespace dxs::store {

struct Request;

class Engine {
 public:
  // Recovers the state in db (or initialises a new tree); an error if it is of another
  // schema.
  static Result<std::unique_ptr<Engine>> open(Db& db, const EngineOptions& options, Logger& log);

  // A frontend attached: gives it its generation, advances the connection-id base, keeps
  // dom0's ring connection if the frontend found one, and lists known connections. `out`
  // receives the watch events not yet acknowledged and commands (OPEN_RING of dom0's
  // ring), to be sent after the Welcome. ESTALE, and nothing changed, for a frontend
  // that a newer one replaced (Hello.generation).
  Result<pb::Welcome> hello(const pb::Hello& hello, std::vector<pb::Outbound>& out);

  // Applies `items` as one group commit. `out` receives, in delivery order, everything
  // the clients must now see.
  void apply(const google::protobuf::RepeatedPtrField<pb::Inbound>& items,
             std::vector<pb::Outbound>& out);

  // One request from the ops API, as the privileged ops client, from the caller
  // `identity` (ops_auth.h; the author of the commits it makes). `out` receives what
  // other connections must see (watch events).
  void ops_request(const pb::Request& request, std::string_view identity, pb::Reply& reply,
                   std::vector<pb::Outbound>& out);

  // History's upkeep between batches (retention.h): redacts private values no reader
  // needs and prunes what the limits let go, at most `budget` commits of each, in a
  // write of its own. True if there is more to do already.
  bool maintain(size_t budget = kMaintenanceBudget);
  static constexpr size_t kMaintenanceBudget = 256;
  // The oldest commit history holds.
  uint64_t history_horizon() const { return keeper_.horizon(); }

  // When the first hold ends by itself (steady_ns(), state.h), a guarded transaction's
  // (conflict_guard.h) or a watcher's far behind (backpressure.h), if one is up:
  // lift_expired_holds() is then due, should no batch come first.
  std::optional<int64_t> hold_deadline() const;
  // Lifts the holds that are over at `now` (steady_ns()) and applies, as one group
  // commit, the requests that waited for them; `out` as apply()'s.
  void lift_expired_holds(int64_t now, std::vector<pb::Outbound>& out);

  using Stats = EngineStats;
  const Stats& stats() const { return state_.stats; }
  uint64_t head() const { return state_.history.head(); }
  // The RocksDB operations the engine's group commits made since it was opened.
  const DbOpCounts& db_ops() const { return state_.ws.op_counts(); }
  // Which paths history keeps no values of; const, so readable from any thread.
  const Privacy& privacy() const { return state_.privacy; }
  // Where to publish the last commit once each group commit is written (nullptr: none);
  // publishes the current one at once. The feed must outlive the engine's use of it.
  void set_commit_feed(CommitFeed* feed);

  Engine(Db& db, const EngineOptions& options, Logger& log);
  ~Engine();

 private:
  Status recover();
  void init_tree();
  void commit_batch();

  // Batch items.
  void open_connection(const pb::OpenConnection& open);
  void close_connection(uint64_t conn, std::string_view reason);
  void ack_events(const pb::EventAck& ack);
  // Keeps one ring connection for dom0's kernel at `port`; commands for the frontend.
  void dom0_ring(uint32_t port, std::vector<pb::Outbound>& commands);
  void domain_states(const pb::DomainStates& states);
  void reset_ring(const pb::ResetRing& reset);
  // Holds req back if it must wait for a guarded transaction (conflict_guard.h), for a
  // watcher its connection feeds to catch up (backpressure.h), or behind its
  // connection's held requests; else serves it.
  void handle_request(const pb::Request& req, bool record);
  void serve_request(const pb::Request& req, bool record);
  // Lifts the holds that are over at `now`; true if any was.
  bool expire_holds(int64_t now);
  // How many holds of either kind have lifted so far.
  uint64_t lifted() const;
  // Serves the held requests that need wait no more, once a hold has lifted.
  void release_held();
  // Whether req, of c, would change what a guarded transaction observes (and must wait).
  bool waits_for_guard(const Connection& c, const pb::Request& req);
  // A request the store makes itself (a domain found dead), through the same path as
  // a client's, with the rights of dom0 and `handler` for a command of no message type;
  // its history names the store as author.
  void act_as_store(wire::MsgType type, std::initializer_list<std::string> strings,
                    Handler handler);

  // A request re-sent after a restart: its recorded reply, or the commit a read is to be
  // answered as of. Returns true if it was answered (or ignored) here.
  bool answer_resent(Connection& c, const pb::Request& req, bool unrecorded_read,
                     std::optional<uint64_t>& as_of);
  // Runs r through the command table, or through `handler` if given.
  pb::Reply run_request(Request& r, Handler handler = nullptr);
  void fail_request(Request& r, const Status& status);
  void take_effect(Request& r);
  // Records r's reply, to follow c's events up to `events_before` if it is sent again.
  void record_reply(Connection& c, const pb::Request& req, const pb::Reply& reply, uint64_t base,
                    uint64_t events_before);
  // The id of the last of c's events that r's reply must follow.
  uint64_t events_preceding(const Connection& c, const Request& r) const;
  // The events and commands that follow r's reply.
  void deliver_after_reply(Request& r);

  StoreState state_;
  CommitFeed* commit_feed_ = nullptr;
  HistoryKeeper keeper_;
  // The connection the store's own requests are made on (kStoreConnection).
  Connection store_self_;
  HeldRequests held_;
  uint64_t lifted_seen_ = 0;
  Logger& log_;
};

}  // namespace dxs::store
