// RecordCache: a byte-bounded LRU of committed values.
#include "store/record_cache.h"

#include <doctest/doctest.h>

#include <string>

using dxs::store::RecordCache;

TEST_CASE("RecordCache: what is inserted is found, replaced, erased and cleared") {
  RecordCache cache(1 << 20);
  CHECK(cache.find("/a") == nullptr);
  cache.insert("/a", "one");
  REQUIRE(cache.find("/a") != nullptr);
  CHECK(*cache.find("/a") == "one");
  cache.insert("/a", "two");
  CHECK(*cache.find("/a") == "two");
  CHECK(cache.size() == 1);
  cache.insert("/b", "");
  REQUIRE(cache.find("/b") != nullptr);
  CHECK(**cache.find("/b") == "");
  cache.erase("/a");
  CHECK(cache.find("/a") == nullptr);
  CHECK(cache.size() == 1);
  cache.clear();
  CHECK(cache.find("/b") == nullptr);
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
}

TEST_CASE("RecordCache: a key known to be absent is cached as such, charged its key") {
  RecordCache cache(1 << 20);
  cache.insert_absent("/gone");
  REQUIRE(cache.find("/gone") != nullptr);
  CHECK_FALSE(cache.find("/gone")->has_value());
  CHECK(cache.bytes() == 5 + 200);
  cache.insert("/gone", "back");
  CHECK(*cache.find("/gone") == "back");
  cache.insert_absent("/gone");
  CHECK_FALSE(cache.find("/gone")->has_value());
  CHECK(cache.size() == 1);
  cache.erase("/gone");
  CHECK(cache.find("/gone") == nullptr);
  CHECK(cache.bytes() == 0);
}

TEST_CASE("RecordCache: the budget holds, and the least recently used go first") {
  const std::string value(1000, 'v');
  RecordCache cache(10 * 1200);
  for (int i = 0; i < 100; ++i) {
    cache.insert("/k" + std::to_string(i), value);
    CHECK(cache.bytes() <= 10 * 1200);
  }
  CHECK(cache.size() >= 9);
  CHECK(cache.size() <= 11);
  CHECK(cache.find("/k99") != nullptr);
  CHECK(cache.find("/k0") == nullptr);

  // A lookup makes an entry the most recent: it outlives those inserted before it.
  const size_t n = cache.size();
  const std::string oldest = "/k" + std::to_string(100 - n);
  REQUIRE(cache.find(oldest) != nullptr);
  cache.insert("/new", value);
  CHECK(cache.find(oldest) != nullptr);
  CHECK(cache.find("/k" + std::to_string(101 - n)) == nullptr);
}

TEST_CASE("RecordCache: a record larger than the budget is not cached, and evicts nothing") {
  RecordCache cache(4096);
  cache.insert("/small", "x");
  cache.insert("/huge", std::string(8192, 'h'));
  CHECK(cache.find("/huge") == nullptr);
  CHECK(cache.find("/small") != nullptr);
  // Replacing a cached key with a value too large drops the old value too.
  cache.insert("/small", std::string(8192, 'h'));
  CHECK(cache.find("/small") == nullptr);
  CHECK(cache.bytes() == 0);
}
