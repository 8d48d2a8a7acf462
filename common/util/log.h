// Logging: syslog for daemons, stderr in --foreground mode (with a timestamp), or a capture hook in
// tests. One line per event; callers put the queue id first ("4F3A21C0B: signed d=... s=...").
// Thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace rampart::log {

enum class Level { Error = 0, Warning = 1, Info = 2, Debug = 3 };

void useStderr(std::string ident);
void useSyslog(std::string ident, std::string_view facility);  // facility name as in syslog_facility
void setLevel(Level level);
void setLevel(std::string_view name);  // error|warning|info|debug
bool enabled(Level level);
// Tests: route every line to `sink` instead (nullptr restores the previous destination).
void setCaptureSink(std::function<void(Level, std::string_view)> sink);

void write(Level level, std::string_view message);
inline void error(std::string_view m) {
    write(Level::Error, m);
}
inline void warning(std::string_view m) {
    write(Level::Warning, m);
}
inline void info(std::string_view m) {
    write(Level::Info, m);
}
inline void debug(std::string_view m) {
    if (enabled(Level::Debug)) write(Level::Debug, m);
}

}  // namespace rampart::log
