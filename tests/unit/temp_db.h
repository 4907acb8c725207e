// TempDb: a real store::Db in a fresh mkdtemp directory, removed afterwards, for the
// unit tests of the store's modules (no Engine, no mocks of RocksDB).
#pragma once

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/log.h"
#include "store/db.h"

namespace dxs::testing {

class TempDb {
 public:
  TempDb() {
    const char* base = std::getenv("DXS_TEST_TMP");
    std::string tmpl = std::string(base ? base : "/tmp") + "/dxs-unit.XXXXXX";
    char* made = mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    dir_ = made;
    open();
  }
  ~TempDb() {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;

  store::Db& db() { return *db_; }
  // Closes the database and opens it again on the same directory: what survives is what
  // was committed to RocksDB.
  void reopen() {
    db_.reset();
    open();
  }
  // RocksDB's last sequence number: it grows by one per Put or Delete written, so the
  // difference across a commit is the number of writes the commit's batch held.
  uint64_t last_sequence() { return db_->raw()->GetLatestSequenceNumber(); }
  const std::string& dir() const { return dir_; }

 private:
  void open() {
    store::DbOptions options;
    options.dir = dir_ + "/state";
    auto db = store::Db::open(options, log_);
    REQUIRE(db.is_ok());
    db_ = std::move(db.value());
  }

  std::string dir_;
  CapturingLogger log_;
  std::unique_ptr<store::Db> db_;
};

}  // namespace dxs::testing
