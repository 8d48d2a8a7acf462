// Durability of rampart-policyd's State (policyd_store = journal:DIRECTORY): an append-only journal
// of absolute entity values plus periodic snapshots.
//
// Contract with the event loop: after handling a turn's requests, call append(state) and flush()
// BEFORE sending that turn's replies. flush() is one write(2): once it returned, a kill -9 of the
// daemon loses nothing it answered. A background thread fdatasync()s the journal at least every
// syncInterval (what a power loss can take back), so the loop never waits for the disk.
//
// Files in DIRECTORY:
//   lock                  flock()ed while a daemon owns the directory; holds its pid
//   snapshot              every entity as of the start of journal generation G (written as
//                         snapshot.tmp, fsynced, renamed)
//   journal.<G>           records since that snapshot; later generations follow after a snapshot
// Every record is framed as [u32 length][u32 CRC-32C][payload], little-endian, so a torn or damaged
// tail after a crash is detected and ignored (with a warning). Records are absolute values, so
// replaying a journal over a snapshot that already contains it changes nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "policyd/state.h"
#include "util/clock.h"
#include "util/result.h"

namespace rampart::policyd {

struct JournalOptions {
    // Longest time between fdatasync() calls (policyd_sync_interval). 0: flush() syncs itself
    // before returning (every answer durable against power loss, at the cost of a disk wait).
    std::chrono::milliseconds syncInterval{1000};
    uint64_t snapshotBytes = 64ull << 20;         // a journal this large calls for a snapshot
    std::chrono::seconds snapshotInterval{3600};  // and at least this often while it grows
};

struct LoadReport {
    bool snapshot = false;              // a snapshot was read
    uint64_t generation = 0;            // the generation the journal continues with
    uint64_t records = 0;               // records read (snapshot and journals)
    std::vector<std::string> warnings;  // "journal.3: ignored 17 bytes of a torn or damaged tail at offset 4096"
};

class Journal {
  public:
    // Locks dir (created when missing), loads the snapshot and replays the journals into `state`
    // (which should be empty), writes a fresh snapshot and starts a new journal generation, then
    // enables change tracking on `state`. Errors: the directory is locked by another process,
    // cannot be created or written, or the snapshot is damaged (never silently dropped: move it
    // away to start empty).
    static util::Result<std::unique_ptr<Journal>> open(const std::string& dir, State& state,
                                                       const JournalOptions& options = {});
    // Flushes what was appended (call append(state) first, or snapshotNow() for a fast restart),
    // syncs, waits for the background thread and unlocks.
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    // Takes the state's changes since the last call (absolute records) into the pending buffer.
    void append(State& state);
    // One write(2) of everything appended since the last flush. true: something was written. An
    // error (disk full, I/O error) means the changes are not durable: answer policyd_error_action.
    util::Result<bool> flush();
    // Starts a snapshot when the journal is large or old (see JournalOptions): appends and flushes
    // the state's pending changes, encodes every entity in memory, switches to a new journal
    // generation and lets the background thread write, fsync and rename the snapshot and remove
    // the journals it replaces. Returns true when one was started.
    bool maybeSnapshot(State& state, util::SystemTime now);
    // Writes a snapshot now and waits until it is durable (shutdown, tests).
    util::Result<bool> snapshotNow(State& state);
    // fdatasync() the current journal now, waiting for it.
    util::Result<bool> sync();

    const LoadReport& loadReport() const { return report_; }
    const std::string& directory() const { return dir_; }
    uint64_t generation() const { return generation_; }
    uint64_t journalBytes() const { return journalBytes_; }
    // The latest error of the background thread (fsync, snapshot), cleared when read.
    std::optional<std::string> takeBackgroundError();

    // rampartctl while the daemon is down (or to peek while it runs): reads the snapshot and the
    // journals into `state` without locking or writing anything.
    static util::Result<LoadReport> loadReadOnly(const std::string& dir, State& state);
    // The pid of the process holding dir's lock, if any.
    static std::optional<pid_t> lockHolder(const std::string& dir);

  private:
    struct Shared;  // what the background thread shares with the loop
    Journal(std::string dir, const JournalOptions& options);
    util::Result<bool> openGeneration(uint64_t gen);
    void backgroundLoop();

    std::string dir_;
    JournalOptions options_;
    int lockFd_ = -1;
    int fd_ = -1;  // the current journal generation, owned by the loop (the thread syncs a dup)
    uint64_t generation_ = 0;
    uint64_t journalBytes_ = 0;
    std::string pending_;
    util::SystemTime lastSnapshot_{};
    bool haveLastSnapshot_ = false;
    // A forked child writing a snapshot (0: none), and the generation it starts.
    pid_t snapshotChild_ = 0;
    uint64_t snapshotChildGen_ = 0;
    // Reaps a finished snapshot child; `wait`: block until it ends.
    void reapSnapshotChild(bool wait);
    LoadReport report_;
    std::shared_ptr<Shared> shared_;
    std::thread thread_;
};

// Journal record framing, exposed for tests.
namespace journal_format {
uint32_t crc32c(std::string_view data);          // SSE 4.2 when the CPU has it
uint32_t crc32cPortable(std::string_view data);  // the table-driven fallback
void frame(std::string& out, std::string_view payload);
// Splits framed records; stops at the first incomplete or damaged one and returns the offset of the
// first byte not consumed (== data.size() when the whole buffer was good).
size_t unframe(std::string_view data, const std::function<void(std::string_view)>& record);
}  // namespace journal_format

}  // namespace rampart::policyd
