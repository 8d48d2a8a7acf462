// Non-standard bounces (plain_bounce.h): who sends them, what their subjects say, auto-replies,
// and the reader that finds recipients and SMTP statuses in their human-readable text (qmail, Exim,
// Exchange and provider plain-text forms).
#include "feedback/plain_bounce.h"

#include <set>
#include <vector>

#include "feedback/report_parts.h"
#include "feedback/report_text.h"
#include "feedback/status_code.h"
#include "mail/mime.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using mail::headerValue;
using mail::isBlankLine;
using mail::isEnclosedMessage;
using mail::isHeaderBlock;
using mail::Line;
using mail::lineAt;
using mail::parseFields;
using util::iequals;
using util::toLower;
using util::trim;
constexpr size_t npos = std::string_view::npos;

constexpr size_t kMaxScanText = size_t{256} << 10;  // human-readable text the heuristics read

bool daemonAddress(std::string_view address) {
    std::string local = toLower(localPartOf(address));
    for (std::string_view d :
         {"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "maildaemon", "postmaster", "mail.daemon"}) {
        if (local == d) return true;
    }
    return false;
}

}  // namespace

bool daemonSender(std::string_view from) {
    if (daemonAddress(cleanAddress(from))) return true;
    std::string f = toLower(from);
    return f.find("mail delivery") != npos || f.find("mailer-daemon") != npos;
}

bool bounceSubject(std::string_view subject) {
    std::string s = toLower(subject);
    for (std::string_view w :
         {"undeliver", "delivery status notification", "delivery failure", "delivery failed", "failure notice",
          "returned mail", "mail delivery failed", "delivery has failed", "could not be delivered", "not delivered",
          "delivery problem", "unzustellbar", "non remis", "non distribuable"}) {
        if (s.find(w) != npos) return true;
    }
    return false;
}

bool autoReply(const MimePart& root, std::string_view subject) {
    std::string as = toLower(headerValue(root.headers, "Auto-Submitted"));
    if (as.rfind("auto-replied", 0) == 0) return true;
    if (mail::findHeader(root.headers, "X-Autoreply") != npos ||
        mail::findHeader(root.headers, "X-Autorespond") != npos) {
        return true;
    }
    std::string s = toLower(subject);
    for (std::string_view w :
         {"out of office", "automatic reply", "auto reply", "autoreply", "auto-reply", "abwesenheit", "absence"}) {
        if (s.find(w) != npos) return true;
    }
    return false;
}

namespace {

std::string stripHtml(std::string_view html) {
    std::string out;
    out.reserve(html.size());
    size_t i = 0;
    while (i < html.size()) {
        char c = html[i];
        if (c == '<') {
            size_t end = html.find('>', i);
            if (end == npos) break;
            std::string tag = toLower(html.substr(i + 1, std::min<size_t>(end - i - 1, 8)));
            if (tag.rfind("br", 0) == 0 || tag.rfind("/p", 0) == 0 || tag.rfind("/div", 0) == 0 ||
                tag.rfind("/tr", 0) == 0 || tag.rfind("p", 0) == 0 || tag.rfind("/h", 0) == 0 ||
                tag.rfind("/li", 0) == 0) {
                out.push_back('\n');
            }
            i = end + 1;
            continue;
        }
        if (c == '&') {
            static constexpr std::pair<std::string_view, char> kEntities[] = {
                {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};
            bool done = false;
            for (const auto& [name, ch] : kEntities) {
                if (html.substr(i, name.size()) == name) {
                    out.push_back(ch);
                    i += name.size();
                    done = true;
                    break;
                }
            }
            if (done) continue;
        }
        out.push_back(c);
        ++i;
    }
    return out;
}

void collectText(const MimePart& p, std::string_view type, std::string& out) {
    if (out.size() >= kMaxScanText) return;
    if (p.contentType == type && p.children.empty()) {
        out.append(p.body.substr(0, kMaxScanText - out.size()));
        out += "\n";
        return;
    }
    if (p.contentType.rfind("multipart/", 0) != 0) return;
    for (const auto& c : p.children)
        collectText(c, type, out);
}

// Where a bounce's text ends and its copy of the returned message begins.
constexpr std::string_view kCopyMarkers[] = {
    "--- Below this line is a copy of the message.",                     // qmail
    "------ This is a copy of the message, including all the headers.",  // Exim
    "------ This is a copy of the message's headers.",                   // Exim
    "----- Original message follows -----",
    "----- Unsent message follows -----",
    "----- Original message -----",
    "Below is a copy of the original message",
    "Original message headers:",  // Exchange
};

size_t findNoCase(std::string_view hay, std::string_view needle) {
    if (needle.empty() || hay.size() < needle.size()) return npos;
    for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        if (util::toLowerAscii(hay[i]) == util::toLowerAscii(needle[0]) &&
            iequals(hay.substr(i, needle.size()), needle)) {
            return i;
        }
    }
    return npos;
}

// An address standing alone on a line: "bob@example.com", "<bob@example.com>:", " bob@example.com".
std::string addressLine(std::string_view line) {
    std::string_view t = trim(line);
    if (!t.empty() && t.back() == ':') t.remove_suffix(1);
    t = trim(t);
    if (t.size() >= 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
    return plausibleAddress(t) ? std::string(t) : std::string();
}

// The first plausible address in a line: inside <...>, else a bare word. Only the start of a long
// line is read (this is quadratic in the number of '<' and '@').
std::string addressInLine(std::string_view line) {
    line = line.substr(0, 2000);
    size_t pos = 0;
    while ((pos = line.find('<', pos)) != npos) {
        size_t gt = line.find('>', pos + 1);
        if (gt == npos) break;
        std::string_view inside = line.substr(pos + 1, gt - pos - 1);
        if (plausibleAddress(inside)) return std::string(inside);
        pos = gt + 1;
    }
    for (size_t at = line.find('@'); at != npos; at = line.find('@', at + 1)) {
        size_t start = line.find_last_of(" \t<(:;,\"'[", at);
        start = start == npos ? 0 : start + 1;
        size_t end = line.find_first_of(" \t>):;,\"'", at);
        std::string_view word = line.substr(start, (end == npos ? line.size() : end) - start);
        while (!word.empty() && word.back() == '.')
            word.remove_suffix(1);
        if (plausibleAddress(word)) return std::string(word);
    }
    return {};
}

bool lineHasCode(std::string_view line) {
    return findEnhancedCode(line) || findReplyCode(line) != 0;
}
}  // namespace

// Reads a plain-text bounce: recipients from address-only lines (qmail, Exim, Exchange, Gmail
// plain-text forms) each with the first status line after it; else the first status line with an
// address in it or just above it.
bool readPlainBounce(const MimePart& root, Report& r) {
    std::string text;
    collectText(root, "text/plain", text);
    if (trim(text).empty()) {
        std::string html;
        collectText(root, "text/html", html);
        text = stripHtml(html);
    }
    // The returned message: a part of its own, or inline after a marker.
    Located enclosed;
    findPart(
        root, nullptr, 0,
        [](const MimePart& p) {
            return (isEnclosedMessage(p.contentType) || isHeaderBlock(p.contentType)) && !p.children.empty();
        },
        &enclosed);
    if (enclosed.part) r.originalHeaders = enclosed.part->children[0].headers;
    for (std::string_view marker : kCopyMarkers) {
        size_t m = findNoCase(text, marker);
        if (m == npos) continue;
        if (r.originalHeaders.empty()) {
            std::string_view copy = std::string_view(text).substr(m);
            copy.remove_prefix(lineAt(copy, 0).next);  // the marker line
            while (!copy.empty()) {
                Line l = lineAt(copy, 0);
                if (!isBlankLine(copy.substr(0, l.end))) break;
                copy.remove_prefix(l.next);
            }
            size_t ignored = 0;
            r.originalHeaders = parseFields(copy, &ignored, false);
        }
        text.resize(m);
        break;
    }

    std::vector<std::string_view> lines;
    for (size_t pos = 0; pos < text.size();) {
        Line l = lineAt(text, pos);
        lines.emplace_back(std::string_view(text).substr(l.begin, l.end - l.begin));
        pos = l.next;
    }
    std::string self = toLower(cleanAddress(headerValue(root.headers, "From")));
    std::string to = toLower(cleanAddress(headerValue(root.headers, "To")));
    auto excluded = [&](const std::string& a) {
        std::string la = toLower(a);
        return la == self || la == to || daemonAddress(a);
    };
    auto diagnosticFrom = [&](size_t k) {
        std::string d(trim(lines[k]));
        for (size_t j = k + 1; j < lines.size() && j < k + 10 && !isBlankLine(lines[j]); ++j) {
            if (!addressLine(lines[j]).empty()) break;
            d += " ";
            d += trim(lines[j]);
        }
        return collapse(d, kMaxDiagnostic);
    };
    std::set<std::string> seen;
    auto add = [&](const std::string& address, size_t codeLine) {
        if (!seen.insert(toLower(address)).second) return;
        DsnRecipient d;
        d.finalRecipient = address;
        d.diagnostic = diagnosticFrom(codeLine);
        d.status = effectiveStatus("", d.diagnostic);
        d.action = inferredAction(d.status);
        r.recipients.push_back(std::move(d));
    };

    std::vector<std::pair<size_t, std::string>> candidates;
    for (size_t k = 0; k < lines.size(); ++k) {
        std::string a = addressLine(lines[k]);
        if (!a.empty() && !excluded(a)) candidates.emplace_back(k, std::move(a));
    }
    for (size_t c = 0; c < candidates.size() && r.recipients.size() < kMaxRecipients; ++c) {
        size_t end = c + 1 < candidates.size() ? candidates[c + 1].first : lines.size();
        for (size_t k = candidates[c].first + 1; k < end; ++k) {
            if (lineHasCode(lines[k])) {
                add(candidates[c].second, k);
                break;
            }
        }
    }
    if (r.recipients.empty()) {
        for (size_t k = 0; k < lines.size(); ++k) {
            if (!lineHasCode(lines[k])) continue;
            std::string a = addressInLine(lines[k]);
            for (size_t j = k; a.empty() && j > 0 && j + 5 > k && !isBlankLine(lines[j - 1]); --j) {
                a = addressInLine(lines[j - 1]);
            }
            if (!a.empty() && !excluded(a)) {
                add(a, k);
                break;
            }
        }
    }
    if (r.recipients.empty()) return false;
    r.kind = Report::Kind::Dsn;
    r.heuristic = true;
    return true;
}

}  // namespace rampart::feedback
