// CONTROL (xenstore-control): check, log, print, quota, quota-soft, memreport, help.
#include <fmt/format.h>

#include <cerrno>
#include <map>
#include <optional>
#include <vector>

#include "common/config.h"
#include "common/path.h"
#include "store/commands.h"
#include "store/domain_nodes.h"
#include "store/history.h"

namespace dxs::store {
namespace {

using Args = std::vector<std::string>;

// In the order `xenstore-control quota` lists them.
constexpr QuotaKind kQuotaOrder[] = {
    QuotaKind::kNodes,        QuotaKind::kWatches,
    QuotaKind::kTransactions, QuotaKind::kTransactionNodes,
    QuotaKind::kNodeSize,     QuotaKind::kPathMax,
    QuotaKind::kPermissions,  QuotaKind::kWatchEvents,
};

std::string text_reply(std::string s) {
  s.push_back('\0');
  return s;
}

Result<std::string> help(const Args& args) {
  if (!args.empty()) return Status::error(EINVAL);
  return text_reply(
      "check\t\n"
      "log\ton|off\n"
      "memreport\t\n"
      "print\t<string>\n"
      "quota\t[set <name> <val> [<domid>]|<domid>]\n"
      "quota-soft\t\n"
      "help\t\n");
}

Result<std::string> set_log(StoreState& s, const Args& args) {
  if (args.size() != 1) return Status::error(EINVAL);
  if (args[0] == "on") {
    s.log.set_level(LogLevel::kDebug);
  } else if (args[0] == "off") {
    s.log.set_level(LogLevel::kInfo);
  } else {
    return Status::error(EINVAL);
  }
  return kOkReply;
}

Result<std::string> memreport(StoreState& s, const Args& args) {
  if (!args.empty()) return Status::error(EINVAL);
  size_t domains = 0;
  s.domains.for_each([&](pb::DomainRecord&) { ++domains; });
  return text_reply(fmt::format(
      "head commit: {}\nconnections: {}\ndomains known: {}\nopen transactions: {}\n"
      "requests: {}\nbatches: {}\ncommits: {}\ntransaction conflicts: {}\nbytes on disk: {}\n"
      "guarded transactions: {}\nrequests held for them: {}\n"
      "writers held for a watcher behind: {}\nrequests held for them: {}\n",
      s.history.head(), s.connections.size(), domains, s.txns.size(), s.stats.requests,
      s.stats.batches, s.stats.commits, s.stats.eagain, s.db.disk_bytes(), s.stats.guards,
      s.stats.held, s.stats.backpressure_holds, s.stats.held_behind));
}

// quota set <name> <value> [<domid>]: the global limit, or one domain's override. Both
// are durable and win over the configuration file, and both are commits: a limit
// changed is often why a guest began to fail.
Result<std::string> set_quota(StoreState& s, Request& r, const Args& args) {
  if (args.size() != 3 && args.size() != 4) return Status::error(EINVAL);
  QuotaKind kind;
  int64_t value = 0;
  if (!quota_from_name(args[1], kind) || !parse_int(args[2], 1, INT32_MAX, value)) {
    return Status::error(EINVAL);
  }
  if (args.size() == 4) {
    int64_t domid = 0;
    if (!parse_int(args[3], 0, kMaxDomid, domid)) return Status::error(EINVAL);
    const pb::DomainRecord* existing = s.domains.find(static_cast<uint32_t>(domid));
    const std::optional<pb::DomainRecord> before =
        existing ? std::optional<pb::DomainRecord>(*existing) : std::nullopt;
    pb::DomainRecord& d = s.domains.get_or_create(static_cast<uint32_t>(domid));
    (*d.mutable_quota())[args[1]] = value;
    s.domains.save(s.ws, static_cast<uint32_t>(domid));
    add_domain_changes(r.state_changes, static_cast<uint32_t>(domid), before ? &*before : nullptr,
                       &d);
    r.summary = fmt::format("{}: set quota {} of domain {} = {}", author(r), args[1], domid, value);
    s.log.info("control: quota {} of dom{} set to {}", args[1], domid, value);
  } else {
    add_state_change(r.state_changes, "quota/" + args[1], std::to_string(s.options.quota.get(kind)),
                     std::to_string(value));
    s.options.quota.set(kind, value);
    s.ws.put(Cf::kMeta, std::string(meta::kQuotaPrefix) + args[1], std::to_string(value));
    r.summary = fmt::format("{}: set quota {} = {}", author(r), args[1], value);
    s.log.info("control: quota {} set to {}", args[1], value);
  }
  // Set to what it was, it changes nothing, but the operator's act is still history.
  r.force_commit = true;
  return kOkReply;
}

// quota <domid>: what a domain uses, and how often each quota refused it.
Result<std::string> domain_usage(StoreState& s, const std::string& arg) {
  int64_t domid = 0;
  if (!parse_int(arg, 0, kMaxDomid, domid)) return Status::error(EINVAL);
  const pb::DomainRecord* d = s.domains.find(static_cast<uint32_t>(domid));
  if (d == nullptr) return Status::error(ENOENT);
  uint32_t watches = 0;
  uint32_t transactions = 0;
  s.connections.for_each([&](Connection& c) {
    if (c.record.kind() == pb::RING && c.record.domid() == domid) {
      watches += static_cast<uint32_t>(s.watches.count(c.record.id()));
      transactions += c.open_transactions;
    }
  });
  std::string out = fmt::format("Domain {}:\n", domid);
  out += fmt::format("{:<16}: {:>8}\n", "nodes", d->node_count());
  out += fmt::format("{:<16}: {:>8}\n", "watches", watches);
  out += fmt::format("{:<16}: {:>8}\n", "transactions", transactions);
  for (const auto& [name, hits] :
       std::map<std::string, uint64_t>(d->quota_hits().begin(), d->quota_hits().end())) {
    out += fmt::format("{:<16}: {:>8} refused\n", name, hits);
  }
  return text_reply(std::move(out));
}

Result<std::string> quota(StoreState& s, Request& r, const Args& args) {
  if (args.empty()) {
    std::string out = "Quota settings:\n";
    for (QuotaKind kind : kQuotaOrder) {
      out += fmt::format("{:<17}: {:>8} {}\n", quota_name(kind), s.options.quota.get(kind),
                         quota_description(kind));
    }
    return text_reply(std::move(out));
  }
  if (args[0] == "set") return set_quota(s, r, args);
  if (args.size() != 1) return Status::error(EINVAL);
  return domain_usage(s, args[0]);
}

// check: every node's recorded children match the tree, every domain's count matches
// the nodes it owns, and the domain index lists exactly the nodes naming each domain.
// A pass over the nodes each, no recursion.
Result<std::string> check(StoreState& s, const Args& args) {
  if (!args.empty()) return Status::error(EINVAL);
  std::map<std::string, std::pair<uint32_t, uint32_t>> children;  // path -> count, bytes
  std::map<uint32_t, int64_t> owned;
  std::map<std::string, std::pair<uint32_t, uint32_t>> recorded;
  for_each_record<pb::NodeRecord>(s.ws, Cf::kNodes, {},
                                  [&](std::string_view key, const pb::NodeRecord& rec) {
                                    const std::string p = keys::path_of_node_key(key);
                                    recorded[p] = {rec.child_count(), rec.children_bytes()};
                                    owned[perms_from_packed(rec.perms()).front().domid] += 1;
                                    if (p == "/") return;
                                    auto& c = children[std::string(path::parent(p))];
                                    c.first += 1;
                                    c.second += static_cast<uint32_t>(path::basename(p).size() + 1);
                                  });
  std::string problems;
  for (const auto& [p, rc] : recorded) {
    auto actual = children.count(p) ? children[p] : std::make_pair(0u, 0u);
    if (actual != rc) {
      problems += fmt::format("{}: records {} children ({} bytes), has {} ({} bytes)\n", p,
                              rc.first, rc.second, actual.first, actual.second);
    }
  }
  for (const auto& [p, c] : children) {
    if (!recorded.count(p))
      problems += fmt::format("{}: missing, but has {} children\n", p, c.first);
  }
  s.domains.for_each([&](pb::DomainRecord& d) {
    const int64_t actual = owned.count(d.domid()) ? owned[d.domid()] : 0;
    if (actual != d.node_count()) {
      problems +=
          fmt::format("dom{}: counts {} nodes, owns {}\n", d.domid(), d.node_count(), actual);
    }
  });
  problems += domain_nodes::verify(s.ws);
  if (problems.empty()) return kOkReply;
  s.log.error("control check found inconsistencies:\n{}", problems);
  return text_reply(std::move(problems));
}

}  // namespace

Result<std::string> cmd_control(StoreState& s, Request& r) {
  const auto& strings = r.req.strings().strings();
  const std::string& cmd = strings[0];
  const Args args(strings.begin() + 1, strings.end());
  if (cmd == "help") return help(args);
  if (cmd == "print") {
    if (args.size() != 1) return Status::error(EINVAL);
    s.log.info("control: {}", args[0]);
    return kOkReply;
  }
  if (cmd == "log") return set_log(s, args);
  if (cmd == "quota-soft") {
    if (!args.empty() && args[0] != "set") return Status::error(EINVAL);
    return text_reply("Quota settings:\n");
  }
  if (cmd == "memreport") return memreport(s, args);
  if (cmd == "quota") return quota(s, r, args);
  if (cmd == "check") return check(s, args);
  return Status::error(EINVAL, fmt::format("unknown control command '{}'", cmd));
}

}  // namespace dxs::store
