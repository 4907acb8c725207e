// ListingCache: stamps decide validity; the byte budget bounds memory.
#include "store/listing_cache.h"

#include <doctest/doctest.h>

using dxs::store::ListingCache;

TEST_CASE("a listing is found only at the stamp it was made at") {
  ListingCache cache(1 << 20);
  CHECK(cache.find("/a", 5) == nullptr);
  cache.insert("/a", 5, std::string("x\0y\0", 4));
  REQUIRE(cache.find("/a", 5) != nullptr);
  CHECK(*cache.find("/a", 5) == std::string("x\0y\0", 4));
  // The node changed since: the entry is dropped, not returned.
  CHECK(cache.find("/a", 6) == nullptr);
  CHECK(cache.entries() == 0);
  CHECK(cache.find("/a", 5) == nullptr);
  CHECK(cache.bytes() == 0);
}

TEST_CASE("a newer listing of a path replaces the older one") {
  ListingCache cache(1 << 20);
  cache.insert("/a", 1, "old");
  cache.insert("/a", 2, "new");
  CHECK(cache.entries() == 1);
  REQUIRE(cache.find("/a", 2) != nullptr);
  CHECK(*cache.find("/a", 2) == "new");
}

TEST_CASE("the least recently used listings go first when the budget is reached") {
  ListingCache cache(8 * 1024);
  const std::string listing(600, 'n');  // each entry costs about 670 bytes
  for (int i = 0; i < 10; ++i) cache.insert("/d" + std::to_string(i), 1, listing);
  CHECK(cache.bytes() <= 8 * 1024);
  CHECK(cache.entries() == 10);
  cache.find("/d0", 1);  // used: now the most recent
  for (int i = 10; i < 14; ++i) cache.insert("/d" + std::to_string(i), 1, listing);
  CHECK(cache.bytes() <= 8 * 1024);
  CHECK(cache.find("/d0", 1) != nullptr);
  CHECK(cache.find("/d1", 1) == nullptr);
  CHECK(cache.find("/d13", 1) != nullptr);
}

TEST_CASE("a listing larger than an eighth of the budget is not kept") {
  ListingCache cache(8 * 1024);
  cache.insert("/big", 1, std::string(2000, 'n'));
  CHECK(cache.entries() == 0);
  CHECK(cache.find("/big", 1) == nullptr);
}
