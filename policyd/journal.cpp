// The journal: write(2) on the event loop (cheap: the page cache), fdatasync() and snapshot files
// on a background thread (slow: the disk). See journal.h for the contract and the file layout.
// One file (about 600 lines) on purpose: the record format (CRC-32C frames), the file and directory
// handling, loading and the writer thread make one crash-safety argument that reads best together.
#include "policyd/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rampart::policyd {

namespace fs = std::filesystem;

namespace journal_format {

namespace {

constexpr std::array<uint32_t, 256> makeCrcTable() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;  // Castagnoli
        t[i] = c;
    }
    return t;
}
constexpr auto kCrcTable = makeCrcTable();

constexpr size_t kFrameHeader = 8;
constexpr uint32_t kMaxRecord = 64u << 20;

uint32_t readU32(const char* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
    return v;
}

void putU32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

uint32_t crc32cPortable(std::string_view data) {
    uint32_t c = 0xffffffffu;
    for (char ch : data)
        c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

namespace {
#if defined(__x86_64__)
// SSE 4.2 has a CRC-32C instruction: 8 bytes a cycle instead of one byte per table lookup (the
// journal checksums every answered change).
__attribute__((target("sse4.2"))) uint32_t crc32cSse42(std::string_view data) {
    uint64_t c = 0xffffffffu;
    const char* p = data.data();
    size_t n = data.size();
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    auto c32 = static_cast<uint32_t>(c);
    for (; n > 0; ++p, --n)
        c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*p));
    return c32 ^ 0xffffffffu;
}
#endif
}  // namespace

uint32_t crc32c(std::string_view data) {
#if defined(__x86_64__)
    static const bool hardware = __builtin_cpu_supports("sse4.2");
    if (hardware) return crc32cSse42(data);
#endif
    return crc32cPortable(data);
}

void frame(std::string& out, std::string_view payload) {
    putU32(out, static_cast<uint32_t>(payload.size()));
    putU32(out, crc32c(payload));
    out.append(payload);
}

size_t unframe(std::string_view data, const std::function<void(std::string_view)>& record) {
    size_t pos = 0;
    while (data.size() - pos >= kFrameHeader) {
        uint32_t len = readU32(data.data() + pos);
        uint32_t crc = readU32(data.data() + pos + 4);
        if (len == 0 || len > kMaxRecord || data.size() - pos - kFrameHeader < len) break;
        std::string_view payload = data.substr(pos + kFrameHeader, len);
        if (crc32c(payload) != crc) break;
        record(payload);
        pos += kFrameHeader + len;
    }
    return pos;
}

}  // namespace journal_format

namespace {

constexpr std::string_view kJournalMagic = "RPJRNL01";
constexpr std::string_view kSnapshotMagic = "RPSNAP01";
constexpr size_t kFileHeader = 16;  // magic + u64 generation
constexpr char kEndRecord = '\xff';

std::string errnoText() {
    return std::strerror(errno);
}

std::string fileHeader(std::string_view magic, uint64_t gen) {
    std::string h(magic);
    for (int i = 0; i < 8; ++i)
        h.push_back(static_cast<char>((gen >> (8 * i)) & 0xff));
    return h;
}

std::optional<uint64_t> headerGeneration(std::string_view data, std::string_view magic) {
    if (data.size() < kFileHeader || data.substr(0, 8) != magic) return std::nullopt;
    uint64_t gen = 0;
    for (int i = 0; i < 8; ++i)
        gen |= uint64_t{static_cast<uint8_t>(data[8 + static_cast<size_t>(i)])} << (8 * i);
    return gen;
}

std::string journalName(uint64_t gen) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "journal.%012llu", static_cast<unsigned long long>(gen));
    return buf;
}

// Generations of the journal files in dir, ascending.
std::vector<uint64_t> journalGenerations(const std::string& dir) {
    std::vector<uint64_t> gens;
    std::error_code ec;
    for (const auto& ent : fs::directory_iterator(dir, ec)) {
        std::string name = ent.path().filename().string();
        if (name.rfind("journal.", 0) != 0) continue;
        std::string digits = name.substr(8);
        if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            continue;
        }
        gens.push_back(std::stoull(digits));
    }
    std::sort(gens.begin(), gens.end());
    return gens;
}

util::Result<std::string> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return util::err("cannot read " + path + ": " + errnoText());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool writeAll(int fd, std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

bool syncDirectory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// snapshot.tmp -> fsync -> rename -> fsync(dir): the snapshot is either the old one or the
// complete new one, never half of it.
util::Result<bool> writeSnapshotFile(const std::string& dir, const std::string& data) {
    std::string tmp = dir + "/snapshot.tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return util::err("cannot create " + tmp + ": " + errnoText());
    bool ok = writeAll(fd, data) && ::fsync(fd) == 0;
    std::string e = ok ? std::string() : errnoText();
    ::close(fd);
    if (!ok) {
        ::unlink(tmp.c_str());
        return util::err("cannot write " + tmp + ": " + e);
    }
    std::string final = dir + "/snapshot";
    if (::rename(tmp.c_str(), final.c_str()) != 0) {
        return util::err("cannot rename " + tmp + " to " + final + ": " + errnoText());
    }
    if (!syncDirectory(dir)) return util::err("cannot sync directory " + dir + ": " + errnoText());
    return true;
}

void removeJournalsBefore(const std::string& dir, uint64_t gen) {
    for (uint64_t g : journalGenerations(dir)) {
        if (g < gen) ::unlink((dir + "/" + journalName(g)).c_str());
    }
}

std::string encodeSnapshot(const State& state, uint64_t gen) {
    std::string out = fileHeader(kSnapshotMagic, gen);
    uint64_t count = 0;
    state.snapshot([&](std::string_view payload) {
        journal_format::frame(out, payload);
        ++count;
    });
    std::string end(1, kEndRecord);
    for (int i = 0; i < 8; ++i)
        end.push_back(static_cast<char>((count >> (8 * i)) & 0xff));
    journal_format::frame(out, end);
    return out;
}

// Reads the snapshot and the journals after it into state.
util::Result<LoadReport> loadDirectory(const std::string& dir, State& state) {
    LoadReport report;
    uint64_t snapGen = 0;
    std::string snapPath = dir + "/snapshot";
    std::error_code ec;
    if (fs::exists(snapPath, ec)) {
        auto data = readFile(snapPath);
        if (!data) return util::err(data.error());
        auto gen = headerGeneration(*data, kSnapshotMagic);
        if (!gen) return util::err(snapPath + " is not a rampart-policyd snapshot");
        snapGen = *gen;
        bool ended = false;
        std::string recordError;
        uint64_t records = 0;
        std::string_view body = std::string_view(*data).substr(kFileHeader);
        size_t used = journal_format::unframe(body, [&](std::string_view payload) {
            if (ended) return;
            if (payload.size() == 9 && payload[0] == kEndRecord) {
                ended = true;
                return;
            }
            auto r = state.applyRecord(payload);
            if (!r && recordError.empty()) recordError = r.error();
            ++records;
        });
        if (!ended || used != body.size()) {
            return util::err(snapPath + " is damaged (incomplete or bad checksum at offset " +
                             std::to_string(kFileHeader + used) + "); move it away to start with an empty state");
        }
        if (!recordError.empty()) return util::err(snapPath + ": " + recordError);
        report.snapshot = true;
        report.records += records;
    }
    uint64_t next = snapGen;
    for (uint64_t g : journalGenerations(dir)) {
        if (g < snapGen) continue;  // contained in the snapshot
        std::string name = journalName(g);
        auto data = readFile(dir + "/" + name);
        if (!data) return util::err(data.error());
        auto gen = headerGeneration(*data, kJournalMagic);
        if (!gen) {
            if (!data->empty()) {
                report.warnings.push_back(name + ": ignored " + std::to_string(data->size()) +
                                          " bytes without a complete journal header");
            }
            next = std::max(next, g);
            continue;
        }
        std::string_view body = std::string_view(*data).substr(kFileHeader);
        size_t used = journal_format::unframe(body, [&](std::string_view payload) {
            auto r = state.applyRecord(payload);
            if (!r) report.warnings.push_back(name + ": skipped a record: " + r.error());
            ++report.records;
        });
        if (used != body.size()) {
            report.warnings.push_back(name + ": ignored " + std::to_string(body.size() - used) +
                                      " bytes of a torn or damaged tail at offset " +
                                      std::to_string(kFileHeader + used));
        }
        next = std::max(next, g);
    }
    report.generation = next;
    return report;
}

}  // namespace

// ------------------------------------------------------------------------------ background

struct Journal::Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;
    int fd = -1;                 // the current generation (a dup owned by the thread)
    bool newGeneration = false;  // its directory entry still needs a directory fsync
    std::vector<int> retired;    // older generations: synced once more, then closed
    std::atomic<bool> written{false};
    std::optional<std::pair<std::string, uint64_t>> job;  // snapshot data, generation
    bool jobBusy = false;
    std::string error;
};

void Journal::backgroundLoop() {
    Shared& s = *shared_;
    std::unique_lock lock(s.mu);
    while (true) {
        s.cv.wait_for(lock, options_.syncInterval.count() > 0 ? options_.syncInterval : std::chrono::milliseconds(1000),
                      [&] { return s.stop || s.job.has_value(); });
        int fd = s.fd;
        bool newGen = s.newGeneration;
        s.newGeneration = false;
        std::vector<int> retired = std::move(s.retired);
        s.retired.clear();
        auto job = std::move(s.job);
        s.job.reset();
        bool stopping = s.stop;
        lock.unlock();

        std::string error;
        for (int r : retired) {
            if (::fdatasync(r) != 0 && error.empty()) error = "fdatasync of an older journal: " + errnoText();
            ::close(r);
        }
        if (fd >= 0 && s.written.exchange(false)) {
            if (::fdatasync(fd) != 0 && error.empty()) error = "fdatasync of the journal: " + errnoText();
        }
        if (newGen && !syncDirectory(dir_) && error.empty()) error = "fsync of " + dir_ + ": " + errnoText();
        if (job) {
            auto w = writeSnapshotFile(dir_, job->first);
            if (w) {
                removeJournalsBefore(dir_, job->second);
            } else if (error.empty()) {
                error = w.error();
            }
        }

        lock.lock();
        if (job) {
            s.jobBusy = false;
            s.cv.notify_all();  // snapshotNow() may be waiting
        }
        if (!error.empty()) s.error = error;
        if (stopping) break;
    }
    if (s.fd >= 0) {
        ::fdatasync(s.fd);
        ::close(s.fd);
        s.fd = -1;
    }
}

// ------------------------------------------------------------------------------ Journal

Journal::Journal(std::string dir, const JournalOptions& options)
    : dir_(std::move(dir)), options_(options), shared_(std::make_shared<Shared>()) {}

util::Result<std::unique_ptr<Journal>> Journal::open(const std::string& dir, State& state,
                                                     const JournalOptions& options) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return util::err("cannot create " + dir + ": " + ec.message());
    std::unique_ptr<Journal> j(new Journal(dir, options));

    std::string lockPath = dir + "/lock";
    j->lockFd_ = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (j->lockFd_ < 0) return util::err("cannot open " + lockPath + ": " + errnoText());
    if (::flock(j->lockFd_, LOCK_EX | LOCK_NB) != 0) {
        std::string who;
        if (auto pid = lockHolder(dir)) who = " (pid " + std::to_string(*pid) + ")";
        return util::err(dir + " is in use by another process" + who);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(j->lockFd_, 0) != 0 || ::pwrite(j->lockFd_, pid.data(), pid.size(), 0) < 0) {
        return util::err("cannot write " + lockPath + ": " + errnoText());
    }

    auto report = loadDirectory(dir, state);
    if (!report) return util::err(report.error());
    j->report_ = std::move(report.value());

    // Start clean: the loaded state as a new snapshot, then an empty journal after it. A torn tail
    // is left behind with the journal it was in.
    uint64_t gen = j->report_.generation + 1;
    auto w = writeSnapshotFile(dir, encodeSnapshot(state, gen));
    if (!w) return util::err(w.error());
    auto o = j->openGeneration(gen);
    if (!o) return util::err(o.error());
    removeJournalsBefore(dir, gen);
    j->report_.generation = gen;

    state.trackChanges(true);
    state.takeChanges([](std::string_view) {});  // everything loaded is in the snapshot already
    j->thread_ = std::thread([p = j.get()] { p->backgroundLoop(); });
    return j;
}

util::Result<bool> Journal::openGeneration(uint64_t gen) {
    std::string path = dir_ + "/" + journalName(gen);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return util::err("cannot create " + path + ": " + errnoText());
    std::string header = fileHeader(kJournalMagic, gen);
    if (!writeAll(fd, header)) {
        std::string e = errnoText();
        ::close(fd);
        return util::err("cannot write " + path + ": " + e);
    }
    int dupFd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupFd < 0) {
        std::string e = errnoText();
        ::close(fd);
        return util::err("cannot duplicate the journal descriptor: " + e);
    }
    {
        std::lock_guard lock(shared_->mu);
        if (shared_->fd >= 0) shared_->retired.push_back(shared_->fd);
        shared_->fd = dupFd;
        shared_->newGeneration = true;
    }
    shared_->written = true;
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    generation_ = gen;
    journalBytes_ = header.size();
    return true;
}

Journal::~Journal() {
    reapSnapshotChild(true);
    if (fd_ >= 0) {
        (void)flush();
        ::fdatasync(fd_);
    }
    if (thread_.joinable()) {
        {
            std::lock_guard lock(shared_->mu);
            shared_->stop = true;
        }
        shared_->cv.notify_all();
        thread_.join();
    }
    if (fd_ >= 0) ::close(fd_);
    if (lockFd_ >= 0) ::close(lockFd_);  // releases the flock
}

void Journal::append(State& state) {
    state.takeChanges([this](std::string_view payload) { journal_format::frame(pending_, payload); });
}

util::Result<bool> Journal::flush() {
    if (pending_.empty()) return false;
    if (!writeAll(fd_, pending_)) {
        std::string e = errnoText();
        // Cut a partial record off again, or every later record would sit behind a damaged one.
        if (::ftruncate(fd_, static_cast<off_t>(journalBytes_)) != 0) {
            e += "; cannot truncate the partial write: " + errnoText();
        }
        return util::err("cannot write the journal " + dir_ + "/" + journalName(generation_) + ": " + e);
    }
    journalBytes_ += pending_.size();
    pending_.clear();
    if (options_.syncInterval.count() == 0) {
        if (::fdatasync(fd_) != 0) return util::err("fdatasync of the journal: " + errnoText());
    } else {
        shared_->written = true;
    }
    return true;
}

util::Result<bool> Journal::sync() {
    if (::fdatasync(fd_) != 0) return util::err("fdatasync of the journal: " + errnoText());
    return true;
}

void Journal::reapSnapshotChild(bool wait) {
    if (snapshotChild_ <= 0) return;
    int status = 0;
    pid_t r = ::waitpid(snapshotChild_, &status, wait ? 0 : WNOHANG);
    if (r == 0) return;  // still writing
    if (r == snapshotChild_ && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        removeJournalsBefore(dir_, snapshotChildGen_);
    } else {
        // The previous snapshot and every journal since stay: recovery replays them all.
        std::lock_guard lock(shared_->mu);
        shared_->error = "snapshot of generation " + std::to_string(snapshotChildGen_) + " failed (" +
                         (r < 0 ? errnoText() : "child status " + std::to_string(status)) +
                         "); the journals it would replace are kept";
    }
    snapshotChild_ = 0;
}

bool Journal::maybeSnapshot(State& state, util::SystemTime now) {
    if (!haveLastSnapshot_) {
        lastSnapshot_ = now;
        haveLastSnapshot_ = true;
    }
    reapSnapshotChild(false);
    bool big = journalBytes_ >= options_.snapshotBytes;
    bool old = now - lastSnapshot_ >= options_.snapshotInterval && journalBytes_ > kFileHeader;
    if (!big && !old) return false;
    if (snapshotChild_ > 0) return false;
    {
        std::lock_guard lock(shared_->mu);
        if (shared_->jobBusy) return false;
    }
    // The snapshot of generation G+1 is the state at the end of journal G: flush G completely and
    // start G+1, then fork. The child holds a copy-on-write image of the state as of that instant
    // and encodes, writes, fsyncs and renames the snapshot while the loop goes on serving: encoding
    // a large state on the loop stalled it for up to a second (measured: 70 MB, 920 ms). Records are
    // absolute, so snapshot G+1 plus journal G+1 is the state whenever the child finishes.
    append(state);
    auto f = flush();
    auto fail = [&](const std::string& e) {
        std::lock_guard lock(shared_->mu);
        shared_->error = e;
        return false;
    };
    if (!f) return fail(f.error());
    uint64_t gen = generation_ + 1;
    auto o = openGeneration(gen);
    if (!o) return fail(o.error());
    lastSnapshot_ = now;
    pid_t pid = ::fork();
    if (pid == 0) {
        // The child: only this thread exists here. glibc keeps malloc usable after fork.
        auto w = writeSnapshotFile(dir_, encodeSnapshot(state, gen));
        ::_exit(w ? 0 : 1);
    }
    if (pid > 0) {
        snapshotChild_ = pid;
        snapshotChildGen_ = gen;
        return true;
    }
    // fork failed (no memory for page tables): encode here and let the thread write it.
    std::string data = encodeSnapshot(state, gen);
    {
        std::lock_guard lock(shared_->mu);
        shared_->job = std::make_pair(std::move(data), gen);
        shared_->jobBusy = true;
    }
    shared_->cv.notify_all();
    return true;
}

util::Result<bool> Journal::snapshotNow(State& state) {
    reapSnapshotChild(true);  // never two writers of snapshot.tmp
    {
        // Never two writers of snapshot.tmp: wait for a snapshot the thread is writing.
        std::unique_lock lock(shared_->mu);
        shared_->cv.wait(lock, [&] { return !shared_->jobBusy; });
    }
    append(state);
    auto f = flush();
    if (!f) return util::err(f.error());
    uint64_t gen = generation_ + 1;
    auto w = writeSnapshotFile(dir_, encodeSnapshot(state, gen));
    if (!w) return util::err(w.error());
    auto o = openGeneration(gen);
    if (!o) return util::err(o.error());
    removeJournalsBefore(dir_, gen);
    return true;
}

std::optional<std::string> Journal::takeBackgroundError() {
    std::lock_guard lock(shared_->mu);
    if (shared_->error.empty()) return std::nullopt;
    std::string e = std::move(shared_->error);
    shared_->error.clear();
    return e;
}

util::Result<LoadReport> Journal::loadReadOnly(const std::string& dir, State& state) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return util::err(dir + " does not exist or is not a directory");
    return loadDirectory(dir, state);
}

std::optional<pid_t> Journal::lockHolder(const std::string& dir) {
    std::string path = dir + "/lock";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
        ::close(fd);
        return std::nullopt;
    }
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    pid_t pid = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i)
        pid = pid * 10 + (buf[i] - '0');
    return pid;
}

}  // namespace rampart::policyd
