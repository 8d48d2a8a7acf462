// The one registry of configuration keys. Every key Rampart reads is declared here with its type,
// default, help text, the programs that use it and whether SIGHUP can change it. The parser,
// --check-config, --print-defaults / --print-config, the man page rampart.conf(5) and
// docs/configuration.md are all derived from this table; tests/unit/config/registry_docs_test.cpp
// fails when the committed documents disagree with it.
#pragma once

#include <span>
#include <string_view>

namespace rampart::config {

enum class ValueType {
    String,
    Bool,
    Integer,
    Duration,
    Size,
    Rate,
    Listen,      // one listen address
    ListenList,  // one or more listen addresses
    List,        // words separated by commas and/or spaces
    CidrList,
    Table,     // type:path; `choices` lists the accepted types
    Mode,      // octal file mode
    Enum,      // one of `choices`
    Path,      // absolute path, or empty where the default is empty
    Timezone,  // IANA zone name, e.g. Europe/Berlin
};

std::string_view typeName(ValueType t);

// Which programs read a key (a bit set).
enum Program : unsigned {
    kMilter = 1,
    kPolicyd = 2,
    kCtl = 4,
    kAll = 7,
};

struct KeySpec {
    std::string_view name;
    ValueType type;
    std::string_view defaultValue;  // canonical text; "" means unset/empty
    std::string_view help;          // one paragraph, plain text
    unsigned programs;
    bool reloadable;             // false: a SIGHUP keeps the old value and logs that a restart is needed
    std::string_view choices{};  // Enum: "a|b|c"; Table: accepted types "file|refile"
    long long min = 0;           // Integer bounds
    long long max = 0;
};

std::span<const KeySpec> registry();
const KeySpec* findKey(std::string_view name);

}  // namespace rampart::config
