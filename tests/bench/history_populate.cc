// history_populate: fills a dxs state directory with a long history, fast, for the
// history benchmark (tests/bench/history.sh): it opens the state directory as dxs-store
// does and drives the store's engine directly, in group commits of --batch requests, as
// the frontend would send them, so the records on disk are exactly what a long-running
// host leaves: a commit per write, its versions, transactions as branches and merges.
//
// The workload is a host's: --domains guests' trees (/local/domain/D/...), each rewritten
// over and over (device states, memory targets, a data key), a guest's device subtree
// removed and created again now and then, and every --txn-every-th commit a transaction of
// five writes (the toolstack's way). Paths are a few hundred, so each node ends up with
// many versions, as a busy host's do.
//
// usage: history_populate --state-dir DIR --commits N [--domains D] [--batch B]
//                         [--txn-every T] [--seed S]
// Prints one line: the commits made, the seconds taken, and main's head.
#include <getopt.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "common/log.h"
#include "common/wire.h"
#include "proto/session.pb.h"
#include "store/db.h"
#include "store/engine.h"

namespace {

using dxs::wire::MsgType;
using dxs::wire::to_u32;

struct Options {
  std::string state_dir;
  uint64_t commits = 0;
  uint32_t domains = 100;
  uint32_t batch = 64;
  uint32_t txn_every = 50;
  uint32_t seed = 1;
};

[[noreturn]] void usage() {
  std::fputs(
      "usage: history_populate --state-dir DIR --commits N [--domains D] [--batch B]\n"
      "                        [--txn-every T] [--seed S]\n",
      stderr);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  static const option kOptions[] = {
      {"state-dir", required_argument, nullptr, 'd'},
      {"commits", required_argument, nullptr, 'n'},
      {"domains", required_argument, nullptr, 'D'},
      {"batch", required_argument, nullptr, 'b'},
      {"txn-every", required_argument, nullptr, 't'},
      {"seed", required_argument, nullptr, 's'},
      {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'd':
        o.state_dir = optarg;
        break;
      case 'n':
        o.commits = std::strtoull(optarg, nullptr, 10);
        break;
      case 'D':
        o.domains = static_cast<uint32_t>(std::strtoul(optarg, nullptr, 10));
        break;
      case 'b':
        o.batch = static_cast<uint32_t>(std::strtoul(optarg, nullptr, 10));
        break;
      case 't':
        o.txn_every = static_cast<uint32_t>(std::strtoul(optarg, nullptr, 10));
        break;
      case 's':
        o.seed = static_cast<uint32_t>(std::strtoul(optarg, nullptr, 10));
        break;
      default:
        usage();
    }
  }
  if (o.state_dir.empty() || o.commits == 0 || o.domains == 0 || o.batch == 0) usage();
  return o;
}

// One dom0 socket connection's requests, numbered as the frontend numbers them.
class Client {
 public:
  Client(dxs::store::Engine& engine, uint64_t conn) : engine_(engine), conn_(conn) {}

  void write(const std::string& path, const std::string& value, uint32_t tx_id = 0) {
    dxs::pb::Request& r = add(MsgType::kWrite, tx_id);
    r.mutable_write()->set_path(path);
    r.mutable_write()->set_value(value);
  }
  void rm(const std::string& path) { add(MsgType::kRm, 0).mutable_path()->set_path(path); }

  // Applies the queued requests as one group commit; the replies, in order.
  std::vector<dxs::pb::Reply> flush() {
    std::vector<dxs::pb::Outbound> out;
    engine_.apply(items_, out);
    items_.Clear();
    std::vector<dxs::pb::Reply> replies;
    for (auto& o : out) {
      if (o.has_reply() && o.reply().conn() == conn_) replies.push_back(o.reply());
    }
    return replies;
  }

  uint32_t start_transaction() {
    add(MsgType::kTransactionStart, 0).mutable_unparsed()->set_payload(std::string(1, '\0'));
    std::vector<dxs::pb::Reply> r = flush();
    if (r.size() != 1 || r[0].type() != to_u32(MsgType::kTransactionStart)) {
      std::fputs("history_populate: TRANSACTION_START failed\n", stderr);
      std::exit(1);
    }
    return static_cast<uint32_t>(std::strtoul(r[0].payload().c_str(), nullptr, 10));
  }
  void end_transaction(uint32_t tx_id) {
    add(MsgType::kTransactionEnd, tx_id).mutable_strings()->add_strings("T");
  }
  size_t queued() const { return static_cast<size_t>(items_.size()); }

 private:
  dxs::pb::Request& add(MsgType type, uint32_t tx_id) {
    dxs::pb::Request* r = items_.Add()->mutable_request();
    r->set_conn(conn_);
    r->set_seq(++seq_);
    r->set_replied_seq(seq_ - 1);
    r->set_type(to_u32(type));
    r->set_req_id(static_cast<uint32_t>(seq_));
    r->set_tx_id(tx_id);
    return *r;
  }

  dxs::store::Engine& engine_;
  uint64_t conn_;
  uint64_t seq_ = 0;
  google::protobuf::RepeatedPtrField<dxs::pb::Inbound> items_;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  dxs::StderrLogger log("history_populate", dxs::LogLevel::kWarning);
  dxs::store::DbOptions db_options;
  db_options.dir = o.state_dir;
  auto db = dxs::store::Db::open(db_options, log);
  if (!db) {
    std::fprintf(stderr, "history_populate: %s\n", db.status().to_string().c_str());
    return 1;
  }
  auto engine = dxs::store::Engine::open(**db, dxs::store::EngineOptions{}, log);
  if (!engine) {
    std::fprintf(stderr, "history_populate: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  const uint64_t head_before = (*engine)->head();

  // A connection id far above the frontend's, so that a pair started on this directory
  // afterwards never meets it.
  const uint64_t conn = uint64_t{1} << 50;
  google::protobuf::RepeatedPtrField<dxs::pb::Inbound> open_items;
  dxs::pb::OpenConnection* open = open_items.Add()->mutable_open();
  open->set_conn(conn);
  open->set_kind(dxs::pb::SOCKET);
  open->set_peer_pid(static_cast<int32_t>(getpid()));
  open->set_peer_comm("history_populate");
  std::vector<dxs::pb::Outbound> ignored;
  (*engine)->apply(open_items, ignored);

  Client client(**engine, conn);
  std::mt19937 rng(o.seed);
  static const char* const kKeys[] = {
      "memory/target", "device/vif/0/state", "device/vbd/51712/state",
      "data/updated",  "control/shutdown",   "console/tty",
      "name",          "device/vif/0/mac",
  };
  const auto began = std::chrono::steady_clock::now();
  uint64_t made = 0;
  uint64_t counter = 0;
  while (made < o.commits) {
    const uint32_t domid = 1 + rng() % o.domains;
    const std::string home = fmt::format("/local/domain/{}", domid);
    if (o.txn_every != 0 && made % o.txn_every == o.txn_every - 1 && made + 1 < o.commits) {
      client.flush();
      const uint32_t tx = client.start_transaction();
      for (int i = 0; i < 5; ++i) {
        client.write(fmt::format("{}/{}", home, kKeys[rng() % std::size(kKeys)]),
                     std::to_string(++counter), tx);
      }
      client.end_transaction(tx);
      client.flush();
      made += 2;  // the branch and its merge
      continue;
    }
    if (rng() % 200 == 0) {
      client.rm(home + "/device");
    } else {
      client.write(fmt::format("{}/{}", home, kKeys[rng() % std::size(kKeys)]),
                   std::to_string(++counter));
    }
    ++made;
    if (client.queued() >= o.batch) client.flush();
  }
  client.flush();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("commits %llu seconds %.1f head %llu\n",
              static_cast<unsigned long long>((*engine)->head() - head_before), seconds,
              static_cast<unsigned long long>((*engine)->head()));
  return 0;
}
