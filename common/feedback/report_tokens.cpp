// Tokens in reports (report_tokens.h): unsubscribe tokens in an address or a subject, and the
// reference stamp in the returned headers.
#include "feedback/report_tokens.h"

#include <array>
#include <vector>

#include "feedback/report_text.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using util::iequals;
using util::startsWithNoCase;
using util::trim;
constexpr size_t npos = std::string_view::npos;

constexpr size_t kMinToken = 40;
constexpr size_t kMaxToken = 1024;

constexpr std::array<std::string_view, 2> kUnsubscribeWords = {"unsubscribe", "unsub"};

bool isTokenChar(char c) {
    return isAlnum(c) || c == '-' || c == '_';
}

bool tokenLike(std::string_view t) {
    if (t.size() < kMinToken || t.size() > kMaxToken) return false;
    std::array<bool, 256> seen{};
    size_t distinct = 0;
    for (char c : t) {
        if (!isTokenChar(c)) return false;
        auto u = static_cast<unsigned char>(c);
        if (!seen[u]) {
            seen[u] = true;
            ++distinct;
        }
    }
    return distinct >= 8;
}

}  // namespace

// "unsubscribe+TOKEN@domain" (or "unsub", or '-' for '+') -> TOKEN.
std::string tokenFromAddress(std::string_view value) {
    std::string address = cleanAddress(value);
    std::string local = localPartOf(address);
    for (std::string_view word : kUnsubscribeWords) {
        if (local.size() <= word.size() + 1 || !startsWithNoCase(local, word)) continue;
        char sep = local[word.size()];
        if (sep != '+' && sep != '-') continue;
        std::string_view token = std::string_view(local).substr(word.size() + 1);
        if (tokenLike(token)) return std::string(token);
    }
    return {};
}

// "unsubscribe TOKEN", "Re: Unsubscribe: <TOKEN>", "unsubscribe-TOKEN", or the longest token-like
// word of the subject.
std::string tokenFromSubject(std::string_view subject) {
    std::vector<std::string_view> runs;
    size_t i = 0;
    while (i < subject.size()) {
        if (!isTokenChar(subject[i])) {
            ++i;
            continue;
        }
        size_t start = i;
        while (i < subject.size() && isTokenChar(subject[i]))
            ++i;
        runs.push_back(subject.substr(start, i - start));
    }
    for (size_t k = 0; k < runs.size(); ++k) {
        for (std::string_view word : kUnsubscribeWords) {
            if (iequals(runs[k], word) && k + 1 < runs.size() && tokenLike(runs[k + 1])) {
                return std::string(runs[k + 1]);
            }
            if (runs[k].size() > word.size() + 1 && startsWithNoCase(runs[k], word) &&
                (runs[k][word.size()] == '-' || runs[k][word.size()] == '_') &&
                tokenLike(runs[k].substr(word.size() + 1))) {
                return std::string(runs[k].substr(word.size() + 1));
            }
        }
    }
    std::string_view best;
    for (std::string_view r : runs) {
        if (tokenLike(r) && r.size() > best.size()) best = r;
    }
    return std::string(best);
}

std::string referenceToken(const mail::HeaderFields& headers, std::string_view name) {
    try {
        for (size_t i = mail::findHeader(headers, name); i != npos; i = mail::findHeader(headers, name, i + 1)) {
            std::string v = mail::unfold(headers[i].value);
            std::string_view t = trim(v);
            while (!t.empty() && (t.front() == '<' || t.front() == '"'))
                t.remove_prefix(1);
            size_t end = 0;
            while (end < t.size() && isTokenChar(t[end]))
                ++end;
            std::string_view token = t.substr(0, end);
            std::string_view rest = trim(t.substr(end));
            while (!rest.empty() && (rest.front() == '>' || rest.front() == '"'))
                rest.remove_prefix(1);
            if (tokenLike(token) && (trim(rest).empty() || trim(rest).front() == ';' || trim(rest).front() == '(')) {
                return std::string(token);
            }
        }
    } catch (...) {
    }
    return {};
}

}  // namespace rampart::feedback
