// util::editDistance: the Levenshtein distance behind "did you mean ...?" hints.
#include "util/edit_distance.h"

#include <catch2/catch.hpp>

using rampart::util::editDistance;

TEST_CASE("editDistance counts insertions, deletions and substitutions", "[edit_distance]") {
    CHECK(editDistance("", "") == 0);
    CHECK(editDistance("same", "same") == 0);
    CHECK(editDistance("", "abc") == 3);
    CHECK(editDistance("abc", "") == 3);
    CHECK(editDistance("kitten", "sitting") == 3);
    CHECK(editDistance("flaw", "lawn") == 2);
    CHECK(editDistance("dns_timout", "dns_timeout") == 1);    // a letter left out
    CHECK(editDistance("dns_timeeout", "dns_timeout") == 1);  // a letter too many
    CHECK(editDistance("dns_tineout", "dns_timeout") == 1);   // a letter wrong
    CHECK(editDistance("ab", "ba") == 2);                     // a swap is two edits
}

TEST_CASE("editDistance is symmetric and case-sensitive", "[edit_distance]") {
    CHECK(editDistance("mailbox", "sender_domain") == editDistance("sender_domain", "mailbox"));
    CHECK(editDistance("Provider", "provider") == 1);
}
