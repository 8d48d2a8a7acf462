// Sharing the SQLite suppression list's files with the daemons: after rampartctl (root) writes the
// database, its -wal and -shm files go to rampart_user (or its group), mode 0640 at least, so the
// read-only daemons can always open them.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "suppression/sqlite_store.h"
#include "util/process.h"

namespace rampart::suppress {

util::Result<std::string> SqliteStore::shareWith(const std::string& path, const std::string& user) {
    if (::geteuid() != 0 || user.empty()) return std::string();
    auto account = util::lookupAccount(user);
    if (!account) {
        return util::err("rampart_user " + user + " does not exist: " + path +
                         " stays root's, and rampart-milter and rampart-policyd cannot read it");
    }
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    struct stat ds {};
    if (::stat(dir.c_str(), &ds) != 0) return util::err("cannot stat " + dir + ": " + std::strerror(errno));
    const bool dirIsTheirs = ds.st_uid == account->uid;
    bool changed = false;
    for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
        struct stat fs {};
        if (::lstat(f.c_str(), &fs) != 0 || !S_ISREG(fs.st_mode)) continue;
        uid_t uid = dirIsTheirs ? account->uid : fs.st_uid;
        if (fs.st_uid != uid || fs.st_gid != account->gid) {
            if (::chown(f.c_str(), uid, account->gid) != 0) {
                return util::err("cannot give " + f + " to " + user + ": " + std::strerror(errno));
            }
            changed = true;
        }
        if ((fs.st_mode & 0040) == 0) {
            if (::chmod(f.c_str(), (fs.st_mode & 07777) | 0040) != 0) {
                return util::err("cannot make " + f + " group-readable: " + std::strerror(errno));
            }
            changed = true;
        }
    }
    if (!changed) return std::string();
    if (dirIsTheirs) return path + ": owner set to " + user + " (the daemons read it as that user)";
    return path + ": group set to " + user + "'s group (mode 0640), so the daemons can read it; " + dir +
           " does not belong to " + user + " (recommended: chown " + user + ": " + dir + ")";
}

}  // namespace rampart::suppress
