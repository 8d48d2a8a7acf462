// Header hygiene (see hygiene_stage.h and docs/hygiene.md). One Run per message walks the rules in a
// fixed order: the checks that can only refuse come first, then the strips (so later rules do not
// work on fields that are going away), then the repairs, then the line-length refold (which also
// covers what the repairs produced).
//
// Everything here reads untrusted bytes: scanners are linear (refolding looks back at most one
// line), comment nesting is capped, and nothing throws on bad input.
#include "milter/stages/hygiene_stage.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <set>

#include "mail/address.h"
#include "mail/domain.h"
#include "mail/header.h"
#include "net/cidr.h"
#include "util/strings.h"

namespace rampart::milter {

namespace {

using A = RuleAction;

constexpr size_t kMaxLine = 998;        // RFC 5322 2.1.1 MUST
constexpr size_t kFoldTarget = 78;      // RFC 5322 2.1.1 SHOULD, used when we refold anyway
constexpr size_t kEncodedLine = 76;     // RFC 2047 section 2: lines holding encoded-words
constexpr size_t kEncodedWordMax = 75;  // RFC 2047 section 2
constexpr size_t kMaxFields = 5000;     // Gmail's header field limit
constexpr size_t kMaxMessageId = 500;   // Gmail's Message-ID limit
constexpr int kMaxCommentDepth = 64;
constexpr const char* kGmailRfcPage = "https://support.google.com/mail/?p=RfcMessageNonCompliant";

// ------------------------------------------------------------------------------------------------
// Small byte helpers

bool isWsp(char c) {
    return c == ' ' || c == '\t';
}
bool isFwsChar(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is8bit(char c) {
    return static_cast<unsigned char>(c) >= 0x80;
}
bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool has8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return is8bit(c); });
}

// Length of the UTF-8 sequence at s[i], or 0 if it is not a valid one (overlongs, surrogates and
// code points above U+10FFFF are invalid, as RFC 3629 says).
size_t utf8SequenceLength(std::string_view s, size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return 1;
    size_t n = 0;
    unsigned cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return n;
}

bool validUtf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = utf8SequenceLength(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string base64(std::string_view in) {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    auto byte = [&](size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(in[k])); };
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += tbl[v & 63];
    }
    if (i + 1 == in.size()) {
        unsigned v = byte(i) << 16;
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::string base32(const unsigned char* data, size_t n) {
    static const char* tbl = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (size_t i = 0; i < n; ++i) {
        buffer = (buffer << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            out += tbl[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += tbl[(buffer << (5 - bits)) & 31];
    return out;
}

// Removes line breaks (CR, LF) and keeps everything else: the text of folded whitespace.
std::string withoutLineBreaks(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c != '\r' && c != '\n') out += c;
    }
    return out;
}

std::string quoted(std::string_view s, size_t max = 80) {
    return "\"" + util::printable(s, max) + "\"";
}

// ------------------------------------------------------------------------------------------------
// Dates: RFC 5322 section 3.3 with the obsolete forms of section 4.3, and the formatter for the
// Date we add.

int64_t floorDiv(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Howard Hinnant's civil-date algorithm (proleptic Gregorian).
void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = floorDiv(z, 146097);
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kDayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 12> kMonthNames = {"January",   "February", "March",    "April",
                                                     "May",       "June",     "July",     "August",
                                                     "September", "October",  "November", "December"};

// "Sun, 22 Nov 2026 10:00:00 +0000"
std::string formatDate(util::SystemTime t) {
    const int64_t secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    const int64_t days = floorDiv(secs, 86400);
    const int64_t rem = secs - days * 86400;
    int64_t y = 0;
    unsigned m = 0, d = 0;
    civilFromDays(days, y, m, d);
    const auto wd = static_cast<size_t>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %u %s %lld %02d:%02d:%02d +0000", kDays[wd], d, kMonths[m - 1],
                  static_cast<long long>(y), static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60),
                  static_cast<int>(rem % 60));
    return buf;
}

class DateScanner {
  public:
    explicit DateScanner(std::string_view s) : s_(s) {}

    // Skips whitespace, line breaks and (nested) comments; false on an unterminated comment.
    bool skipCfws() {
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (isFwsChar(c)) {
                ++i_;
            } else if (c == '(') {
                int depth = 0;
                while (i_ < s_.size()) {
                    char d = s_[i_];
                    if (d == '\\') {
                        i_ += 2;
                        continue;
                    }
                    if (d == '(' && ++depth > kMaxCommentDepth) return false;
                    if (d == ')' && --depth == 0) break;
                    ++i_;
                }
                if (i_ >= s_.size()) return false;
                ++i_;
            } else {
                break;
            }
        }
        return true;
    }
    bool atEnd() const { return i_ >= s_.size(); }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    bool consume(char c) {
        if (peek() != c) return false;
        ++i_;
        return true;
    }
    std::string_view letters() {
        size_t b = i_;
        while (i_ < s_.size() && isAlpha(s_[i_]))
            ++i_;
        return s_.substr(b, i_ - b);
    }
    // Up to maxDigits digits; nullopt if none or if more digits follow.
    std::optional<int> number(size_t maxDigits, size_t& count) {
        size_t b = i_;
        int v = 0;
        while (i_ < s_.size() && isDigit(s_[i_])) {
            if (i_ - b >= maxDigits) return std::nullopt;
            v = v * 10 + (s_[i_] - '0');
            ++i_;
        }
        count = i_ - b;
        if (count == 0) return std::nullopt;
        return v;
    }

  private:
    std::string_view s_;
    size_t i_ = 0;
};

int nameIndex(std::string_view word, const std::array<const char*, 12>& abbrev,
              const std::array<const char*, 12>& full) {
    for (size_t k = 0; k < abbrev.size(); ++k) {
        if (util::iequals(word, abbrev[k]) || util::iequals(word, full[k])) return static_cast<int>(k);
    }
    return -1;
}

bool isDayName(std::string_view word) {
    for (size_t k = 0; k < kDays.size(); ++k) {
        if (util::iequals(word, kDays[k]) || util::iequals(word, kDayNames[k])) return true;
    }
    return false;
}

bool leapYear(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned daysInMonth(int y, int m) {
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leapYear(y) ? 29 : days[m - 1];
}

// True for an RFC 5322 date-time, obsolete forms included (two- and three-digit years, zone names,
// no day of week, comments anywhere), and for the lenient forms that are still plainly dates: full
// day and month names, a missing comma after the day name, no seconds, no zone, a zone
// abbreviation after the numeric zone. ISO 8601, asctime() and other formats are not RFC 5322.
bool parseableDate(std::string_view value) {
    if (value.size() > 4096) return false;
    DateScanner d(value);
    if (!d.skipCfws()) return false;
    if (isAlpha(d.peek())) {
        if (!isDayName(d.letters())) return false;
        if (!d.skipCfws()) return false;
        d.consume(',');
        if (!d.skipCfws()) return false;
    }
    size_t n = 0;
    auto day = d.number(2, n);
    if (!day || !d.skipCfws()) return false;
    const int month = nameIndex(d.letters(), kMonths, kMonthNames) + 1;
    if (month == 0 || !d.skipCfws()) return false;
    auto year = d.number(4, n);
    if (!year || n < 2) return false;
    if (n == 2) *year += *year < 50 ? 2000 : 1900;  // RFC 5322 4.3
    if (n == 3) *year += 1900;
    if (!d.skipCfws()) return false;
    auto hour = d.number(2, n);
    if (!hour || !d.skipCfws() || !d.consume(':') || !d.skipCfws()) return false;
    auto minute = d.number(2, n);
    if (!minute || !d.skipCfws()) return false;
    int second = 0;
    if (d.consume(':')) {
        if (!d.skipCfws()) return false;
        auto s = d.number(2, n);
        if (!s || !d.skipCfws()) return false;
        second = *s;
    }
    if (d.peek() == '+' || d.peek() == '-') {
        d.consume(d.peek());
        auto zone = d.number(4, n);
        if (!zone || n != 4 || *zone % 100 > 59) return false;
        if (!d.skipCfws()) return false;
        if (isAlpha(d.peek()) && d.letters().size() > 5) return false;  // "+0000 UTC"
    } else if (isAlpha(d.peek())) {
        if (d.letters().size() > 5) return false;  // UT, GMT, EST..PDT, military letters, CET...
    }
    if (!d.skipCfws() || !d.atEnd()) return false;
    if (*year < 1900 || *day < 1 || static_cast<unsigned>(*day) > daysInMonth(*year, month)) return false;
    return *hour <= 23 && *minute <= 59 && second <= 60;
}

// ------------------------------------------------------------------------------------------------
// Message-ID: RFC 5322 3.6.4 msg-id, with the obsolete id-left (a quoted string) accepted.

struct MsgId {
    std::string left;
    std::string right;
};

bool isAtextByte(char c, bool allow8bit) {
    if (is8bit(c)) return allow8bit;
    if (isAlpha(c) || isDigit(c)) return true;
    return c != '\0' && std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool dotAtomText(std::string_view s, bool allow8bit) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!isAtextByte(s[i], allow8bit)) {
            return false;
        }
    }
    return true;
}

std::optional<MsgId> parseMessageId(std::string_view raw, bool allow8bit) {
    const std::string v = mail::unfold(raw);
    size_t lt = v.find('<');
    size_t gt = v.find('>');
    if (lt == std::string::npos || gt == std::string::npos || gt < lt) return std::nullopt;
    // Only CFWS around the angle brackets.
    DateScanner before(std::string_view(v).substr(0, lt));
    if (!before.skipCfws() || !before.atEnd()) return std::nullopt;
    DateScanner after(std::string_view(v).substr(gt + 1));
    if (!after.skipCfws() || !after.atEnd()) return std::nullopt;
    if (gt - lt + 1 > kMaxMessageId) return std::nullopt;
    std::string_view inside = std::string_view(v).substr(lt + 1, gt - lt - 1);
    for (char c : inside) {
        auto uc = static_cast<unsigned char>(c);
        if (uc <= 0x20 || uc == 0x7F || c == '<') return std::nullopt;
        if (is8bit(c) && !allow8bit) return std::nullopt;
    }
    size_t at = inside.rfind('@');
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view left = inside.substr(0, at);
    std::string_view right = inside.substr(at + 1);
    bool leftOk = false;
    if (left.size() >= 2 && left.front() == '"' && left.back() == '"') {
        leftOk = true;  // obs-id-left: a quoted string (no blanks, checked above)
    } else {
        leftOk = dotAtomText(left, allow8bit);
    }
    bool rightOk = false;
    if (right.size() >= 2 && right.front() == '[' && right.back() == ']') {
        std::string_view inner = right.substr(1, right.size() - 2);
        rightOk = inner.find_first_of("[]\\") == std::string_view::npos;
    } else {
        rightOk = dotAtomText(right, allow8bit);
    }
    if (!leftOk || !rightOk) return std::nullopt;
    return MsgId{std::string(left), std::string(right)};
}

// ------------------------------------------------------------------------------------------------
// RFC 2047 encoding. A "word" is a run of text between blanks (unstructured fields) or a phrase
// word (atom, quoted string, '.') in an address field; runs of words are separated by blanks only.

struct Word {
    size_t b = 0, e = 0;   // raw bytes [b, e) in the field value
    std::string text;      // the text it displays (quoted strings unquoted)
    bool encoded = false;  // already an encoded-word
    bool eight = false;    // holds 8-bit bytes
};

struct Replacement {
    enum class Kind { Encode, EncodeComment, Literal };
    size_t b = 0, e = 0;
    std::string text;  // Encode*: the text to encode; Literal: the bytes to put in
    Kind kind = Kind::Encode;
};

bool looksLikeEncodedWord(std::string_view w) {
    if (w.size() < 8 || w.substr(0, 2) != "=?" || w.substr(w.size() - 2) != "?=") return false;
    std::string_view inner = w.substr(2, w.size() - 4);
    size_t q1 = inner.find('?');
    if (q1 == 0 || q1 == std::string_view::npos) return false;
    size_t q2 = inner.find('?', q1 + 1);
    if (q2 != q1 + 2) return false;
    char enc = inner[q1 + 1];
    if (enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') return false;
    return inner.find('?', q2 + 1) == std::string_view::npos;
}

// The spans of one run to replace by encoded-words: from the first to the last word with 8-bit
// bytes, per stretch between existing encoded-words. Where such a span touches an existing
// encoded-word, the blanks in between move into the new encoded text, because a decoder drops the
// whitespace between two adjacent encoded-words (RFC 2047 6.2).
void spansToEncode(std::string_view value, const std::vector<Word>& words, std::vector<Replacement>& out) {
    const size_t n = words.size();
    size_t i = 0;
    while (i < n) {
        if (words[i].encoded) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < n && !words[j].encoded)
            ++j;
        size_t first = j, last = j;
        for (size_t k = i; k < j; ++k) {
            if (words[k].eight) {
                if (first == j) first = k;
                last = k;
            }
        }
        if (first != j) {
            Replacement r;
            r.b = words[first].b;
            r.e = words[last].e;
            if (first == i && i > 0) {
                r.b = words[i - 1].e;
                r.text += withoutLineBreaks(value.substr(words[i - 1].e, words[first].b - words[i - 1].e));
            }
            for (size_t k = first; k <= last; ++k) {
                if (k > first) r.text += withoutLineBreaks(value.substr(words[k - 1].e, words[k].b - words[k - 1].e));
                r.text += words[k].text;
            }
            if (last == j - 1 && j < n) {
                r.text += withoutLineBreaks(value.substr(words[last].e, words[j].b - words[last].e));
                r.e = words[j].b;
            }
            out.push_back(std::move(r));
        }
        i = j;
    }
}

size_t columnAfter(std::string_view name, std::string_view out) {
    size_t nl = out.rfind('\n');
    return nl == std::string_view::npos ? name.size() + 1 + out.size() : out.size() - nl - 1;
}

// Appends encoded-words (B encoding) for `text` to `out`, which holds the field value so far:
// never splitting a UTF-8 sequence, each word at most 75 characters, and no line holding one over
// 76 characters. A word is cut to fit the rest of the current line; when not even one character
// fits, the line is folded (before the blank that ends `out`, if there is one, so no blank is added
// to the text). needSpace: `out` does not end with a blank and the first word needs one before it.
void appendEncodedWords(std::string& out, std::string_view name, std::string_view text, std::string_view charset,
                        bool needSpace) {
    const std::string prefix = "=?" + std::string(charset) + "?B?";
    const size_t overhead = prefix.size() + 2;
    const size_t maxBytes = (kEncodedWordMax - overhead) / 4 * 3;
    const bool utf8 = util::iequals(charset, "UTF-8");
    size_t col = columnAfter(name, out);
    bool first = true;
    size_t i = 0;
    while (i < text.size()) {
        size_t sep = (!first || needSpace) ? 1 : 0;
        // Bytes that fit on this line: (76 - col - sep - overhead) base64 characters.
        const size_t room = kEncodedLine > col + sep + overhead ? kEncodedLine - col - sep - overhead : 0;
        size_t limit = std::min(maxBytes, room / 4 * 3);
        size_t firstLen = utf8 ? std::max<size_t>(1, utf8SequenceLength(text, i)) : 1;
        if (limit < firstLen && col > 1) {
            if (sep == 0 && !out.empty() && isWsp(out.back())) {
                out.insert(out.size() - 1, "\r\n");  // fold at the blank that is already there
                col = 1;
            } else {
                out += "\r\n ";
                col = 1;
                sep = 0;
            }
            limit = maxBytes;
        }
        size_t end = i;
        while (end < text.size()) {
            size_t len = utf8 ? utf8SequenceLength(text, end) : 1;
            if (len == 0) len = 1;  // not reached: the caller picks UTF-8 only for valid UTF-8
            if (end + len - i > limit) break;
            end += len;
        }
        if (end == i) end = i + firstLen;  // a line too narrow even after folding: cannot happen, be safe
        const std::string word = prefix + base64(text.substr(i, end - i)) + "?=";
        if (sep) out += ' ';
        out += word;
        col += sep + word.size();
        first = false;
        i = end;
    }
}

std::string applyReplacements(std::string_view name, std::string_view value, std::vector<Replacement> repls,
                              std::string_view charset) {
    std::sort(repls.begin(), repls.end(), [](const Replacement& a, const Replacement& b) { return a.b < b.b; });
    std::string out;
    out.reserve(value.size() * 2);
    size_t pos = 0;
    for (const auto& r : repls) {
        if (r.b < pos) continue;  // overlapping spans are not produced; be safe anyway
        out.append(value.substr(pos, r.b - pos));
        switch (r.kind) {
            case Replacement::Kind::Literal:
                out += r.text;
                break;
            case Replacement::Kind::Encode: {
                const bool needSpace = out.empty() || !isFwsChar(out.back());
                appendEncodedWords(out, name, r.text, charset, needSpace);
                if (r.e < value.size() && !isFwsChar(value[r.e])) out += ' ';
                break;
            }
            case Replacement::Kind::EncodeComment:
                out += '(';
                appendEncodedWords(out, name, r.text, charset, false);
                out += ')';
                break;
        }
        pos = r.e;
    }
    out.append(value.substr(pos));
    return out;
}

std::string encodeUnstructured(std::string_view name, std::string_view value, std::string_view charset) {
    std::vector<Word> words;
    size_t i = 0;
    while (i < value.size()) {
        if (isFwsChar(value[i])) {
            ++i;
            continue;
        }
        Word w;
        w.b = i;
        while (i < value.size() && !isFwsChar(value[i]))
            ++i;
        w.e = i;
        w.text = std::string(value.substr(w.b, w.e - w.b));
        w.eight = has8bit(w.text);
        w.encoded = !w.eight && looksLikeEncodedWord(w.text);
        words.push_back(std::move(w));
    }
    std::vector<Replacement> repls;
    spansToEncode(value, words, repls);
    return applyReplacements(name, value, std::move(repls), charset);
}

// Address fields: a lexer that keeps byte positions, so display names and comments can be replaced
// in place and everything else stays as the user wrote it.
struct AddrToken {
    enum class Kind { Atom, Quoted, Comment, Literal, Special };
    Kind kind = Kind::Atom;
    size_t b = 0, e = 0;
    std::string text;  // Atom: itself; Quoted: content unescaped; Comment: content unescaped
    char special = 0;
    bool eight = false;
};

std::optional<std::vector<AddrToken>> lexAddressField(std::string_view s) {
    std::vector<AddrToken> out;
    size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (isFwsChar(c)) {
            ++i;
            continue;
        }
        AddrToken t;
        t.b = i;
        if (c == '(') {
            t.kind = AddrToken::Kind::Comment;
            int depth = 0;
            while (i < s.size()) {
                char d = s[i];
                if (d == '\\' && i + 1 < s.size()) {
                    t.text += s[i + 1];
                    i += 2;
                    continue;
                }
                if (d == '(') {
                    if (++depth > kMaxCommentDepth) return std::nullopt;
                    if (depth > 1) t.text += d;
                } else if (d == ')') {
                    if (--depth == 0) break;
                    t.text += d;
                } else if (d != '\r' && d != '\n') {
                    t.text += d;
                }
                ++i;
            }
            if (i >= s.size()) return std::nullopt;
            ++i;
        } else if (c == '"') {
            t.kind = AddrToken::Kind::Quoted;
            ++i;
            bool closed = false;
            while (i < s.size()) {
                char d = s[i];
                if (d == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (d == '\\' && i + 1 < s.size()) {
                    t.text += s[i + 1];
                    i += 2;
                    continue;
                }
                if (d != '\r' && d != '\n') t.text += d;
                ++i;
            }
            if (!closed) return std::nullopt;
        } else if (c == '[') {
            t.kind = AddrToken::Kind::Literal;
            size_t close = s.find(']', i);
            if (close == std::string_view::npos) return std::nullopt;
            i = close + 1;
            t.text = std::string(s.substr(t.b, i - t.b));
        } else if (std::string_view("<>@,;:.").find(c) != std::string_view::npos) {
            t.kind = AddrToken::Kind::Special;
            t.special = c;
            t.text = std::string(1, c);
            ++i;
        } else if (std::string_view(")]\\").find(c) != std::string_view::npos) {
            return std::nullopt;
        } else {
            t.kind = AddrToken::Kind::Atom;
            while (i < s.size() && !isFwsChar(s[i]) &&
                   std::string_view("()<>[]:;@\\,.\"").find(s[i]) == std::string_view::npos) {
                ++i;
            }
            t.text = std::string(s.substr(t.b, i - t.b));
        }
        t.e = i;
        t.eight = has8bit(s.substr(t.b, t.e - t.b));
        out.push_back(std::move(t));
    }
    return out;
}

struct FieldRepair {
    std::string value;    // the repaired value ("" with `refusal` set)
    std::string refusal;  // why it cannot be repaired
};

class AddressFieldEncoder {
  public:
    AddressFieldEncoder(std::string_view name, std::string_view value, std::string_view charset)
        : name_(name), value_(value), charset_(charset) {}

    FieldRepair run() {
        auto lexed = lexAddressField(value_);
        if (!lexed) return refuse("8-bit characters in " + std::string(name_) + ", which is not a valid address list");
        toks_ = std::move(*lexed);
        for (size_t k = 0; k < toks_.size() && refusal_.empty(); ++k)
            step(k);
        if (refusal_.empty()) endOfAddress();
        if (refusal_.empty() && inAngle_) checkAngle();
        if (!refusal_.empty()) return {{}, refusal_};
        if (repls_.empty()) return refuse("8-bit characters in " + std::string(name_) + " outside any display name");
        return {applyReplacements(name_, value_, repls_, charset_), {}};
    }

  private:
    FieldRepair refuse(std::string why) { return {{}, std::move(why)}; }

    bool isSpecial(const AddrToken& t, char c) const { return t.kind == AddrToken::Kind::Special && t.special == c; }

    void step(size_t k) {
        const AddrToken& t = toks_[k];
        if (t.kind == AddrToken::Kind::Comment) {
            if (t.eight) repls_.push_back({t.b, t.e, t.text, Replacement::Kind::EncodeComment});
            if (!pending_.empty()) ++runId_;
            return;
        }
        if (inAngle_) {
            if (isSpecial(t, '>')) {
                checkAngle();
                inAngle_ = false;
                angle_.clear();
            } else {
                angle_.push_back(k);
            }
            return;
        }
        if (isSpecial(t, '<')) {
            phrase();
            inAngle_ = true;
            return;
        }
        if (isSpecial(t, '@')) {
            for (size_t p : pending_) {
                if (toks_[p].eight) return localPartRefusal();
            }
            pending_.clear();
            afterAt_ = true;
            return;
        }
        if (isSpecial(t, ':') && !afterAt_) {
            phrase();  // a group's display name
            return;
        }
        if (isSpecial(t, ',') || isSpecial(t, ';') || isSpecial(t, '>')) {
            endOfAddress();
            return;
        }
        if (afterAt_) {
            domain_.push_back(k);
        } else {
            pending_.push_back(k);
            runOf_.push_back(runId_);
        }
    }

    void localPartRefusal() { refusal_ = "the address local part in " + std::string(name_) + " is not ASCII"; }

    void endOfAddress() {
        if (afterAt_) {
            convertDomain(domain_);
        } else {
            for (size_t p : pending_) {
                if (toks_[p].eight) {
                    refusal_ = "8-bit characters in " + std::string(name_) + " outside a display name";
                    return;
                }
            }
        }
        pending_.clear();
        runOf_.clear();
        domain_.clear();
        afterAt_ = false;
    }

    // <[route] local@domain>: 8-bit before the last '@' cannot be encoded; after it, an IDN.
    void checkAngle() {
        size_t at = angle_.size();
        for (size_t k = 0; k < angle_.size(); ++k) {
            if (isSpecial(toks_[angle_[k]], '@')) at = k;
        }
        for (size_t k = 0; k < std::min(at, angle_.size()); ++k) {
            if (toks_[angle_[k]].eight) return localPartRefusal();
        }
        if (at < angle_.size()) {
            std::vector<size_t> dom(angle_.begin() + static_cast<std::ptrdiff_t>(at) + 1, angle_.end());
            convertDomain(dom);
        }
    }

    // A U-label domain becomes its A-label (IDNA2008): the same domain, in ASCII.
    void convertDomain(const std::vector<size_t>& dom) {
        bool eight = false;
        std::string text;
        for (size_t k : dom) {
            const AddrToken& t = toks_[k];
            eight = eight || t.eight;
            if (t.kind != AddrToken::Kind::Atom && !isSpecial(t, '.')) {
                if (t.eight) {
                    refusal_ = "8-bit characters in a domain in " + std::string(name_);
                    return;
                }
            }
            text += t.text;
        }
        if (!eight) return;
        auto ascii = mail::toAsciiDomain(text);
        if (!ascii) {
            refusal_ = "the domain " + quoted(text) + " in " + std::string(name_) +
                       " is not a valid internationalised domain name (" + ascii.error() + ")";
            return;
        }
        repls_.push_back({toks_[dom.front()].b, toks_[dom.back()].e, *ascii, Replacement::Kind::Literal});
    }

    // The words before '<' or ':' form a display name; each run between comments is encoded.
    void phrase() {
        size_t k = 0;
        while (k < pending_.size()) {
            size_t j = k;
            std::vector<Word> words;
            while (j < pending_.size() && runOf_[j] == runOf_[k]) {
                const AddrToken& t = toks_[pending_[j]];
                if (t.kind == AddrToken::Kind::Literal && t.eight) {
                    refusal_ = "8-bit characters in a domain literal in " + std::string(name_);
                    return;
                }
                Word w;
                w.b = t.b;
                w.e = t.e;
                w.text = t.text;
                w.eight = t.eight;
                w.encoded = t.kind == AddrToken::Kind::Atom && !t.eight && looksLikeEncodedWord(t.text);
                words.push_back(std::move(w));
                ++j;
            }
            spansToEncode(value_, words, repls_);
            k = j;
        }
        pending_.clear();
        runOf_.clear();
    }

    std::string_view name_, value_, charset_;
    std::vector<AddrToken> toks_;
    std::vector<Replacement> repls_;
    std::vector<size_t> pending_, runOf_, domain_, angle_;
    size_t runId_ = 0;
    bool inAngle_ = false, afterAt_ = false;
    std::string refusal_;
};

bool inList(std::string_view name, std::initializer_list<std::string_view> names) {
    return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return util::iequals(name, n); });
}

bool isUnstructured(std::string_view name) {
    return util::startsWithNoCase(name, "X-") ||
           inList(name, {"Subject", "Comments", "Keywords", "Content-Description", "Organization", "Thread-Topic"});
}

bool isAddressField(std::string_view name) {
    return inList(name, {"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Resent-From", "Resent-Sender",
                         "Resent-Reply-To", "Resent-To", "Resent-Cc", "Resent-Bcc", "Disposition-Notification-To"});
}

// ------------------------------------------------------------------------------------------------
// Refolding a line over 998 octets: fold before blanks, aiming at 78 octets per line, never leaving
// a line of blanks only. nullopt when some stretch of over 998 octets has no blank to fold at.

std::optional<std::string> foldLine(std::string_view line, size_t lead) {
    std::string out;
    size_t start = 0;
    size_t leadCur = lead;
    while (leadCur + (line.size() - start) > kFoldTarget) {
        size_t firstText = start;
        while (firstText < line.size() && isWsp(line[firstText]))
            ++firstText;
        size_t p = std::string_view::npos;
        if (leadCur < kFoldTarget && firstText < line.size()) {
            size_t hi = std::min(line.size() - 1, start + (kFoldTarget - leadCur));
            for (size_t q = hi; q > firstText; --q) {
                if (isWsp(line[q])) {
                    p = q;
                    break;
                }
            }
        }
        if (p == std::string_view::npos && leadCur < kMaxLine) {
            size_t lo = std::max(firstText + 1, start + (kFoldTarget > leadCur ? kFoldTarget - leadCur : 0) + 1);
            size_t hi = std::min(line.size(), start + (kMaxLine - leadCur) + 1);
            for (size_t q = lo; q < hi; ++q) {
                if (isWsp(line[q])) {
                    p = q;
                    break;
                }
            }
        }
        if (p == std::string_view::npos) {
            if (leadCur + (line.size() - start) <= kMaxLine) break;  // long, but legal: leave it
            return std::nullopt;
        }
        out.append(line.substr(start, p - start));
        out += "\r\n";
        start = p;
        leadCur = 0;
    }
    out.append(line.substr(start));
    return out;
}

struct LineCheck {
    size_t longest = 0;  // longest line in octets, the "Name:" prefix included
    bool tooLong() const { return longest > kMaxLine; }
};

LineCheck checkLines(std::string_view name, std::string_view value) {
    LineCheck c;
    size_t pos = 0;
    size_t lead = name.size() + 1;
    while (true) {
        size_t nl = value.find('\n', pos);
        size_t end = nl == std::string_view::npos ? value.size() : nl;
        if (end > pos && value[end - 1] == '\r') --end;
        c.longest = std::max(c.longest, lead + (end - pos));
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
        lead = 0;
    }
    return c;
}

std::optional<std::string> refold(std::string_view name, std::string_view value) {
    std::string out;
    size_t pos = 0;
    size_t lead = name.size() + 1;
    while (true) {
        size_t nl = value.find('\n', pos);
        size_t end = nl == std::string_view::npos ? value.size() : nl;
        if (end > pos && value[end - 1] == '\r') --end;
        std::string_view line = value.substr(pos, end - pos);
        if (lead + line.size() > kMaxLine) {
            auto folded = foldLine(line, lead);
            if (!folded) return std::nullopt;
            out += *folded;
        } else {
            out.append(line);
        }
        if (nl == std::string_view::npos) break;
        out.append(value.substr(end, nl + 1 - end));  // the original line break
        pos = nl + 1;
        lead = 0;
    }
    return out;
}

// ------------------------------------------------------------------------------------------------
// Received: the IP addresses named in the from-clause (RFC 5321 4.4: "from" domain, then the
// TCP-info comment: Postfix "from helo (rdns [192.0.2.1])", Exim "from [192.0.2.1] (helo=x)",
// qmail "from unknown (HELO x) (192.0.2.1)").

std::vector<net::IpBytes> fromClauseAddresses(std::string_view value) {
    std::vector<net::IpBytes> out;
    const std::string v = mail::unfold(value.substr(0, std::min<size_t>(value.size(), 64 * 1024)));
    if (v.size() < 5 || !util::startsWithNoCase(v, "from") || !(isFwsChar(v[4]) || v[4] == '(')) return out;
    size_t end = v.size();
    int depth = 0;
    for (size_t j = 4; j < v.size(); ++j) {
        const char c = v[j];
        if (c == '\\') {
            ++j;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            if (depth > 0) --depth;
        } else if (depth == 0 && c == ';') {
            end = j;
            break;
        } else if (depth == 0 && isWsp(c)) {
            size_t k = j + 1;
            while (k < v.size() && isAlpha(v[k]))
                ++k;
            std::string_view word = std::string_view(v).substr(j + 1, k - j - 1);
            if ((k == v.size() || isFwsChar(v[k])) && inList(word, {"by", "via", "with", "id", "for"})) {
                end = j;
                break;
            }
        }
    }
    std::string_view clause = std::string_view(v).substr(4, end - 4);
    size_t i = 0;
    while (i < clause.size() && out.size() < 16) {
        while (i < clause.size() && std::string_view(" \t()=,;").find(clause[i]) != std::string_view::npos)
            ++i;
        size_t b = i;
        while (i < clause.size() && std::string_view(" \t()=,;").find(clause[i]) == std::string_view::npos)
            ++i;
        std::string_view tok = clause.substr(b, i - b);
        if (tok.empty()) continue;
        if (tok.front() == '[') {
            size_t close = tok.find(']');
            if (close != std::string_view::npos) tok = tok.substr(0, close + 1);  // "[192.0.2.1]:25"
        }
        while (!tok.empty() && tok.back() == '.' && tok.front() != '[')
            tok.remove_suffix(1);
        if (tok.size() > 64) continue;
        if (auto ip = net::parseIp(tok)) out.push_back(*ip);
    }
    return out;
}

// ------------------------------------------------------------------------------------------------
// Strip patterns: "X-Mailer" or "X-Source*" (a prefix), case-insensitive.

bool matchesPattern(std::string_view name, std::string_view pattern) {
    if (!pattern.empty() && pattern.back() == '*')
        return util::startsWithNoCase(name, pattern.substr(0, pattern.size() - 1));
    return util::iequals(name, pattern);
}

// Fields the hygiene rules maintain, or that the message cannot lose; hygiene_strip_headers may not
// name them (stripping Message-ID draws Gmail's "missing a valid Message-ID" refusal).
constexpr std::array<const char*, 17> kProtectedFields = {"From",
                                                          "Sender",
                                                          "Reply-To",
                                                          "To",
                                                          "Cc",
                                                          "Subject",
                                                          "Date",
                                                          "Message-ID",
                                                          "In-Reply-To",
                                                          "References",
                                                          "MIME-Version",
                                                          "Content-Type",
                                                          "Content-Transfer-Encoding",
                                                          "List-Id",
                                                          "List-Unsubscribe",
                                                          "List-Unsubscribe-Post",
                                                          "Feedback-ID"};

// At most once (RFC 5322 3.6, RFC 2045, Gmail's Feedback-ID page). From, Date and Message-ID have
// their own rules; List-Unsubscribe and List-Unsubscribe-Post belong to the stamp stage after this
// one, which replaces duplicates with one valid one-click pair (docs/unsubscribe.md).
constexpr std::array<const char*, 13> kSingleInstance = {"Subject",
                                                         "To",
                                                         "Cc",
                                                         "Bcc",
                                                         "Reply-To",
                                                         "Sender",
                                                         "In-Reply-To",
                                                         "References",
                                                         "MIME-Version",
                                                         "Content-Type",
                                                         "Content-Transfer-Encoding",
                                                         "List-Id",
                                                         "Feedback-ID"};

bool isForgedAuthField(std::string_view name) {
    return util::iequals(name, "Authentication-Results") || util::iequals(name, "DKIM-Signature") ||
           util::startsWithNoCase(name, "ARC-");
}

// Counts per field name in first-seen order, for notes like "X-Mailer (2), User-Agent (1)".
class NameCounts {
  public:
    void add(std::string_view name) {
        for (auto& [n, c] : items_) {
            if (util::iequals(n, name)) {
                ++c;
                return;
            }
        }
        items_.emplace_back(util::printable(name, 80), 1);
    }
    bool empty() const { return items_.empty(); }
    std::string str() const {
        std::string out;
        for (const auto& [n, c] : items_)
            out += (out.empty() ? "" : ", ") + n + " (" + std::to_string(c) + ")";
        return out;
    }
    std::string names() const {
        std::string out;
        for (const auto& [n, c] : items_)
            out += (out.empty() ? "" : ", ") + n;
        return out;
    }

  private:
    std::vector<std::pair<std::string, size_t>> items_;
};

// ------------------------------------------------------------------------------------------------
// One message's pass.

class Run {
  public:
    Run(const HygieneSettings& s, const util::Clock& clock, Message& msg, Notes& notes)
        : s_(s), clock_(clock), msg_(msg), notes_(notes) {}

    Verdict go() {
        using Rule = bool (Run::*)();
        static constexpr std::array<Rule, 14> kRules = {
            &Run::headerSize,      &Run::from,         &Run::fromMailbox,     &Run::duplicates, &Run::singleDate,
            &Run::singleMessageId, &Run::stripHeaders, &Run::privateReceived, &Run::forgedAuth, &Run::date,
            &Run::messageId,       &Run::eightBit,     &Run::lineLength,      &Run::mimeVersion};
        for (Rule r : kRules) {
            if (!(this->*r)()) break;
        }
        return verdict_ ? *verdict_ : Verdict::proceed();
    }

  private:
    enum class Step { Skip, Apply, Stop };

    void note(std::string text) { notes_.add("hygiene: " + std::move(text)); }

    // What to do about a finding of `rule`. fixable = false: the rule's fix/strip action cannot
    // repair this finding, so it refuses the message instead.
    Step decide(std::string_view rule, const std::string& problem, const std::string& reply, bool fixable = true,
                const char* code = "550", const char* xcode = "5.7.1") {
        RuleAction a = s_.action(rule);
        if (!fixable && (a == A::Fix || a == A::Strip)) a = A::Reject;
        switch (a) {
            case A::Off:
                return Step::Skip;
            case A::Warn:
                note("warn " + std::string(rule) + ": " + problem);
                return Step::Skip;
            case A::Reject:
                if (s_.dryRun) {
                    note("would reject " + std::string(rule) + ": " + problem);
                    return Step::Skip;
                }
                verdict_ =
                    Verdict::reject(code, xcode, "rampart hygiene rule " + std::string(rule) + ": " + reply, "hygiene");
                return Step::Stop;
            case A::Fix:
            case A::Strip:
                if (s_.dryRun) {
                    note("would " + std::string(ruleActionName(a)) + " " + std::string(rule) + ": " + problem);
                    return Step::Skip;
                }
                return Step::Apply;
        }
        return Step::Skip;
    }

    const mail::HeaderFields& fields() const { return msg_.headers(); }
    bool smtputf8() const { return msg_.envelope.smtputf8; }

    // ---- header-size
    bool headerSize() {
        uint64_t bytes = 0;
        for (const auto& f : fields())
            bytes += f.name.size() + f.value.size() + 3;
        std::string problem, reply;
        if (bytes > s_.headerSizeLimit) {
            problem = "the header block is " + std::to_string(bytes) + " bytes (hygiene_header_size_limit is " +
                      std::to_string(s_.headerSizeLimit) + ")";
            reply = "Your message exceeded the message header size limit: the header block is " +
                    std::to_string(bytes) + " bytes, the limit is " + std::to_string(s_.headerSizeLimit) +
                    ". Gmail and Yahoo refuse oversized headers (\"Header too big\")";
        } else if (fields().size() > kMaxFields) {
            problem = "the header block has " + std::to_string(fields().size()) + " fields (the limit is 5000)";
            reply = "Your message exceeded the message header size limits: " + std::to_string(fields().size()) +
                    " header fields, the limit is 5000 (Gmail's limit)";
        } else {
            return true;
        }
        return decide("header-size", problem, reply, false, "552", "5.3.4") != Step::Stop;
    }

    // ---- from
    bool from() {
        const size_t n = msg_.count("From");
        if (n == 1) return true;
        if (n == 0) {
            return decide("from", "no From header field",
                          "This message is not RFC 5322 compliant: 'From' header is missing. Gmail, Yahoo and "
                          "Outlook.com need exactly one From header field; see " +
                              std::string(kGmailRfcPage)) != Step::Stop;
        }
        return decide("from", std::to_string(n) + " From header fields",
                      "This message is not RFC 5322 compliant: Multiple 'From' headers found (" + std::to_string(n) +
                          "). Send it with exactly one From header field; see " + std::string(kGmailRfcPage)) !=
               Step::Stop;
    }

    // ---- from-mailbox
    bool fromMailbox() {
        const size_t idx = msg_.find("From");
        if (idx == std::string_view::npos) return true;
        auto list = mail::parseAddressList(fields()[idx].value);
        std::string problem;
        std::string detail;
        bool multiple = false;
        if (!list) {
            problem = "the From header field cannot be parsed: " + list.error();
            detail = list.error();
        } else if (list->empty()) {
            problem = "the From header field holds no address";
            detail = "the From header field holds no address";
        } else if (list->size() > 1) {
            problem = "the From header field holds " + std::to_string(list->size()) + " addresses";
            multiple = true;
        } else {
            const mail::Mailbox& mb = list->front();
            auto ascii = mb.domain.empty() || mb.domain.front() == '['
                             ? util::Result<std::string>(util::err("a domain literal"))
                             : mail::toAsciiDomain(mb.domain);
            if (!ascii) {
                detail = "the domain " + quoted(mb.domain) + " is not a valid domain name (" + ascii.error() + ")";
            } else if (ascii->find('.') == std::string::npos) {
                detail = "the domain " + quoted(*ascii) + " is not a fully qualified domain name";
            } else {
                fromDomain_ = *ascii;
                return true;
            }
            problem = "From address " + quoted(mb.address()) + ": " + detail;
        }
        if (multiple) {
            return decide("from-mailbox", problem,
                          "Multiple addresses in the From: header are not accepted (" + std::to_string(list->size()) +
                              " addresses). Put one address in From, and the others in Reply-To") != Step::Stop;
        }
        return decide("from-mailbox", problem,
                      "Messages missing a valid address in the From: header, or having no From: header, are not "
                      "accepted (" +
                          detail + ")") != Step::Stop;
    }

    // ---- duplicate-headers
    bool duplicates() {
        std::vector<std::pair<std::string, size_t>> dups;
        for (const char* name : kSingleInstance) {
            size_t n = msg_.count(name);
            if (n > 1) dups.emplace_back(name, n);
        }
        if (dups.empty()) return true;
        std::string problem;
        for (const auto& [name, n] : dups)
            problem += (problem.empty() ? "" : ", ") + name + " (" + std::to_string(n) + ")";
        problem = "multiple " + problem;
        std::string reply =
            "This message is not RFC 5322 compliant. There are multiple " + dups.front().first + " headers";
        if (dups.size() > 1) {
            std::string others;
            for (size_t k = 1; k < dups.size(); ++k)
                others += (k > 1 ? ", " : "") + dups[k].first;
            reply += " (and multiple " + others + ")";
        }
        reply += ". Gmail and Yahoo refuse duplicate headers; send each of these fields once";
        return decide("duplicate-headers", problem, reply, false) != Step::Stop;
    }

    // ---- date (several)
    bool singleDate() {
        const size_t n = msg_.count("Date");
        if (n <= 1) return true;
        return decide("date", std::to_string(n) + " Date header fields",
                      "This message is not RFC 5322 compliant: Multiple 'Date' headers found (" + std::to_string(n) +
                          "). Send it with exactly one Date header field",
                      false) != Step::Stop;
    }

    // ---- message-id (several)
    bool singleMessageId() {
        const size_t n = msg_.count("Message-ID");
        if (n <= 1) return true;
        return decide("message-id", std::to_string(n) + " Message-ID header fields",
                      "This message is not RFC 5322 compliant: Multiple 'Message-ID' headers found (" +
                          std::to_string(n) + "). Send it with exactly one Message-ID header field",
                      false) != Step::Stop;
    }

    // Removes the fields at `indexes` (ascending), last first so earlier indexes stay valid.
    void removeAll(const std::vector<size_t>& indexes) {
        for (auto it = indexes.rbegin(); it != indexes.rend(); ++it)
            msg_.removeHeader(*it);
    }

    // ---- strip-headers
    bool stripHeaders() {
        if (s_.stripHeaders.empty()) return true;
        std::vector<size_t> hits;
        NameCounts counts;
        for (size_t i = 0; i < fields().size(); ++i) {
            const auto& name = fields()[i].name;
            for (const auto& pattern : s_.stripHeaders) {
                if (matchesPattern(name, pattern)) {
                    hits.push_back(i);
                    counts.add(name);
                    break;
                }
            }
        }
        if (hits.empty()) return true;
        Step step = decide("strip-headers", counts.str(), "");
        if (step == Step::Apply) {
            removeAll(hits);
            note("stripped " + counts.str());
        }
        return step != Step::Stop;
    }

    // ---- private-received
    bool privateReceived() {
        std::vector<size_t> hits;
        std::vector<std::string> addresses;  // the first few, for the note
        bool more = false;
        for (size_t i = 0; i < fields().size(); ++i) {
            if (!util::iequals(fields()[i].name, "Received")) continue;
            for (const auto& ip : fromClauseAddresses(fields()[i].value)) {
                if (!net::isPrivateOrLoopback(ip)) continue;
                hits.push_back(i);
                std::string text = net::formatIp(ip);
                if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
                    if (addresses.size() < 4) {
                        addresses.push_back(std::move(text));
                    } else {
                        more = true;
                    }
                }
                break;
            }
        }
        if (hits.empty()) return true;
        const std::string what = "Received (" + std::to_string(hits.size()) + ") from private or loopback addresses (" +
                                 util::join(addresses, ", ") + (more ? ", ..." : "") + ")";
        Step step = decide("private-received", what, "");
        if (step == Step::Apply) {
            removeAll(hits);
            note("stripped " + what);
        }
        return step != Step::Stop;
    }

    // ---- forged-auth
    bool forgedAuth() {
        std::vector<size_t> hits;
        NameCounts counts;
        for (size_t i = 0; i < fields().size(); ++i) {
            if (isForgedAuthField(fields()[i].name)) {
                hits.push_back(i);
                counts.add(fields()[i].name);
            }
        }
        if (hits.empty()) return true;
        Step step = decide("forged-auth", "client-supplied " + counts.str(), "");
        if (step == Step::Apply) {
            removeAll(hits);
            note("stripped client-supplied " + counts.str());
        }
        return step != Step::Stop;
    }

    // ---- date
    bool date() {
        const size_t n = msg_.count("Date");
        if (n > 1) return true;  // singleDate decided
        if (n == 0) {
            Step step = decide("date", "no Date header field",
                               "This message is not RFC 5322 compliant: 'Date' header is missing. Send it with one "
                               "Date header field");
            if (step == Step::Apply) {
                msg_.appendHeader("Date", " " + formatDate(clock_.now()));
                note("added Date");
            }
            return step != Step::Stop;
        }
        const size_t idx = msg_.find("Date");
        const std::string& value = fields()[idx].value;
        const bool eight = !smtputf8() && has8bit(value);
        if (!eight && parseableDate(mail::unfold(value))) return true;
        const std::string shown = quoted(mail::unfold(value), 60);
        const std::string what = eight ? "Date " + shown + " has 8-bit characters" : "unparseable Date " + shown;
        Step step = decide("date", what,
                           "the Date header field " + shown +
                               " is not an RFC 5322 date-time (Yahoo: \"Header value can not be decoded\")");
        if (step == Step::Apply) {
            msg_.changeHeader(idx, " " + formatDate(clock_.now()));
            note("replaced " + what);
        }
        return step != Step::Stop;
    }

    // ---- message-id, message-id-internal
    bool internalHost(std::string_view right) const {
        const std::string r = util::toLower(right);
        if (r.empty() || r.front() == '[' || net::parseIp(r)) return true;
        if (r.find('.') == std::string::npos) return true;
        for (const auto& d : s_.internalDomains) {
            if (d.empty()) continue;
            if (d.front() == '.') {
                if (util::endsWithNoCase(r, d) || r == std::string_view(d).substr(1)) return true;
            } else if (r == d) {
                return true;
            }
        }
        return false;
    }

    // The domain for generated Message-IDs: hygiene_message_id_domain, else the From domain, else
    // the envelope sender's; never an internal name. "" if there is none.
    std::string idDomain() const {
        if (!s_.messageIdDomain.empty()) return s_.messageIdDomain;
        if (!fromDomain_.empty() && !internalHost(fromDomain_)) return fromDomain_;
        const size_t idx = msg_.find("From");
        if (idx != std::string_view::npos) {
            auto list = mail::parseAddressList(fields()[idx].value);
            if (list && list->size() == 1) {
                auto ascii = mail::toAsciiDomain(list->front().domain);
                if (ascii && !internalHost(*ascii)) return *ascii;
            }
        }
        if (auto env = mail::parseEnvelopeAddress(msg_.envelope.sender); env && !env->domain.empty()) {
            auto ascii = mail::toAsciiDomain(env->domain);
            if (ascii && !internalHost(*ascii)) return *ascii;
        }
        return {};
    }

    // "<26 base32 characters of 16 random bytes>.<milliseconds>@domain>"
    std::optional<std::string> generateId(const std::string& domain) {
        unsigned char random[16];
        if (RAND_bytes(random, sizeof random) != 1) {
            verdict_ = Verdict::tempfail("451", "4.3.0", "rampart: no random bytes for a Message-ID, try again later",
                                         "error");
            return std::nullopt;
        }
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
        return "<" + base32(random, sizeof random) + "." + std::to_string(ms) + "@" + domain + ">";
    }

    bool messageId() {
        const size_t n = msg_.count("Message-ID");
        if (n > 1) return true;  // singleMessageId decided
        const std::string missingReply = "Messages missing a valid Message-ID: header are not accepted";
        if (n == 0) {
            Step step = decide("message-id", "no Message-ID header field", missingReply + " (the message has none)");
            if (step == Step::Apply) {
                const std::string domain = idDomain();
                if (domain.empty()) {
                    note("cannot add a Message-ID: no domain for it (set hygiene_message_id_domain)");
                    return true;
                }
                auto id = generateId(domain);
                if (!id) return false;
                msg_.appendHeader("Message-ID", " " + *id);
                note("added Message-ID");
            }
            return step != Step::Stop;
        }
        const size_t idx = msg_.find("Message-ID");
        const std::string& value = fields()[idx].value;
        auto parsed = parseMessageId(value, smtputf8());
        if (!parsed) {
            const std::string shown = quoted(mail::unfold(value), 60);
            Step step = decide("message-id", "malformed Message-ID " + shown,
                               missingReply + " (" + shown + " is not <left@right>" +
                                   (!smtputf8() && has8bit(value) ? " in ASCII" : "") + ")");
            if (step == Step::Apply) {
                const std::string domain = idDomain();
                if (domain.empty()) {
                    note("cannot replace the malformed Message-ID: no domain for it (set hygiene_message_id_domain)");
                    return true;
                }
                auto id = generateId(domain);
                if (!id) return false;
                msg_.changeHeader(idx, " " + *id);
                note("replaced malformed Message-ID " + shown);
            }
            return step != Step::Stop;
        }
        if (!internalHost(parsed->right)) return true;
        const std::string host = quoted(parsed->right, 60);
        Step step = decide("message-id-internal", "Message-ID host " + host + " is an internal name",
                           "the Message-ID discloses the internal host name " + host);
        if (step == Step::Apply) {
            const std::string domain = idDomain();
            if (domain.empty()) {
                note("cannot replace Message-ID host " + host + ": no domain for it (set hygiene_message_id_domain)");
                return true;
            }
            std::string id = "<" + parsed->left + "@" + domain + ">";
            if (id.size() > kMaxMessageId) {
                auto fresh = generateId(domain);
                if (!fresh) return false;
                id = *fresh;
            }
            msg_.changeHeader(idx, " " + id);
            note("replaced Message-ID host " + host);
        }
        return step != Step::Stop;
    }

    // ---- 8bit-headers
    bool eightBit() {
        struct Fix {
            size_t index;
            std::string value;
        };
        std::vector<Fix> fixes;
        NameCounts fixed;
        std::string refusal;
        for (size_t i = 0; i < fields().size() && refusal.empty(); ++i) {
            const auto& f = fields()[i];
            if (!has8bit(f.value)) continue;
            const bool utf8 = validUtf8(f.value);
            if (smtputf8() && utf8) continue;  // RFC 6532
            // Date and Message-ID belong to their own rules, which replace them.
            if (util::iequals(f.name, "Date") && s_.action("date") == A::Fix) continue;
            if (util::iequals(f.name, "Message-ID") && s_.action("message-id") == A::Fix) continue;
            const std::string_view charset = utf8 ? "UTF-8" : "windows-1252";
            const std::string name = util::printable(f.name, 80);
            if (isUnstructured(f.name)) {
                fixes.push_back({i, encodeUnstructured(f.name, f.value, charset)});
                fixed.add(f.name);
            } else if (isAddressField(f.name)) {
                FieldRepair r = AddressFieldEncoder(f.name, f.value, charset).run();
                if (!r.refusal.empty()) {
                    refusal = r.refusal;
                } else {
                    fixes.push_back({i, std::move(r.value)});
                    fixed.add(f.name);
                }
            } else {
                refusal = "8-bit characters in " + name + ", a structured header field";
            }
            if (!refusal.empty()) {
                refusal += smtputf8() ? " (and not valid UTF-8)" : " and the message was not sent with SMTPUTF8";
            }
        }
        if (!refusal.empty()) {
            Step step = decide("8bit-headers", refusal,
                               "The message contains a unicode character in a disallowed header: " + refusal +
                                   ". Use ASCII there, or a mail client that sends SMTPUTF8",
                               false);
            if (step == Step::Stop) return false;
        }
        if (fixes.empty()) return true;
        const std::string what = "raw 8-bit in " + fixed.names();
        Step step = decide("8bit-headers", what,
                           "The message contains a unicode character in a disallowed header: " + what +
                               (smtputf8() ? " is not valid UTF-8" : " and the message was not sent with SMTPUTF8") +
                               ". Use a mail client that encodes such text (RFC 2047) or sends SMTPUTF8");
        if (step == Step::Apply) {
            for (auto& f : fixes)
                msg_.changeHeader(f.index, std::move(f.value));
            note("RFC 2047-encoded 8-bit in " + fixed.names());
        }
        return step != Step::Stop;
    }

    // ---- line-length
    bool lineLength() {
        std::vector<std::pair<size_t, std::string>> fixes;
        NameCounts fixed;
        std::string refusal;
        for (size_t i = 0; i < fields().size(); ++i) {
            const auto& f = fields()[i];
            if (f.name.size() + 1 + f.value.size() <= kMaxLine) continue;  // quick: no line can be too long
            LineCheck c = checkLines(f.name, f.value);
            if (!c.tooLong()) continue;
            auto folded = refold(f.name, f.value);
            if (!folded) {
                refusal = "the " + util::printable(f.name, 80) + " header field has a line of " +
                          std::to_string(c.longest) + " octets without whitespace to fold at";
                break;
            }
            fixes.emplace_back(i, std::move(*folded));
            fixed.add(f.name);
        }
        if (!refusal.empty()) {
            Step step = decide("line-length", refusal,
                               "This message is not RFC 5322 compliant: " + refusal +
                                   " (the limit is 998 octets per line, RFC 5322 section 2.1.1)",
                               false);
            if (step == Step::Stop) return false;
        }
        if (fixes.empty()) return true;
        const std::string what = "lines over 998 octets in " + fixed.names();
        Step step = decide("line-length", what,
                           "This message is not RFC 5322 compliant: " + what +
                               " (the limit is 998 octets per line, RFC 5322 section 2.1.1)");
        if (step == Step::Apply) {
            for (auto& [i, v] : fixes)
                msg_.changeHeader(i, std::move(v));
            note("refolded " + fixed.names());
        }
        return step != Step::Stop;
    }

    // ---- mime-version
    bool mimeVersion() {
        if (msg_.count("MIME-Version") > 0) return true;
        if (msg_.count("Content-Type") == 0 && msg_.count("Content-Transfer-Encoding") == 0) return true;
        Step step = decide("mime-version", "Content-Type without MIME-Version", "");
        if (step == Step::Apply) {
            msg_.appendHeader("MIME-Version", " 1.0");
            note("added MIME-Version");
        }
        return step != Step::Stop;
    }

    const HygieneSettings& s_;
    const util::Clock& clock_;
    Message& msg_;
    Notes& notes_;
    std::optional<Verdict> verdict_;
    std::string fromDomain_;  // ASCII From domain, once from-mailbox found it valid
};

const HygieneRule* findRule(std::string_view id) {
    for (const auto& r : hygieneRules()) {
        if (r.id == id) return &r;
    }
    return nullptr;
}

std::optional<RuleAction> parseAction(std::string_view s) {
    for (RuleAction a : {A::Off, A::Warn, A::Strip, A::Fix, A::Reject}) {
        if (util::iequals(s, ruleActionName(a))) return a;
    }
    return std::nullopt;
}

std::string actionList(const std::vector<RuleAction>& actions) {
    std::string out;
    for (RuleAction a : actions)
        out += (out.empty() ? "" : ", ") + std::string(ruleActionName(a));
    return out;
}

// The configuration list is split on commas and blanks, so "date = warn" arrives as three items.
std::vector<std::string> joinAssignments(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const auto& item : items) {
        if (!out.empty() && (out.back().back() == '=' || item.front() == '=')) {
            out.back() += item;
        } else {
            out.push_back(item);
        }
    }
    return out;
}

bool validFieldName(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        auto uc = static_cast<unsigned char>(c);
        if (uc < 33 || uc > 126 || c == ':') return false;
    }
    return true;
}

}  // namespace

std::string_view ruleActionName(RuleAction a) {
    switch (a) {
        case A::Off:
            return "off";
        case A::Warn:
            return "warn";
        case A::Strip:
            return "strip";
        case A::Fix:
            return "fix";
        case A::Reject:
            return "reject";
    }
    return "off";
}

const std::vector<HygieneRule>& hygieneRules() {
    static const std::vector<HygieneRule> rules = {
        {"from",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6 requires exactly one From field, and Gmail refuses a message with none or several "
         "(550 5.7.1 \"not RFC 5322 compliant: Multiple 'From' headers found\")."},
        {"from-mailbox",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "DMARC needs one author domain, and Gmail refuses a From field without a valid address or with several "
         "(\"Multiple addresses in the From: header are not accepted\")."},
        {"date",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6 requires exactly one Date (orig-date 1..1) in date-time syntax, and Yahoo refuses "
         "duplicate headers and header values it cannot decode."},
        {"message-id",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6.4 says every message should have one Message-ID, and Gmail refuses \"Messages "
         "missing a valid Message-ID: header\" (and IDs over 500 characters)."},
        {"message-id-internal",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "A Message-ID such as <1234@build-7.corp.local> discloses internal host names to every recipient."},
        {"duplicate-headers",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6 and RFC 2045 allow these fields at most once, and Gmail (\"There are "
         "multiple Subject headers\") and Yahoo (\"Duplicate headers\") refuse duplicates."},
        {"line-length",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "RFC 5322 section 2.1.1 limits lines to 998 octets; MTAs on the way cut longer lines, which breaks the "
         "DKIM signature."},
        {"header-size",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "Gmail refuses header blocks over 500 KB or 5,000 fields (552 5.3.4 \"Your message exceeded Google's "
         "message header size limits\") and Yahoo refuses headers that are too big."},
        {"8bit-headers",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "Without SMTPUTF8 raw 8-bit is not allowed in header fields (RFC 6532, RFC 2047), Postfix bounces such "
         "mail at a hop without SMTPUTF8, and Gmail refuses \"a unicode character in a disallowed header\"."},
        {"strip-headers",
         A::Strip,
         {A::Strip, A::Warn, A::Off},
         "Fields such as X-Originating-IP, X-Mailer and User-Agent disclose client addresses and software "
         "versions to every recipient."},
        {"private-received",
         A::Strip,
         {A::Strip, A::Warn, A::Off},
         "Received fields added on the user's side disclose private network addresses and host names."},
        {"forged-auth",
         A::Strip,
         {A::Strip, A::Warn, A::Off},
         "Authentication results and signatures supplied by the client are unverified claims (RFC 8601 section 5: "
         "remove forged Authentication-Results); Rampart signs the message itself."},
        {"mime-version",
         A::Fix,
         {A::Fix, A::Warn, A::Off},
         "RFC 2045 section 4 requires MIME-Version: 1.0 on MIME messages; without it a receiver may treat the "
         "Content-Type as absent."},
    };
    return rules;
}

RuleAction HygieneSettings::action(std::string_view ruleId) const {
    auto it = actions.find(std::string(ruleId));
    return it == actions.end() ? A::Off : it->second;
}

HygieneSettings HygieneSettings::defaults() {
    config::Config cfg;
    config::Diagnostics diags;
    return fromConfig(cfg, diags);
}

HygieneSettings HygieneSettings::fromConfig(const config::Config& cfg, config::Diagnostics& diags) {
    HygieneSettings s;
    for (const auto& r : hygieneRules())
        s.actions[r.id] = r.defaultAction;

    const config::SourceLocation rulesAt = cfg.where("hygiene_rules");
    std::string ids;
    for (const auto& r : hygieneRules())
        ids += (ids.empty() ? "" : ", ") + r.id;
    std::set<std::string> seen;
    for (const auto& item : joinAssignments(cfg.list("hygiene_rules"))) {
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
            diags.error(rulesAt, "hygiene_rules: expected RULE=ACTION, got " + quoted(item));
            continue;
        }
        const std::string id = util::toLower(item.substr(0, eq));
        const std::string actionText = util::toLower(item.substr(eq + 1));
        const HygieneRule* rule = findRule(id);
        if (!rule) {
            diags.error(rulesAt, "hygiene_rules: unknown rule " + quoted(id) + " (rules: " + ids + ")");
            continue;
        }
        auto action = parseAction(actionText);
        if (!action) {
            diags.error(rulesAt, "hygiene_rules: unknown action " + quoted(actionText) + " for rule " + id +
                                     " (it allows " + actionList(rule->allowed) + ")");
            continue;
        }
        if (std::find(rule->allowed.begin(), rule->allowed.end(), *action) == rule->allowed.end()) {
            diags.error(rulesAt, "hygiene_rules: rule " + id + " cannot take action " +
                                     std::string(ruleActionName(*action)) + " (it allows " + actionList(rule->allowed) +
                                     ")");
            continue;
        }
        if (!seen.insert(id).second) {
            diags.warning(rulesAt, "hygiene_rules: rule " + id + " is set more than once; the last setting (" +
                                       std::string(ruleActionName(*action)) + ") counts");
        }
        s.actions[id] = *action;
    }

    s.dryRun = cfg.flag("hygiene_dry_run");

    const config::SourceLocation stripAt = cfg.where("hygiene_strip_headers");
    for (const auto& entry : cfg.list("hygiene_strip_headers")) {
        const bool wildcard = !entry.empty() && entry.back() == '*';
        const std::string_view name =
            wildcard ? std::string_view(entry).substr(0, entry.size() - 1) : std::string_view(entry);
        if (!validFieldName(name) || name.find('*') != std::string_view::npos) {
            diags.error(stripAt, "hygiene_strip_headers: " + quoted(entry) +
                                     " is not a header field name (a trailing * matches a prefix, as in X-Source*)");
            continue;
        }
        const char* hit = nullptr;
        for (const char* p : kProtectedFields) {
            if (matchesPattern(p, entry)) {
                hit = p;
                break;
            }
        }
        if (hit) {
            diags.error(stripAt, "hygiene_strip_headers: " + quoted(entry) + " would strip " + hit +
                                     ", which the message needs (the hygiene rules keep it valid)");
            continue;
        }
        s.stripHeaders.push_back(entry);
    }

    const config::SourceLocation internalAt = cfg.where("hygiene_internal_domains");
    for (const auto& entry : cfg.list("hygiene_internal_domains")) {
        const std::string d = util::toLower(entry);
        if (d == "." || d.find_first_of("@[]<>") != std::string::npos) {
            diags.error(internalAt,
                        "hygiene_internal_domains: " + quoted(entry) + " is not a domain name or a .suffix");
            continue;
        }
        s.internalDomains.push_back(d);
    }

    if (const std::string& d = cfg.str("hygiene_message_id_domain"); !d.empty()) {
        auto ascii = mail::toAsciiDomain(d);
        if (!ascii || ascii->find('.') == std::string::npos) {
            diags.error(cfg.where("hygiene_message_id_domain"),
                        "hygiene_message_id_domain: " + quoted(d) + " is not a fully qualified domain name" +
                            (ascii ? std::string() : " (" + ascii.error() + ")"));
        } else {
            s.messageIdDomain = *ascii;
        }
    }

    s.headerSizeLimit = cfg.size("hygiene_header_size_limit");
    if (s.headerSizeLimit < 1024) {
        diags.error(cfg.where("hygiene_header_size_limit"),
                    "hygiene_header_size_limit: " + std::to_string(s.headerSizeLimit) +
                        " bytes is too small for any real message (use at least 1k)");
    } else if (s.headerSizeLimit > cfg.size("milter_header_size_limit") && s.action("header-size") != A::Off) {
        diags.warning(cfg.where("hygiene_header_size_limit"),
                      "hygiene_header_size_limit (" + cfg.text("hygiene_header_size_limit") +
                          ") is larger than milter_header_size_limit (" + cfg.text("milter_header_size_limit") +
                          "): larger header blocks get a temporary failure before rule header-size sees them");
    }
    return s;
}

HygieneStage::HygieneStage(HygieneSettings settings, std::shared_ptr<const util::Clock> clock)
    : settings_(std::move(settings)), clock_(std::move(clock)) {
    if (!clock_) clock_ = std::make_shared<util::SystemClock>();
}

Verdict HygieneStage::onEndOfMessage(Message& msg, BodyObserver* /*observer*/, Notes& notes) const {
    return Run(settings_, *clock_, msg, notes).go();
}

}  // namespace rampart::milter
