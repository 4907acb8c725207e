// ConflictGuard (store/conflict_guard.h): who waits for whom, and when guards lift.
#include "store/conflict_guard.h"

#include <doctest/doctest.h>

using dxs::store::ConflictGuard;
using dxs::store::ConflictGuardOptions;
using dxs::store::kSeenChildren;
using dxs::store::kSeenNode;
using dxs::store::kSeenPerms;
using dxs::store::Observed;
using dxs::store::PlannedChange;
using Reach = PlannedChange::Reach;

namespace {

constexpr uint64_t kA = 10, kB = 11, kC = 12;

// A guard for conn's transaction tx (begun at `now`) on `seen`.
void guard(ConflictGuard& g, uint64_t conn, uint32_t tx, std::vector<Observed> seen,
           bool privileged = true, int64_t now = 0) {
  g.lost(conn, privileged, seen);
  g.lost(conn, privileged, seen);
  REQUIRE(g.began(conn, tx, now));
}

// Values (and so permissions and existence) seen at each of `paths`.
std::vector<Observed> nodes(std::initializer_list<const char*> paths) {
  std::vector<Observed> out;
  for (const char* p : paths) out.push_back({p, kSeenNode});
  return out;
}

bool waits(const ConflictGuard& g, uint64_t conn, std::string path, Reach reach,
           bool privileged = true) {
  return g.must_wait(conn, privileged, {PlannedChange{std::move(path), reach}});
}

}  // namespace

TEST_CASE("a change waits when it can alter what the guarded transaction observed") {
  ConflictGuard g;
  guard(g, kA, 1,
        {{"/vm/7/state", kSeenNode}, {"/vm/7/device", kSeenChildren}, {"/vm/7/perm", kSeenPerms}});
  CHECK(waits(g, kB, "/vm/7/state", Reach::kValue));
  CHECK(waits(g, kB, "/vm/7/state", Reach::kPerms));
  CHECK_FALSE(waits(g, kB, "/vm/7/other", Reach::kValue));
  CHECK_FALSE(waits(g, kB, "/vm/7", Reach::kValue));
  // Permissions seen: a value written there changes nothing it saw; permissions do.
  CHECK_FALSE(waits(g, kB, "/vm/7/perm", Reach::kValue));
  CHECK(waits(g, kB, "/vm/7/perm", Reach::kPerms));
  // A listing seen: its value is not, its children are.
  CHECK_FALSE(waits(g, kB, "/vm/7/device", Reach::kValue));
  CHECK(waits(g, kB, "/vm/7/device/vif", Reach::kCreate));
  CHECK(waits(g, kB, "/vm/7/device/vif/0/state", Reach::kCreate));
  CHECK_FALSE(waits(g, kB, "/vm/8/device", Reach::kCreate));
  CHECK_FALSE(waits(g, kB, "/vm/7/state/below", Reach::kCreate));  // a value seen, not a listing
  // Writing an existing node below it does not.
  CHECK_FALSE(waits(g, kB, "/vm/7/device/vif", Reach::kValue));
  // Removing it, an ancestor, or a child of a listing it read does.
  CHECK(waits(g, kB, "/vm", Reach::kRemove));
  CHECK(waits(g, kB, "/vm/7/device/vif", Reach::kRemove));
  CHECK(waits(g, kB, "/", Reach::kRemove));
  CHECK_FALSE(waits(g, kB, "/vm/7/statex", Reach::kRemove));
  CHECK_FALSE(waits(g, kB, "/vm/8", Reach::kRemove));
  // Its own connection never waits for it.
  CHECK_FALSE(waits(g, kA, "/vm/7/state", Reach::kValue));
  // What it observes from now on is guarded too.
  CHECK_FALSE(waits(g, kB, "/vm/7/name", Reach::kValue));
  g.observed(kA, 1, "/vm/7/name", kSeenNode);
  CHECK(waits(g, kB, "/vm/7/name", Reach::kValue));
  g.observed(kA, 2, "/vm/7/other", kSeenNode);  // not the guarded transaction
  CHECK_FALSE(waits(g, kB, "/vm/7/other", Reach::kValue));
}

TEST_CASE("a guard needs `losses` lost commits in a row, and lifts when its transaction ends") {
  ConflictGuard g(ConflictGuardOptions{3, 1000});
  g.lost(kA, true, nodes({"/k"}));
  g.lost(kA, true, nodes({"/k"}));
  CHECK_FALSE(g.began(kA, 1, 0));
  g.lost(kA, true, nodes({"/k"}));
  CHECK(g.began(kA, 2, 0));
  CHECK(g.any_guarded());
  CHECK_FALSE(g.began(kA, 3, 0));  // one guarded transaction per connection
  const uint64_t lifted = g.lifted();
  g.ended(kA, 3);
  CHECK(g.is_guarded(kA, 2));
  g.ended(kA, 2);
  CHECK_FALSE(g.any_guarded());
  CHECK(g.lifted() == lifted + 1);
  CHECK_FALSE(g.began(kA, 4, 0));  // spent: the next guard needs another loss
  g.lost(kA, true, nodes({"/k"}));
  CHECK(g.began(kA, 5, 0));
  g.won(kA);
  CHECK_FALSE(g.any_guarded());
  g.lost(kA, true, nodes({"/k"}));
  CHECK_FALSE(g.began(kA, 6, 0));  // a win starts the count afresh

  ConflictGuard never(ConflictGuardOptions{0, 1000});
  for (int i = 0; i < 10; ++i) never.lost(kA, true, nodes({"/k"}));
  CHECK_FALSE(never.began(kA, 1, 0));
}

TEST_CASE("an unprivileged guard holds up the unprivileged only") {
  ConflictGuard g;
  guard(g, kA, 1, nodes({"/local/domain/7/x"}), /*privileged=*/false);
  CHECK(waits(g, kB, "/local/domain/7/x", Reach::kValue, /*privileged=*/false));
  CHECK_FALSE(waits(g, kB, "/local/domain/7/x", Reach::kValue, /*privileged=*/true));
}

TEST_CASE("guarded connections wait for older guards only") {
  ConflictGuard g;
  guard(g, kA, 1, nodes({"/a", "/shared"}));
  guard(g, kB, 1, nodes({"/b", "/shared"}));
  CHECK(waits(g, kB, "/a", Reach::kValue));        // B is younger: waits for A
  CHECK_FALSE(waits(g, kA, "/b", Reach::kValue));  // A never waits for B
  CHECK_FALSE(waits(g, kA, "/shared", Reach::kValue));
  CHECK(waits(g, kC, "/b", Reach::kValue));
  g.ended(kA, 1);
  CHECK_FALSE(waits(g, kB, "/a", Reach::kValue));
}

TEST_CASE("guards lift by themselves after their hold") {
  ConflictGuard g(ConflictGuardOptions{1, 100});
  g.lost(kA, true, nodes({"/a"}));
  REQUIRE(g.began(kA, 1, 1000));
  g.lost(kB, true, nodes({"/b"}));
  REQUIRE(g.began(kB, 1, 1050));
  CHECK(g.next_expiry() == 1100);
  CHECK_FALSE(g.expire(1099));
  CHECK(g.expire(1100));
  CHECK_FALSE(g.is_guarded(kA, 1));
  CHECK(g.is_guarded(kB, 1));
  CHECK(g.next_expiry() == 1150);
  CHECK(g.expire(5000));
  CHECK_FALSE(g.next_expiry().has_value());
  CHECK_FALSE(g.any_guarded());
}

TEST_CASE("a guard remembers a bounded number of paths") {
  ConflictGuard g;
  std::vector<Observed> many;
  for (size_t i = 0; i < ConflictGuard::kMaxPaths + 100; ++i) {
    many.push_back({"/p/" + std::to_string(i), kSeenNode});
  }
  guard(g, kA, 1, many);
  size_t held = 0;
  for (const Observed& o : many) held += waits(g, kB, o.path, Reach::kValue) ? 1 : 0;
  CHECK(held == ConflictGuard::kMaxPaths);
}

TEST_CASE("a guarded connection that loses again keeps its place before younger guards") {
  ConflictGuard g;
  guard(g, kA, 1, nodes({"/shared"}));
  guard(g, kB, 1, nodes({"/shared"}));
  // A loses anyway (it read something new) and tries again: still older than B.
  g.lost(kA, true, nodes({"/shared"}));
  g.ended(kA, 1);
  REQUIRE(g.began(kA, 2, 0));
  CHECK(waits(g, kB, "/shared", Reach::kValue));
  CHECK_FALSE(waits(g, kA, "/shared", Reach::kValue));
  // Once it wins it starts afresh, behind B.
  g.won(kA);
  guard(g, kA, 3, nodes({"/shared"}));
  CHECK(waits(g, kA, "/shared", Reach::kValue));
  CHECK_FALSE(waits(g, kB, "/shared", Reach::kValue));
}

TEST_CASE("a guard that lifts without a new loss forgets its paths; one re-armed keeps them") {
  ConflictGuard g(ConflictGuardOptions{1, 1000});
  g.lost(kA, true, nodes({"/first"}));
  REQUIRE(g.began(kA, 1, 0));
  g.observed(kA, 1, "/seen-while-guarded", kSeenNode);
  // It loses again: the next guard holds both what it had and what it saw since.
  g.lost(kA, true, nodes({"/second"}));
  g.ended(kA, 1);
  REQUIRE(g.began(kA, 2, 0));
  CHECK(waits(g, kB, "/first", Reach::kValue));
  CHECK(waits(g, kB, "/seen-while-guarded", Reach::kValue));
  CHECK(waits(g, kB, "/second", Reach::kValue));
  // Abandoned: nothing is armed, and a guard given later holds only the new loss's paths.
  g.ended(kA, 2);
  g.lost(kA, true, nodes({"/third"}));
  REQUIRE(g.began(kA, 3, 0));
  CHECK_FALSE(waits(g, kB, "/first", Reach::kValue));
  CHECK(waits(g, kB, "/third", Reach::kValue));
}
