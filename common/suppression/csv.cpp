// CSV import and export of suppression lists: an RFC 4180 record reader (quotes, CRLF, comments,
// a byte order mark), SES and generic columns, per-line errors with line numbers, one transaction per
// import, and an export that round-trips through the import.
#include "suppression/csv.h"

#include <chrono>

#include "suppression/internal.h"
#include "suppression/time_text.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::suppress {

namespace {

using detail::canonicalEntry;
using detail::kQuotedMax;

constexpr size_t kMaxRecord = 65536;

// RFC 4180 records from a stream: quoted fields with doubled quotes and line breaks, CRLF or LF,
// a UTF-8 byte order mark, blank lines and '#' comment lines skipped. Unquoted fields are trimmed.
class CsvReader {
  public:
    explicit CsvReader(std::istream& in) : in_(in) {}

    // The next record; false at the end of the input. `line` is where the record starts; `error`
    // is set (and `fields` incomplete) for a malformed one.
    bool next(std::vector<std::string>& fields, size_t& line, std::string& error) {
        fields.clear();
        error.clear();
        std::string cur;
        while (true) {
            if (!readLine(cur)) return false;
            std::string_view t = util::trim(cur);
            if (!t.empty() && t.front() != '#') break;
        }
        line = lineNo_;
        if (cur.size() > kMaxRecord) {
            error = "line longer than 64 KiB";
            return true;
        }
        std::string field;
        enum class St { Start, Plain, Quoted, AfterQuote } st = St::Start;
        size_t bytes = cur.size();
        size_t i = 0;
        while (true) {
            for (; i < cur.size(); ++i) {
                const char c = cur[i];
                switch (st) {
                    case St::Start:
                        if (c == '"') {
                            st = St::Quoted;
                        } else if (c == ',') {
                            fields.emplace_back();
                        } else if (!util::isSpace(c)) {
                            field += c;
                            st = St::Plain;
                        }
                        break;
                    case St::Plain:
                        if (c == ',') {
                            fields.emplace_back(util::trim(field));
                            field.clear();
                            st = St::Start;
                        } else {
                            field += c;
                        }
                        break;
                    case St::Quoted:
                        if (c != '"') {
                            field += c;
                        } else if (i + 1 < cur.size() && cur[i + 1] == '"') {
                            field += '"';
                            ++i;
                        } else {
                            st = St::AfterQuote;
                        }
                        break;
                    case St::AfterQuote:
                        if (c == ',') {
                            fields.push_back(std::move(field));
                            field.clear();
                            st = St::Start;
                        } else if (!util::isSpace(c)) {
                            error = "unexpected text after a closing quote";
                            return true;
                        }
                        break;
                }
            }
            if (st != St::Quoted) break;
            // A quoted field goes on over the line break.
            if (!readLine(cur)) {
                error = "unterminated quoted field";
                return true;
            }
            bytes += cur.size() + 1;
            if (bytes > kMaxRecord) {
                error =
                    "unterminated quoted field (the record runs past 64 KiB, to line " + std::to_string(lineNo_) + ")";
                return true;
            }
            field += '\n';
            i = 0;
        }
        fields.push_back(st == St::Plain ? std::string(util::trim(field)) : std::move(field));
        return true;
    }

    bool failed() const { return in_.bad(); }

  private:
    bool readLine(std::string& out) {
        if (!std::getline(in_, out)) return false;
        ++lineNo_;
        if (!out.empty() && out.back() == '\r') out.pop_back();
        if (lineNo_ == 1 && out.compare(0, 3, "\xEF\xBB\xBF") == 0) out.erase(0, 3);
        return true;
    }

    std::istream& in_;
    size_t lineNo_ = 0;
};

bool isHeaderField(std::string_view f) {
    std::string h;
    for (char c : util::trim(f)) {
        if (c != '_' && c != '-' && c != ' ') h += util::toLowerAscii(c);
    }
    return h == "email" || h == "emailaddress" || h == "address" || h == "recipient" || h == "target" || h == "mail";
}

std::string csvField(std::string_view s) {
    bool quote = !s.empty() && (s.front() == '#' || util::isSpace(s.front()) || util::isSpace(s.back()));
    for (char c : s)
        quote = quote || c == ',' || c == '"' || c == '\r' || c == '\n';
    if (!quote) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string_view sesReasonName(Reason r) {
    if (r == Reason::HardBounce) return "BOUNCE";
    if (r == Reason::Complaint) return "COMPLAINT";
    return reasonName(r);
}

constexpr const char* kReasonList = "hard_bounce, soft_bounce, complaint, unsubscribe, manual or legal";

}  // namespace

ImportReport importCsv(Store& store, std::istream& in, const std::string& fileName, CsvFormat format,
                       const Scope& defaultScope, const NormalizeOptions& norm, std::string_view who, int64_t now) {
    ImportReport rep;
    const std::string name = fileName.empty() || fileName == "-" ? std::string("stdin") : fileName;
    const size_t slash = name.rfind('/');
    const std::string source = "import:" + (slash == std::string::npos ? name : name.substr(slash + 1));
    const std::string why = "import of " + name;
    auto lineError = [&](size_t line, const std::string& m) {
        rep.errors.push_back(name + ":" + std::to_string(line) + ": " + m);
    };
    CsvReader reader(in);
    std::vector<std::string> fields;
    std::string error;
    size_t line = 0;
    bool first = true;
    std::string readError;
    auto tx = store.transaction([&]() -> bool {
        while (reader.next(fields, line, error)) {
            if (!error.empty()) {
                lineError(line, error);
                first = false;
                continue;
            }
            if (first) {
                first = false;
                if (isHeaderField(fields[0])) continue;
            }
            const bool ses = format == CsvFormat::Ses;
            if (ses && fields.size() != 2) {
                lineError(line, fields.size() < 2
                                    ? "missing reason (expected email,reason)"
                                    : "expected 2 fields (email,reason), got " + std::to_string(fields.size()));
                continue;
            }
            if (!ses && fields.size() > 4) {
                lineError(line, "expected at most 4 fields (address,reason,scope,expires), got " +
                                    std::to_string(fields.size()));
                continue;
            }
            auto target = normalizeTarget(fields[0], norm);
            if (!target) {
                lineError(line, target.error());
                continue;
            }
            Entry e;
            e.target = std::move(target).value();
            e.source = source;
            e.created = now;
            e.scope = defaultScope;
            if (fields.size() > 1 && !fields[1].empty()) {
                auto r = parseReason(fields[1]);
                if (!r) {
                    lineError(line, "unknown reason " + util::quoted(fields[1], kQuotedMax) + " (expected " +
                                        (ses ? std::string("BOUNCE or COMPLAINT") : std::string(kReasonList)) + ")");
                    continue;
                }
                e.reason = *r;
            } else if (ses) {
                lineError(line, "missing reason (expected BOUNCE or COMPLAINT)");
                continue;
            }
            if (fields.size() > 2 && !fields[2].empty()) {
                auto s = Scope::parse(fields[2]);
                if (!s) {
                    lineError(line, s.error());
                    continue;
                }
                e.scope = std::move(s).value();
            }
            if (fields.size() > 3) {
                auto x = parseExpiry(fields[3], now);
                if (!x) {
                    lineError(line, x.error());
                    continue;
                }
                if (*x && **x <= now) {
                    lineError(line, "the expiry " + util::printable(fields[3]) + " has already passed");
                    continue;
                }
                e.expires = *x;
            }
            auto canon = canonicalEntry(e, now);
            if (!canon) {
                lineError(line, canon.error());
                continue;
            }
            // Every check is done: a failure now is the store's, and ends the import.
            auto r = store.add(*canon, who, why);
            if (!r) return false;
            switch (*r) {
                case AddOutcome::Added:
                    ++rep.added;
                    break;
                case AddOutcome::Updated:
                    ++rep.updated;
                    break;
                case AddOutcome::AlreadyThere:
                    ++rep.unchanged;
                    break;
            }
        }
        if (reader.failed()) {
            readError = "read error";
            return false;
        }
        return true;
    });
    if (!tx || !*tx) {
        rep.added = rep.updated = rep.unchanged = 0;
        rep.errors.push_back(name + ": nothing imported: " + (!tx ? tx.error() : readError));
    }
    return rep;
}

util::Result<size_t> exportCsv(const Store& store, std::ostream& out, CsvFormat format, int64_t now) {
    const bool ses = format == CsvFormat::Ses;
    out << (ses ? "email,reason\n" : "address,reason,scope,expires\n");
    std::optional<Scope> scope;
    if (ses) scope = Scope{};
    size_t n = 0;
    std::string row;
    auto r = store.scan(scope, std::nullopt, "", 0, [&](const Entry& e) {
        if (e.expires && *e.expires <= now) return;
        row = csvField(e.target);
        row += ',';
        row += ses ? sesReasonName(e.reason) : reasonName(e.reason);
        if (!ses) {
            row += ',';
            row += csvField(e.scope.str());
            row += ',';
            if (e.expires) {
                // A date column: the expiry rounded up to a midnight.
                const auto day = std::chrono::ceil<std::chrono::days>(std::chrono::seconds(*e.expires));
                row += util::formatUtcDate(std::chrono::seconds(day).count());
            }
        }
        row += '\n';
        out << row;
        ++n;
    });
    if (!r) return util::err(r.error());
    out.flush();
    if (!out) return util::err("write error while exporting the suppression list");
    return n;
}

}  // namespace rampart::suppress
