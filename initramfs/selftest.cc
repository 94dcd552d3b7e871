// romimg-selftest: the in-guest hardening self-test that `romimg verify` ships on its verify copy
// of an ISO (never in a release image). PID 1 runs it once, as root outside the jails, after every
// service is ready and exec-locked; argv carries the services' pids ("apache=123"). It attacks
//   - from inside each jail: a process confined by exactly the services' code (jail_enter.cc:
//     chroot, the service's uid/gid/groups, only its capabilities, rlimits, no_new_privs) and
//     exec-locked the way init locks the service (unless the image turned the lock off), with
//     every attack made by a forked process of that locked tree;
//   - as root outside the jails, after the seal;
// and prints one line per check on the console:
//   romimg-selftest: CHECK PASS|FAIL SCOPE ID | WHAT | expected: ... | got: ...
//   romimg-selftest: DONE N checks, F failed
// An attack passes when it was refused; one that romlock must refuse also needs romlock's DENY
// line for the attacking pid in the kernel log (WOULD-DENY, permissive mode, fails it). Attacks
// that succeed (weakened images) undo what they did where they can. No exceptions: static and
// built like init.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "appliance_conf.h"
#include "caps.h"
#include "jail_enter.h"
#include "selftest_faults.h"
#include "util.h"

namespace romimg::selftest {

using appliance::Conf;
using appliance::Service;

namespace {

const char* const kRomlock = "/sys/kernel/security/romlock";
// An attack that was contained without a failing call (e.g. a chroot that worked but did not
// lead out of the jail).
constexpr int kContained = 100000;

std::string errname(int e) {
    if (e == 0) return "succeeded";
    if (e == kContained) return "contained";
    if (e < 0) return "no report";
    const char* n = strerrorname_np(e);
    return n ? n : "errno " + std::to_string(e);
}

void out(const std::string& line) {
    std::string l = "romimg-selftest: " + line + "\n";
    (void)!write(1, l.data(), l.size());
}

// ---- running one attempt in its own process ----

struct Outcome {
    pid_t pid = 0;       // the process that made the attempt
    int err = -1;        // 0 = the attack worked, errno = refused, -1 = no report
    std::string detail;
};

using AttackFn = std::function<int(std::string& detail)>;

void report(int fd, int err, const std::string& detail) {
    std::string line = std::to_string(getpid()) + " " + std::to_string(err) + " " + detail + "\n";
    (void)!write(fd, line.data(), line.size());
}

// The attempt runs in a fresh process group; its report comes back over a close-on-exec pipe,
// so an exec that works shows as a report that never came (and whatever ran is killed).
Outcome attempt(const AttackFn& fn, int timeout_ms = 8000) {
    int p[2];
    Outcome o;
    if (pipe2(p, O_CLOEXEC) < 0) {
        o.detail = std::string("pipe: ") + strerror(errno);
        return o;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        close(p[0]);
        std::string detail;
        int err = fn(detail);
        report(p[1], err, detail);
        _exit(0);
    }
    close(p[1]);
    std::string buf;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0) break;
        struct pollfd pfd = {p[0], POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0) continue;
        char b[1024];
        ssize_t n = read(p[0], b, sizeof b);
        if (n <= 0) break;
        buf.append(b, n);
    }
    close(p[0]);
    if (pid > 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    }
    size_t a = buf.find(' '), b = a == std::string::npos ? a : buf.find(' ', a + 1);
    if (b == std::string::npos) {
        o.pid = pid;
        o.detail = "the attempt replaced itself (an exec that worked) or died";
        return o;
    }
    o.pid = atoi(buf.c_str());
    o.err = atoi(buf.c_str() + a + 1);
    o.detail = buf.substr(b + 1);
    while (!o.detail.empty() && o.detail.back() == '\n') o.detail.pop_back();
    return o;
}

// ---- the kernel log: romlock's lines ----

class Kmsg {
public:
    Kmsg() {
        fd_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ >= 0) lseek(fd_, 0, SEEK_END);
    }
    bool ok() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    // romlock's first line about `pid` with `verdict` ("DENY", "WOULD-DENY"), or "" (the first:
    // an attack that worked may log more while undoing itself).
    std::string find(pid_t pid, const std::string& verdict) {
        drain();
        std::string tag = " pid=" + std::to_string(pid) + " ";
        for (const auto& l : lines_)
            if (l.rfind("romlock: " + verdict + " ", 0) == 0 && l.find(tag) != std::string::npos) return l;
        return "";
    }

    // The kernel's seccomp report (audit type 1326) for `pid`, or "".
    std::string find_seccomp(pid_t pid) {
        drain();
        std::string tag = " pid=" + std::to_string(pid) + " ";
        for (const auto& l : lines_)
            if (l.rfind("audit: type=1326 ", 0) == 0 && l.find(tag) != std::string::npos) return l;
        return "";
    }

private:
    void drain() {
        char buf[8192];
        for (;;) {
            ssize_t n = read(fd_, buf, sizeof buf);
            if (n < 0 && errno == EPIPE) continue;  // overwritten records: go on with the next
            if (n <= 0) return;
            std::string rec(buf, n);
            size_t semi = rec.find(';');
            std::string text = semi == std::string::npos ? rec : rec.substr(semi + 1);
            size_t nl = text.find('\n');
            if (nl != std::string::npos) text.resize(nl);
            if (text.rfind("romlock: ", 0) == 0 || text.rfind("audit: type=1326 ", 0) == 0) lines_.push_back(text);
        }
    }
    int fd_ = -1;
    std::vector<std::string> lines_;
};

// ---- checks ----

struct Attack {
    std::string id;
    std::string what;
    bool romlock = false;  // romlock must refuse it, and log DENY for the attacking pid
    AttackFn fn;
    bool must_work = false;  // not an attack: something the service needs (0 = it works)
};

struct Tally {
    int checks = 0, failed = 0;
};

void print_check(Tally& t, bool pass, const std::string& scope, const std::string& id, const std::string& what,
                 const std::string& expected, const std::string& got) {
    ++t.checks;
    t.failed += !pass;
    out("CHECK " + std::string(pass ? "PASS " : "FAIL ") + scope + " " + id + " | " + what + " | expected: " + expected +
        " | got: " + got);
}

void judge(Tally& t, Kmsg& k, const std::string& scope, const Attack& a, const Outcome& o) {
    if (a.must_work) {
        print_check(t, o.err == 0, scope, a.id, a.what, "works",
                    (o.err == 0 ? std::string("works") : errname(o.err)) + (o.detail.empty() ? "" : " (" + o.detail + ")"));
        return;
    }
    std::string expected = a.romlock ? "refused, romlock DENY logged" : "refused";
    std::string got = errname(o.err);
    if (!o.detail.empty()) got += " (" + o.detail + ")";
    bool pass = o.err > 0;
    if (a.romlock && o.pid > 0) {
        std::string deny = k.find(o.pid, "DENY");
        std::string would = deny.empty() ? k.find(o.pid, "WOULD-DENY") : "";
        if (!deny.empty()) got += "; " + deny;
        else if (!would.empty()) got += "; only " + would;
        else got += "; no romlock DENY line for pid " + std::to_string(o.pid);
        pass = pass && !deny.empty();
    }
    print_check(t, pass, scope, a.id, a.what, expected, got);
}

// ---- helpers for the attacks ----

int fail_errno() { return errno ? errno : EIO; }

// 0 if `fd` or path could be opened for writing (and closes it).
int try_open(const std::string& path, int flags, std::string& detail) {
    int fd = open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd >= 0) {
        close(fd);
        detail = path + " opened";
        return 0;
    }
    return errno;
}

// All of `paths` must fail to open for reading; 0 (and which) if one opened.
int none_readable(const std::vector<std::string>& paths, std::string& detail) {
    std::string errs;
    for (const auto& p : paths) {
        int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0) {
            close(fd);
            detail = p + " was readable";
            return 0;
        }
        errs += (errs.empty() ? "" : ", ") + p + ": " + errname(errno);
    }
    detail = errs;
    return kContained;
}

std::string dirname_of(const std::string& p) {
    size_t s = p.rfind('/');
    return s == 0 || s == std::string::npos ? "/" : p.substr(0, s);
}

// Writable by design: its tmpfs areas, /proc and the like, and its [data] dirs (the data disk,
// the only ext4 an appliance mounts: its root and layers are squashfs).
bool on_writable_fs(int dirfd) {
    struct statfs sf;
    if (fstatfs(dirfd, &sf) < 0) return true;
    return sf.f_type == TMPFS_MAGIC || sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC ||
           sf.f_type == DEVPTS_SUPER_MAGIC || sf.f_type == EXT4_SUPER_MAGIC;
}

// Walks the jail's read-only tree (not its tmpfs areas or /proc): `on_file` for each regular
// file, `on_dir` for each directory; stops at the first success (returns 0 and names it).
int walk(int dirfd, const std::string& path, int depth, int& files, int& dirs,
         const std::function<bool(int, const char*)>& on_file, const std::function<bool(int)>& on_dir,
         std::string& detail) {
    if (depth > 64 || on_writable_fs(dirfd)) return kContained;
    ++dirs;
    if (on_dir && on_dir(dirfd)) {
        detail = "created an entry in " + path;
        return 0;
    }
    int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR* d = fdopendir(dup);
    if (!d) return kContained;
    std::vector<std::string> subdirs;
    while (dirent* e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
        if (S_ISDIR(st.st_mode)) subdirs.push_back(e->d_name);
        else if (S_ISREG(st.st_mode)) {
            ++files;
            if (on_file && on_file(dirfd, e->d_name)) {
                closedir(d);
                detail = (path == "/" ? "" : path) + "/" + e->d_name + " opened for writing";
                return 0;
            }
        }
    }
    closedir(d);
    for (const auto& s : subdirs) {
        int fd = openat(dirfd, s.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        int r = walk(fd, (path == "/" ? "" : path) + "/" + s, depth + 1, files, dirs, on_file, on_dir, detail);
        close(fd);
        if (r == 0) return 0;
    }
    return kContained;
}

char* const* no_env() {
    static char* env[] = {nullptr};
    return env;
}

void copy_fd(int src, int dst) {
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0) (void)!write(dst, buf, n);
}

// Copies `src` to a new executable file `dst` and execs it; the errno of the refusal (the copy
// is removed), or no return when the exec worked.
int copy_and_exec(const std::string& src, const std::string& dst, char* const* argv, std::string& d) {
    int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
    int out = open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (in < 0 || out < 0) {
        d = "could not copy to " + dst;
        return fail_errno();
    }
    copy_fd(in, out);
    close(out);
    close(in);
    execve(dst.c_str(), argv, no_env());
    int e = fail_errno();
    unlink(dst.c_str());
    return e;
}

// The classic escape: chroot into a subdirectory, walk up past the old root, chroot there.
int chroot_walk_out(const std::string& dir, std::string& d) {
    if (chroot(dir.c_str()) < 0) return fail_errno();
    for (int i = 0; i < 64; ++i) (void)!chdir("..");
    (void)!chroot(".");
    bool out = access("/sbin/init", F_OK) == 0 && access("/etc/romimg/appliance.conf", F_OK) == 0;
    d = out ? "reached the appliance's root" : "chroot worked but stayed inside the jail";
    return out ? 0 : kContained;
}

// ---- the jail's devices: those it has work, no other opens ----

bool has_device(const Service& s, const std::string& d) {
    return std::find(s.devices.begin(), s.devices.end(), d) != s.devices.end();
}

// Reads `n` bytes of `path`; errno on failure.
int read_device(const std::string& path, char* buf, size_t n, std::string& d) {
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        d = "open " + path + ": " + errname(errno);
        return fail_errno();
    }
    ssize_t got = read(fd, buf, n);
    int e = errno;
    close(fd);
    if (got != (ssize_t)n) {
        d = "read " + path + ": " + (got < 0 ? errname(e) : std::to_string(got) + " bytes");
        return got < 0 ? e : EIO;
    }
    return 0;
}

// Every device node of the jail's read-only tree that is not one of its devices must stay shut
// (the root is nodev); 0 and its name if one opens.
int other_device_nodes(int dirfd, const std::string& path, const Service& s, int depth, int& seen, std::string& d) {
    if (depth > 64 || on_writable_fs(dirfd)) return kContained;
    DIR* dir = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
    if (!dir) return kContained;
    std::vector<std::string> subdirs;
    int result = kContained;
    while (dirent* e = readdir(dir)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        std::string p = (path == "/" ? "" : path) + "/" + e->d_name;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
        if (S_ISDIR(st.st_mode)) subdirs.push_back(e->d_name);
        if (!(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) || has_device(s, p)) continue;
        ++seen;
        int fd = openat(dirfd, e->d_name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            d = p + " opened";
            result = 0;
            break;
        }
    }
    closedir(dir);
    for (size_t i = 0; result != 0 && i < subdirs.size(); ++i) {
        int fd = openat(dirfd, subdirs[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        result = other_device_nodes(fd, (path == "/" ? "" : path) + "/" + subdirs[i], s, depth + 1, seen, d);
        close(fd);
    }
    return result;
}

std::vector<Attack> device_checks(const Service& s) {
    std::vector<Attack> v;
    Attack null{"dev-null", "/dev/null takes writes and reads as empty", false, [](std::string& d) {
                    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                    if (fd < 0) {
                        d = "open: " + errname(errno);
                        return fail_errno();
                    }
                    char b[16];
                    ssize_t w = write(fd, "romimg-selftest\n", 16), r = read(fd, b, sizeof b);
                    close(fd);
                    d = "wrote " + std::to_string(w) + ", read " + std::to_string(r);
                    return w == 16 && r == 0 ? 0 : EIO;
                }};
    null.must_work = true;
    Attack zero{"dev-zero", "/dev/zero reads zeros and maps as memory", false, [](std::string& d) {
                    char b[4096];
                    if (int e = read_device("/dev/zero", b, sizeof b, d)) return e;
                    for (char c : b)
                        if (c) {
                            d = "a byte that is not zero";
                            return EIO;
                        }
                    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
                    void* m = fd < 0 ? MAP_FAILED : mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
                    int e = errno;
                    if (fd >= 0) close(fd);
                    if (m == MAP_FAILED) {
                        d = "mmap: " + errname(e);
                        return e ? e : EIO;
                    }
                    munmap(m, 65536);
                    d = "4096 zeros, 64 KiB mapped";
                    return 0;
                }};
    zero.must_work = true;
    Attack urandom{"dev-urandom", "/dev/urandom and /dev/random read random bytes; /dev/urandom takes writes", false,
                   [](std::string& d) {
                       char a[32] = {}, b[32] = {};
                       if (int e = read_device("/dev/urandom", a, sizeof a, d)) return e;
                       if (int e = read_device("/dev/random", b, sizeof b, d)) return e;
                       int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
                       ssize_t w = fd < 0 ? -1 : write(fd, a, 8);
                       if (fd >= 0) close(fd);
                       if (memcmp(a, b, sizeof a) == 0 || w != 8) {
                           d = w != 8 ? "write to /dev/urandom failed" : "the same bytes twice";
                           return EIO;
                       }
                       d = "64 bytes read, 8 written";
                       return 0;
                   }};
    urandom.must_work = true;
    v.push_back(null);
    v.push_back(zero);
    v.push_back(urandom);
    if (has_device(s, "/dev/full")) {
        Attack full{"dev-full", "/dev/full refuses writes with ENOSPC", false, [](std::string& d) {
                        int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
                        if (fd < 0) {
                            d = "open: " + errname(errno);
                            return fail_errno();
                        }
                        ssize_t w = write(fd, "x", 1);
                        int e = errno;
                        close(fd);
                        d = w < 0 ? "write: " + errname(e) : "the write worked";
                        return w < 0 && e == ENOSPC ? 0 : EIO;
                    }};
        full.must_work = true;
        v.push_back(full);
    }
    v.push_back({"other-devices", "open a device node of the jail that is not one of its devices", false, [s](std::string& d) {
                     int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                     int seen = 0;
                     int r = other_device_nodes(root, "/", s, 0, seen, d);
                     close(root);
                     if (r != 0) d = std::to_string(seen) + " other device node(s), none opened";
                     return r;
                 }});
    return v;
}

// ---- the attacks from inside a jail ----

std::vector<Attack> jail_attacks(const Conf& conf, const Service& s, pid_t service_pid) {
    const std::string bin = s.argv.empty() ? "/" : s.argv[0];
    std::string writable;  // its first tmpfs area, as seen inside the jail
    for (const auto& m : s.mounts)
        if (m.type == "tmpfs" && m.target.rfind(s.root + "/", 0) == 0) {
            writable = m.target.substr(s.root.size());
            break;
        }
    auto exec_argv = [bin](const std::string& p) {
        static std::string a0, a1 = "--romimg-selftest-must-not-run";
        a0 = p.empty() ? bin : p;
        static char* argv[3];
        argv[0] = a0.data();
        argv[1] = a1.data();
        argv[2] = nullptr;
        return argv;
    };
    std::vector<Attack> v;
    v.push_back({"exec-binary", "execve its own program " + bin, true, [=](std::string&) {
                     execve(bin.c_str(), exec_argv(""), no_env());
                     return fail_errno();
                 }});
    v.push_back({"execveat", "execveat(AT_FDCWD, " + bin + ")", true, [=](std::string&) {
                     syscall(SYS_execveat, AT_FDCWD, bin.c_str(), exec_argv(""), no_env(), 0);
                     return fail_errno();
                 }});
    v.push_back({"fexecve-memfd", "fexecve a memfd holding a copy of " + bin, true, [=](std::string& d) {
                     int src = open(bin.c_str(), O_RDONLY | O_CLOEXEC);
                     int mfd = memfd_create("payload", 0);
                     if (src < 0 || mfd < 0) {
                         d = "could not prepare the memfd";
                         return fail_errno();
                     }
                     copy_fd(src, mfd);
                     fexecve(mfd, exec_argv("payload"), no_env());
                     return fail_errno();
                 }});
    v.push_back({"exec-script", "exec a #! script (memfd) whose interpreter is " + bin, true, [=](std::string& d) {
                     int mfd = memfd_create("script", 0);
                     std::string text = "#!" + bin + "\n";
                     if (mfd < 0 || write(mfd, text.data(), text.size()) < 0) {
                         d = "could not prepare the script";
                         return fail_errno();
                     }
                     fexecve(mfd, exec_argv("script"), no_env());
                     return fail_errno();
                 }});
    v.push_back({"exec-orphan", "an orphaned grandchild (re-parented to init) execs " + bin, true, [=](std::string& d) {
                     pid_t c = fork();
                     if (c < 0) return fail_errno();
                     if (c > 0) _exit(0);  // the orphan reports
                     for (int i = 0; i < 100 && getppid() != 1; ++i) usleep(10000);
                     d = getppid() == 1 ? "re-parented to PID 1" : "not re-parented";
                     execve(bin.c_str(), exec_argv(""), no_env());
                     return fail_errno();
                 }});
    if (!writable.empty())
        v.push_back({"exec-written-file", "write an ELF into its writable area " + writable + " and exec it", false,
                     [=](std::string& d) {
                         std::string p = writable + "/.romimg-selftest-exe";
                         return copy_and_exec(bin, p, exec_argv(p), d);
                     }});
    // Its data dirs are on the data disk, mounted noexec: what it writes there never runs.
    for (const auto& dir : s.data)
        v.push_back({"exec-written-data", "write an ELF into its data dir " + dir + " (the data disk) and exec it", false,
                     [=](std::string& d) {
                         std::string p = dir + "/.romimg-selftest-exe";
                         return copy_and_exec(bin, p, exec_argv(p), d);
                     }});
    v.push_back({"write-root", "create a file in /", false,
                 [](std::string& d) { return try_open("/.romimg-selftest", O_WRONLY | O_CREAT | O_EXCL, d); }});
    v.push_back({"write-binary", "open its program " + bin + " for writing", false,
                 [=](std::string& d) { return try_open(bin, O_WRONLY | O_APPEND, d); }});
    v.push_back({"write-any-file", "open every file of the jail's read-only tree (program, libraries, content) for writing", false,
                 [](std::string& d) {
                     int files = 0, dirs = 0;
                     int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                     int r = walk(root, "/", 0, files, dirs,
                                  [](int dfd, const char* name) {
                                      int fd = openat(dfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                                      if (fd >= 0) close(fd);
                                      return fd >= 0;
                                  },
                                  nullptr, d);
                     if (r != 0) d = std::to_string(files) + " files, none writable";
                     return files == 0 ? ENOENT : r;
                 }});
    v.push_back({"create-anywhere", "create a directory in every directory of the jail's read-only tree", false,
                 [](std::string& d) {
                     int files = 0, dirs = 0;
                     int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                     int r = walk(root, "/", 0, files, dirs, nullptr,
                                  [](int dfd) {
                                      if (mkdirat(dfd, ".romimg-selftest", 0700) < 0) return false;
                                      unlinkat(dfd, ".romimg-selftest", AT_REMOVEDIR);
                                      return true;
                                  },
                                  d);
                     if (r != 0) d = std::to_string(dirs) + " directories, none writable";
                     return r;
                 }});
    v.push_back({"setuid-root-file", "create a setuid-root program", false, [=](std::string& d) {
                     std::string p = (writable.empty() ? std::string("") : writable) + "/.romimg-selftest-suid";
                     int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
                     if (fd < 0) return fail_errno();
                     int e = 0;
                     if (fchown(fd, 0, 0) < 0 || fchmod(fd, 04755) < 0) e = fail_errno();
                     struct stat st;
                     struct statvfs sv;
                     if (!e && fstat(fd, &st) == 0 && fstatvfs(fd, &sv) == 0) {
                         bool effective = st.st_uid == 0 && (st.st_mode & S_ISUID) && !(sv.f_flag & ST_NOSUID);
                         d = effective ? p + " is setuid root on a suid mount" : p + " exists but its mount is nosuid";
                         e = effective ? 0 : kContained;
                     }
                     close(fd);
                     unlink(p.c_str());
                     return e;
                 }});
    v.push_back({"mknod", "mknod a character device (1:1, /dev/mem)", false, [=](std::string& d) {
                     std::string p = (writable.empty() ? std::string("") : writable) + "/.romimg-selftest-mem";
                     if (mknod(p.c_str(), S_IFCHR | 0666, makedev(1, 1)) == 0) {
                         unlink(p.c_str());
                         d = p + " created";
                         return 0;
                     }
                     return fail_errno();
                 }});
    for (auto& a : device_checks(s)) v.push_back(std::move(a));
    for (const auto& o : conf.services) {
        if (o.name == s.name || o.argv.empty()) continue;
        std::string ob = o.argv[0];
        v.push_back({"read-jail-" + o.name, "read " + o.name + "'s jail", false, [=](std::string& d) {
                         return none_readable({o.root + ob, "/.." + o.root + ob, "../../.." + o.root + ob,
                                               "/proc/1/root" + o.root + ob, "/proc/self/root/.." + o.root + ob},
                                              d);
                     }});
    }
    v.push_back({"read-outside", "read files outside the jail", false, [](std::string& d) {
                     return none_readable({"/etc/shadow", "/etc/romimg/appliance.conf", "/../../etc/romimg/appliance.conf",
                                           "/sbin/init", "/run/medium/live/root.sqfs"},
                                          d);
                 }});
    v.push_back({"proc1-root", "reach the real root through /proc/1/root", false, [](std::string& d) {
                     return none_readable({"/proc/1/root/etc/romimg/appliance.conf", "/proc/1/cwd/etc/romimg/appliance.conf"}, d);
                 }});
    v.push_back({"proc1-environ", "read PID 1's environment and memory", false,
                 [](std::string& d) { return none_readable({"/proc/1/environ", "/proc/1/mem"}, d); }});
    v.push_back({"ptrace", "ptrace the running service (pid " + std::to_string(service_pid) + ") and PID 1", false,
                 [=](std::string& d) {
                     std::string errs;
                     for (pid_t target : {service_pid, (pid_t)1}) {
                         if (target <= 0) continue;
                         if (ptrace(PTRACE_ATTACH, target, nullptr, nullptr) == 0) {
                             ptrace(PTRACE_DETACH, target, nullptr, nullptr);
                             d = "attached to pid " + std::to_string(target);
                             return 0;
                         }
                         errs += "attach " + std::to_string(target) + ": " + errname(errno) + ", ";
                         char buf[16];
                         struct iovec local = {buf, sizeof buf}, remote = {(void*)0x400000, sizeof buf};
                         if (process_vm_readv(target, &local, 1, &remote, 1, 0) >= 0) {
                             d = "read the memory of pid " + std::to_string(target);
                             return 0;
                         }
                         errs += "process_vm_readv: " + errname(errno) + "; ";
                     }
                     d = errs;
                     return kContained;
                 }});
    v.push_back({"raw-socket", "open raw IP and packet sockets", false, [](std::string& d) {
                     int a = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
                     int ea = errno;
                     int b = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
                     int eb = errno;
                     if (a >= 0 || b >= 0) {
                         d = a >= 0 ? "AF_INET SOCK_RAW opened" : "AF_PACKET opened";
                         return 0;
                     }
                     d = "AF_INET: " + errname(ea) + ", AF_PACKET: " + errname(eb);
                     return kContained;
                 }});
    v.push_back({"chroot-double", "escape with a second chroot (mkdir x; chroot x; cd ../..)", false, [=](std::string& d) {
                     return chroot_walk_out(writable.empty() ? "/etc" : writable, d);
                 }});
    v.push_back({"chroot-fchdir", "escape with fchdir to a directory fd kept from outside a new chroot", false, [=](std::string& d) {
                     int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                     std::string x = writable.empty() ? "/etc" : writable;
                     if (chroot(x.c_str()) < 0) return fail_errno();
                     if (fchdir(fd) < 0) return fail_errno();
                     for (int i = 0; i < 64; ++i) (void)!chdir("..");
                     (void)!chroot(".");
                     bool out = access("/etc/romimg/appliance.conf", F_OK) == 0;
                     d = out ? "reached the appliance's root" : "stayed inside the jail";
                     return out ? 0 : kContained;
                 }});
    // romlock's mount hook runs before the capability check, so it refuses (and logs) this too.
    v.push_back({"mount", "mount a tmpfs (directly and in a new user+mount namespace)", true, [=](std::string& d) {
                     std::string target = writable.empty() ? "/" : writable;
                     if (mount("tmpfs", target.c_str(), "tmpfs", 0, nullptr) == 0) {
                         umount2(target.c_str(), MNT_DETACH);
                         d = "mounted on " + target;
                         return 0;
                     }
                     int e1 = errno;
                     if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 && mount("tmpfs", "/", "tmpfs", 0, nullptr) == 0) {
                         d = "mounted inside a new user namespace";
                         return 0;
                     }
                     d = "mount: " + errname(e1) + ", user namespace: " + errname(errno);
                     return kContained;
                 }});
    return v;
}

// ---- the attacks as root outside the jails, after the seal ----

int copy_self_and_exec(const std::string& dir, std::string& d) {
    mkdir(dir.c_str(), 01777);
    std::string p = dir + "/romimg-selftest-copy";
    char* argv[] = {p.data(), const_cast<char*>("--noop"), nullptr};
    return copy_and_exec("/proc/self/exe", p, argv, d);
}

int do_mount(const char* src, const std::string& target, const char* type, unsigned long flags, std::string& d) {
    if (mount(src, target.c_str(), type, flags, nullptr) == 0) {
        d = "mounted on " + target;
        if (!(flags & MS_REMOUNT)) umount2(target.c_str(), MNT_DETACH);
        return 0;
    }
    return errno;
}

std::vector<Attack> root_attacks(const Conf& conf) {
    std::vector<Attack> v;
    v.push_back({"remount-root-rw", "remount / read-write", true,
                 [](std::string& d) { return do_mount(nullptr, "/", nullptr, MS_REMOUNT, d); }});
    v.push_back({"tmpfs-over-etc", "mount a tmpfs over /etc", true,
                 [](std::string& d) { return do_mount("tmpfs", "/etc", "tmpfs", 0, d); }});
    for (const auto& s : conf.services) {
        v.push_back({"tmpfs-over-jail-" + s.name, "mount a tmpfs over " + s.root, true,
                     [s](std::string& d) { return do_mount("tmpfs", s.root, "tmpfs", 0, d); }});
        if (s.argv.empty()) continue;
        std::string bindir = s.root + dirname_of(s.argv[0]);
        v.push_back({"bind-over-binaries-" + s.name, "bind-mount a writable directory over " + bindir, true,
                     [bindir](std::string& d) {
                         mkdir("/tmp/romimg-selftest-bind", 0755);
                         return do_mount("/tmp/romimg-selftest-bind", bindir, nullptr, MS_BIND, d);
                     }});
    }
    v.push_back({"umount-var", "umount /var", true, [](std::string& d) {
                     if (umount2("/var", 0) == 0) {
                         d = "/var unmounted";
                         return 0;
                     }
                     return errno;
                 }});
    // In a mount namespace of its own: were it allowed (permissive), it would move init's root.
    v.push_back({"pivot-root", "pivot_root to /tmp (in a private mount namespace)", true, [](std::string& d) {
                     if (unshare(CLONE_NEWNS) < 0) {
                         d = "unshare";
                         return errno;
                     }
                     if (syscall(SYS_pivot_root, "/tmp", "/tmp") == 0) {
                         d = "pivoted";
                         return 0;
                     }
                     return errno;
                 }});
    v.push_back({"chroot-tmp", "chroot into /tmp", true, [](std::string& d) {
                     if (chroot("/tmp") == 0) {
                         d = "chrooted";
                         return 0;
                     }
                     return errno;
                 }});
    v.push_back({"setattr-exec-tmp", "mount_setattr(2) to clear noexec on /tmp", true, [](std::string& d) {
                     struct mount_attr attr {};
                     attr.attr_clr = MOUNT_ATTR_NOEXEC;
                     if (syscall(SYS_mount_setattr, AT_FDCWD, "/tmp", 0, &attr, sizeof attr) == 0) {
                         d = "noexec cleared";
                         struct mount_attr undo {};
                         undo.attr_set = MOUNT_ATTR_NOEXEC;
                         syscall(SYS_mount_setattr, AT_FDCWD, "/tmp", 0, &undo, sizeof undo);
                         return 0;
                     }
                     return errno;
                 }});
    v.push_back({"remount-exec-tmp", "remount /tmp without noexec (MS_REMOUNT|MS_BIND)", true, [](std::string& d) {
                     int r = do_mount(nullptr, "/tmp", nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, d);
                     if (r == 0) mount(nullptr, "/tmp", nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
                     return r;
                 }});
    v.push_back({"fsmount-detached", "fsopen/fsmount a detached writable, exec tmpfs", true, [](std::string& d) {
                     int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
                     if (fs < 0) return errno;
                     if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) return errno;
                     int m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
                     if (m < 0) return errno;
                     d = "got a detached mount fd";
                     return 0;
                 }});
    v.push_back({"move-mount", "open_tree(OPEN_TREE_CLONE) of /tmp and move_mount it over /etc", true, [](std::string& d) {
                     int t = (int)syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                     if (t < 0) return errno;
                     if (syscall(SYS_move_mount, t, "", AT_FDCWD, "/etc", MOVE_MOUNT_F_EMPTY_PATH) == 0) {
                         umount2("/etc", MNT_DETACH);
                         d = "attached over /etc";
                         return 0;
                     }
                     return errno;
                 }});
    for (const char* dir : {"/tmp", "/var", "/run", "/dev/shm"})
        v.push_back({std::string("exec-copy-") + (dir + 1), std::string("exec a program copied to ") + dir, false,
                     [dir](std::string& d) { return copy_self_and_exec(dir, d); }});
    v.push_back({"write-policy", "write a romlock policy line after the seal", true, [](std::string& d) {
                     int fd = open((std::string(kRomlock) + "/policy").c_str(), O_WRONLY | O_CLOEXEC);
                     if (fd < 0) return errno;
                     const char line[] = "mount tmpfs /etc nosuid,nodev,noexec\n";
                     ssize_t n = write(fd, line, sizeof line - 1);
                     int e = errno;
                     close(fd);
                     if (n >= 0) d = "policy accepted a line";
                     return n >= 0 ? 0 : e;
                 }});
    v.push_back({"load-module", "load a kernel module (init_module, finit_module)", false, [](std::string& d) {
                     int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
                     if (syscall(SYS_finit_module, fd, "", 0) == 0) {
                         d = "finit_module accepted";
                         return 0;
                     }
                     int e1 = errno;
                     char blob[64] = {};
                     if (syscall(SYS_init_module, blob, sizeof blob, "") == 0) {
                         d = "init_module accepted";
                         return 0;
                     }
                     d = "finit_module: " + errname(e1) + ", init_module: " + errname(errno);
                     return kContained;
                 }});
    v.push_back({"dev-mem", "read physical memory through /dev/mem (or a node made for it)", false, [](std::string& d) {
                     char b[16];
                     int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
                     int e1 = errno;
                     if (fd < 0 && mknod("/dev/.romimg-selftest-mem", S_IFCHR | 0600, makedev(1, 1)) == 0) {
                         fd = open("/dev/.romimg-selftest-mem", O_RDONLY | O_CLOEXEC);
                         unlink("/dev/.romimg-selftest-mem");
                     }
                     if (fd >= 0 && pread(fd, b, sizeof b, 0x1000) > 0) {
                         d = "read physical memory";
                         close(fd);
                         return 0;
                     }
                     d = "/dev/mem: " + errname(e1) + ", a 1:1 node: " + errname(errno);
                     if (fd >= 0) close(fd);
                     return kContained;
                 }});
    v.push_back({"kexec", "kexec a new kernel (kexec_load, kexec_file_load)", false, [](std::string& d) {
                     if (syscall(SYS_kexec_load, 0, 0, nullptr, 0) == 0) {
                         d = "kexec_load accepted";
                         return 0;
                     }
                     int e1 = errno;
#ifdef SYS_kexec_file_load
                     int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
                     if (syscall(SYS_kexec_file_load, fd, fd, 1, "", 0) == 0) {
                         d = "kexec_file_load accepted";
                         return 0;
                     }
                     d = "kexec_load: " + errname(e1) + ", kexec_file_load: " + errname(errno);
#else
                     // The 32-bit x86 ABI has no kexec_file_load.
                     d = "kexec_load: " + errname(e1) + " (this ABI has no kexec_file_load)";
#endif
                     return kContained;
                 }});
    v.push_back({"dm-reload", "load a plain linear table (no verity) into the root's device-mapper device", true,
                 [](std::string& d) {
                     // The loop device under the root's verity device, from early boot's facts.
                     std::string facts, dev;
                     init::read_file("/run/romimg-init/boot", facts);
                     size_t at = facts.find("root_dev ");
                     if (at != std::string::npos) dev = facts.substr(at + 9, facts.find('\n', at) - at - 9);
                     if (dev.empty()) {
                         d = "no root_dev in /run/romimg-init/boot";
                         return EINVAL;
                     }
                     int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
                     if (fd < 0) return errno;
                     const std::string params = dev + " 0";
                     std::vector<char> buf(sizeof(dm_ioctl) + sizeof(dm_target_spec) + params.size() + 1 + 1024, 0);
                     auto* io = reinterpret_cast<dm_ioctl*>(buf.data());
                     io->version[0] = DM_VERSION_MAJOR;
                     io->data_size = buf.size();
                     io->data_start = sizeof(dm_ioctl);
                     io->target_count = 1;
                     strncpy(io->name, "romimg-root", sizeof io->name - 1);
                     auto* spec = reinterpret_cast<dm_target_spec*>(buf.data() + sizeof(dm_ioctl));
                     spec->length = 8;
                     strncpy(spec->target_type, "linear", sizeof spec->target_type - 1);
                     memcpy(buf.data() + sizeof(dm_ioctl) + sizeof(dm_target_spec), params.c_str(), params.size() + 1);
                     if (ioctl(fd, DM_TABLE_LOAD, buf.data()) == 0) {
                         ioctl(fd, DM_TABLE_CLEAR, buf.data());  // the inactive slot: never resumed
                         close(fd);
                         d = "a linear table over " + dev + " was loaded";
                         return 0;
                     }
                     int e = errno;
                     close(fd);
                     return e;
                 }});
    v.push_back({"write-root-device", "write the root filesystem's block device and its image on the medium", false,
                 [](std::string& d) {
                     struct stat st;
                     std::string dev;
                     if (stat("/", &st) == 0) {
                         dev = "/dev/.romimg-selftest-root";
                         mknod(dev.c_str(), S_IFBLK | 0600, st.st_dev);
                     }
                     int e1 = dev.empty() ? ENOENT : try_open(dev, O_WRONLY, d);
                     if (!dev.empty()) unlink(dev.c_str());
                     if (e1 == 0) return 0;
                     int e2 = try_open("/run/medium/live/root.sqfs", O_WRONLY, d);
                     if (e2 == 0) return 0;
                     d = "root device: " + errname(e1) + ", /run/medium/live/root.sqfs: " + errname(e2);
                     return kContained;
                 }});
    return v;
}

// ---- running the attackers ----

void run_root_attacks(const Conf& conf, Kmsg& k, Tally& t) {
    for (const auto& a : root_attacks(conf)) judge(t, k, "root", a, attempt(a.fn));
}

bool read_line(int fd, std::string& buf, std::string& line, int timeout_ms) {
    for (;;) {
        size_t nl = buf.find('\n');
        if (nl != std::string::npos) {
            line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            return true;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return false;
        char b[4096];
        ssize_t n = read(fd, b, sizeof b);
        if (n <= 0) return false;
        buf.append(b, n);
    }
}

// ---- root inside a jail ----

Service as_root_with_all_caps(const Service& s) {
    Service r = s;
    r.uid = r.gid = 0;
    r.groups.clear();
    r.caps.clear();
    for (int c = 0; c <= CAP_LAST_CAP; ++c) {
        if (std::string name = appliance::cap_name(c); !name.empty()) r.caps.push_back(name);
    }
    return r;
}

std::vector<Attack> root_jail_attacks(const Conf& conf, const Service& s,
                                      const std::vector<std::pair<std::string, pid_t>>& pids) {
    std::string writable;
    for (const auto& m : s.mounts)
        if (m.type == "tmpfs" && m.target.rfind(s.root + "/", 0) == 0) {
            writable = m.target.substr(s.root.size());
            break;
        }
    std::vector<Attack> v;
    v.push_back({"setns-mount-ns", "pidfd_open(self) + setns(CLONE_NEWNS): back to the namespace's root", true, [](std::string& d) {
                     int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
                     if (pfd < 0) {
                         d = "pidfd_open: " + errname(errno);
                         return fail_errno();
                     }
                     if (setns(pfd, CLONE_NEWNS) < 0) return fail_errno();
                     bool out = access("/jail", F_OK) == 0 || access("/etc/romimg/appliance.conf", F_OK) == 0;
                     d = out ? "setns worked and /jail is visible" : "setns worked, still inside";
                     return out ? 0 : kContained;
                 }});
    v.push_back({"unshare-mount-ns", "unshare(CLONE_NEWNS)", true, [](std::string&) {
                     return unshare(CLONE_NEWNS) == 0 ? 0 : fail_errno();
                 }});
    v.push_back({"chroot-escape", "chroot(\".\") twice with cap_sys_chroot to walk out", true, [=](std::string& d) {
                     return chroot_walk_out(writable.empty() ? "/" : writable, d);
                 }});
    v.push_back({"signal-init", "kill(1, 0) and kill(1, SIGTERM) (power the appliance off)", true, [](std::string& d) {
                     if (kill(1, 0) == 0) {
                         d = "may signal PID 1";
                         return 0;
                     }
                     return fail_errno();
                 }});
    for (const auto& [name, pid] : pids) {
        if (name == s.name || pid <= 0) continue;
        pid_t target = pid;
        v.push_back({"signal-" + name, "kill(" + std::to_string(pid) + ", 0): " + name + "'s main process", true,
                     [target](std::string& d) {
                         if (kill(target, 0) == 0) {
                             d = "may signal it";
                             return 0;
                         }
                         return fail_errno();
                     }});
        v.push_back({"proc-root-" + name, "/proc/" + std::to_string(pid) + "/root and /cwd: into " + name + "'s jail", false,
                     [target](std::string& d) {
                         std::string p = "/proc/" + std::to_string(target);
                         return none_readable({p + "/root/etc/passwd", p + "/cwd", p + "/environ"}, d);
                     }});
    }
    v.push_back({"proc1-root", "/proc/1/root/etc/romimg/appliance.conf, /proc/1/cwd, /proc/1/environ", false, [](std::string& d) {
                     return none_readable({"/proc/1/root/etc/romimg/appliance.conf", "/proc/1/cwd/etc/romimg/appliance.conf",
                                           "/proc/1/environ"},
                                          d);
                 }});
    if (!writable.empty())
        v.push_back({"overmount", "mount a tmpfs over its own writable area " + writable + " (a mount root)", true,
                     [=](std::string& d) {
                         if (mount("tmpfs", writable.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0) {
                             umount2(writable.c_str(), MNT_DETACH);
                             d = "mounted over " + writable;
                             return 0;
                         }
                         return fail_errno();
                     }});
    v.push_back({"kernel-log", "syslog(SYSLOG_ACTION_READ_ALL)", true, [](std::string& d) {
                     char buf[256];
                     int n = klogctl(3, buf, sizeof buf);
                     if (n >= 0) {
                         d = "read " + std::to_string(n) + " bytes of the kernel log";
                         return 0;
                     }
                     return fail_errno();
                 }});
    v.push_back({"open-by-handle", "name_to_handle_at + open_by_handle_at (a file by inode number, past chroot)", false,
                 [](std::string& d) {
                     struct {
                         unsigned int bytes;
                         int type;
                         unsigned char h[128];
                     } fh = {128, 0, {}};
                     int mount_id = 0;
                     if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mount_id, 0) < 0) {
                         d = "name_to_handle_at: " + errname(errno);
                         return fail_errno();
                     }
                     int fd = (int)syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY | O_DIRECTORY);
                     if (fd >= 0) {
                         close(fd);
                         d = "opened a directory by handle";
                         return 0;
                     }
                     return fail_errno();
                 }});
    // Without a tmpfs area the read-only root refuses it (EROFS) before romlock is asked.
    v.push_back({"mknod-root", "mknod a character device 1:1 (/dev/mem) with cap_mknod", !writable.empty(), [=](std::string& d) {
                     std::string p = (writable.empty() ? std::string("") : writable) + "/.romimg-selftest-mem";
                     if (mknod(p.c_str(), S_IFCHR | 0600, makedev(1, 1)) == 0) {
                         unlink(p.c_str());
                         d = p + " created";
                         return 0;
                     }
                     return fail_errno();
                 }});
    v.push_back({"raw-socket-root", "open a raw IP socket with cap_net_raw", true, [](std::string&) {
                     int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
                     if (fd >= 0) {
                         close(fd);
                         return 0;
                     }
                     return fail_errno();
                 }});
    v.push_back({"sigio-init", "F_SETOWN a pipe to PID 1 with O_ASYNC, then write: SIGIO to init", true, [](std::string& d) {
                     int p[2];
                     if (pipe2(p, O_CLOEXEC) < 0) return fail_errno();
                     if (fcntl(p[0], F_SETOWN, 1) < 0 || fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK) < 0) {
                         d = "fcntl: " + errname(errno);
                         return fail_errno();
                     }
                     (void)!write(p[1], "x", 1);
                     close(p[0]);
                     close(p[1]);
                     d = "the SIGIO must be refused (romlock's DENY line)";
                     return kContained;
                 }});
    for (const auto& log : s.logs) {
        std::string in_jail = log.substr(s.root.size());
        v.push_back({"read-own-log", "open its log FIFO " + in_jail + " for reading (to take lines before init logs them)",
                     false, [in_jail](std::string& d) { return none_readable({in_jail}, d); }});
        break;
    }
    v.push_back({"exec-root", "execve its own program as root", true, [=](std::string&) {
                     std::string bin = s.argv.empty() ? "/" : s.argv[0];
                     static char a1[] = "--romimg-selftest-must-not-run";
                     char* argv[] = {bin.data(), a1, nullptr};
                     execve(bin.c_str(), argv, no_env());
                     return fail_errno();
                 }});
    (void)conf;
    return v;
}

// A hijacked service floods its own log to push what it did out of init's ring: from inside its
// jail, as its user, a marker line, then 1 KiB lines into its first log FIFO as fast as init takes
// them, for up to kFloodSeconds (at most 4 MiB). Init's bound (kLogBurst, then kLogRate a second)
// must hold: the marker is still in the ring (NAME-LOG or its .1) afterwards, and a flood larger
// than the bound got init's "dropped" line. Time-boxed, so that a slow machine (TCG) draining the
// FIFO slowly tests the same bound instead of a longer flood; shortened so that the bound fits in
// what the ring holds after the marker (two rotations lose it).
constexpr double kFloodSeconds = 10, kFloodDrain = 1.5, kFloodSlack = 1.5;
constexpr size_t kFloodMax = 4u << 20;

void check_log_flood(const Conf& conf, const Service& s, Tally& t) {
    if (s.logs.empty()) return;
    const std::string fifo = s.logs.front().substr(s.root.size());
    const std::string ring = "/var/log/romimg/" + s.name + "-" + fifo.substr(fifo.rfind('/') + 1);
    const std::string marker = "romimg-selftest-flood-marker-" + std::to_string(getpid());
    struct stat rs;
    const double before = stat(ring.c_str(), &rs) == 0 ? (double)rs.st_size : 0;
    // What init may log from the marker on is kLogBurst + kLogRate * (the time since); the marker
    // goes when the ring rotates twice, after 2 * ring - before bytes.
    const double room = 2.0 * 1024 * conf.log_ring_kb - before - 4096;
    const double seconds =
        std::min(kFloodSeconds, (room - appliance::kLogBurst) / appliance::kLogRate - 0.5 - kFloodDrain - kFloodSlack);
    const double bound = appliance::kLogBurst + appliance::kLogRate * (0.5 + seconds + kFloodDrain + kFloodSlack);
    const std::string what = "flood its own log " + fifo + " to wipe init's ring";
    if (seconds < 1) {
        print_check(t, false, "jail:" + s.name, "log-flood", what, "the older line kept",
                    "log_ring_kb " + std::to_string(conf.log_ring_kb) + " is smaller than what init lets one source log " +
                        "in a few seconds (" + std::to_string((int)((appliance::kLogBurst + 4 * appliance::kLogRate) / 1024)) +
                        " KiB): a flood wipes it; raise log_ring_kb");
        return;
    }
    struct Flood {
        uint64_t written = 0;
        double seconds = 0;
    } f;
    int res[2];
    if (pipe2(res, O_CLOEXEC) < 0) return print_check(t, false, "jail:" + s.name, "log-flood", what, "run", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        close(res[0]);
        const char* step = "";
        if (!init::enter_jail(s, step)) _exit(1);
        int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) _exit(2);
        std::string m = marker + "\n";
        (void)!write(fd, m.data(), m.size());
        usleep(500000);  // drained and logged before the flood
        std::string line(1023, 'x');
        line += '\n';
        Flood r;
        const double t0 = init::monotonic_seconds();
        while (r.written < kFloodMax && init::monotonic_seconds() - t0 < seconds) {
            ssize_t n = write(fd, line.data(), line.size());
            if (n > 0) {
                r.written += (uint64_t)n;
            } else if (n < 0 && errno == EAGAIN) {
                struct pollfd p = {fd, POLLOUT, 0};
                (void)poll(&p, 1, 100);
            } else {
                _exit(3);
            }
        }
        r.seconds = init::monotonic_seconds() - t0;
        (void)!write(res[1], &r, sizeof r);
        _exit(0);
    }
    close(res[1]);
    bool got = pid > 0 && read(res[0], &f, sizeof f) == (ssize_t)sizeof f;
    close(res[0]);
    int st = 0;
    if (pid > 0) waitpid(pid, &st, 0);
    usleep((useconds_t)(kFloodDrain * 1e6));
    std::string a, b;
    init::read_file(ring, a);
    init::read_file(ring + ".1", b);
    const bool kept = a.find(marker) != std::string::npos || b.find(marker) != std::string::npos;
    const bool dropped = a.find(appliance::kLogDroppedLine) != std::string::npos || b.find(appliance::kLogDroppedLine) != std::string::npos;
    // More than the bound reached init's FIFO: the limiter must have said it dropped some.
    const bool over = f.written > bound + 65536;
    const std::string amount = std::to_string(f.written >> 10) + " KiB in " + std::to_string((int)(f.seconds * 10) / 10) +
                               "." + std::to_string((int)(f.seconds * 10) % 10) + " s";
    std::string detail;
    if (!got || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        detail = "the flooder could not write its log (status " + std::to_string(st) + ")";
    else if (!kept)
        detail = "wiped: the marker is gone from " + ring + " (" + amount + ")";
    else if (over && !dropped)
        detail = "kept, but " + amount + " went in and init never said it dropped lines over the rate";
    else
        detail = "kept (" + amount + (dropped ? ", init dropped the lines over its rate)" : ", all within the rate)");
    print_check(t, got && WIFEXITED(st) && WEXITSTATUS(st) == 0 && kept && (!over || dropped), "jail:" + s.name, "log-flood",
                what, "the older line kept", detail);
}

void run_jail_attacks(const Service& s, const std::string& scope, const std::vector<Attack>& attacks, Kmsg& k, Tally& t) {
    int res[2], go[2];
    if (pipe2(res, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
        print_check(t, false, scope, "attacker", "start an attacker in the jail", "started", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        // The attacker: only its two pipes, then the service's confinement.
        dup2(res[1], 3);
        dup2(go[0], 4);
        close_range(5, ~0U, 0);
        fcntl(3, F_SETFD, FD_CLOEXEC);
        fcntl(4, F_SETFD, FD_CLOEXEC);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            if (null > 4) close(null);
        }
        setsid();
        const char* step = "";
        if (!init::enter_jail(s, step)) {
            dprintf(3, "failed %s: %s\n", step, strerror(errno));
            _exit(1);
        }
        dprintf(3, "entered %u %s\n", getuid(), s.exec_lock ? "locked" : "unlocked");
        char c;
        if (read(4, &c, 1) != 1) _exit(1);
        for (size_t i = 0; i < attacks.size(); ++i) {
            Outcome o = attempt(attacks[i].fn);
            dprintf(3, "%zu %d %d %s\n", i, o.pid, o.err, o.detail.c_str());
        }
        _exit(0);
    }
    close(res[1]);
    close(go[0]);
    std::string buf, line;
    bool entered = read_line(res[0], buf, line, 10000);
    bool in_jail = entered && line.rfind("entered ", 0) == 0;
    print_check(t, in_jail && (unsigned)atoi(line.c_str() + 8) == s.uid, scope, "attacker",
                "an attacker confined like " + s.name + " (jail " + s.root + ", uid " + std::to_string(s.uid) + ")",
                "confined as uid " + std::to_string(s.uid), entered ? line : "no word from the attacker");
    if (in_jail && s.exec_lock) {
        // Exactly how PID 1 locks a service once it is ready.
        int fd = open((std::string(kRomlock) + "/exec_lock").c_str(), O_WRONLY | O_CLOEXEC);
        std::string p = std::to_string(pid) + "\n";
        bool ok = fd >= 0 && write(fd, p.data(), p.size()) == (ssize_t)p.size();
        int e = errno;
        if (fd >= 0) close(fd);
        print_check(t, ok, scope, "exec-lock", "exec-lock the attacker as init locks the service", "locked",
                    ok ? "locked" : errname(e));
    }
    if (in_jail) {
        (void)!write(go[1], "g", 1);
        while (read_line(res[0], buf, line, 60000)) {
            size_t i = strtoul(line.c_str(), nullptr, 10);
            if (i >= attacks.size()) continue;
            Outcome o;
            char* end;
            const char* p = strchr(line.c_str(), ' ');
            if (!p) continue;
            o.pid = (pid_t)strtol(p + 1, &end, 10);
            o.err = (int)strtol(end + 1, &end, 10);
            o.detail = *end == ' ' ? end + 1 : "";
            judge(t, k, scope, attacks[i], o);
        }
    }
    close(res[0]);
    close(go[1]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

// ---- seccomp: the service's own filter, from inside its jail ----

// The processes of the tree rooted at `root` (by their parent pids), root first.
std::vector<pid_t> process_tree(pid_t root) {
    std::vector<std::pair<pid_t, pid_t>> all;  // (pid, ppid)
    if (DIR* d = opendir("/proc")) {
        while (dirent* e = readdir(d)) {
            pid_t p = (pid_t)atoi(e->d_name);
            std::string st;
            if (p <= 0 || !init::read_file("/proc/" + std::string(e->d_name) + "/status", st)) continue;
            size_t at = st.find("\nPPid:\t");
            if (at != std::string::npos) all.emplace_back(p, (pid_t)atoi(st.c_str() + at + 7));
        }
        closedir(d);
    }
    std::vector<pid_t> tree = {root};
    for (size_t i = 0; i < tree.size(); ++i)
        for (const auto& [p, pp] : all)
            if (pp == tree[i] && std::find(tree.begin(), tree.end(), p) == tree.end()) tree.push_back(p);
    return tree;
}

struct Candidate {
    const char* name;
    long nr;
};

// The first candidate the service's filter does not allow (by the builder's NAME.allow list).
const Candidate* first_not_allowed(const std::vector<Candidate>& cs, const std::string& allow) {
    for (const auto& c : cs)
        if (("\n" + allow).find("\n" + std::string(c.name) + "\n") == std::string::npos) return &c;
    return nullptr;
}

void check_seccomp(const Service& s, unsigned index, pid_t service_pid, Kmsg& k, Tally& t) {
    if (s.seccomp == "off") return;
    const std::string scope = "seccomp:" + s.name;
    const bool enforce = s.seccomp == "enforce";
    // 1. The service and everything it started run under the filter.
    std::vector<pid_t> tree = service_pid > 0 ? process_tree(service_pid) : std::vector<pid_t>{};
    std::string bad;
    for (pid_t p : tree) {
        std::string st;
        if (!init::read_file("/proc/" + std::to_string(p) + "/status", st)) continue;  // gone meanwhile
        if (st.find("\nSeccomp:\t2\n") == std::string::npos) bad += (bad.empty() ? "" : ", ") + std::to_string(p);
    }
    print_check(t, !tree.empty() && bad.empty(), scope, "filtered",
                "every process of " + s.name + " runs under its seccomp filter", "Seccomp: 2 in /proc/PID/status",
                tree.empty() ? "no service pid" : bad.empty() ? std::to_string(tree.size()) + " process(es), all filtered"
                                                              : "not filtered: " + bad);
    // 2. An attacker confined like the service, under the same filter, with the same audit id.
    std::string bpf, allow;
    if (!init::read_seccomp_filter(s.seccomp_filter, bpf)) {
        print_check(t, false, scope, "filter", "read " + s.name + "'s filter", "readable", s.seccomp_filter + ": " + errname(errno));
        return;
    }
    std::string allow_file = s.seccomp_filter.substr(0, s.seccomp_filter.size() - 4) + ".allow";
    init::read_file(allow_file, allow);
    static const std::vector<Candidate> unlisted = {{"mincore", SYS_mincore}, {"msync", SYS_msync},
                                                    {"sysinfo", SYS_sysinfo},  {"mlock2", SYS_mlock2},
                                                    {"get_mempolicy", SYS_get_mempolicy}};
    static const std::vector<Candidate> never = {{"keyctl", SYS_keyctl}, {"add_key", SYS_add_key},
                                                 {"request_key", SYS_request_key}, {"bpf", SYS_bpf},
                                                 {"userfaultfd", SYS_userfaultfd}};
    const Candidate* u = first_not_allowed(unlisted, allow);
    const Candidate* n = first_not_allowed(never, allow);
    if (!u || !n) {
        print_check(t, false, scope, "candidates", "find a syscall " + s.name + "'s filter does not allow",
                    "one unlisted and one never-listed", "its filter allows every candidate");
        return;
    }
    // Two attackers, each confined like the service and under its filter from before its first
    // attacking call (the filter may not allow fork: tomcat's does not).
    auto confined = [&](int report_fd) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
        setsid();
        const char* step = "";
        (void)init::set_service_auid(index);
        if (!init::enter_jail(s, step) || !init::load_seccomp(bpf, step)) {
            if (report_fd >= 0) dprintf(report_fd, "failed %s: %s\n", step, strerror(errno));
            _exit(90);
        }
    };
    int res[2];
    if (pipe2(res, O_CLOEXEC) < 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        close(res[0]);
        confined(res[1]);
        errno = 0;
        long r = syscall(u->nr, 0, 0, 0, 0, 0);
        dprintf(res[1], "unlisted %ld %d\n", r, r < 0 ? errno : 0);
        _exit(0);
    }
    close(res[1]);
    std::string buf, line1;
    bool got1 = read_line(res[0], buf, line1, 10000);
    close(res[0]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    if (!got1 || line1.rfind("unlisted ", 0) != 0) {
        print_check(t, false, scope, "attacker", "an attacker under " + s.name + "'s filter", "started",
                    got1 ? line1 : "no word from it");
        return;
    }
    pid_t gpid = fork();
    if (gpid == 0) {
        confined(-1);
        syscall(n->nr, 0, -1, 0, 0, 0);
        _exit(0);  // still here: the filter let it through
    }
    int st = 0;
    bool got2 = gpid > 0;
    if (got2) {
        for (int i = 0; i < 100 && waitpid(gpid, &st, WNOHANG) == 0; ++i) usleep(100000);
        if (waitpid(gpid, &st, WNOHANG) == 0) {  // hung: not an answer
            kill(gpid, SIGKILL);
            waitpid(gpid, &st, 0);
            got2 = false;
        }
    }
    const int signaled = got2 && WIFSIGNALED(st), code = !got2 ? 0 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st);
    long r = 0;
    int e = 0;
    sscanf(line1.c_str(), "unlisted %ld %d", &r, &e);
    const std::string un = std::string(u->name) + " (not in its filter)";
    if (enforce)
        print_check(t, r == -1 && e == ENOSYS, scope, "unlisted", "from inside the jail, " + un + " fails with ENOSYS",
                    "ENOSYS", r == -1 ? errname(e) : "returned " + std::to_string(r));
    else
        print_check(t, e != ENOSYS, scope, "unlisted", "log mode: " + un + " is let through", "not ENOSYS",
                    r == -1 ? errname(e) : "returned " + std::to_string(r));
    const std::string nv = std::string(n->name) + " (never-list)";
    std::string how = !got2 ? "it hung" : signaled ? std::string("killed by ") + strsignal(code)
                      : code == 90 ? "it could not be confined" : "exit status " + std::to_string(code);
    if (enforce)
        print_check(t, got2 && signaled && code == SIGSYS, scope, "never", "from inside the jail, " + nv + " kills the caller",
                    "killed by SIGSYS", how + " (pid " + std::to_string(gpid) + ")");
    else
        print_check(t, got2 && !signaled && code == 0, scope, "never", "log mode: " + nv + " is let through", "not killed", how);
    // The kernel's report, which init turns into a line naming the service (verify checks that).
    std::string report;
    for (int i = 0; i < 30 && report.empty() && gpid > 0; ++i) {
        report = k.find_seccomp(gpid);
        if (report.empty()) usleep(100000);
    }
    print_check(t, !report.empty(), scope, "reported", "the kernel reports the " + std::string(n->name) + " call of pid " + std::to_string(gpid),
                "audit type=1326 for pid " + std::to_string(gpid), report.empty() ? "no report in the kernel log" : report);
}

}  // namespace

int selftest_main(int argc, char** argv) {
    if (argc > 1 && !strcmp(argv[1], "--noop")) return 0;  // what an exec that should have failed runs
    std::string text, error;
    Conf conf;
    if (!init::read_file("/etc/romimg/appliance.conf", text) || !appliance::parse_conf(text, conf, error)) {
        out("FATAL cannot read /etc/romimg/appliance.conf " + error);
        return 2;
    }
    std::vector<std::pair<std::string, pid_t>> pids;  // "apache=123" from init
    bool faults = false;  // --faults: `romimg verify --faults` (selftest_faults.h)
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--faults")) faults = true;
        const char* eq = strchr(argv[i], '=');
        if (eq) pids.emplace_back(std::string(argv[i], eq - argv[i]), (pid_t)atoi(eq + 1));
    }
    // Kernel messages off the console while the results are printed (they could split a line);
    // romlock's lines still reach the kernel log, where the checks read them.
    std::string printk;
    int console_level = init::read_file("/proc/sys/kernel/printk", printk) ? atoi(printk.c_str()) : 7;
    klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, nullptr, 1);
    out("BEGIN " + std::to_string(conf.services.size()) + " service(s)");
    Kmsg k;
    Tally t;
    std::string status;
    bool have = init::read_file(std::string(kRomlock) + "/status", status);
    print_check(t, have && status.find("mode: enforce") != std::string::npos, "root", "romlock-mode",
                "romlock is enforcing", "mode: enforce",
                have ? status.substr(0, status.find('\n')) : "no " + std::string(kRomlock) + "/status");
    print_check(t, have && status.find("sealed: yes") != std::string::npos, "root", "romlock-sealed",
                "the romlock policy is sealed", "sealed: yes",
                have && status.find("sealed: ") != std::string::npos
                    ? status.substr(status.find("sealed: "), status.find('\n', status.find("sealed: ")) - status.find("sealed: "))
                    : "unknown");
    print_check(t, k.ok(), "root", "kernel-log", "the self-test reads romlock's lines from /dev/kmsg", "readable",
                k.ok() ? "readable" : errname(errno));
    for (const auto& s : conf.services) {
        pid_t sp = 0;
        for (const auto& [n, p] : pids)
            if (n == s.name) sp = p;
        run_jail_attacks(s, "jail:" + s.name, jail_attacks(conf, s, sp), k, t);
        // Root in the same jail with every capability (a service that runs as root, or one that
        // gained root through a local exploit): romlock must still keep it in (issue 21).
        check_log_flood(conf, s, t);
        Service root = as_root_with_all_caps(s);
        run_jail_attacks(root, "rootjail:" + s.name, root_jail_attacks(conf, root, pids), k, t);
        check_seccomp(s, (unsigned)(&s - conf.services.data()), sp, k, t);
    }
    run_root_attacks(conf, k, t);
    for (const auto& s : conf.services) {
        pid_t sp = 0;
        for (const auto& [n, p] : pids)
            if (n == s.name) sp = p;
        bool alive = sp > 0 && kill(sp, 0) == 0;
        print_check(t, alive, "service:" + s.name, "survived", s.name + " still runs after the attacks",
                    "pid " + std::to_string(sp) + " alive", alive ? "alive" : (sp > 0 ? "gone" : "pid unknown"));
    }
    if (faults)
        run_fault_checks(conf, [&](bool pass, const std::string& scope, const std::string& id, const std::string& what,
                                   const std::string& expected, const std::string& got) {
            print_check(t, pass, scope, id, what, expected, got);
        });
    klogctl(8, nullptr, console_level > 0 ? console_level : 7);
    out("DONE " + std::to_string(t.checks) + " checks, " + std::to_string(t.failed) + " failed");
    return t.failed ? 1 : 0;
}

}  // namespace romimg::selftest

int main(int argc, char** argv) { return romimg::selftest::selftest_main(argc, argv); }
