// EngineFixture: a store engine on a temporary RocksDB directory, driven directly with
// Session requests as any connection: a dom0 socket client, or a guest domain's ring
// connection (which the store opens when the domain is introduced).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/wire.h"
#include "proto/records.pb.h"
#include "proto/session.pb.h"
#include "store/db.h"
#include "store/engine.h"

namespace dxs::testing {

// "a\0b\0" from {"a", "b"}.
std::string args(std::initializer_list<std::string_view> strings);
// A WRITE payload: the path, a NUL, the value.
std::string write_payload(std::string_view path, std::string_view value);

struct Answer {
  uint32_t type = 0;
  std::string payload;
  // The error name ("ENOENT") or "" on success.
  std::string error() const;
  bool ok() const { return type != wire::to_u32(wire::MsgType::kError); }
};

class EngineFixture {
 public:
  explicit EngineFixture(store::EngineOptions options = {});
  ~EngineFixture();

  // A dom0 socket connection; the peer's credentials and command name as the frontend
  // reports them.
  uint64_t open_socket(int32_t pid = -1, uint32_t uid = 0, std::string_view comm = {});
  // The ring connection of a guest: the one the fixture last saw the store open for
  // domid (OPEN_RING), or, if none is open, the one the store opens when the fixture's
  // dom0 connection introduces the domain (INTRODUCE domid 1 1, which must succeed).
  uint64_t open_domain(uint32_t domid);
  // The frontend closes conn (a socket went away, a ring broke).
  void close(uint64_t conn);
  // One item from the frontend; what the store sends is routed as call()'s output.
  void inbound(const pb::Inbound& item);
  // DomainStates: the domains that exist, as libxenctrl reports them.
  void domain_states(std::initializer_list<std::pair<uint32_t, pb::DomainState::State>> domains);
  // ResetRing: the guest of conn reset its ring.
  void reset_ring(uint64_t conn, uint32_t domid);
  // The replies and events sent for conn since the last call, in delivery order.
  std::vector<pb::Outbound> take_sent(uint64_t conn);

  // One request through the codec, exactly as the frontend would send it.
  Answer call(uint64_t conn, wire::MsgType type, std::string_view payload, uint32_t tx_id = 0);
  // Each request reports the replies before it delivered, as the frontend does, so the
  // store forgets their records. Off: every record is kept (to test re-sent requests).
  void set_report_delivered(bool on) { report_delivered_ = on; }
  // The sequence number of conn's last request.
  uint64_t last_seq(uint64_t conn) { return next_seq_[conn]; }
  // A request sent again with its sequence number, as a frontend re-sends the requests
  // it holds unanswered when it attaches to a restarted store. nullopt: no reply.
  std::optional<Answer> resend(uint64_t conn, uint64_t seq, wire::MsgType type,
                               std::string_view payload, uint32_t tx_id = 0);
  // A request that may not be answered at once (the store holds it back): its answer,
  // or nullopt; a later answer is among take_sent(conn).
  std::optional<Answer> submit(uint64_t conn, wire::MsgType type, std::string_view payload,
                               uint32_t tx_id = 0);
  // The engine lifts the holds (guards, watchers behind) that are over at `now`
  // (store::steady_ns()); what it then sends is routed as call()'s output.
  void lift_holds(int64_t now);
  // The payload of a successful request; fails the test otherwise.
  std::string ok(uint64_t conn, wire::MsgType type, std::string_view payload, uint32_t tx_id = 0);
  // The error name of a failing request; fails the test if it succeeds.
  std::string err(uint64_t conn, wire::MsgType type, std::string_view payload, uint32_t tx_id = 0);

  // Convenience wrappers (paths as given; values raw).
  void write(uint64_t conn, std::string_view path, std::string_view value, uint32_t tx = 0);
  std::string read(uint64_t conn, std::string_view path, uint32_t tx = 0);
  std::vector<std::string> directory(uint64_t conn, std::string_view path, uint32_t tx = 0);
  uint32_t start(uint64_t conn);
  // "" on success, else the error name.
  std::string commit(uint64_t conn, uint32_t tx);

  // Watch events delivered to conn since the last call, as "path|token".
  std::vector<std::string> events(uint64_t conn);
  // Commands (e.g. CLOSE) the engine sent for conn since the last call.
  std::vector<pb::ConnectionCommand> commands(uint64_t conn);

  // By default every event is acknowledged as soon as it is delivered, as the frontend
  // does once it has written it to the client. Off: conn's events stay undelivered (a
  // client that never reads), until ack_all(), which acknowledges what was delivered
  // and routes what the store then sends (at most its window of events at a time).
  void set_auto_ack(uint64_t conn, bool on);
  void ack_all(uint64_t conn);

  // Everything the last call() produced, for every connection, in delivery order:
  // "reply <conn> OK|<error>", "event <conn> <path>|<token>", "command <conn> <action>".
  const std::vector<std::string>& last_outbound() const { return last_outbound_; }

  // As dom0, through a socket connection of the fixture's own.
  uint64_t admin();
  // INTRODUCE domid (ring frame 1, port 1): "" on success, else the error name.
  std::string introduce(uint32_t domid);
  // CONTROL with these arguments: the reply without its trailing NUL, or the error name.
  std::string control(std::initializer_list<std::string_view> arguments);
  // A figure of `control quota <domid>`: "nodes", "watches" or "transactions".
  // -1 when the domain is unknown.
  int64_t usage(uint32_t domid, std::string_view name);
  // How often `quota` refused domid something, from `control quota <domid>`: 0 when
  // never, -1 when the domain is unknown.
  int64_t refusals(uint32_t domid, std::string_view quota);

  std::vector<std::string> get_perms(uint64_t conn, std::string_view path, uint32_t tx = 0);
  void set_perms(uint64_t conn, std::string_view path,
                 std::initializer_list<std::string_view> perms, uint32_t tx = 0);

  // The whole tree as "path [perms] value" lines in key order (values escaped), to check
  // that a refused request changed nothing.
  std::string tree_dump();
  // Every commit record, by sequence number.
  std::map<uint64_t, pb::CommitRecord> commits();

  // Closes and reopens the database and engine on the same directory.
  void restart();
  // The same, with other options (a configuration changed across the restart).
  void restart(const store::EngineOptions& options);

  store::Engine& engine() { return *engine_; }
  store::Db& db() { return *db_; }
  CapturingLogger& log() { return log_; }
  const std::string& dir() const { return dir_; }

 private:
  // Records what `out` delivers (answer: conn's reply) and acknowledges events; `fresh`
  // starts a new last_outbound().
  void route(std::vector<pb::Outbound>& out, uint64_t conn, Answer* answer, bool fresh = true);
  std::optional<Answer> send(uint64_t conn, uint64_t seq, wire::MsgType type,
                             std::string_view payload, uint32_t tx_id);

  std::string dir_;
  store::EngineOptions options_;
  CapturingLogger log_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<store::Engine> engine_;
  uint64_t next_conn_;
  std::map<uint64_t, uint64_t> next_seq_;
  std::map<uint64_t, std::vector<std::string>> events_;
  std::map<uint64_t, std::vector<pb::ConnectionCommand>> commands_;
  std::map<uint64_t, std::vector<pb::Outbound>> sent_;
  // Ring connections by domid, as OPEN_RING and CLOSE commands told the fixture.
  std::map<uint32_t, uint64_t> ring_of_;
  // Ring connections' request stream offsets: the end of each request by seq, as a
  // frontend reads them off the ring (16-byte header and payload each).
  std::map<uint64_t, std::map<uint64_t, uint32_t>> req_end_;
  std::map<uint64_t, bool> no_ack_;
  std::map<uint64_t, uint64_t> last_event_id_;
  std::vector<std::string> last_outbound_;
  uint64_t admin_ = 0;
  bool report_delivered_ = true;
};

}  // namespace dxs::testing
