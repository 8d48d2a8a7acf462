// Documents generated from the key registry: docs/configuration.md, man/rampart.conf.5 and the
// example conf/rampart.conf. `rampartctl config reference|man|example` prints them; a unit test fails
// when a committed copy differs from what the registry produces (regenerate with scripts/gen-docs.sh).
#pragma once

#include <string>

namespace rampart::config {

std::string renderMarkdownReference();
std::string renderManPage();
std::string renderExampleConfig();

}  // namespace rampart::config
