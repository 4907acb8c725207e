// common/perms: parsing one "<letter><domid>" entry strictly, and formatting entries and
// lists (reference §3.1, §5.2 item 3).
//
// dxs is deliberately stricter than C xenstored 4.17, whose xs_strings_to_perms() reads
// the domid with strtol(p, &end, 0) into an unsigned int: C takes hex ("r0x10" = 16),
// octal ("w010" = 8), leading blanks and signs ("r 5", "r+5", "r-1" = 0xffffffff) and
// silently truncates values over 32 bits. It does refuse an empty domid ("r") and
// trailing junk ("r5x"), as dxs does. Each test below names the C answer where it differs.
#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "common/perms.h"

using dxs::format_perm;
using dxs::format_perms;
using dxs::format_perms_payload;
using dxs::kAccessBoth;
using dxs::kAccessNone;
using dxs::kAccessRead;
using dxs::kAccessWrite;
using dxs::kMaxDomid;
using dxs::parse_perm;
using dxs::PermEntry;
using dxs::Perms;

namespace {

using namespace std::string_literals;

PermEntry parsed(std::string_view s) {
  auto r = parse_perm(s);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return r.value();
}

int parse_err(std::string_view s) {
  return parse_perm(s).err();
}

}  // namespace

TEST_CASE("parse_perm reads the four letters") {
  CHECK(parsed("n0") == PermEntry{0, kAccessNone});
  CHECK(parsed("r5") == PermEntry{5, kAccessRead});
  CHECK(parsed("w7") == PermEntry{7, kAccessWrite});
  CHECK(parsed("b12") == PermEntry{12, kAccessBoth});
  CHECK(kAccessBoth == (kAccessRead | kAccessWrite));
}

TEST_CASE("parse_perm accepts every domid up to 65535") {
  CHECK(kMaxDomid == 65535);
  CHECK(parsed("b65535") == PermEntry{65535, kAccessBoth});
  CHECK(parsed("r32752") == PermEntry{32752, kAccessRead});  // DOMID_SELF: only a number here
  CHECK(parsed("n9") == PermEntry{9, kAccessNone});
}

TEST_CASE("parse_perm refuses a domid over 65535") {
  // C: accepted as an unsigned int (domain_alloc_permrefs then finds no such domain).
  CHECK(parse_err("n65536") == EINVAL);
  CHECK(parse_err("r99999") == EINVAL);
  // C: strtol gives 99999999999, truncated to 1215752191 in the unsigned int id.
  CHECK(parse_err("r99999999999") == EINVAL);
  CHECK(parse_err("r4294967296") == EINVAL);
  CHECK(parse_err("r4294967295") == EINVAL);
  CHECK(parse_perm("n65536").status().detail() == "domid too large in 'n65536'");
}

TEST_CASE("parse_perm refuses a missing or unknown letter") {
  CHECK(parse_err("") == EINVAL);    // C: EINVAL too
  CHECK(parse_err("x5") == EINVAL);  // C: EINVAL too
  CHECK(parse_err("R5") == EINVAL);  // letters are lower case only, as in C
  CHECK(parse_err("N0") == EINVAL);
  CHECK(parse_err("B1") == EINVAL);
  CHECK(parse_err("5") == EINVAL);
  CHECK(parse_err("55") == EINVAL);
  CHECK(parse_err("rw5") == EINVAL);
  CHECK(parse_err(" r5") == EINVAL);
  CHECK(parse_err("\0r5"s) == EINVAL);
  CHECK(parse_perm("x5").status().detail() == "bad permission letter in 'x5'");
}

TEST_CASE("parse_perm refuses a letter without a domid") {
  // C 4.17 refuses these too (`!*p` after the letter); earlier versions read them as 0.
  for (std::string_view s : {"r", "w", "b", "n"}) {
    CAPTURE(s);
    CHECK(parse_err(s) == EINVAL);
  }
  CHECK(parse_perm("r").status().detail() == "bad permission 'r'");
}

TEST_CASE("parse_perm takes decimal digits only") {
  // Each of these C's strtol(base 0) accepts: the value it gives is in the comment.
  CHECK(parse_err("r-1") == EINVAL);    // C: 0xffffffff
  CHECK(parse_err("r+5") == EINVAL);    // C: 5
  CHECK(parse_err("r 5") == EINVAL);    // C: 5 (leading blank skipped)
  CHECK(parse_err("r\t5") == EINVAL);   // C: 5
  CHECK(parse_err("r0x10") == EINVAL);  // C: 16
  CHECK(parse_err("r0X1f") == EINVAL);  // C: 31
  CHECK(parse_err("r-0") == EINVAL);    // C: 0
  CHECK(parse_perm("r-1").status().detail() == "bad domid in 'r-1'");
  // Refused by C too (trailing junk).
  CHECK(parse_err("r5x") == EINVAL);
  CHECK(parse_err("r5 ") == EINVAL);
  CHECK(parse_err("r1.0") == EINVAL);
  CHECK(parse_err("r1e3") == EINVAL);
  CHECK(parse_err("r5\0"s) == EINVAL);  // C never sees this: the NUL ends the string
  CHECK(parse_err("r\0"s) == EINVAL);
  CHECK(parse_err("r\xd9\xa3") == EINVAL);  // ARABIC-INDIC DIGIT THREE
}

TEST_CASE("parse_perm refuses leading zeros") {
  // C reads a leading 0 as octal ("w010" is dom8 there) and refuses "w08"; reading it as
  // decimal would silently name another domain, so dxs refuses it. Real clients
  // (xs_perm_to_string: "%c%i") never send leading zeros.
  CHECK(parsed("r0") == PermEntry{0, kAccessRead});
  CHECK(parse_err("w007") == EINVAL);    // C: 7
  CHECK(parse_err("w010") == EINVAL);    // C: 8
  CHECK(parse_err("w08") == EINVAL);     // C: EINVAL
  CHECK(parse_err("r00000") == EINVAL);  // C: 0
  CHECK(parse_err("b00009") == EINVAL);  // C: EINVAL (9 is not octal)
  CHECK(parse_err("r000000") == EINVAL);
  CHECK(parse_err("b065535") == EINVAL);  // C: octal 065535 = 27485
}

TEST_CASE("format_perm writes <letter><decimal domid>") {
  CHECK(format_perm({0, kAccessNone}) == "n0");
  CHECK(format_perm({5, kAccessRead}) == "r5");
  CHECK(format_perm({7, kAccessWrite}) == "w7");
  CHECK(format_perm({65535, kAccessBoth}) == "b65535");
  // Only the low two bits name the access.
  CHECK(format_perm({1, static_cast<uint8_t>(4 | kAccessRead)}) == "r1");
  CHECK(format_perm({1, 0xFF}) == "b1");
  // Out-of-range domids are written as they are (nothing parsed produces them).
  CHECK(format_perm({70000, kAccessRead}) == "r70000");
}

TEST_CASE("format_perm and parse_perm round-trip") {
  for (uint32_t domid : {0u, 1u, 9u, 10u, 99u, 100u, 32752u, 65534u, 65535u}) {
    for (uint8_t access : {kAccessNone, kAccessRead, kAccessWrite, kAccessBoth}) {
      PermEntry e{domid, access};
      CAPTURE(domid);
      CAPTURE(static_cast<int>(access));
      CHECK(parsed(format_perm(e)) == e);
    }
  }
}

TEST_CASE("format_perms and format_perms_payload") {
  const Perms perms = {{0, kAccessNone}, {7, kAccessRead}, {3, kAccessBoth}};
  CHECK(format_perms(perms) == "n0 r7 b3");
  CHECK(format_perms_payload(perms) == "n0\0r7\0b3\0"s);
  CHECK(format_perms({{5, kAccessWrite}}) == "w5");
  CHECK(format_perms_payload({{5, kAccessWrite}}) == "w5\0"s);
  CHECK(format_perms({}) == "");
  CHECK(format_perms_payload({}) == "");
  // Duplicates are formatted as given: deduplication is not the formatter's business.
  CHECK(format_perms({{1, kAccessRead}, {1, kAccessRead}}) == "r1 r1");
}
