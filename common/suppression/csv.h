// CSV import and export of suppression lists, in the formats users migrate from:
//   ses:     "email,reason" (header optional; reason BOUNCE|COMPLAINT, case-insensitive, or one of ours)
//   generic: "address,reason,scope,expires" (all but the address optional: reason manual, the default
//            scope, no expiry; expires: YYYY-MM-DD (midnight UTC), YYYY-MM-DDTHH:MM:SSZ, or a
//            duration from now such as 30d; scope as Scope::parse)
// Reading: RFC 4180 quoting (quoted fields may hold commas, doubled quotes and line breaks), CRLF or
// LF, blank lines and lines starting with '#' skipped, a first line naming the columns skipped.
// Built on the Store interface (transaction, add, scan): works with any implementation.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "suppression/model.h"
#include "suppression/normalize.h"
#include "suppression/store.h"
#include "util/result.h"

namespace rampart::suppress {

enum class CsvFormat { Ses, Generic };
struct ImportReport {
    size_t added = 0, updated = 0, unchanged = 0;
    std::vector<std::string> errors;  // "file:line: message"
};
// One transaction: a line with an error is reported and skipped, the others are imported; when the
// store itself fails, nothing is imported (counts 0) and the error says so. Source "import:BASENAME".
ImportReport importCsv(Store& store, std::istream& in, const std::string& fileName, CsvFormat format,
                       const Scope& defaultScope, const NormalizeOptions& norm, std::string_view who, int64_t now);
// Writes the entries not expired at `now`, in target order, with a header line. ses: global entries
// only (SES lists have no scopes), reasons BOUNCE and COMPLAINT where SES has them and ours otherwise.
// generic: every scope; expiries rounded up to the next day (YYYY-MM-DD), so a round trip never
// shortens one. Returns the number of entries written.
util::Result<size_t> exportCsv(const Store& store, std::ostream& out, CsvFormat format, int64_t now);

}  // namespace rampart::suppress
