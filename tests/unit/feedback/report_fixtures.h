// Shared by the report, classifier and MIME unit tests: the sample corpus in tests/data/reports,
// the shipped rule file (conf/bounce-rules.conf), temporary rule files, and a header lookup.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "feedback/classifier.h"
#include "mail/header.h"

namespace rampart::test {

using feedback::Classifier;

inline const std::string kCorpus = std::string(RAMPART_SOURCE_DIR) + "/tests/data/reports/";
inline const std::string kRules = std::string(RAMPART_SOURCE_DIR) + "/conf/bounce-rules.conf";

inline std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::string corpus(const std::string& name) {
    return readFile(kCorpus + name);
}

inline const Classifier& shipped() {
    static const Classifier c = [] {
        auto r = Classifier::load(kRules);
        if (!r) FAIL("conf/bounce-rules.conf: " << r.error());
        return r.value();
    }();
    return c;
}

// A rule file in the temporary directory, removed at the end of the test.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        static int n = 0;
        path = (std::filesystem::temp_directory_path() /
                ("rampart-bounce-rules-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".conf"))
                   .string();
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

inline std::string loadError(const std::string& text, std::string* path = nullptr) {
    TempFile f(text);
    if (path) *path = f.path;
    auto r = Classifier::load(f.path);
    REQUIRE_FALSE(r);
    return r.error();
}

inline std::string header(const rampart::mail::HeaderFields& h, std::string_view name) {
    size_t i = rampart::mail::findHeader(h, name);
    return i == std::string_view::npos ? std::string("<none>") : rampart::mail::unfold(h[i].value);
}

}  // namespace rampart::test
