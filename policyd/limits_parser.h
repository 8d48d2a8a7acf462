// The limits file's parser (docs/limits.md), shared by its two source files: limits_parser.cpp reads
// the file's lines, sections and keys and checks what needs the whole file; limits_keys.cpp reads
// the value of each key of a [NAME] limit and a [warmup NAME] schedule. Internal to the limits
// module: other code calls LimitSet::parse() and LimitSet::load().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "policyd/limits.h"
#include "util/result.h"

namespace rampart::policyd {

class LimitParser {
  public:
    LimitParser(LimitSet& set, const std::string& file, config::Diagnostics& diags)
        : set_(set), file_(file), diags_(diags) {}

    void run(std::string_view text);

  private:
    enum class Kind { None, Limit, Warmup, Exempt, ProviderDomains, ProviderMx };
    struct Line {
        int line;
        std::string text;
    };
    struct Pending {  // per limit: what only the whole file can resolve
        std::string warmupName;
        int warmupLine = 0;
        std::optional<std::pair<std::string, int>> windowText;  // parsed once the zone is known
    };
    struct WarmupPending {
        bool hasDays = false, hasRamp = false;
        int line = 0;
        bool zeroInDays = false;
        int zeroLine = 0;
    };

    config::SourceLocation at(int line) const { return {file_, line}; }
    void error(int line, std::string m) { diags_.error(at(line), std::move(m)); }
    void warning(int line, std::string m) { diags_.warning(at(line), std::move(m)); }

    void header(const Line& l);
    void keyValue(const Line& l);
    void limitKey(const Line& l, const std::string& key, std::string_view value);
    void warmupKey(const Line& l, const std::string& key, std::string_view value);
    void exemptKey(const Line& l, const std::string& key, std::string_view value);
    void providerDomainKey(const Line& l, const std::string& key, std::string_view value);
    void providerMxKey(const Line& l, const std::string& key, std::string_view value);
    void finish();
    void finishLimit(Limit& lim, Pending& p);

    util::Result<std::vector<Condition>> parseWhen(std::string_view text);

    LimitSet& set_;
    const std::string& file_;
    config::Diagnostics& diags_;
    Kind kind_ = Kind::None;
    std::string sectionTitle_;  // "[cold-mailbox]" for messages
    std::vector<std::pair<std::string, int>> sectionKeys_;
    size_t current_ = 0;  // index into limits_ / warmups_
    std::vector<Pending> pending_;
    std::vector<WarmupPending> warmupPending_;
    std::vector<std::pair<std::string, int>> globalKeys_;  // exempt/provider keys across sections
    size_t mxConfigured_ = 0;  // [provider-mx] lines so far: they precede the built-in rules
};

}  // namespace rampart::policyd
