// The registry is the single source of truth: the committed reference (docs/configuration.md), the
// man page rampart.conf(5) and the example conf/rampart.conf must be exactly what it generates, and
// every key must be mentioned in the programs' man pages' "configuration" sections' lists.
// Regenerate with scripts/gen-docs.sh.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/docs.h"
#include "config/registry.h"

using namespace rampart::config;

namespace {
std::string readFile(const std::string& rel) {
    std::ifstream in(std::string(RAMPART_SOURCE_DIR) + "/" + rel, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
}  // namespace

TEST_CASE("docs/configuration.md is generated from the registry", "[config][docs]") {
    INFO("run scripts/gen-docs.sh and commit the result");
    CHECK(readFile("docs/configuration.md") == renderMarkdownReference());
}

TEST_CASE("man/rampart.conf.5 is generated from the registry", "[config][docs]") {
    INFO("run scripts/gen-docs.sh and commit the result");
    CHECK(readFile("man/rampart.conf.5") == renderManPage());
}

TEST_CASE("conf/rampart.conf lists every key with its default", "[config][docs]") {
    INFO("run scripts/gen-docs.sh and commit the result");
    std::string example = readFile("conf/rampart.conf");
    CHECK(example == renderExampleConfig());
    // And it parses: uncommenting every "#key = default" line gives a valid configuration.
    std::string uncommented;
    std::istringstream in(example);
    for (std::string line; std::getline(in, line);) {
        if (line.size() > 1 && line[0] == '#' && line[1] != ' ' && line.find(" = ") != std::string::npos) {
            uncommented += line.substr(1) + "\n";
        }
    }
    auto r = parseConfigText(uncommented, "conf/rampart.conf");
    INFO(r.diagnostics.str());
    CHECK_FALSE(r.diagnostics.hasErrors());
    for (const auto& spec : registry()) {
        INFO(spec.name);
        CHECK(r.config.text(spec.name) == spec.defaultValue);
        CHECK_FALSE(r.config.isDefault(spec.name));
    }
}

TEST_CASE("each program's man page names the keys it reads", "[config][docs]") {
    const std::pair<const char*, unsigned> pages[] = {
        {"man/rampart-milter.8", kMilter}, {"man/rampart-policyd.8", kPolicyd}, {"man/rampartctl.8", kCtl}};
    for (const auto& [page, program] : pages) {
        std::string text = readFile(page);
        // troff escapes '-' as "\-"; key names only contain '_'.
        for (const auto& spec : registry()) {
            if (!(spec.programs & program) || spec.programs == kAll) continue;
            INFO(page << " should mention " << spec.name);
            CHECK(text.find(std::string(spec.name)) != std::string::npos);
        }
    }
}
