// The journal: replay equals the live state, torn tails are ignored with a warning, snapshots and
// journals round-trip, a killed process loses nothing it flushed, and the directory lock.
#include "policyd/journal.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "policyd_fixture.h"
#include "temp_dir.h"

using namespace policyd_test;
namespace fs = std::filesystem;

namespace {

const std::string kBob = "bob@acme-mail.com";

struct TempDir : rampart::test::TempDir {
    TempDir() : rampart::test::TempDir("journal") {}
};

const char* kLimits = R"(
[c]
scope   = mailbox
cap     = 100/day
rate    = 600/h burst 5
spacing = 2s ~ 1s
warmup  = w
[d]
scope   = sender_domain, recipient_domain
cap     = 50 msgs/day
[warmup w]
days    = 40, 80
)";

// Sends n one-recipient messages from distinct mailboxes, flushing after each like the event loop.
void traffic(Harness& h, Journal& j, int n, int offset = 0) {
    for (int i = 0; i < n; ++i) {
        std::string mailbox = "m" + std::to_string((i + offset) % 7) + "@acme-mail.com";
        h.send(mailbox, "r" + std::to_string(i) + "@x" + std::to_string(i % 3) + ".example");
        j.append(h.state);
        REQUIRE(j.flush());
        h.clock.advance(3s);
    }
}

std::string journalName(uint64_t gen) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "journal.%012llu", static_cast<unsigned long long>(gen));
    return buf;
}

std::vector<std::string> files(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("journal framing: CRC-32C and torn records", "[policyd][journal]") {
    using namespace journal_format;
    CHECK(crc32c("123456789") == 0xe3069283u);
    CHECK(crc32cPortable("123456789") == 0xe3069283u);
    std::string odd;
    for (int i = 0; i < 1000; ++i) {
        odd.push_back(static_cast<char>(i * 7919 % 251));
        REQUIRE(crc32c(odd) == crc32cPortable(odd));  // every length and alignment of the tail
    }
    std::string buf;
    frame(buf, "first");
    frame(buf, "second");
    std::vector<std::string> got;
    auto collect = [&](std::string_view p) { got.emplace_back(p); };
    CHECK(unframe(buf, collect) == buf.size());
    CHECK(got == std::vector<std::string>{"first", "second"});
    got.clear();
    CHECK(unframe(std::string_view(buf).substr(0, buf.size() - 1), collect) == 13);
    CHECK(got == std::vector<std::string>{"first"});
    std::string flipped = buf;
    flipped[buf.size() - 2] ^= 1;
    got.clear();
    CHECK(unframe(flipped, collect) == 13);
}

TEST_CASE("journal: a reopened directory has the state that was flushed", "[policyd][journal]") {
    TempDir dir;
    Harness h(parseOk(kLimits), local("2026-11-22 09:00:00"));
    {
        auto j = Journal::open(dir.path, h.state);
        INFO((j ? "" : j.error()));
        REQUIRE(j);
        CHECK((*j)->loadReport().records == 0);
        CHECK_FALSE((*j)->loadReport().snapshot);
        traffic(h, **j, 40);
        h.rcpt(rcpt(kBob, "open@x.example", "open"));  // a reservation in flight survives too
        auto spec = ScopeSpec::parse("sender_domain=acme-mail.com,provider=google");
        h.state.pause(*spec, "alice", "blocked", h.clock.now());
        (*j)->append(h.state);
        REQUIRE((*j)->flush());
        CHECK(Journal::lockHolder(dir.path) == ::getpid());
        auto second = Journal::open(dir.path, h.state);
        REQUIRE_FALSE(second);
        CHECK(second.error() == dir.path + " is in use by another process (pid " + std::to_string(::getpid()) + ")");

        State peek;  // rampartctl while the daemon runs
        REQUIRE(Journal::loadReadOnly(dir.path, peek));
        CHECK(peek == h.state);
    }
    CHECK_FALSE(Journal::lockHolder(dir.path));
    State loaded;
    auto j = Journal::open(dir.path, loaded);
    REQUIRE(j);
    CHECK((*j)->loadReport().warnings.empty());
    CHECK(loaded == h.state);
    CHECK(loaded.reservation("open"));
    CHECK(loaded.pauses().size() == 1);
}

TEST_CASE("journal: a torn or garbled tail is ignored with a warning", "[policyd][journal]") {
    TempDir dir;
    Harness h(parseOk(kLimits), local("2026-11-22 09:00:00"));
    State after10;
    std::string journalFile;
    uintmax_t size10 = 0;
    {
        auto j = Journal::open(dir.path, h.state);
        REQUIRE(j);
        traffic(h, **j, 10);
        journalFile = dir / journalName((*j)->generation());
        size10 = fs::file_size(journalFile);
        REQUIRE(Journal::loadReadOnly(dir.path, after10));
        traffic(h, **j, 1, 10);  // the turn that will be torn
    }
    State expected;
    SECTION("a turn cut off in its first record") {
        fs::resize_file(journalFile, size10 + 5);
        expected = after10;
    }
    SECTION("garbage after the last record") {
        std::ofstream(journalFile, std::ios::app | std::ios::binary) << std::string("\x10\x00\x00\x00garbage", 11);
        expected = h.state;
    }
    State loaded;
    auto report = Journal::loadReadOnly(dir.path, loaded);
    REQUIRE(report);
    REQUIRE(report->warnings.size() == 1);
    CHECK(report->warnings[0].starts_with(journalName(report->generation) + ": ignored "));
    CHECK(report->warnings[0].find(" bytes of a torn or damaged tail at offset ") != std::string::npos);
    CHECK(loaded == expected);
    // The daemon starts from there: a clean snapshot, the damaged journal gone.
    State opened;
    auto j = Journal::open(dir.path, opened);
    REQUIRE(j);
    CHECK((*j)->loadReport().warnings == report->warnings);
    CHECK(opened == expected);
    CHECK(files(dir.path) == std::vector<std::string>{journalName((*j)->generation()), "lock", "snapshot"});
}

TEST_CASE("journal: snapshots and journals round-trip", "[policyd][journal][snapshot]") {
    TempDir dir;
    Harness h(parseOk(kLimits), local("2026-11-22 09:00:00"));
    JournalOptions small;
    small.snapshotBytes = 4096;  // a snapshot every few dozen messages
    small.syncInterval = 10ms;
    uint64_t gen = 0;
    {
        auto j = Journal::open(dir.path, h.state, small);
        REQUIRE(j);
        gen = (*j)->generation();
        int snapshots = 0;
        for (int round = 0; round < 20; ++round) {
            traffic(h, **j, 5, round);
            if ((*j)->maybeSnapshot(h.state, h.clock.now())) ++snapshots;
            h.clock.advance(10min);
            h.state.expire(h.clock.now());
        }
        CHECK(snapshots > 0);
        CHECK((*j)->generation() > gen);
        REQUIRE((*j)->snapshotNow(h.state));
        traffic(h, **j, 5, 3);  // after the last snapshot: only in the journal
        CHECK_FALSE((*j)->takeBackgroundError());
        REQUIRE((*j)->sync());
    }
    State loaded;
    auto j = Journal::open(dir.path, loaded, small);
    REQUIRE(j);
    CHECK((*j)->loadReport().snapshot);
    CHECK((*j)->loadReport().warnings.empty());
    CHECK(loaded == h.state);
    // Old generations are removed once a snapshot covers them.
    CHECK(files(dir.path) == std::vector<std::string>{journalName((*j)->generation()), "lock", "snapshot"});
}

TEST_CASE("journal: a damaged snapshot stops the start instead of losing counts", "[policyd][journal][snapshot]") {
    TempDir dir;
    Harness h(parseOk(kLimits), local("2026-11-22 09:00:00"));
    {
        auto j = Journal::open(dir.path, h.state);
        REQUIRE(j);
        traffic(h, **j, 5);
        REQUIRE((*j)->snapshotNow(h.state));
    }
    fs::resize_file(dir / "snapshot", fs::file_size(dir / "snapshot") - 3);
    State s;
    auto j = Journal::open(dir.path, s);
    REQUIRE_FALSE(j);
    CHECK(j.error().starts_with(dir / "snapshot is damaged (incomplete or bad checksum at offset "));
    CHECK(j.error().ends_with("); move it away to start with an empty state"));
    CHECK_FALSE(Journal::lockHolder(dir.path));  // a failed open does not keep the lock
}

TEST_CASE("journal: kill -9 after flush loses nothing", "[policyd][journal][crash]") {
    TempDir dir;
    JournalOptions lazy;
    lazy.syncInterval = std::chrono::hours(1);  // no fsync in the child: only write(2) counts
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        Harness h(parseOk(kLimits), local("2026-11-22 09:00:00"));
        auto j = Journal::open(dir.path, h.state, lazy);
        if (!j) ::_exit(2);
        for (int i = 0; i < 50; ++i) {
            h.send("m" + std::to_string(i % 5) + "@acme-mail.com", "r@x.example");
            (*j)->append(h.state);
            if (!(*j)->flush()) ::_exit(3);
            h.clock.advance(3s);
        }
        h.rcpt(rcpt(kBob, "last@y.example", "inflight"));
        (*j)->append(h.state);
        if (!(*j)->flush()) ::_exit(3);
        ::kill(::getpid(), SIGKILL);  // no destructor, no fsync, no close
        ::_exit(4);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    // The same traffic in this process gives the state the child had answered for.
    Harness expected(parseOk(kLimits), local("2026-11-22 09:00:00"));
    for (int i = 0; i < 50; ++i) {
        expected.send("m" + std::to_string(i % 5) + "@acme-mail.com", "r@x.example");
        expected.clock.advance(3s);
    }
    expected.rcpt(rcpt(kBob, "last@y.example", "inflight"));
    State loaded;
    auto j = Journal::open(dir.path, loaded);
    INFO((j ? "" : j.error()));
    REQUIRE(j);
    CHECK((*j)->loadReport().warnings.empty());
    CHECK(loaded == expected.state);
    CHECK(loaded.reservation("inflight"));
}

TEST_CASE("journal: strict mode syncs in flush; a missing directory is created", "[policyd][journal]") {
    TempDir dir;
    JournalOptions strict;
    strict.syncInterval = std::chrono::milliseconds(0);
    Harness h(parseOk(kLimits), local("2026-11-22 09:00:00"));
    auto j = Journal::open(dir / "sub/dir", h.state, strict);
    REQUIRE(j);
    traffic(h, **j, 3);
    auto empty = (*j)->flush();
    REQUIRE(empty);
    CHECK_FALSE(*empty);  // nothing pending
    CHECK((*j)->journalBytes() > 16);
    State peek;
    REQUIRE(Journal::loadReadOnly(dir / "sub/dir", peek));
    CHECK(peek == h.state);
    CHECK(Journal::loadReadOnly(dir / "nope", peek).error() == dir / "nope does not exist or is not a directory");
}
