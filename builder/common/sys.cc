#include "common/sys.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <unistd.h>

#include "common/error.h"

namespace romimg::sys {

Fd open(const std::string& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) throw SysError("open", path, errno);
    return Fd(fd);
}

Fd openat(int dirfd, const std::string& path, int flags, mode_t mode) {
    int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) throw SysError("openat", path, errno);
    return Fd(fd);
}

Fd openat_beneath(int dirfd, const std::string& path, int flags, mode_t mode) {
    struct open_how how {};
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd < 0) throw SysError("openat2", {path, "RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS"}, errno);
    return Fd((int)fd);
}

void mkdirat_existing_ok(int dirfd, const std::string& name, mode_t mode) {
    if (::mkdirat(dirfd, name.c_str(), mode) < 0 && errno != EEXIST) throw SysError("mkdirat", name, errno);
}

void rename_exchange(const std::string& a, const std::string& b) {
    if (syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) < 0)
        throw SysError("renameat2", {a, b, "RENAME_EXCHANGE"}, errno);
}

std::pair<Fd, Fd> pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw SysError("pipe2", "", errno);
    return {Fd(p[0]), Fd(p[1])};
}

void write_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("write", std::to_string(fd), errno);
        }
        off += n;
    }
}

std::string read_all(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("read", std::to_string(fd), errno);
        }
        if (n == 0) return out;
        out.append(buf, n);
    }
}

bool read_exact(int fd, void* buf, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t r = ::read(fd, (char*)buf + off, n - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        off += r;
    }
    return true;
}

std::string readlinkat_or_empty(int dirfd, const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlinkat(dirfd, path.c_str(), buf, sizeof buf);
    if (n < 0) return "";
    return std::string(buf, n);
}

void mount(const std::string& source, const std::string& target, const std::string& type,
           unsigned long flags, const std::string& data) {
    if (::mount(source.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        throw SysError("mount", {source, target, type, data}, errno);
}

void umount2(const std::string& target, int flags) {
    if (::umount2(target.c_str(), flags) < 0) throw SysError("umount2", target, errno);
}

void pivot_root(const std::string& new_root, const std::string& put_old) {
    if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) < 0)
        throw SysError("pivot_root", {new_root, put_old}, errno);
}

void unshare(int flags) {
    if (::unshare(flags) < 0) throw SysError("unshare", std::to_string(flags), errno);
}

void setns(int fd, int nstype) {
    if (::setns(fd, nstype) < 0) throw SysError("setns", std::to_string(fd), errno);
}

void set_loopback_up() {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) throw SysError("socket", "AF_INET", errno);
    struct ifreq ifr {};
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) < 0) throw SysError("ioctl", "SIOCGIFFLAGS lo", errno);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) < 0) throw SysError("ioctl", "SIOCSIFFLAGS lo", errno);
}

void mkdir_p(const std::string& path, mode_t mode) {
    std::string cur;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        cur = path.substr(0, j);
        if (!cur.empty() && ::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST)
            throw SysError("mkdir", cur, errno);
        i = j + 1;
    }
}

namespace {

// The child between fork and execve: only async-signal-safe calls (the builder has threads).
[[noreturn]] void exec_child(pid_t parent, const char* exe, char* const argv[], char* const envp[], const int fds[3],
                             const char* cwd, const std::pair<uid_t, gid_t>* as, int err_fd) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl: nobody would kill us
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int failed[2] = {0, 0};  // {step: 1 dup2, 2 chdir, 3 execve, 4 drop to `as`; errno}
    for (int i = 0; i < 3 && !failed[0]; ++i)
        if (fds[i] >= 0 && (fds[i] == i ? ::fcntl(i, F_SETFD, 0) : ::dup2(fds[i], i)) < 0) failed[0] = 1;
    if (!failed[0] && as &&
        (::setgroups(0, nullptr) < 0 || ::setresgid(as->second, as->second, as->second) < 0 ||
         ::setresuid(as->first, as->first, as->first) < 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0))
        failed[0] = 4;
    if (!failed[0] && *cwd && ::chdir(cwd) < 0) failed[0] = 2;
    if (!failed[0]) {
        ::execve(exe, argv, envp);
        failed[0] = 3;
    }
    failed[1] = errno;
    (void)!::write(err_fd, failed, sizeof failed);
    ::_exit(127);
}

}  // namespace

pid_t spawn_group_leader(const std::string& exe, char* const argv[], char* const envp[], const int fds[3],
                         const std::string& cwd, const std::pair<uid_t, gid_t>* as) {
    auto [err_r, err_w] = pipe();  // closed by a successful execve
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork", exe, errno);
    if (pid == 0) exec_child(parent, exe.c_str(), argv, envp, fds, cwd.c_str(), as, err_w.get());
    // Also here: whichever runs first, the group exists before anyone signals it.
    ::setpgid(pid, pid);
    err_w.reset();
    int failed[2];
    if (read_exact(err_r.get(), failed, sizeof failed)) {
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        if (failed[0] == 2) throw SysError("chdir", std::vector<std::string>{cwd, "to run " + exe}, failed[1]);
        if (failed[0] == 4) throw SysError("setresuid", std::vector<std::string>{std::to_string(as->first), "to run " + exe}, failed[1]);
        throw SysError(failed[0] == 1 ? "dup2" : "execve", exe, failed[1]);
    }
    return pid;
}

Fd pidfd_open(pid_t pid) {
    int fd = (int)::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) throw SysError("pidfd_open", std::to_string(pid), errno);
    return Fd(fd);
}

bool poll_readable(int fd, int timeout_ms) {
    struct pollfd p {fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

std::string errno_name(int err) {
    const char* n = strerrorname_np(err);
    return n ? n : std::to_string(err);
}

std::string signal_name(int sig) {
    const char* n = sigabbrev_np(sig);
    return n ? n : std::to_string(sig);
}

int signal_number(const std::string& name) {
    std::string n = name;
    if (n.rfind("SIG", 0) == 0) n = n.substr(3);
    for (int s = 1; s < NSIG; ++s) {
        const char* a = sigabbrev_np(s);
        if (a && n == a) return s;
    }
    char* end = nullptr;
    long v = strtol(name.c_str(), &end, 10);
    if (end && *end == 0 && v > 0 && v < NSIG) return (int)v;
    return -1;
}

}  // namespace romimg::sys
