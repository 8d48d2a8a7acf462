// rampartctl's option helpers (args.h).
#include "ctl/args.h"

namespace rampart::ctl {

bool takeFlag(Args& args, const std::string& flag) {
    for (auto it = args.begin(); it != args.end(); ++it) {
        if (*it == flag) {
            args.erase(it);
            return true;
        }
    }
    return false;
}

std::optional<std::string> takeOption(Args& args, const std::string& option) {
    for (auto it = args.begin(); it != args.end(); ++it) {
        if (*it == option && it + 1 != args.end()) {
            std::string v = *(it + 1);
            args.erase(it, it + 2);
            return v;
        }
        if (it->rfind(option + "=", 0) == 0) {
            std::string v = it->substr(option.size() + 1);
            args.erase(it);
            return v;
        }
    }
    return std::nullopt;
}

}  // namespace rampart::ctl
