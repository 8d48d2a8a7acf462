// RFC 5322 address-list parser (with the obsolete syntax of section 4.4 that real mail still
// uses, and RFC 6532 UTF-8) and RFC 5321 envelope addresses. A linear lexer turns the value into
// tokens, skipping folding whitespace and comments (nesting counted, not recursed, and capped);
// a loop-based parser reads addresses and groups from the tokens. Never recursive, never
// quadratic, never throws on bad input.
#include "mail/address.h"

#include <cstdio>
#include <cstring>

#include "util/strings.h"

namespace rampart::mail {

namespace {

constexpr int kMaxCommentDepth = 64;

enum class Tok { Atom, Quoted, Literal, Special, End };

struct Token {
    Tok kind = Tok::End;
    char special = 0;          // Special: one of < > @ , ; : .
    std::string text;          // Atom: the atom; Quoted: decoded content; Literal: "[...]"
    std::string raw;           // Quoted: as written, quotes included, line breaks removed
    bool spaceBefore = false;  // whitespace or a comment precedes the token
};

bool isAtext(unsigned char c) {
    if (c >= 0x80) return true;  // RFC 6532: UTF-8
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool isFws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string hexByte(unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", c);
    return buf;
}

util::Result<std::vector<Token>> lex(std::string_view s) {
    std::vector<Token> out;
    bool space = false;
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        const char c = s[i];
        const auto uc = static_cast<unsigned char>(c);
        if (isFws(c)) {
            space = true;
            ++i;
            continue;
        }
        if (c == '(') {
            int depth = 0;
            while (i < n) {
                char d = s[i];
                if (d == '\\') {
                    i += 2;
                    continue;
                }
                if (d == '\0') return util::err("invalid character 0x00 in a comment");
                if (d == '(') {
                    if (++depth > kMaxCommentDepth) return util::err("comments nested too deeply");
                } else if (d == ')') {
                    if (--depth == 0) break;
                }
                ++i;
            }
            if (i >= n) return util::err("unterminated comment (missing ')')");
            ++i;
            space = true;
            continue;
        }
        Token t;
        t.spaceBefore = space;
        space = false;
        if (c == '"') {
            t.kind = Tok::Quoted;
            t.raw.push_back('"');
            ++i;
            bool closed = false;
            while (i < n) {
                char d = s[i];
                if (d == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (d == '\\') {
                    if (i + 1 >= n) break;
                    char e = s[i + 1];
                    if (e == '\0') return util::err("invalid character 0x00 in a quoted string");
                    t.raw.push_back('\\');
                    t.raw.push_back(e);
                    t.text.push_back(e);
                    i += 2;
                    continue;
                }
                if (d == '\r' || d == '\n') {  // folding inside the quotes: unfold
                    ++i;
                    continue;
                }
                if (d == '\0') return util::err("invalid character 0x00 in a quoted string");
                t.raw.push_back(d);
                t.text.push_back(d);
                ++i;
            }
            if (!closed) return util::err("unterminated quoted string (missing '\"')");
            t.raw.push_back('"');
        } else if (c == '[') {
            t.kind = Tok::Literal;
            size_t close = i + 1;
            while (close < n && s[close] != ']' && s[close] != '[') {
                if (s[close] == '\\') ++close;
                ++close;
            }
            if (close >= n || s[close] != ']') {
                return util::err("unterminated domain literal (missing ']')");
            }
            for (size_t k = i; k <= close; ++k) {
                if (s[k] != '\r' && s[k] != '\n') t.text.push_back(s[k]);
            }
            i = close + 1;
        } else if (c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.') {
            t.kind = Tok::Special;
            t.special = c;
            ++i;
        } else if (c == ')') {
            return util::err("unexpected ')' without '('");
        } else if (c == ']') {
            return util::err("unexpected ']' without '['");
        } else if (c == '\\') {
            return util::err("unexpected '\\' outside a quoted string");
        } else if (isAtext(uc)) {
            t.kind = Tok::Atom;
            size_t start = i;
            while (i < n && isAtext(static_cast<unsigned char>(s[i])))
                ++i;
            t.text = std::string(s.substr(start, i - start));
        } else {
            return util::err("invalid character " + hexByte(uc));
        }
        out.push_back(std::move(t));
    }
    Token end;
    end.spaceBefore = space;
    out.push_back(end);
    return out;
}

std::string describe(const Token& t) {
    switch (t.kind) {
        case Tok::End:
            return "end of field";
        case Tok::Special:
            return std::string("'") + t.special + "'";
        case Tok::Quoted:
            return util::printable(t.raw, 80);
        default:
            return util::quoted(t.text);
    }
}

class Parser {
  public:
    explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

    util::Result<std::vector<Mailbox>> addressList() {
        std::vector<Mailbox> out;
        bool sawAddress = false;
        while (true) {
            while (isSpecial(','))
                ++i_;  // empty list elements (obs-addr-list)
            if (cur().kind == Tok::End) break;
            if (auto e = address(out, false); !e.empty()) return util::err(e);
            sawAddress = true;
            if (cur().kind == Tok::End) break;
            if (!isSpecial(',')) return util::err(trailing());
        }
        if (!sawAddress) return util::err("no address");
        return out;
    }

  private:
    const Token& cur() const { return t_[i_]; }
    bool isSpecial(char c) const { return cur().kind == Tok::Special && cur().special == c; }
    bool isWord() const { return cur().kind == Tok::Atom || cur().kind == Tok::Quoted; }

    std::string trailing() const { return "unexpected " + describe(cur()) + " after " + util::quoted(last_); }

    // Words and dots: a display name (phrase, obs-phrase) or a local part.
    std::vector<const Token*> phrase() {
        std::vector<const Token*> out;
        while (isWord() || isSpecial('.'))
            out.push_back(&t_[i_++]);
        return out;
    }

    static std::string displayName(const std::vector<const Token*>& words) {
        std::string out;
        for (const Token* w : words) {
            if (w->spaceBefore && !out.empty()) out.push_back(' ');
            if (w->kind == Tok::Special) {
                out.push_back(w->special);
            } else {
                out += w->text;
            }
        }
        return out;
    }

    // local-part = word *("." word), written back without the CFWS around dots.
    static std::string localPart(const std::vector<const Token*>& words, std::string& error) {
        std::string out;
        bool expectWord = true;
        for (const Token* w : words) {
            if (w->kind == Tok::Special) {
                if (expectWord) {
                    error = out.empty() ? "local part starts with '.'" : "'..' in local part";
                    return {};
                }
                out.push_back('.');
                expectWord = true;
            } else {
                if (!expectWord) {
                    error = "missing '@' after " + util::quoted(out) + " (found " +
                            util::quoted(w->kind == Tok::Quoted ? w->raw : w->text) + ")";
                    return {};
                }
                out += w->kind == Tok::Quoted ? w->raw : w->text;
                expectWord = false;
            }
        }
        if (expectWord && !out.empty()) {
            error = "local part ends with '.'";
            return {};
        }
        return out;
    }

    // domain = dot-atom / domain-literal / obs-domain; i_ is after the '@'.
    std::string domain(std::string& out) {
        if (cur().kind == Tok::Literal) {
            out = cur().text;
            ++i_;
            return {};
        }
        if (cur().kind != Tok::Atom) {
            if (cur().kind == Tok::End || isSpecial(',') || isSpecial('>') || isSpecial(';')) {
                return "empty domain after '@'";
            }
            return "invalid domain: unexpected " + describe(cur()) + " after '@'";
        }
        out = cur().text;
        ++i_;
        while (isSpecial('.')) {
            ++i_;
            if (cur().kind != Tok::Atom) return "domain " + util::quoted(out + ".") + " ends with '.'";
            out += "." + cur().text;
            ++i_;
        }
        return {};
    }

    // addr-spec from already collected words; i_ is on the '@'.
    std::string addrSpec(const std::vector<const Token*>& words, Mailbox& mb) {
        if (words.empty()) return "empty local part before '@'";
        std::string error;
        mb.localPart = localPart(words, error);
        if (!error.empty()) return error;
        ++i_;  // '@'
        if (auto e = domain(mb.domain); !e.empty()) return e;
        last_ = mb.address();
        return {};
    }

    // angle-addr after '<': [obs-route] addr-spec '>'.
    std::string angleAddr(Mailbox& mb) {
        if (isSpecial('@')) {  // obs-route: "@a,@b:" is dropped
            while (true) {
                while (isSpecial(','))
                    ++i_;
                if (!isSpecial('@')) break;
                ++i_;
                std::string ignored;
                if (auto e = domain(ignored); !e.empty()) return "invalid route: " + e;
            }
            if (!isSpecial(':')) return "invalid route: expected ':' but found " + describe(cur());
            ++i_;
        }
        if (isSpecial('>')) return "empty address \"<>\"";
        std::vector<const Token*> words = phrase();
        if (!isSpecial('@')) {
            if (words.empty()) return "unexpected " + describe(cur()) + " after '<'";
            return "missing '@' in " + util::quoted("<" + displayName(words) + ">");
        }
        if (auto e = addrSpec(words, mb); !e.empty()) return e;
        if (isSpecial('>')) {
            ++i_;
            return {};
        }
        if (cur().kind == Tok::End) return "missing '>' after " + util::quoted("<" + last_);
        return "unexpected " + describe(cur()) + " in " + util::quoted("<" + last_ + ">");
    }

    // One address (mailbox or group); appends its mailboxes. Returns an error text or "".
    std::string address(std::vector<Mailbox>& out, bool inGroup) {
        std::vector<const Token*> words = phrase();
        if (isSpecial('<')) {
            Mailbox mb;
            mb.displayName = displayName(words);
            ++i_;
            if (auto e = angleAddr(mb); !e.empty()) return e;
            out.push_back(std::move(mb));
            return {};
        }
        if (isSpecial('@')) {
            Mailbox mb;
            if (auto e = addrSpec(words, mb); !e.empty()) return e;
            out.push_back(std::move(mb));
            return {};
        }
        if (isSpecial(':') && !words.empty()) {
            const std::string name = displayName(words);
            if (inGroup) return "nested group " + util::quoted(name) + " inside a group";
            ++i_;
            while (true) {
                while (isSpecial(','))
                    ++i_;
                if (isSpecial(';')) {
                    ++i_;
                    last_ = name + ":;";
                    return {};
                }
                if (cur().kind == Tok::End) {
                    return "group " + util::quoted(name) + " is not closed with ';'";
                }
                if (auto e = address(out, true); !e.empty()) return e;
                if (!isSpecial(',') && !isSpecial(';')) {
                    if (cur().kind == Tok::End) {
                        return "group " + util::quoted(name) + " is not closed with ';'";
                    }
                    return trailing();
                }
            }
        }
        if (!words.empty()) return "missing '@' in " + util::quoted(displayName(words));
        if (isSpecial('>')) return "unexpected '>' without '<'";
        return "unexpected " + describe(cur());
    }

    std::vector<Token> t_;
    size_t i_ = 0;
    std::string last_;  // the last address read, for error texts
};

bool envelopeChar(char c) {
    auto uc = static_cast<unsigned char>(c);
    if (uc <= 0x20 || uc == 0x7F) return false;
    return c != '<' && c != '>' && c != '(' && c != ')' && c != ',' && c != ';' && c != '\\' && c != '"' && c != '[' &&
           c != ']';
}

}  // namespace

util::Result<std::vector<Mailbox>> parseAddressList(std::string_view value) {
    auto tokens = lex(value);
    if (!tokens) return util::err(tokens.error());
    Parser p(std::move(tokens).value());
    return p.addressList();
}

util::Result<Mailbox> parseEnvelopeAddress(std::string_view text) {
    std::string_view t = util::trim(text);
    if (t.empty() || t == "<>") return Mailbox{};
    if (t.front() == '<') {
        if (t.size() < 2 || t.back() != '>') return util::err("missing '>' in " + util::quoted(t));
        t = util::trim(t.substr(1, t.size() - 2));
        if (t.empty()) return Mailbox{};
    } else if (t.back() == '>') {
        return util::err("unexpected '>' in " + util::quoted(t));
    }
    const std::string_view whole = t;
    if (t.front() == '@') {  // source route "@x,@y:" (RFC 5321 section 4.1.2), dropped
        size_t colon = t.find(':');
        if (colon == std::string_view::npos) {
            return util::err("invalid source route in " + util::quoted(whole) + " (missing ':')");
        }
        t = t.substr(colon + 1);
    }
    Mailbox mb;
    std::string_view rest;
    if (!t.empty() && t.front() == '"') {
        size_t i = 1;
        bool closed = false;
        while (i < t.size()) {
            if (t[i] == '\\' && i + 1 < t.size()) {
                i += 2;
                continue;
            }
            if (t[i] == '"') {
                closed = true;
                break;
            }
            if (static_cast<unsigned char>(t[i]) < 0x20) {
                return util::err("invalid character " + hexByte(static_cast<unsigned char>(t[i])) + " in " +
                                 util::quoted(whole));
            }
            ++i;
        }
        if (!closed) return util::err("unterminated quoted local part in " + util::quoted(whole));
        mb.localPart = std::string(t.substr(0, i + 1));
        rest = t.substr(i + 1);
        if (rest.empty() || rest.front() != '@') {
            return util::err("missing '@' after the quoted local part in " + util::quoted(whole));
        }
    } else {
        size_t at = t.find('@');
        if (at == std::string_view::npos) {
            // RFC 5321 section 4.1.1.3: "<Postmaster>" without a domain is a valid recipient.
            if (util::iequals(t, "postmaster")) {
                mb.localPart = std::string(t);
                return mb;
            }
            return util::err("missing '@' in " + util::quoted(whole));
        }
        mb.localPart = std::string(t.substr(0, at));
        if (mb.localPart.empty()) return util::err("empty local part in " + util::quoted(whole));
        for (char c : mb.localPart) {
            if (!envelopeChar(c)) {
                return util::err("invalid character " +
                                 (static_cast<unsigned char>(c) <= 0x20 ? hexByte(static_cast<unsigned char>(c))
                                                                        : std::string("'") + c + "'") +
                                 " in the local part of " + util::quoted(whole));
            }
        }
        rest = t.substr(at);
    }
    std::string_view domain = rest.substr(1);
    if (domain.empty()) return util::err("empty domain in " + util::quoted(whole));
    if (domain.front() == '[' && domain.back() == ']') {
        for (char c : domain.substr(1, domain.size() - 2)) {
            if (static_cast<unsigned char>(c) <= 0x20 || c == '[' || c == ']' || c == '\\') {
                return util::err("invalid address literal in " + util::quoted(whole));
            }
        }
    } else {
        for (char c : domain) {
            if (c == '@') return util::err("more than one '@' in " + util::quoted(whole));
            if (!envelopeChar(c) || c == ':') {
                return util::err("invalid character " +
                                 (static_cast<unsigned char>(c) <= 0x20 ? hexByte(static_cast<unsigned char>(c))
                                                                        : std::string("'") + c + "'") +
                                 " in the domain of " + util::quoted(whole));
            }
        }
        if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string_view::npos) {
            return util::err("invalid domain in " + util::quoted(whole));
        }
    }
    mb.domain = std::string(domain);
    return mb;
}

}  // namespace rampart::mail
