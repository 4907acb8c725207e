// Privacy (store/privacy.h): private paths' patterns, and history that keeps a private
// value only while a reader may still read it, then only its digest.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine_fixture.h"
#include "store/privacy.h"

using dxs::testing::args;
using dxs::testing::EngineFixture;
using dxs::wire::MsgType;
namespace store = dxs::store;

namespace {

store::PrivatePaths paths(std::string_view list) {
  auto p = store::PrivatePaths::parse(list);
  REQUIRE(p.is_ok());
  return std::move(p.value());
}

store::EngineOptions private_options() {
  store::EngineOptions options;
  options.private_paths = paths("/local/domain/*/data/* /local/domain/*/vm-data/**");
  return options;
}

// History's upkeep once conn's last change is no longer a recorded reply's: that
// reply's base is the commit before the change, which a read re-sent from before it
// would be answered at (retention.h), so it holds the value the change superseded.
void settle(EngineFixture& f, uint64_t conn) {
  f.write(conn, "/settled", "");
  for (int i = 0; i < 1000 && f.engine().maintain(); ++i) {
  }
}

// Where in history (cf versions and cf commits) the bytes are, as "cf key" lines.
std::vector<std::string> in_history(store::Db& db, std::string_view bytes) {
  std::vector<std::string> found;
  for (store::Cf cf : {store::Cf::kVersions, store::Cf::kCommits}) {
    auto it = db.iterate(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->value().ToString().find(bytes) != std::string::npos ||
          it->key().ToString().find(bytes) != std::string::npos) {
        found.push_back(std::to_string(static_cast<int>(cf)) + " " + it->key().ToString());
      }
    }
  }
  return found;
}

std::vector<dxs::pb::NodeRecord> versions_of(store::Db& db, std::string_view path) {
  std::vector<dxs::pb::NodeRecord> out;
  const std::string prefix = store::keys::versions_prefix(path);
  auto it = db.iterate(store::Cf::kVersions, prefix);
  for (it->Seek(prefix); it->Valid() && store::keys::starts_with(it->key(), prefix); it->Next()) {
    if (!store::keys::is_version_of(it->key().ToString(), prefix)) continue;
    dxs::pb::NodeRecord r;
    REQUIRE(r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())));
    out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_CASE("private path patterns: wildcards within a component, ** for everything below") {
  const store::PrivatePaths p = paths("/local/domain/*/data/*, /local/domain/*/vm-data/**");
  CHECK(p.matches("/local/domain/7/data/secret"));
  CHECK(p.matches("/local/domain/12/data/x"));
  CHECK_FALSE(p.matches("/local/domain/7/data"));
  CHECK_FALSE(p.matches("/local/domain/7/data/secret/below"));
  CHECK_FALSE(p.matches("/local/domain/7/name"));
  CHECK(p.matches("/local/domain/7/vm-data/a"));
  CHECK(p.matches("/local/domain/7/vm-data/a/b/c"));
  CHECK_FALSE(p.matches("/local/domain/7/vm-data"));
  CHECK_FALSE(p.matches("/local/domain/7/vm-datax/a"));
  CHECK_FALSE(p.matches("@introduceDomain"));
  CHECK(p.text() == "/local/domain/*/data/* /local/domain/*/vm-data/**");

  CHECK(paths("/**").matches("/a"));
  CHECK_FALSE(paths("/**").matches("/"));
  CHECK(paths("/a/b?/[0-9]").matches("/a/bc/7"));
  CHECK(paths("").empty());
  for (const char* bad : {"local/x", "/a//b", "/a/", "/a/**/b", "/a**"}) {
    INFO(bad);
    CHECK_FALSE(store::PrivatePaths::parse(bad).is_ok());
  }
}

TEST_CASE("a private value overwritten leaves only its digest in history") {
  EngineFixture f(private_options());
  const uint64_t c = f.open_socket();
  const std::string path = "/local/domain/7/data/pw";
  f.write(c, path, "first-secret");
  f.write(c, "/local/domain/7/name", "public-name");
  settle(f, c);
  // The latest version is the live node: it holds the value.
  CHECK(in_history(f.db(), "first-secret").size() == 1);

  f.write(c, path, "second-secret");
  f.write(c, "/local/domain/7/name", "public-name-2");
  settle(f, c);
  CHECK(in_history(f.db(), "first-secret").empty());
  CHECK(in_history(f.db(), "second-secret").size() == 1);
  CHECK(f.read(c, path) == "second-secret");
  // Public values stay whole.
  CHECK_FALSE(in_history(f.db(), "public-name").empty());

  const auto versions = versions_of(f.db(), path);
  REQUIRE(versions.size() == 2);
  CHECK_FALSE(versions[0].redacted());
  CHECK(versions[0].value() == "second-secret");
  CHECK(versions[1].redacted());
  CHECK(versions[1].value().empty());
  CHECK(versions[1].value_digest().size() == 32);

  // The digest shows a change, and a value written again.
  f.write(c, path, "first-secret");
  f.write(c, path, "third");
  settle(f, c);
  const auto later = versions_of(f.db(), path);
  REQUIRE(later.size() == 4);
  CHECK(later[1].value_digest() == later[3].value_digest());
  CHECK(later[1].value_digest() != later[2].value_digest());

  // Summaries name the path and the size, never the value.
  bool summarised = false;
  for (const auto& [seq, rec] : f.commits()) {
    CHECK(rec.summary().find("secret") == std::string::npos);
    if (rec.summary() == "dom0: write /local/domain/7/data/pw = <private, 13 bytes>")
      summarised = true;
  }
  CHECK(summarised);

  // Removed: the last value goes from history too.
  f.ok(c, MsgType::kRm, args({path}));
  settle(f, c);
  CHECK(in_history(f.db(), "third").empty());
}

TEST_CASE("a transaction opened before a private value changed still reads it, then fails") {
  EngineFixture f(private_options());
  const uint64_t a = f.open_socket();
  const uint64_t b = f.open_socket();
  const std::string path = "/local/domain/7/vm-data/key/inner";
  f.write(a, path, "old-secret");
  const uint32_t t = f.start(a);
  f.write(b, path, "new-secret");
  settle(f, b);
  settle(f, a);
  // The transaction may still read it: it stays, whole, until the transaction ends.
  CHECK(in_history(f.db(), "old-secret").size() == 1);
  CHECK(f.read(a, path, t) == "old-secret");
  f.write(a, "/local/domain/7/written-in-txn", "", t);
  CHECK(f.commit(a, t) == "EAGAIN");
  settle(f, a);
  CHECK(in_history(f.db(), "old-secret").empty());
  CHECK(f.read(a, path) == "new-secret");
}

TEST_CASE("a transaction's private writes are redacted in its branch commit") {
  EngineFixture f(private_options());
  const uint64_t a = f.open_socket();
  const uint32_t t = f.start(a);
  f.write(a, "/local/domain/3/data/clip", "clipboard-bytes", t);
  f.write(a, "/local/domain/3/other", "plain-bytes", t);
  CHECK(f.commit(a, t) == "");
  // The merge's version is the live node; the branch commit has the digest only.
  CHECK(in_history(f.db(), "clipboard-bytes").size() == 1);
  CHECK(in_history(f.db(), "plain-bytes").size() == 2);
  bool branch = false;
  for (const auto& [seq, rec] : f.commits()) {
    if (rec.on_main()) continue;
    for (const auto& ch : rec.changes()) {
      if (ch.path() != "/local/domain/3/data/clip") continue;
      branch = true;
      CHECK(ch.after().redacted());
      CHECK(ch.after().value_digest().size() == 32);
    }
  }
  CHECK(branch);
}

TEST_CASE("the digest key is made once and kept; patterns added later redact old history") {
  EngineFixture f;  // no private paths: no key
  const uint64_t c = f.open_socket();
  f.write(c, "/local/domain/9/data/pw", "kept-while-public");
  f.write(c, "/local/domain/9/data/pw", "now");
  settle(f, c);
  CHECK(in_history(f.db(), "kept-while-public").size() == 2);  // a version, a summary
  std::string key;
  CHECK_FALSE(f.db().get(store::Cf::kMeta, store::meta::kPrivacyKey, &key));

  f.restart(private_options());
  REQUIRE(f.db().get(store::Cf::kMeta, store::meta::kPrivacyKey, &key));
  CHECK(key.size() == 32);
  settle(f, c);
  // The version is redacted; the summary written before the pattern keeps its words.
  CHECK(in_history(f.db(), "kept-while-public").size() == 1);
  CHECK(versions_of(f.db(), "/local/domain/9/data/pw")[1].redacted());

  f.restart();
  std::string again;
  REQUIRE(f.db().get(store::Cf::kMeta, store::meta::kPrivacyKey, &again));
  CHECK(again == key);
}
