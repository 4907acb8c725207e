// Engine: CONTROL commands (xenstore-control): check, log, print, quota, quota-soft,
// memreport, help.
#include <fmt/format.h>
#include <cerrno>
#include <map>

#include "common/config.h"
#include "common/path.h"
#include "store/engine.h"
#include "store/engine_request.h"

namespace dxs::store {

namespace {

struct QuotaDescription {
  QuotaKind kind;
  const char* description;
};

constexpr QuotaDescription kQuotaDescriptions[] = {
    {QuotaKind::kNodes, "Nodes per domain"},
    {QuotaKind::kWatches, "Watches per domain"},
    {QuotaKind::kTransactions, "Transactions per domain"},
    {QuotaKind::kTransactionNodes, "Max. number of accessed nodes per transaction"},
    {QuotaKind::kNodeSize, "Max. size of a node"},
    {QuotaKind::kPathMax, "Max. length of a node path"},
    {QuotaKind::kPermissions, "Max. number of permissions per node"},
    {QuotaKind::kWatchEvents, "Max. undelivered watch events per connection"},
};

std::string text_reply(std::string s) {
  s.push_back('\0');
  return s;
}

}  // namespace

Result<std::string> Engine::do_control(Request& r) {
  if (!r.req.has_strings() || r.req.strings().strings_size() == 0) {
    return Status::error(EINVAL, "CONTROL needs a command");
  }
  const auto& s = r.req.strings().strings();
  const std::string& cmd = s[0];
  const std::vector<std::string> args(s.begin() + 1, s.end());

  if (cmd == "help") {
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
  if (cmd == "print") {
    if (args.size() != 1) return Status::error(EINVAL);
    logger_.info("control: {}", args[0]);
    return kOkReply;
  }
  if (cmd == "log") {
    if (args.size() != 1) return Status::error(EINVAL);
    if (args[0] == "on") {
      logger_.set_level(LogLevel::kDebug);
    } else if (args[0] == "off") {
      logger_.set_level(LogLevel::kInfo);
    } else {
      return Status::error(EINVAL);
    }
    return kOkReply;
  }
  if (cmd == "quota-soft") {
    if (!args.empty() && args[0] != "set") return Status::error(EINVAL);
    return text_reply("Quota settings:\n");
  }
  if (cmd == "memreport") {
    if (!args.empty()) return Status::error(EINVAL);
    return text_reply(fmt::format(
        "head commit: {}\nconnections: {}\ndomains known: {}\nopen transactions: {}\n"
        "requests: {}\nbatches: {}\ncommits: {}\ntransaction conflicts: {}\nbytes on disk: {}\n",
        history_.head(), connections_.size(),
        [&] {
          size_t n = 0;
          domains_.for_each([&](pb::DomainRecord&) { ++n; });
          return n;
        }(),
        txns_.size(), stats_.requests, stats_.batches, stats_.commits, stats_.eagain,
        db_.disk_bytes()));
  }
  if (cmd == "quota") {
    if (args.empty()) {
      std::string out = "Quota settings:\n";
      for (const auto& q : kQuotaDescriptions) {
        out += fmt::format("{:<17}: {:>8} {}\n", quota_name(q.kind), options_.quota.get(q.kind),
                           q.description);
      }
      return text_reply(std::move(out));
    }
    if (args[0] == "set") {
      if (args.size() != 3 && args.size() != 4) return Status::error(EINVAL);
      QuotaKind kind;
      int64_t value = 0;
      if (!quota_from_name(args[1], kind) || !parse_int(args[2], 1, INT32_MAX, value)) {
        return Status::error(EINVAL);
      }
      if (args.size() == 4) {
        int64_t domid = 0;
        if (!parse_int(args[3], 0, kMaxDomid, domid)) return Status::error(EINVAL);
        pb::DomainRecord& d = domains_.get_or_create(static_cast<uint32_t>(domid));
        (*d.mutable_quota())[args[1]] = value;
        domains_.save(*ws_, static_cast<uint32_t>(domid));
        logger_.info("control: quota {} of dom{} set to {}", args[1], domid, value);
      } else {
        options_.quota.set(kind, value);
        ws_->put(Cf::kMeta, std::string(meta::kQuotaPrefix) + args[1], std::to_string(value));
        logger_.info("control: quota {} set to {}", args[1], value);
      }
      return kOkReply;
    }
    if (args.size() != 1) return Status::error(EINVAL);
    int64_t domid = 0;
    if (!parse_int(args[0], 0, kMaxDomid, domid)) return Status::error(EINVAL);
    const pb::DomainRecord* d = domains_.find(static_cast<uint32_t>(domid));
    if (d == nullptr) return Status::error(ENOENT);
    uint32_t watches = 0;
    uint32_t transactions = 0;
    connections_.for_each([&](Connection& c) {
      if (c.record.kind() == pb::RING && c.record.domid() == domid) {
        watches += static_cast<uint32_t>(watches_.count(c.record.id()));
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
  if (cmd == "check") {
    if (!args.empty()) return Status::error(EINVAL);
    // Every node's recorded children match the tree, and every domain's count matches
    // the nodes it owns. Iterative: one pass over the nodes, no recursion.
    std::map<std::string, std::pair<uint32_t, uint32_t>> children;  // path -> count, bytes
    std::map<uint32_t, int64_t> owned;
    std::map<std::string, std::pair<uint32_t, uint32_t>> recorded;
    auto it = ws_->iterate(Cf::kNodes);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      pb::NodeRecord rec;
      rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
      const std::string p =
          keys::path_of_node_key(std::string_view(it->key().data(), it->key().size()));
      recorded[p] = {rec.child_count(), rec.children_bytes()};
      owned[perms_from_packed(rec.perms()).front().domid] += 1;
      if (p != "/") {
        auto& c = children[std::string(path::parent(p))];
        c.first += 1;
        c.second += static_cast<uint32_t>(path::basename(p).size() + 1);
      }
    }
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
    domains_.for_each([&](pb::DomainRecord& d) {
      const int64_t actual = owned.count(d.domid()) ? owned[d.domid()] : 0;
      if (actual != d.node_count()) {
        problems +=
            fmt::format("dom{}: counts {} nodes, owns {}\n", d.domid(), d.node_count(), actual);
      }
    });
    if (problems.empty()) return kOkReply;
    logger_.error("control check found inconsistencies:\n{}", problems);
    return text_reply(std::move(problems));
  }
  return Status::error(EINVAL, fmt::format("unknown control command '{}'", cmd));
}

}  // namespace dxs::store
