// Commands on domains: INTRODUCE, RELEASE, RESUME, SET_TARGET, GET_DOMAIN_PATH,
// IS_DOMAIN_INTRODUCED, and the cleanup after a domain is gone (XSA-322/419).
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "common/config.h"
#include "common/path.h"
#include "common/wire.h"
#include "store/commands.h"
#include "store/domain_nodes.h"
#include "store/history.h"
#include "store/node_view.h"
#include "store/ring_connection.h"
#include "store/special_nodes.h"
#include "store/tree.h"

namespace dxs::store {
namespace {

constexpr uint32_t kDomidFirstReserved = 0x7FF0;

// xenstored reads domids with atoi(); dxs insists on a decimal domid.
Result<uint32_t> parse_domid(const std::string& s) {
  int64_t v = 0;
  if (!parse_int(s, 0, kMaxDomid, v))
    return Status::error(EINVAL, fmt::format("bad domid '{}'", s));
  return static_cast<uint32_t>(v);
}

Result<uint32_t> first_domid(const Request& r) {
  return parse_domid(r.req.strings().strings(0));
}

// A domain's record as it is before a change, to compare with after it (nullopt: the
// store has none).
std::optional<pb::DomainRecord> record_before(StoreState& s, uint32_t domid) {
  const pb::DomainRecord* d = s.domains.find(domid);
  if (d == nullptr) return std::nullopt;
  return *d;
}

// The commit's change set gets what changed of domid's record since `before`.
void note_domain_change(StoreState& s, Request& r, uint32_t domid,
                        const std::optional<pb::DomainRecord>& before) {
  add_domain_changes(r.state_changes, domid, before ? &*before : nullptr, s.domains.find(domid));
}

// `perms` without the ACL entries naming domid; whether there were any.
bool drop_acl_entries(Perms& perms, uint32_t domid) {
  const size_t before = perms.size();
  perms.erase(std::remove_if(perms.begin() + 1, perms.end(),
                             [&](const PermEntry& e) { return e.domid == domid; }),
              perms.end());
  return perms.size() != before;
}

// Closes the domain's ring connections; the frontend is told after the reply.
size_t close_connections(StoreState& s, Request& r, uint32_t domid, std::string_view why) {
  const std::vector<uint64_t> conns = ring_connections_of(s, domid);
  for (uint64_t id : conns) {
    r.after_reply.push_back(close_ring(s, id, fmt::format("domain {} {}", domid, why)));
  }
  return conns.size();
}

// The nodes domid owns (returned, sorted so that a subtree's root comes before its
// descendants), and every other node's ACL without domid: the nodes the domain index
// lists for it, not the whole tree.
std::vector<std::string> owned_and_scrubbed(StoreState& s, Request& r, uint32_t domid,
                                            NodeView& view, size_t& scrubbed) {
  std::vector<std::string> owned;
  ChangeList scrubs;
  for (std::string& p : domain_nodes::of(s.ws, domid)) {
    std::optional<Node> n = view.get(p);
    if (!n) {
      // The index is written with the tree: an entry for a node that is not there is a
      // corrupt state. It is not the kind that leaks a node to the next domain, though,
      // and stopping would not mend it, so the release goes on.
      s.log.error("domain index lists {} for domain {}, which has no such node", p, domid);
      continue;
    }
    if (n->owner() == domid && p != "/") {
      owned.push_back(std::move(p));
      continue;
    }
    Node before = *n;
    if (drop_acl_entries(n->perms, domid)) {
      n->modified = n->perms_modified = view.stamp();
      scrubs.push_back(Change{std::move(p), Change::Kind::kPerms, Change::Fire::kNone,
                              std::move(before), std::move(*n)});
    }
  }
  scrubbed = scrubs.size();
  for (Change& c : scrubs) {
    view.put(c.path, *c.after);
    r.changes.push_back(std::move(c));
  }
  return owned;
}

// Removes the dead domain's subtrees (returns how many), or with keep_orphans hands
// each node to dom0.
size_t remove_owned(StoreState& s, Request& r, uint32_t domid,
                    const std::vector<std::string>& owned, Tree& tree, NodeView& view,
                    Accounting& acct) {
  size_t removed = 0;
  std::string last_removed;
  for (const std::string& p : owned) {
    if (!last_removed.empty() && path::is_at_or_below(p, last_removed)) continue;
    if (!s.options.keep_orphans) {
      if (tree.remove(p, Caller{}, r.changes).is_ok()) {
        last_removed = p;
        ++removed;
      }
      continue;
    }
    std::optional<Node> n = view.get(p);
    if (!n) continue;
    Node old = *n;
    n->perms[0].domid = 0;
    // Handed over, the node keeps no entry for the dead domain either.
    drop_acl_entries(n->perms, domid);
    n->modified = n->perms_modified = view.stamp();
    acct.adjust_node_count(domid, -1);
    acct.adjust_node_count(0, 1);
    view.put(p, *n);
    r.changes.push_back(
        Change{p, Change::Kind::kPerms, Change::Fire::kNone, std::move(old), std::move(*n)});
  }
  return removed;
}

// The special nodes' permissions forget the dead domain too.
void scrub_special_nodes(StoreState& s, Request& r, uint32_t domid) {
  for (std::string_view special : {kIntroduceDomain, kReleaseDomain}) {
    Perms perms = special_perms(s.ws, special);
    const Perms before = perms;
    const bool in_acl = drop_acl_entries(perms, domid);
    if (!in_acl && perms[0].domid != domid) continue;
    if (perms[0].domid == domid) perms[0].domid = 0;
    set_special_perms(s.ws, special, perms);
    r.changes.push_back(special_perms_change(special, before, perms));
  }
}

// A device model acting for the dead domain must not act for a new domain that reuses
// the domid (C keeps the target connection; dxs drops the target).
void drop_targets_of(StoreState& s, Request& r, uint32_t domid) {
  s.domains.for_each([&](pb::DomainRecord& d) {
    if (d.has_target() && d.target() == domid) {
      const pb::DomainRecord before = d;
      d.clear_has_target();
      d.clear_target();
      s.domains.save(s.ws, d.domid());
      add_domain_changes(r.state_changes, d.domid(), &before, &d);
    }
  });
}

// A domain is gone: close its connections, remove the nodes it owns (or hand them to
// dom0 with keep_orphans), drop it from every permission list, including the special
// nodes', and forget its usage, so that a new domain reusing the domid inherits nothing.
void release_domain(StoreState& s, Request& r, uint32_t domid) {
  const size_t closed = close_connections(s, r, domid, "released");
  MainNodes view(s.ws, s.history.next());
  LiveAccounting acct(s.quotas, s.domains, r.node_delta, r.quota_hits);
  Tree tree(view, acct);
  size_t scrubbed = 0;
  const std::vector<std::string> owned = owned_and_scrubbed(s, r, domid, view, scrubbed);
  const size_t removed = remove_owned(s, r, domid, owned, tree, view, acct);
  scrub_special_nodes(s, r, domid);
  drop_targets_of(s, r, domid);
  r.node_delta.erase(domid);
  const std::optional<pb::DomainRecord> before = record_before(s, domid);
  s.domains.erase(s.ws, domid);
  note_domain_change(s, r, domid, before);
  r.note = fmt::format(
      "released domain {}: {} connections closed, {} subtrees {}, {} permission lists scrubbed",
      domid, closed, s.options.keep_orphans ? owned.size() : removed,
      s.options.keep_orphans ? "handed to dom0" : "removed", scrubbed);
  s.log.info("{}", r.note);
  r.specials.push_back(kReleaseDomain);
}

}  // namespace

Result<std::string> cmd_get_domain_path(StoreState&, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  return path::home_of(*domid) + '\0';
}

Result<std::string> cmd_is_domain_introduced(StoreState& s, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  const bool yes = *domid == wire::kDomidSelf || s.domains.is_introduced(*domid);
  return std::string(yes ? "T" : "F") + '\0';
}

// GET_FEATURE [<domid>]: the ring features of the caller's domain, or (privileged
// callers only) of domid's. dxs cannot ask the hypervisor whether a domain it has no
// record of exists, so such a domain gets what it would be given, never ENOENT.
Result<std::string> cmd_get_feature(StoreState& s, Request& r) {
  uint32_t features = kSupportedFeatures;
  if (r.req.strings().strings_size() == 0) {
    if (r.conn.record.kind() == pb::RING) features = ring_features(s, r.caller.domid);
  } else {
    if (!r.caller.privileged)
      return Status::error(EACCES, "GET_FEATURE of another domain needs privilege");
    Result<uint32_t> domid = first_domid(r);
    if (!domid) return domid.status();
    features = ring_features(s, *domid);
  }
  return std::to_string(features) + '\0';
}

// SET_FEATURE <domid> <features>: which ring features the domain will be given, before
// it is introduced (C xenstored: EBUSY after), among those dxs supports.
Result<std::string> cmd_set_feature(StoreState& s, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  int64_t features = 0;
  if (!parse_int(r.req.strings().strings(1), 0, UINT32_MAX, features))
    return Status::error(EINVAL, "bad feature bits");
  if ((static_cast<uint64_t>(features) & ~uint64_t{kSupportedFeatures}) != 0)
    return Status::error(EINVAL, fmt::format("feature bits {:#x} not supported", features));
  if (s.domains.is_introduced(*domid))
    return Status::error(EBUSY, fmt::format("domain {} is introduced already", *domid));
  const std::optional<pb::DomainRecord> before = record_before(s, *domid);
  pb::DomainRecord& d = s.domains.get_or_create(*domid);
  d.set_features(static_cast<uint32_t>(features));
  s.domains.save(s.ws, *domid);
  note_domain_change(s, r, *domid, before);
  r.summary =
      fmt::format("{}: set the ring features of domain {} to {}", author(r), *domid, features);
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> cmd_introduce(StoreState& s, Request& r) {
  const auto& args = r.req.strings().strings();
  Result<uint32_t> domid = parse_domid(args[0]);
  if (!domid) return domid.status();
  if (*domid >= kDomidFirstReserved)
    return Status::error(EINVAL, fmt::format("domid {} is reserved", *domid));
  int64_t gfn = 0;
  if (!parse_int(args[1], INT64_MIN, INT64_MAX, gfn))
    return Status::error(EINVAL, "bad frame number");
  int64_t port = 0;
  if (!parse_int(args[2], 1, UINT32_MAX, port))
    return Status::error(EINVAL, "bad event-channel port");

  const std::optional<pb::DomainRecord> before = record_before(s, *domid);
  pb::DomainRecord& d = s.domains.get_or_create(*domid);
  const bool first = !d.introduced() && *domid != 0;
  d.set_introduced(true);
  d.set_shutdown_reported(false);
  pb::RingAddress* ring = d.mutable_ring();
  ring->set_domid(*domid);
  ring->set_remote_port(static_cast<uint32_t>(port));
  ring->set_gfn(static_cast<uint64_t>(gfn));
  if (first) d.set_introduced_commit(s.history.next());
  s.domains.save(s.ws, *domid);
  const pb::RingAddress address = *ring;
  note_domain_change(s, r, *domid, before);

  if (first) {
    r.summary = fmt::format("{}: introduce domain {}", author(r), *domid);
    r.specials.push_back(kIntroduceDomain);
    r.after_reply.push_back(open_ring(s, address, false));
  } else if (*domid != 0) {
    // Re-introduction (guest kexec, resume), as C: the domain's connection starts afresh
    // (watches, transactions, queued events and recorded replies gone) on a ring the
    // frontend zeroes.
    r.summary = fmt::format("{}: reintroduce domain {}", author(r), *domid);
    const size_t closed = close_connections(s, r, *domid, "reintroduced");
    r.after_reply.push_back(open_ring(s, address, true));
    r.note = fmt::format("{} ring connections reset, port {}", closed, address.remote_port());
  } else {
    // dom0's ring, if it has one, is the store's configuration (Hello), not a request's.
    r.summary = fmt::format("{}: reintroduce domain 0", author(r));
  }
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> cmd_release(StoreState& s, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  if (*domid == 0) return Status::error(EINVAL, "dom0 cannot be released");
  if (!s.domains.is_introduced(*domid))
    return Status::error(ENOENT, fmt::format("domain {} is not introduced", *domid));
  // Before the release, which may close the requesting connection itself.
  r.summary = fmt::format("{}: release domain {}", author(r), *domid);
  release_domain(s, r, *domid);
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> cmd_domain_gone(StoreState& s, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  if (*domid == 0 || !s.domains.is_introduced(*domid))
    return Status::error(ENOENT, fmt::format("domain {} is not introduced", *domid));
  release_domain(s, r, *domid);
  r.summary =
      fmt::format("{}: domain {} is gone ({})", author(r), *domid, r.req.strings().strings(1));
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> cmd_domain_shut_down(StoreState& s, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  pb::DomainRecord* d = s.domains.find(*domid);
  if (*domid == 0 || d == nullptr || !d->introduced())
    return Status::error(ENOENT, fmt::format("domain {} is not introduced", *domid));
  const pb::DomainRecord before = *d;
  d->set_shutdown_reported(true);
  s.domains.save(s.ws, *domid);
  add_domain_changes(r.state_changes, *domid, &before, d);
  r.summary = fmt::format("{}: domain {} shut down", author(r), *domid);
  r.specials.push_back(kReleaseDomain);
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> cmd_resume(StoreState& s, Request& r) {
  Result<uint32_t> domid = first_domid(r);
  if (!domid) return domid.status();
  if (*domid == 0) return Status::error(EINVAL, "dom0 cannot be resumed");
  if (!s.domains.is_introduced(*domid))
    return Status::error(ENOENT, fmt::format("domain {} is not introduced", *domid));
  const std::optional<pb::DomainRecord> before = record_before(s, *domid);
  s.domains.find(*domid)->set_shutdown_reported(false);
  s.domains.save(s.ws, *domid);
  note_domain_change(s, r, *domid, before);
  // A commit even when no shutdown was reported: the resume is an event of the domain's
  // life (suspend, migration) an operator looks for.
  r.summary = fmt::format("{}: resume domain {}", author(r), *domid);
  r.force_commit = true;
  return kOkReply;
}

Result<std::string> cmd_set_target(StoreState& s, Request& r) {
  Result<uint32_t> domid = parse_domid(r.req.strings().strings(0));
  if (!domid) return domid.status();
  Result<uint32_t> target = parse_domid(r.req.strings().strings(1));
  if (!target) return target.status();
  if (!s.domains.is_introduced(*domid) || !s.domains.is_introduced(*target)) {
    return Status::error(ENOENT, "SET_TARGET needs two introduced domains");
  }
  const std::optional<pb::DomainRecord> before = record_before(s, *domid);
  pb::DomainRecord& d = s.domains.get_or_create(*domid);
  d.set_has_target(true);
  d.set_target(*target);
  s.domains.save(s.ws, *domid);
  note_domain_change(s, r, *domid, before);
  r.summary = fmt::format("{}: set the target of domain {} to {}", author(r), *domid, *target);
  r.force_commit = true;
  return kOkReply;
}

}  // namespace dxs::store
