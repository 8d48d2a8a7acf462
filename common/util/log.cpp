// Logging (log.h): the syslog, stderr and test-capture sinks behind one thread-safe line writer.
#include "util/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <mutex>

namespace rampart::log {

namespace {

struct State {
    std::mutex mu;
    bool syslog = false;
    std::string ident = "rampart";
    std::function<void(Level, std::string_view)> capture;
};

State& state() {
    static State s;
    return s;
}

std::atomic<int> gLevel{static_cast<int>(Level::Info)};

int facilityCode(std::string_view f) {
    if (f == "daemon") return LOG_DAEMON;
    if (f == "local0") return LOG_LOCAL0;
    if (f == "local1") return LOG_LOCAL1;
    if (f == "local2") return LOG_LOCAL2;
    if (f == "local3") return LOG_LOCAL3;
    if (f == "local4") return LOG_LOCAL4;
    if (f == "local5") return LOG_LOCAL5;
    if (f == "local6") return LOG_LOCAL6;
    if (f == "local7") return LOG_LOCAL7;
    return LOG_MAIL;
}

const char* levelWord(Level l) {
    switch (l) {
        case Level::Error:
            return "error: ";
        case Level::Warning:
            return "warning: ";
        case Level::Info:
            return "";
        case Level::Debug:
            return "debug: ";
    }
    return "";
}

}  // namespace

void useStderr(std::string ident) {
    State& s = state();
    std::lock_guard lock(s.mu);
    if (s.syslog) closelog();
    s.syslog = false;
    s.ident = std::move(ident);
}

void useSyslog(std::string ident, std::string_view facility) {
    State& s = state();
    std::lock_guard lock(s.mu);
    s.ident = std::move(ident);
    // openlog keeps the pointer: s.ident lives as long as the process.
    openlog(s.ident.c_str(), LOG_PID | LOG_NDELAY, facilityCode(facility));
    s.syslog = true;
}

void setLevel(Level level) {
    gLevel.store(static_cast<int>(level));
}

void setLevel(std::string_view name) {
    if (name == "error")
        setLevel(Level::Error);
    else if (name == "warning")
        setLevel(Level::Warning);
    else if (name == "debug")
        setLevel(Level::Debug);
    else
        setLevel(Level::Info);
}

bool enabled(Level level) {
    return static_cast<int>(level) <= gLevel.load(std::memory_order_relaxed);
}

void setCaptureSink(std::function<void(Level, std::string_view)> sink) {
    State& s = state();
    std::lock_guard lock(s.mu);
    s.capture = std::move(sink);
}

void write(Level level, std::string_view message) {
    if (!enabled(level)) return;
    State& s = state();
    std::lock_guard lock(s.mu);
    if (s.capture) {
        s.capture(level, message);
        return;
    }
    std::string line = levelWord(level);
    line.append(message);
    if (s.syslog) {
        int prio = level == Level::Error     ? LOG_ERR
                   : level == Level::Warning ? LOG_WARNING
                   : level == Level::Info    ? LOG_INFO
                                             : LOG_DEBUG;
        syslog(prio, "%s", line.c_str());
        return;
    }
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = std::string(stamp) + " " + s.ident + "[" + std::to_string(getpid()) + "]: " + line + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
}

}  // namespace rampart::log
