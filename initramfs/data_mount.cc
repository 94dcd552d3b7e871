#include "data_mount.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "data_disk.h"
#include "util.h"

namespace romimg::init {

using appliance::kDataIdentity;
using appliance::kDataLabel;
using appliance::kDataMount;

namespace {

constexpr unsigned long kDataFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

std::vector<std::string> dir_entries(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (struct dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") out.push_back(n);
        }
        closedir(d);
    }
    return out;
}

// Block devices whose ext superblock carries the label (whole disks and partitions alike; not
// loop devices: those are the image's own layers).
std::vector<std::string> labelled_disks() {
    std::vector<std::string> found;
    for (const auto& name : dir_entries("/sys/class/block")) {
        if (name.rfind("loop", 0) == 0 || name.rfind("ram", 0) == 0 || name.rfind("dm-", 0) == 0 ||
            name.rfind("sr", 0) == 0 || name.rfind("zram", 0) == 0)
            continue;
        const std::string dev = "/dev/" + name;
        int fd = open(dev.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        std::string sb(1024, '\0');
        ssize_t n = pread(fd, sb.data(), sb.size(), 1024);
        close(fd);
        std::string label;
        if (n == (ssize_t)sb.size() && appliance::ext_volume_label(sb, label) && label == kDataLabel) found.push_back(dev);
    }
    return found;
}

// e2fsck -p (preen: fixes what is safe to fix without a question): its exit status, -1 if it
// could not run.
int check_fs(const std::string& dev) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        const char* argv[] = {"e2fsck", "-p", dev.c_str(), nullptr};
        const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", nullptr};
        execve(appliance::kE2fsck, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st) == 127 ? -1 : WEXITSTATUS(st);
}

bool copy_file(const std::string& from, const std::string& to, const struct stat& st) {
    int in = open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return false;
    int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = out >= 0;
    char buf[65536];
    for (ssize_t n; ok && (n = read(in, buf, sizeof buf)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            ok = false;
            break;
        }
        for (ssize_t done = 0; ok && done < n;) {
            ssize_t w = write(out, buf + done, n - done);
            if (w < 0 && errno != EINTR) ok = false;
            if (w > 0) done += w;
        }
    }
    // Owner, then mode (chown clears set-id bits; the data mount is nosuid all the same).
    ok = ok && fchown(out, st.st_uid, st.st_gid) == 0 && fchmod(out, st.st_mode & 07777) == 0;
    close(in);
    if (out >= 0) close(out);
    return ok;
}

// The image's copy of a data dir into `to` (which must not exist): dirs, regular files and
// symlinks with their owners and modes; anything else (a socket left on the build host) is
// skipped and counted.
bool copy_tree(const std::string& from, const std::string& to, unsigned& files, unsigned& skipped) {
    struct stat st;
    if (lstat(from.c_str(), &st) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(to.c_str(), 0700) != 0) return false;
        for (const auto& e : dir_entries(from))
            if (!copy_tree(from + "/" + e, to + "/" + e, files, skipped)) return false;
        return chown(to.c_str(), st.st_uid, st.st_gid) == 0 && chmod(to.c_str(), st.st_mode & 07777) == 0;
    }
    if (S_ISREG(st.st_mode)) {
        ++files;
        return copy_file(from, to, st);
    }
    if (S_ISLNK(st.st_mode)) {
        std::string target(4096, '\0');
        ssize_t n = readlink(from.c_str(), target.data(), target.size());
        if (n < 0 || n == (ssize_t)target.size()) return false;
        target.resize(n);
        return symlink(target.c_str(), to.c_str()) == 0 && lchown(to.c_str(), st.st_uid, st.st_gid) == 0;
    }
    ++skipped;
    return true;
}

// Removes `path` and what is under it, symlinks as links. A tree deeper than kMaxDepth (a
// crafted disk: init's stack is not the place for its nesting) is left, and false returned.
constexpr int kMaxDepth = 128;
bool remove_tree(const std::string& path, int depth = 0) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return errno == ENOENT;
    if (!S_ISDIR(st.st_mode)) return unlink(path.c_str()) == 0;
    if (depth >= kMaxDepth) return false;
    bool ok = true;
    for (const auto& e : dir_entries(path)) ok = remove_tree(path + "/" + e, depth + 1) && ok;
    return ok && rmdir(path.c_str()) == 0;
}

// The disk is input from whoever had the machine: every existing component of `dir` below
// kDataMount must be a directory of the disk itself, not a symlink (a crafted disk could point
// one anywhere in init's view, and the seed would be written, or the bind made, there) and not
// another filesystem. What does not exist yet is made by init. False and `bad` = the component.
bool on_disk_only(const std::string& dir, std::string& bad) {
    struct stat top;
    if (lstat(kDataMount, &top) != 0 || dir.rfind(std::string(kDataMount) + "/", 0) != 0) {
        bad = dir;
        return false;
    }
    for (size_t i = std::string(kDataMount).size(); i < dir.size();) {
        size_t j = dir.find('/', i + 1);
        if (j == std::string::npos) j = dir.size();
        const std::string p = dir.substr(0, j);
        struct stat st;
        if (lstat(p.c_str(), &st) != 0) {
            if (errno == ENOENT) return true;
            bad = p;
            return false;
        }
        if (!S_ISDIR(st.st_mode) || st.st_dev != top.st_dev) {
            bad = p;
            return false;
        }
        i = j;
    }
    return true;
}

// The disk's identity file: at most 256 bytes of a regular file (not through a symlink), shown
// with anything unprintable as '?'. False if it is absent.
bool read_identity(const std::string& path, std::string& id) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st;
    char buf[256];
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf) : -1;
    close(fd);
    if (n < 0) n = 0;  // there, but not a plain file: an identity nothing matches
    id.assign(buf, n);
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
    for (char& c : id)
        if ((unsigned char)c < ' ' || c == 0x7f) c = '?';
    return true;
}

// A new file (0644, root's) holding `data`, synced.
bool create_file(const std::string& path, const std::string& data) {
    unlink(path.c_str());
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return false;
    bool ok = write(fd, data.data(), data.size()) == (ssize_t)data.size() && fsync(fd) == 0;
    close(fd);
    return ok;
}

std::string seeded(unsigned files, unsigned skipped) {
    return std::to_string(files) + " file(s)" + (skipped ? ", " + std::to_string(skipped) + " special file(s) skipped" : "");
}

}  // namespace

DataDisk open_data_disk(const std::string& hostname, double wait_s) {
    DataDisk d;
    const std::string none = std::string("no data disk: no disk holds an ext4 filesystem labelled ") + kDataLabel;
    std::vector<std::string> disks;
    for (double until = monotonic_seconds() + wait_s;;) {
        disks = labelled_disks();
        if (!disks.empty() || monotonic_seconds() >= until) break;
        usleep(200000);
    }
    if (disks.empty()) {
        d.why_not = none;
        return d;
    }
    if (disks.size() > 1) {
        d.why_not = "two or more disks are labelled " + std::string(kDataLabel) + " (" + disks[0] + ", " + disks[1] +
                    "): refusing them all; keep one";
        return d;
    }
    d.device = disks[0];
    mkdir_p(kDataMount, 0755);
    // Whose disk is it? Judged from a read-only look (noload: not even a journal replay), so a
    // disk refused is not changed by one byte; only then is it checked and mounted to be written.
    if (mount(d.device.c_str(), kDataMount, "ext4", kDataFlags | MS_RDONLY, "noload") != 0) {
        d.why_not = "the data disk " + d.device + " did not mount as ext4 (read-only): " + strerror(errno);
        return d;
    }
    const std::string id_path = std::string(kDataMount) + "/" + kDataIdentity;
    std::string id;
    const bool has_id = read_identity(id_path, id);
    const appliance::DiskVerdict verdict = appliance::judge_disk(dir_entries(kDataMount), has_id, id, hostname);
    umount(kDataMount);
    if (verdict == appliance::DiskVerdict::foreign) {
        d.why_not = "the data disk " + d.device + " belongs to another appliance (" + id + ", not " + hostname +
                    "): refusing it (nothing on it was changed); attach this appliance's disk, or a new one";
        return d;
    }
    if (verdict == appliance::DiskVerdict::not_romimg) {
        d.why_not = "the disk " + d.device + " is labelled " + kDataLabel + " but holds files and no " + kDataIdentity +
                    ": it is not a romimg data disk; refusing it (it is never formatted or written)";
        return d;
    }
    const int fsck = check_fs(d.device);
    say("data disk " + d.device + ": e2fsck -p exit status " + std::to_string(fsck) +
        (fsck == 0 ? " (clean)" : fsck == 1 || fsck == 2 ? " (errors corrected)" : ""));
    if (!appliance::fsck_allows_mount(fsck)) {
        d.why_not = "the data disk " + d.device + " has errors e2fsck -p would not correct (exit status " +
                    std::to_string(fsck) + "): check it with e2fsck on another machine; it was not mounted";
        return d;
    }
    if (mount(d.device.c_str(), kDataMount, "ext4", kDataFlags, "") != 0) {
        d.why_not = "the data disk " + d.device + " did not mount as ext4: " + strerror(errno);
        return d;
    }
    if (verdict == appliance::DiskVerdict::fresh) {
        if (!create_file(id_path + ".new", hostname + "\n") || rename((id_path + ".new").c_str(), id_path.c_str()) != 0) {
            d.why_not = "cannot write this appliance's name on the data disk " + d.device + ": " + strerror(errno);
            umount(kDataMount);
            return d;
        }
        sync();
        say("data disk " + d.device + " is new: it now belongs to " + hostname);
    }
    d.mounted = true;
    say("data disk " + d.device + " mounted on " + kDataMount + " (nosuid,nodev,noexec)");
    return d;
}

bool bind_data_dir(const appliance::Service& s, const std::string& path, std::string& what, std::string& error) {
    const std::string dir = appliance::data_dir_on_disk(s, path);
    std::string bad;
    if (!on_disk_only(dir, bad)) {
        error = bad + " on the data disk is not a plain directory of the disk (a symlink, or another kind of file): "
                      "refusing to seed or bind it";
        return false;
    }
    struct stat st;
    if (lstat(dir.c_str(), &st) != 0) {
        // First use: a copy of the image's dir, made aside and renamed into place, so a power cut
        // halfway leaves no half-seeded dir (the leftover is removed next time).
        const std::string tmp = dir + ".romimg-seeding";
        if (!remove_tree(tmp)) {
            error = "cannot remove " + tmp + " (a seed left by a power cut) from the data disk";
            return false;
        }
        mkdir_p(dir.substr(0, dir.rfind('/')), 0755);
        unsigned files = 0, skipped = 0;
        if (!copy_tree(path, tmp, files, skipped) || rename(tmp.c_str(), dir.c_str()) != 0) {
            error = "cannot seed " + dir + " from the image: " + strerror(errno);
            remove_tree(tmp);
            return false;
        }
        sync();
        what = "seeded from the image (" + seeded(files, skipped) + "), ";
    } else if (!S_ISDIR(st.st_mode)) {
        error = dir + " on the data disk is not a directory";
        return false;
    }
    if (!do_mount(dir, path, "", MS_BIND, "") || !do_mount("", path, "", MS_BIND | MS_REMOUNT | kDataFlags, "")) {
        error = "cannot bind " + dir + " over " + path;
        return false;
    }
    what += "on the data disk";
    return true;
}

bool tmpfs_data_dir(const appliance::Service& s, const std::string& path, std::string& what, std::string& error) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        error = path + " is not in the image: " + strerror(errno);
        return false;
    }
    const std::string aside = std::string(kDataMount) + "-tmpfs/" + s.name + std::to_string(st.st_ino);
    mkdir_p(aside, 0700);
    const std::string opts = "size=" + s.data_size + ",mode=0700";
    unsigned files = 0, skipped = 0;
    if (!do_mount("tmpfs", aside, "tmpfs", kDataFlags, opts)) {
        error = "cannot mount a tmpfs for " + path;
        return false;
    }
    // The copy goes into the tmpfs's root: its owner and mode become the image dir's.
    bool ok = true;
    for (const auto& e : dir_entries(path)) ok = ok && copy_tree(path + "/" + e, aside + "/" + e, files, skipped);
    ok = ok && chown(aside.c_str(), st.st_uid, st.st_gid) == 0 && chmod(aside.c_str(), st.st_mode & 07777) == 0;
    if (!ok || !do_mount(aside, path, "", MS_MOVE, "")) {
        error = "cannot seed a tmpfs for " + path + ": " + strerror(errno);
        umount2(aside.c_str(), MNT_DETACH);
        return false;
    }
    what = "on a tmpfs (" + s.data_size + ", seeded from the image: " + seeded(files, skipped) + "): lost at power-off";
    return true;
}

}  // namespace romimg::init
