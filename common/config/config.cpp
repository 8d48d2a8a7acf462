// A parsed rampart.conf (config.h): reading the file, typed access to every key, dumps, "did you mean" hints.
#include "config/config.h"

#include <date/tz.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "util/edit_distance.h"
#include "util/strings.h"

namespace rampart::config {

using util::err;

std::string SourceLocation::str() const {
    if (line > 0) return file + ":" + std::to_string(line);
    return file;
}

std::string Diagnostic::str() const {
    std::string loc = where.str();
    std::string prefix = loc.empty() ? std::string() : loc + ": ";
    return prefix + (warning ? "warning: " : "") + message;
}

void Diagnostics::error(SourceLocation where, std::string message) {
    items_.push_back({std::move(where), false, std::move(message)});
}
void Diagnostics::warning(SourceLocation where, std::string message) {
    items_.push_back({std::move(where), true, std::move(message)});
}
void Diagnostics::append(const Diagnostics& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}
bool Diagnostics::hasErrors() const {
    return std::any_of(items_.begin(), items_.end(), [](const Diagnostic& d) { return !d.warning; });
}
std::string Diagnostics::str() const {
    std::string s;
    for (const auto& d : items_)
        s += d.str() + "\n";
    return s;
}

util::Result<Value> parseValue(const KeySpec& spec, std::string_view rawText) {
    std::string_view text = util::trim(rawText);
    using T = ValueType;
    switch (spec.type) {
        case T::String:
            return Value(std::string(text));
        case T::Path:
            if (!text.empty() && text.front() != '/')
                return err("expected an absolute path, got " + util::quoted(text, 200));
            return Value(std::string(text));
        case T::Bool: {
            auto b = parseBool(text);
            if (!b) return err(b.error());
            return Value(*b);
        }
        case T::Integer: {
            auto n = util::parseInteger(text);
            if (!n) return err("expected a whole number, got " + util::quoted(text, 200));
            if (spec.min != spec.max && (*n < spec.min || *n > spec.max)) {
                return err("must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max));
            }
            return Value(static_cast<int64_t>(*n));
        }
        case T::Duration: {
            auto d = parseDuration(text);
            if (!d) return err(d.error());
            return Value(*d);
        }
        case T::Size: {
            auto s = parseSize(text);
            if (!s) return err(s.error());
            return Value(*s);
        }
        case T::Rate: {
            auto r = parseRate(text);
            if (!r) return err(r.error());
            return Value(*r);
        }
        case T::Listen: {
            auto a = parseListenAddress(text);
            if (!a) return err(a.error());
            return Value(*a);
        }
        case T::ListenList: {
            std::vector<ListenAddress> out;
            for (const auto& item : util::splitList(text)) {
                auto a = parseListenAddress(item);
                if (!a) return err(a.error());
                out.push_back(*a);
            }
            if (out.empty()) return err("needs at least one listen address");
            return Value(std::move(out));
        }
        case T::List:
            return Value(util::splitList(text));
        case T::CidrList: {
            auto l = net::CidrList::parse(text);
            if (!l) return err(l.error());
            return Value(*l);
        }
        case T::Table: {
            if (text.empty()) return Value(TableRef{});
            auto t = parseTableRef(text, spec.choices);
            if (!t) return err(t.error());
            return Value(*t);
        }
        case T::Mode: {
            auto m = parseFileMode(text);
            if (!m) return err(m.error());
            return Value(*m);
        }
        case T::Enum: {
            std::string lower = util::toLower(text);
            for (auto c : util::splitExact(spec.choices, '|')) {
                if (c == lower) return Value(lower);
            }
            std::string choices(spec.choices);
            std::replace(choices.begin(), choices.end(), '|', ',');
            return err("expected one of " + choices + ", got " + util::quoted(text, 200));
        }
        case T::Timezone: {
            try {
                (void)date::locate_zone(std::string(text));
            } catch (const std::exception&) {
                return err("unknown time zone \"" + util::printable(text) +
                           "\" (an IANA name such as UTC or Europe/Berlin)");
            }
            return Value(std::string(text));
        }
    }
    return err("internal: unhandled type");
}

std::string canonicalText(const KeySpec& spec, const Value& v) {
    using T = ValueType;
    switch (spec.type) {
        case T::String:
        case T::Path:
        case T::Enum:
        case T::Timezone:
            return std::get<std::string>(v);
        case T::Bool:
            return std::get<bool>(v) ? "yes" : "no";
        case T::Integer:
            return std::to_string(std::get<int64_t>(v));
        case T::Duration:
            return formatDuration(std::get<std::chrono::seconds>(v));
        case T::Size:
            return formatSize(std::get<uint64_t>(v));
        case T::Rate:
            return formatRate(std::get<Rate>(v));
        case T::Listen:
            return std::get<ListenAddress>(v).toString();
        case T::ListenList: {
            std::string s;
            for (const auto& a : std::get<std::vector<ListenAddress>>(v))
                s += (s.empty() ? "" : ", ") + a.toString();
            return s;
        }
        case T::List:
            return util::join(std::get<std::vector<std::string>>(v), ", ");
        case T::CidrList:
            return std::get<net::CidrList>(v).toString();
        case T::Table:
            return std::get<TableRef>(v).toString();
        case T::Mode:
            return formatFileMode(std::get<unsigned>(v));
    }
    return {};
}

Config::Config() {
    for (const auto& spec : registry()) {
        Entry e;
        e.spec = &spec;
        auto v = parseValue(spec, spec.defaultValue);
        if (!v) {
            // A broken registry is a programming error that tests catch; abort loudly.
            throw std::logic_error("registry default of " + std::string(spec.name) + " does not parse: " + v.error());
        }
        e.value = *v;
        e.canonical = canonicalText(spec, e.value);
        entries_.push_back(std::move(e));
    }
}

const Config::Entry& Config::entry(std::string_view key) const {
    for (const auto& e : entries_) {
        if (e.spec->name == key) return e;
    }
    throw std::logic_error("configuration key not in registry: " + std::string(key));
}

namespace {
template <typename V>
const V& getAs(const Value& v, std::string_view key) {
    if (const V* p = std::get_if<V>(&v)) return *p;
    throw std::logic_error("configuration key read with the wrong type: " + std::string(key));
}
}  // namespace

const std::string& Config::str(std::string_view k) const {
    return getAs<std::string>(entry(k).value, k);
}
bool Config::flag(std::string_view k) const {
    return getAs<bool>(entry(k).value, k);
}
int64_t Config::integer(std::string_view k) const {
    return getAs<int64_t>(entry(k).value, k);
}
std::chrono::seconds Config::duration(std::string_view k) const {
    return getAs<std::chrono::seconds>(entry(k).value, k);
}
uint64_t Config::size(std::string_view k) const {
    return getAs<uint64_t>(entry(k).value, k);
}
const Rate& Config::rate(std::string_view k) const {
    return getAs<Rate>(entry(k).value, k);
}
const ListenAddress& Config::listen(std::string_view k) const {
    return getAs<ListenAddress>(entry(k).value, k);
}
const std::vector<ListenAddress>& Config::listens(std::string_view k) const {
    return getAs<std::vector<ListenAddress>>(entry(k).value, k);
}
const std::vector<std::string>& Config::list(std::string_view k) const {
    return getAs<std::vector<std::string>>(entry(k).value, k);
}
const net::CidrList& Config::networks(std::string_view k) const {
    return getAs<net::CidrList>(entry(k).value, k);
}
const TableRef& Config::table(std::string_view k) const {
    return getAs<TableRef>(entry(k).value, k);
}
unsigned Config::mode(std::string_view k) const {
    return getAs<unsigned>(entry(k).value, k);
}

std::string Config::text(std::string_view k) const {
    return entry(k).canonical;
}
bool Config::isDefault(std::string_view k) const {
    return !entry(k).explicitlySet;
}
SourceLocation Config::where(std::string_view k) const {
    const Entry& e = entry(k);
    if (e.explicitlySet) return e.where;
    return SourceLocation{file_, 0};
}

std::string Config::set(std::string_view key, std::string_view text, SourceLocation where) {
    for (auto& e : entries_) {
        if (e.spec->name != key) continue;
        auto v = parseValue(*e.spec, text);
        if (!v) return v.error();
        e.value = *v;
        e.canonical = canonicalText(*e.spec, e.value);
        e.where = std::move(where);
        e.explicitlySet = true;
        return {};
    }
    return "unknown key \"" + std::string(key) + "\"";
}

std::string Config::dumpDefaults(unsigned programs) {
    Config c;
    std::string out;
    for (const auto& e : c.entries_) {
        if (e.spec->programs & programs) out += std::string(e.spec->name) + " = " + e.canonical + "\n";
    }
    return out;
}

std::string Config::dumpNonDefaults(unsigned programs) const {
    std::string out;
    for (const auto& e : entries_) {
        if (e.explicitlySet && (e.spec->programs & programs)) {
            out += std::string(e.spec->name) + " = " + e.canonical + "\n";
        }
    }
    return out;
}

namespace {

std::string suggestion(std::string_view key) {
    std::string_view best;
    size_t bestDist = 4;
    for (const auto& spec : registry()) {
        size_t d = util::editDistance(key, spec.name);
        if (d < bestDist) {
            bestDist = d;
            best = spec.name;
        }
    }
    return best.empty() ? std::string() : " (did you mean " + std::string(best) + "?)";
}

bool validKeyName(std::string_view k) {
    if (k.empty()) return false;
    return std::all_of(k.begin(), k.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Removes a comment: "#" at the start or after whitespace.
std::string_view stripComment(std::string_view line) {
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' && (i == 0 || util::isSpace(line[i - 1]))) return line.substr(0, i);
    }
    return line;
}

}  // namespace

struct ConfigLoader {
    static LoadResult parse(std::string_view text, const std::string& name) {
        LoadResult r;
        r.config.file_ = name;
        struct Logical {
            int line;
            std::string text;
        };
        std::vector<Logical> lines;
        int lineNo = 0;
        std::string_view rest = text;
        while (!rest.empty()) {
            size_t nl = rest.find('\n');
            std::string_view raw = rest.substr(0, nl);
            rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
            ++lineNo;
            if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
            std::string_view content = stripComment(raw);
            if (util::trim(content).empty()) continue;
            if (util::isSpace(content.front())) {
                if (lines.empty()) {
                    r.diagnostics.error({name, lineNo}, "continuation line without a preceding \"key = value\" line");
                    continue;
                }
                lines.back().text += " ";
                lines.back().text += util::trim(content);
                continue;
            }
            lines.push_back({lineNo, std::string(util::trim(content))});
        }
        std::vector<std::pair<std::string, int>> seen;
        for (const auto& l : lines) {
            SourceLocation where{name, l.line};
            size_t eq = l.text.find('=');
            if (eq == std::string::npos) {
                r.diagnostics.error(where, "expected \"key = value\", got " + util::quoted(l.text, 80));
                continue;
            }
            std::string key = std::string(util::trim(std::string_view(l.text).substr(0, eq)));
            std::string_view value = util::trim(std::string_view(l.text).substr(eq + 1));
            if (!validKeyName(key)) {
                r.diagnostics.error(where,
                                    "bad key name " + util::quoted(key, 80) + " (lower-case letters, digits and _)");
                continue;
            }
            const KeySpec* spec = findKey(key);
            if (!spec) {
                r.diagnostics.error(where, "unknown key \"" + key + "\"" + suggestion(key));
                continue;
            }
            for (const auto& [k, line] : seen) {
                if (k == key) {
                    r.diagnostics.warning(where, key + " overrides the value set at line " + std::to_string(line));
                }
            }
            seen.emplace_back(key, l.line);
            std::string e = r.config.set(key, value, where);
            if (!e.empty()) r.diagnostics.error(where, key + ": " + e);
        }
        return r;
    }
};

LoadResult parseConfigText(std::string_view text, const std::string& name) {
    return ConfigLoader::parse(text, name);
}

LoadResult loadConfigFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        LoadResult r;
        r.config = Config();
        r.diagnostics.error({path, 0}, "cannot open configuration file: " + std::string(std::strerror(errno)));
        return r;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parseConfigText(ss.str(), path);
}

std::optional<std::string> readTableFile(const std::string& path, std::string_view what, uint64_t maxBytes,
                                         Diagnostics& diags) {
    const std::string w(what);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diags.error({path, 0}, "cannot open " + w + ": " + std::strerror(errno));
        return std::nullopt;
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diags.error({path, 0}, w + " is not a regular file");
        return std::nullopt;
    }
    if (static_cast<uint64_t>(st.st_size) > maxBytes) {
        diags.error({path, 0}, w + " is larger than " + std::to_string(maxBytes >> 20) + " MiB");
        return std::nullopt;
    }
    std::string text;
    text.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            diags.error({path, 0}, "cannot read " + w + ": " + std::strerror(errno));
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

}  // namespace rampart::config
