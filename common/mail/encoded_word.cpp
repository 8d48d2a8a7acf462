// RFC 2047 encoding of 8-bit header text (see encoded_word.h). A "word" is a run of text between
// blanks (unstructured fields) or a phrase word (atom, quoted string, '.') in an address field; runs
// of words are separated by blanks only. Address fields are lexed with byte positions, so display
// names and comments are replaced in place and everything else stays as the user wrote it.
//
// Reads untrusted bytes: linear, comment nesting capped, nothing throws on bad input.
#include "mail/encoded_word.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "mail/domain.h"
#include "mail/header.h"
#include "util/base64.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace rampart::mail {

namespace {

constexpr size_t kEncodedLine = 76;     // RFC 2047 section 2: lines holding encoded-words
constexpr size_t kEncodedWordMax = 75;  // RFC 2047 section 2

bool isWsp(char c) {
    return c == ' ' || c == '\t';
}
bool isFwsChar(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
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
        size_t firstLen = utf8 ? std::max<size_t>(1, util::utf8SequenceLength(text, i)) : 1;
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
            size_t len = utf8 ? util::utf8SequenceLength(text, end) : 1;
            if (len == 0) len = 1;  // not reached: the caller picks UTF-8 only for valid UTF-8
            if (end + len - i > limit) break;
            end += len;
        }
        if (end == i) end = i + firstLen;  // a line too narrow even after folding: cannot happen, be safe
        const std::string word = prefix + util::base64Encode(text.substr(i, end - i)) + "?=";
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
        t.eight = util::has8bit(s.substr(t.b, t.e - t.b));
        out.push_back(std::move(t));
    }
    return out;
}

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
        auto ascii = toAsciiDomain(text);
        if (!ascii) {
            refusal_ = "the domain " + util::quoted(text) + " in " + std::string(name_) +
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

}  // namespace

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
        w.eight = util::has8bit(w.text);
        w.encoded = !w.eight && looksLikeEncodedWord(w.text);
        words.push_back(std::move(w));
    }
    std::vector<Replacement> repls;
    spansToEncode(value, words, repls);
    return applyReplacements(name, value, std::move(repls), charset);
}

FieldRepair encodeAddressField(std::string_view name, std::string_view value, std::string_view charset) {
    return AddressFieldEncoder(name, value, charset).run();
}

}  // namespace rampart::mail
