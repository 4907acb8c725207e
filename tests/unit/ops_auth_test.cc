// store/ops_auth and ops_request_role: which caller gets which role, and a connection's
// caller surviving descriptor reuse.
#include "store/ops_auth.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/log.h"
#include "common/wire.h"
#include "store/ops_service.h"

using dxs::CapturingLogger;
using dxs::PeerCredentials;
using dxs::store::OpsAuth;
using dxs::store::OpsAuthOptions;
using dxs::store::OpsCaller;
using dxs::store::Role;

namespace {

OpsAuthOptions groups(gid_t read, gid_t admin) {
  OpsAuthOptions o;
  o.read_group = read;
  o.admin_group = admin;
  o.tls_admin = {"alice", "ops-bot"};
  o.tls_read = {"monitor"};
  return o;
}

PeerCredentials peer(uid_t uid, gid_t gid) {
  PeerCredentials p;
  p.pid = 1;
  p.uid = uid;
  p.gid = gid;
  return p;
}

dxs::pb::Request request(dxs::wire::MsgType type, std::vector<std::string> strings = {},
                         uint32_t tx = 0) {
  dxs::pb::Request r;
  r.set_type(dxs::wire::to_u32(type));
  r.set_tx_id(tx);
  for (auto& s : strings) r.mutable_strings()->add_strings(s);
  return r;
}

}  // namespace

TEST_CASE("a local peer's role: root and the store's user admin, then the groups, else none") {
  CapturingLogger log;
  OpsAuth auth(groups(4242, 4243), log);
  CHECK(auth.local_caller(peer(0, 0), {}).role == Role::kAdmin);
  CHECK(auth.local_caller(peer(geteuid(), 7), {}).role == Role::kAdmin);
  CHECK(auth.local_caller(peer(1000, 1000), {4243}).role == Role::kAdmin);
  CHECK(auth.local_caller(peer(1000, 4243), {}).role == Role::kAdmin);
  CHECK(auth.local_caller(peer(1000, 1000), {10, 4242}).role == Role::kRead);
  CHECK(auth.local_caller(peer(1000, 4242), {}).role == Role::kRead);
  CHECK(auth.local_caller(peer(1000, 1000), {10, 20}).role == Role::kNone);
  CHECK(auth.local_caller(peer(1000, 1000), {}).identity == "uid 1000");
  // No groups configured: only root and the store's user.
  OpsAuth bare(OpsAuthOptions{}, log);
  CHECK(bare.local_caller(peer(1000, 4242), {4243}).role == Role::kNone);
}

TEST_CASE("a certificate's role comes from its CN or a SAN; admin wins; unknown names none") {
  CapturingLogger log;
  OpsAuth auth(groups(4242, 4243), log);
  CHECK(auth.certificate_caller({"alice"}, "alice").role == Role::kAdmin);
  CHECK(auth.certificate_caller({"alice"}, "alice").identity == "cert CN=alice");
  CHECK(auth.certificate_caller({"x", "monitor"}, "x").role == Role::kRead);
  CHECK(auth.certificate_caller({"monitor", "ops-bot"}, "monitor").role == Role::kAdmin);
  CHECK(auth.certificate_caller({"mallory"}, "mallory").role == Role::kNone);
  // Names are matched whole: no prefix or case folding.
  CHECK(auth.certificate_caller({"alice2", "Alice"}, "alice2").role == Role::kNone);
}

TEST_CASE("a connection is never placed on a number another caller's calls may still name") {
  CapturingLogger log;
  OpsAuth auth(groups(4242, 4243), log);
  const OpsCaller reader{Role::kRead, "uid 1000"};
  const OpsCaller admin{Role::kAdmin, "uid 0"};
  int a[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
  const int first = auth.place(a[0], reader);
  CHECK(first == a[0]);
  CHECK(auth.placed_at(first) == reader);
  // gRPC closes the reader's connection; the kernel hands its number to the next one.
  close(first);
  close(a[1]);
  int b[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
  REQUIRE(b[0] == first);
  const int second = auth.place(b[0], admin);
  CHECK(second != first);
  CHECK(auth.placed_at(first) == reader);  // a late call of the reader's is still the reader's
  CHECK(auth.placed_at(second) == admin);
  // The connection moved, whole: what the peer sends arrives on the new number.
  REQUIRE(write(b[1], "x", 1) == 1);
  char c = 0;
  CHECK(read(second, &c, 1) == 1);
  CHECK(c == 'x');
  CHECK(fcntl(first, F_GETFD) == -1);  // the accepted number was closed
  // The same caller may reuse its own number.
  int d[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, d) == 0);
  REQUIRE(d[0] == first);
  CHECK(auth.place(d[0], reader) == first);
  close(first);
  close(d[1]);
  close(second);
  close(b[1]);
}

TEST_CASE("the role each Xenstore request needs over the Ops API") {
  using dxs::store::ops_request_role;
  using T = dxs::wire::MsgType;
  for (T t : {T::kRead, T::kDirectory, T::kDirectoryPart, T::kGetPerms, T::kGetDomainPath,
              T::kIsDomainIntroduced}) {
    CHECK(ops_request_role(request(t)) == Role::kRead);
    CHECK(ops_request_role(request(t, {}, 5)) == Role::kAdmin);  // in a transaction
  }
  for (T t : {T::kWrite, T::kMkdir, T::kRm, T::kSetPerms, T::kWatch, T::kTransactionStart,
              T::kTransactionEnd, T::kIntroduce, T::kRelease, T::kResume, T::kSetTarget,
              T::kResetWatches}) {
    CHECK(ops_request_role(request(t)) == Role::kAdmin);
  }
  CHECK(ops_request_role(request(T::kControl, {"help"})) == Role::kRead);
  CHECK(ops_request_role(request(T::kControl, {"quota"})) == Role::kRead);
  CHECK(ops_request_role(request(T::kControl, {"quota", "7"})) == Role::kRead);
  CHECK(ops_request_role(request(T::kControl, {"quota", "set"})) == Role::kAdmin);
  CHECK(ops_request_role(request(T::kControl, {"quota", "set", "nodes", "1"})) == Role::kAdmin);
  CHECK(ops_request_role(request(T::kControl, {"log", "debug"})) == Role::kAdmin);
  CHECK(ops_request_role(request(T::kControl, {"check"})) == Role::kAdmin);
  CHECK(ops_request_role(request(T::kControl, {})) == Role::kAdmin);
}

TEST_CASE("groups by name or number; the overflow group is refused") {
  using dxs::store::resolve_group;
  CHECK(resolve_group("0").value() == 0u);
  CHECK(resolve_group("4242").value() == 4242u);
  CHECK(resolve_group("root").value() == 0u);
  CHECK(resolve_group("no-such-group-dxs").status().err() == ENOENT);
  CHECK(resolve_group("65534").status().err() == EINVAL);
}

TEST_CASE("identity lists: comma-separated, blanks trimmed, empties dropped") {
  CHECK(dxs::store::identity_list("alice, ops-bot ,,monitor") ==
        std::set<std::string>{"alice", "ops-bot", "monitor"});
  CHECK(dxs::store::identity_list("").empty());
}
