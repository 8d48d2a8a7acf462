// Process set-up shared by the daemons: accounts, privilege drop, daemonizing, pid files, and unix
// socket ownership. Root is needed only to bind sockets and read keys; after that the daemons run
// as rampart_user with no way back (setuid after setgroups/setgid, checked).
#pragma once

#include <sys/types.h>

#include <string>

#include "util/result.h"

namespace rampart::util {

struct Account {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

Result<Account> lookupAccount(const std::string& name);
Result<gid_t> lookupGroup(const std::string& name);

// Switches to `account` (supplementary groups, gid, uid). A no-op when already running as that
// uid. Returns an error text when not root and not already that user.
Result<bool> dropPrivileges(const Account& account);

// Forks into the background (new session, cwd /, stdio on /dev/null). Returns in the child only.
void daemonize();

// Creates the parent directory of a unix socket or pid file when missing (mode 0755, owned by
// `account` so a restart after the privilege drop can recreate files in it).
Result<bool> ensureParentDirectory(const std::string& path, const Account& account);

// chmod + chown(account uid, group) of a unix socket; group empty = leave it.
Result<bool> setSocketOwnership(const std::string& path, unsigned mode, const Account& account,
                                const std::string& group);

class PidFile {
  public:
    PidFile() = default;
    explicit PidFile(std::string path) : path_(std::move(path)) {}
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;
    ~PidFile();
    Result<bool> write();

  private:
    std::string path_;
    bool written_ = false;
};

}  // namespace rampart::util
