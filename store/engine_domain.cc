// Engine: domains (INTRODUCE, RELEASE, RESUME, SET_TARGET, GET_DOMAIN_PATH,
// IS_DOMAIN_INTRODUCED) and the cleanup after a domain is gone (XSA-322/419).
#include <fmt/format.h>
#include <algorithm>
#include <cerrno>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "store/engine.h"
#include "store/engine_request.h"

namespace dxs::store {

namespace {

constexpr uint32_t kDomidFirstReserved = 0x7FF0;
constexpr std::string_view kIntroduceDomain = "@introduceDomain";
constexpr std::string_view kReleaseDomain = "@releaseDomain";

// xenstored reads domids with atoi(); dxs insists on a decimal domid.
Result<uint32_t> parse_domid(const std::string& s) {
  int64_t v = 0;
  if (!parse_int(s, 0, kMaxDomid, v))
    return Status::error(EINVAL, fmt::format("bad domid '{}'", s));
  return static_cast<uint32_t>(v);
}

Result<uint32_t> one_domid(const pb::Request& req) {
  const std::string* arg = one_arg(req);
  if (arg == nullptr) return Status::error(EINVAL, "expected exactly one domid");
  return parse_domid(*arg);
}

}  // namespace

Result<std::string> Engine::do_get_domain_path(Request& r) {
  Result<uint32_t> domid = one_domid(r.req);
  if (!domid) return domid.status();
  return path::home_of(*domid) + '\0';
}

Result<std::string> Engine::do_is_domain_introduced(Request& r) {
  Result<uint32_t> domid = one_domid(r.req);
  if (!domid) return domid.status();
  const bool yes = *domid == wire::kDomidSelf || domains_.is_introduced(*domid);
  return std::string(yes ? "T" : "F") + '\0';
}

Result<std::string> Engine::do_introduce(Request& r) {
  if (!r.req.has_strings() || r.req.strings().strings_size() < 3) {
    return Status::error(EINVAL, "INTRODUCE takes a domid, a frame number and a port");
  }
  const auto& s = r.req.strings().strings();
  Result<uint32_t> domid = parse_domid(s[0]);
  if (!domid) return domid.status();
  if (*domid >= kDomidFirstReserved)
    return Status::error(EINVAL, fmt::format("domid {} is reserved", *domid));
  int64_t gfn = 0;
  if (!parse_int(s[1], INT64_MIN, INT64_MAX, gfn)) return Status::error(EINVAL, "bad frame number");
  int64_t port = 0;
  if (!parse_int(s[2], 1, UINT32_MAX, port)) return Status::error(EINVAL, "bad event-channel port");

  pb::DomainRecord& d = domains_.get_or_create(*domid);
  const bool first = !d.introduced() && *domid != 0;
  d.set_introduced(true);
  d.set_shutdown_reported(false);
  pb::RingAddress* ring = d.mutable_ring();
  ring->set_domid(*domid);
  ring->set_remote_port(static_cast<uint32_t>(port));
  ring->set_gfn(static_cast<uint64_t>(gfn));
  if (first) d.set_introduced_commit(history_.next());
  domains_.save(*ws_, *domid);

  if (first) {
    r.summary = fmt::format("{}: introduce domain {}", author(r), *domid);
    r.specials.push_back(kIntroduceDomain);
  } else {
    // Re-introduction (guest kexec, resume): the domain's connection starts afresh.
    connections_.for_each([&](Connection& c) {
      if (c.record.kind() == pb::RING && c.record.domid() == *domid)
        drop_connection_state(c.record.id());
    });
    r.summary = fmt::format("{}: reintroduce domain {}", author(r), *domid);
  }
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> Engine::do_release(Request& r) {
  Result<uint32_t> domid = one_domid(r.req);
  if (!domid) return domid.status();
  if (*domid == 0) return Status::error(EINVAL, "dom0 cannot be released");
  if (!domains_.is_introduced(*domid))
    return Status::error(ENOENT, fmt::format("domain {} is not introduced", *domid));
  release_domain(r, *domid);
  r.summary = fmt::format("{}: release domain {}", author(r), *domid);
  r.force_commit = true;
  return kOkReply;
}

// A domain is gone: close its connections, remove the nodes it owns (or hand them to
// dom0 with keep_orphans), drop it from every permission list, including the special
// nodes', and forget its usage, so that a new domain reusing the domid inherits nothing.
void Engine::release_domain(Request& r, uint32_t domid) {
  std::vector<uint64_t> conns;
  connections_.for_each([&](Connection& c) {
    if (c.record.kind() == pb::RING && c.record.domid() == domid) conns.push_back(c.record.id());
  });
  for (uint64_t id : conns) {
    drop_connection_state(id);
    connections_.remove(*ws_, id);
    pb::Outbound o;
    pb::ConnectionCommand* cmd = o.mutable_command();
    cmd->set_conn(id);
    cmd->set_action(pb::ConnectionCommand::CLOSE);
    cmd->set_reason(fmt::format("domain {} released", domid));
    r.after_reply.push_back(std::move(o));
  }

  MainNodes view(*ws_, history_.next());
  PendingAccounting acct(*this, r);
  Tree tree(view, acct);
  std::vector<std::string> owned;
  std::vector<Change> scrubs;
  {
    // Collect first: the batch is not written while an iterator walks it.
    auto it = ws_->iterate(Cf::kNodes);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      pb::NodeRecord rec;
      rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
      Node n = node_from_record(rec);
      std::string p = keys::path_of_node_key(std::string_view(it->key().data(), it->key().size()));
      if (n.owner() == domid && p != "/") {
        owned.push_back(std::move(p));
        continue;
      }
      const size_t before = n.perms.size();
      auto acl = std::remove_if(n.perms.begin() + 1, n.perms.end(),
                                [&](const PermEntry& e) { return e.domid == domid; });
      n.perms.erase(acl, n.perms.end());
      if (n.perms.size() == before) continue;
      n.modified = n.perms_modified = view.stamp();
      scrubs.push_back(Change{std::move(p), Change::Kind::kPerms, Change::Fire::kNone,
                              node_from_record(rec), std::move(n)});
    }
  }
  const size_t scrubbed = scrubs.size();
  for (Change& c : scrubs) {
    view.put(c.path, *c.after);
    r.changes.push_back(std::move(c));
  }
  // Sorted paths: an owned subtree's root comes before its descendants.
  std::sort(owned.begin(), owned.end());
  Caller dom0;
  size_t removed = 0;
  std::string last_removed;
  for (const std::string& p : owned) {
    if (!last_removed.empty() && path::is_at_or_below(p, last_removed)) continue;
    if (options_.keep_orphans) {
      std::optional<Node> n = view.get(p);
      if (!n) continue;
      Node old = *n;
      n->perms[0].domid = 0;
      // Handed over, the node keeps no entry for the dead domain either.
      n->perms.erase(std::remove_if(n->perms.begin() + 1, n->perms.end(),
                                    [&](const PermEntry& e) { return e.domid == domid; }),
                     n->perms.end());
      n->modified = n->perms_modified = view.stamp();
      acct.adjust_node_count(domid, -1);
      acct.adjust_node_count(0, 1);
      view.put(p, *n);
      r.changes.push_back(
          Change{p, Change::Kind::kPerms, Change::Fire::kNone, std::move(old), std::move(*n)});
    } else if (tree.remove(p, dom0, r.changes).is_ok()) {
      last_removed = p;
      ++removed;
    }
  }
  for (std::string_view special : {kIntroduceDomain, kReleaseDomain}) {
    Perms perms = special_perms(special);
    auto acl = std::remove_if(perms.begin() + 1, perms.end(),
                              [&](const PermEntry& e) { return e.domid == domid; });
    if (acl == perms.end() && perms[0].domid != domid) continue;
    perms.erase(acl, perms.end());
    if (perms[0].domid == domid) perms[0].domid = 0;
    pb::NodeRecord record;
    perms_to_packed(perms, *record.mutable_perms());
    ws_->put_record(Cf::kMeta, std::string(meta::kSpecialPermsPrefix) + std::string(special),
                    record);
  }
  // A device model acting for the dead domain must not act for a new domain that reuses
  // the domid (C keeps the target connection; dxs drops the target).
  domains_.for_each([&](pb::DomainRecord& d) {
    if (d.has_target() && d.target() == domid) {
      d.clear_has_target();
      d.clear_target();
      domains_.save(*ws_, d.domid());
    }
  });
  r.node_delta.erase(domid);
  domains_.erase(*ws_, domid);
  r.note = fmt::format(
      "released domain {}: {} connections closed, {} subtrees {}, {} permission lists scrubbed",
      domid, conns.size(), options_.keep_orphans ? owned.size() : removed,
      options_.keep_orphans ? "handed to dom0" : "removed", scrubbed);
  logger_.info("{}", r.note);
  r.specials.push_back(kReleaseDomain);
}

Result<std::string> Engine::do_resume(Request& r) {
  Result<uint32_t> domid = one_domid(r.req);
  if (!domid) return domid.status();
  if (*domid == 0) return Status::error(EINVAL, "dom0 cannot be resumed");
  if (!domains_.is_introduced(*domid))
    return Status::error(ENOENT, fmt::format("domain {} is not introduced", *domid));
  domains_.find(*domid)->set_shutdown_reported(false);
  domains_.save(*ws_, *domid);
  return kOkReply;
}

Result<std::string> Engine::do_set_target(Request& r) {
  if (!r.req.has_strings() || r.req.strings().strings_size() < 2) {
    return Status::error(EINVAL, "SET_TARGET takes two domids");
  }
  Result<uint32_t> domid = parse_domid(r.req.strings().strings(0));
  if (!domid) return domid.status();
  Result<uint32_t> target = parse_domid(r.req.strings().strings(1));
  if (!target) return target.status();
  if (!domains_.is_introduced(*domid) || !domains_.is_introduced(*target)) {
    return Status::error(ENOENT, "SET_TARGET needs two introduced domains");
  }
  pb::DomainRecord& d = domains_.get_or_create(*domid);
  d.set_has_target(true);
  d.set_target(*target);
  domains_.save(*ws_, *domid);
  return kOkReply;
}

}  // namespace dxs::store
