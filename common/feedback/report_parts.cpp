// Where the parts of a report are in its MIME tree (report_parts.h): the report part itself, its
// multipart/report, and the header block of the message it returns.
#include "feedback/report_parts.h"

#include "util/strings.h"

namespace rampart::feedback {

namespace {

using mail::ContentType;
using mail::isEnclosedMessage;
using mail::isHeaderBlock;
using mail::parseFields;
using util::toLower;
using util::trim;
constexpr size_t npos = std::string_view::npos;

}  // namespace

bool isDsnType(std::string_view t) {
    return t == "message/delivery-status" || t == "message/global-delivery-status";
}

// Depth-first through the message and its multipart parts, never into enclosed messages (a
// returned message may itself be a bounce).
void findPart(const MimePart& p, const MimePart* parent, size_t index, bool (*pred)(const MimePart&), Located* out) {
    if (out->part) return;
    if (pred(p)) {
        *out = {&p, parent, index};
        return;
    }
    if (p.contentType.rfind("multipart/", 0) != 0) return;
    for (size_t i = 0; i < p.children.size() && !out->part; ++i)
        findPart(p.children[i], &p, i, pred, out);
}

// A report whose part lost its proper type (text/plain instead of message/...): the fields say
// what it is.
bool leafHasField(const MimePart& p, std::string_view a, std::string_view b) {
    if (!p.children.empty() || p.contentType.rfind("multipart/", 0) == 0 || p.body.size() > 1000000) return false;
    size_t ignored = 0;
    auto fields = parseFields(p.body, &ignored, true);
    return mail::findHeader(fields, a) != npos && (b.empty() || mail::findHeader(fields, b) != npos);
}

std::string reportType(const MimePart* multipart) {
    if (!multipart || multipart->contentType != "multipart/report") return {};
    ContentType ct;
    mail::contentTypeOf(multipart->headers, "", &ct);
    return toLower(trim(ct.param("report-type")));
}

// The header block the report returned: an enclosed message or header part among the siblings of
// the report part, else (the third part of ARF, often mislabelled) a later text part that reads as
// a header block.
void fillOriginalHeaders(const Located& at, Report& r) {
    if (!at.parent) return;
    const auto& parts = at.parent->children;
    for (const auto& p : parts) {
        if ((isEnclosedMessage(p.contentType) || isHeaderBlock(p.contentType)) && !p.children.empty() &&
            !p.children[0].headers.empty()) {
            r.originalHeaders = p.children[0].headers;
            return;
        }
    }
    for (size_t i = at.index + 1; i < parts.size(); ++i) {
        const auto& p = parts[i];
        if (!p.children.empty() || p.contentType.rfind("text/", 0) != 0) continue;
        size_t ignored = 0;
        std::string_view body = p.body;
        while (!body.empty() && (body.front() == '\r' || body.front() == '\n'))
            body.remove_prefix(1);
        auto fields = parseFields(body, &ignored, false);
        for (std::string_view name : {"From", "To", "Message-ID", "Subject", "Received", "Date"}) {
            if (mail::findHeader(fields, name) != npos) {
                r.originalHeaders = std::move(fields);
                return;
            }
        }
    }
}

}  // namespace rampart::feedback
