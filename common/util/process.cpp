// Process set-up for the daemons (process.h): account lookup, privilege drop, daemonizing, pid files.
#include "util/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace rampart::util {

namespace {
std::string sysError(const std::string& what) {
    return what + ": " + std::strerror(errno);
}
}  // namespace

Result<Account> lookupAccount(const std::string& name) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) return err("unknown user \"" + name + "\"");
    return Account{name, pw.pw_uid, pw.pw_gid};
}

Result<gid_t> lookupGroup(const std::string& name) {
    std::vector<char> buf(65536);
    group gr{};
    group* found = nullptr;
    int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) return err("unknown group \"" + name + "\"");
    return gr.gr_gid;
}

Result<bool> dropPrivileges(const Account& account) {
    if (geteuid() == account.uid && getuid() == account.uid) return false;
    if (geteuid() != 0) {
        return err("running as uid " + std::to_string(geteuid()) + ", cannot switch to " + account.name +
                   " (start as root or as " + account.name + ")");
    }
    if (initgroups(account.name.c_str(), account.gid) != 0) return err(sysError("initgroups"));
    if (setgid(account.gid) != 0) return err(sysError("setgid"));
    if (setuid(account.uid) != 0) return err(sysError("setuid"));
    if (setuid(0) == 0) return err("privilege drop failed: could regain root");
    return true;
}

void daemonize() {
    pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        _exit(1);
    }
    if (pid > 0) _exit(0);
    setsid();
    pid = fork();
    if (pid < 0) _exit(1);
    if (pid > 0) _exit(0);
    if (chdir("/") != 0) _exit(1);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) close(fd);
    }
}

Result<bool> ensureParentDirectory(const std::string& path, const Account& account) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) return true;
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) return true;
    std::filesystem::create_directories(dir, ec);
    if (ec) return err("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0755);
    if (geteuid() == 0 && ::chown(dir.c_str(), account.uid, account.gid) != 0) {
        return err(sysError("chown " + dir.string()));
    }
    return true;
}

Result<bool> setSocketOwnership(const std::string& path, unsigned mode, const Account& account,
                                const std::string& group) {
    gid_t gid = static_cast<gid_t>(-1);
    if (!group.empty()) {
        auto g = lookupGroup(group);
        if (!g) return err(g.error());
        gid = *g;
    }
    uid_t uid = geteuid() == 0 ? account.uid : static_cast<uid_t>(-1);
    if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) && ::chown(path.c_str(), uid, gid) != 0) {
        return err(sysError("chown " + path));
    }
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return err(sysError("chmod " + path));
    return true;
}

PidFile::~PidFile() {
    if (written_) ::unlink(path_.c_str());
}

Result<bool> PidFile::write() {
    if (path_.empty()) return false;
    std::string tmp = path_ + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return err(sysError("cannot write " + tmp));
    std::fprintf(f, "%d\n", static_cast<int>(getpid()));
    std::fclose(f);
    if (std::rename(tmp.c_str(), path_.c_str()) != 0) return err(sysError("cannot rename " + tmp));
    written_ = true;
    return true;
}

}  // namespace rampart::util
