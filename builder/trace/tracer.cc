#include "trace/tracer.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/sys.h"
#include "trace/abi.h"
#include "trace/binfmt.h"
#include "trace/paths.h"
#include "trace/syscalls.h"

namespace romimg::trace {

namespace {

long xptrace(int req, pid_t pid, unsigned long addr = 0, unsigned long data = 0) {
    return ::syscall(SYS_ptrace, req, pid, addr, data);
}

// Resumes a tracee; ESRCH (it was killed meanwhile) is not an error.
void resume(int req, pid_t tid, int sig = 0) { xptrace(req, tid, 0, (unsigned long)sig); }

unsigned bit(Access a) { return 1u << unsigned(a); }

// Uses after which cached lookups of directory components may be stale.
const unsigned kChangesTree = bit(Access::create) | bit(Access::remove) | bit(Access::link);

struct LStat {
    bool exists = false;
    FileType type = FileType::missing;
    uint64_t size = 0;
    std::string target;
};

LStat lstat_path(const std::string& path) {
    LStat s;
    if (auto u = lstat_use(path)) s = {true, u->type, u->size, u->target};
    return s;
}

}  // namespace

// lstat as the tracee sees it: /proc/self/... is the tracee's, reached through the host's /proc.
static LStat lstat_as(int hostproc, pid_t tid, const std::string& path) {
    if (path.rfind("/proc/self/", 0) != 0) return lstat_path(path);
    LStat s;
    struct stat st;
    std::string rel = std::to_string(tid) + path.substr(10);
    if (fstatat(hostproc, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return s;
    s.exists = true;
    s.type = S_ISDIR(st.st_mode) ? FileType::dir : S_ISLNK(st.st_mode) ? FileType::symlink : FileType::file;
    return s;
}

// A small /proc/<tid>/<name> file of a tracee, through the host's /proc ("" if gone).
static std::string read_proc(int hostproc, pid_t tid, const char* name) {
    int fd = openat(hostproc, fmt::format("{}/{}", tid, name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    return n > 0 ? std::string(buf, n) : "";
}

struct Tracer::Operand {
    std::string path;
    unsigned access = 0;  // Access bits
    LStat before;
};

struct Tracer::Pending {
    long nr = -1;
    bool changes_tree = false;  // counted in Tracer::changing_ while in flight
    TraceClass klass = kCensus;
    std::vector<Operand> ops;
    bool is_exec = false;
    ExecRecord exec;
};

struct Tracer::Task {
    pid_t tid = 0;
    pid_t tgid = 0;
    std::unique_ptr<Pending> pending;
};

Tracer::Tracer(int hostproc_fd) : hostproc_(hostproc_fd) {}
Tracer::~Tracer() = default;

void Tracer::seize(pid_t pid) {
    long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP |
                PTRACE_O_EXITKILL;
    if (xptrace(PTRACE_SEIZE, pid, 0, opts) < 0)
        throw SysError("ptrace", {"PTRACE_SEIZE", std::to_string(pid)}, errno);
    root_ = pid;
    auto t = std::make_unique<Task>();
    t->tid = t->tgid = pid;
    tasks_[pid] = std::move(t);
}

Tracer::Task& Tracer::task(pid_t tid) {
    auto it = tasks_.find(tid);
    if (it != tasks_.end()) return *it->second;
    // A new child can report its first stop before its parent's fork event arrives.
    auto t = std::make_unique<Task>();
    t->tid = tid;
    t->tgid = tid;
    std::string status = read_proc(hostproc_, tid, "status");
    if (auto p = status.find("\nTgid:"); p != std::string::npos) t->tgid = atoi(status.c_str() + p + 6);
    Task& ref = *t;
    tasks_[tid] = std::move(t);
    return ref;
}

void Tracer::run(const std::function<void()>& on_wake) {
    while (!tasks_.empty()) {
        int status;
        pid_t tid = waitpid(-1, &status, __WALL);
        if (tid < 0) {
            if (errno == ECHILD) break;
            if (errno != EINTR) throw SysError("waitpid", "-1", errno);
        } else {
            dispatch(tid, status);
        }
        on_wake();
    }
}

bool Tracer::dispatch(pid_t tid, int status) {
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        auto it = tasks_.find(tid);
        if (it != tasks_.end() && it->second->pending && it->second->pending->changes_tree) --changing_;
        if (tid == main_pid_) main_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        tasks_.erase(tid);
        return true;
    }
    if (!WIFSTOPPED(status)) return true;
    Task& t = task(tid);
    int sig = WSTOPSIG(status);
    int event = (unsigned)status >> 16;

    if (sig == (SIGTRAP | 0x80)) {  // syscall-exit stop (only after a seccomp stop)
        on_syscall_exit(t);
        resume(PTRACE_CONT, tid);
        return true;
    }
    switch (event) {
    case PTRACE_EVENT_SECCOMP:
        on_seccomp_stop(t);
        return true;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
        unsigned long child = 0;
        xptrace(PTRACE_GETEVENTMSG, tid, 0, (unsigned long)&child);
        on_new_task(tid, (pid_t)child);
        resume(PTRACE_CONT, tid);
        return true;
    }
    case PTRACE_EVENT_EXEC:
        on_exec_event(tid);
        resume(PTRACE_CONT, tid);
        return true;
    case PTRACE_EVENT_STOP:
        if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
            resume(PTRACE_LISTEN, tid);  // group-stop: keep it stopped, but keep listening
        else
            resume(PTRACE_CONT, tid);  // the automatic stop of a newly attached task
        return true;
    default:
        break;
    }
    // Signal-delivery stop: pass the signal on.
    resume(PTRACE_CONT, tid, sig);
    return true;
}

void Tracer::on_new_task(pid_t parent, pid_t child) {
    Task& c = task(child);
    Task& p = task(parent);
    if (c.tgid != c.tid) return;  // a thread
    if (parent == root_ && main_pid_ == 0) main_pid_ = child;
    ProcessRecord rec;
    rec.pid = child;
    rec.ppid = p.tgid;
    auto pit = result_.processes.find(p.tgid);
    if (pit != result_.processes.end()) {
        rec.exe = pit->second.exe;
        rec.uid = pit->second.uid;
        rec.gid = pit->second.gid;
    }
    result_.processes[child] = rec;
}

void Tracer::on_seccomp_stop(Task& t) {
    struct ptrace_syscall_info info {};
    if (xptrace(PTRACE_GET_SYSCALL_INFO, t.tid, sizeof info, (unsigned long)&info) <= 0 ||
        info.op != PTRACE_SYSCALL_INFO_SECCOMP) {
        resume(PTRACE_CONT, t.tid);
        return;
    }
    Abi abi = abi_from_audit_arch(info.arch);
    long nr = (long)info.seccomp.nr;
    unsigned klass = info.seccomp.ret_data;
    const unsigned long long* a = info.seccomp.args;
    result_.syscalls.insert(syscall_name(abi, nr, a[0]));
    if (klass == kCensus) {
        resume(PTRACE_CONT, t.tid);
        return;
    }
    auto p = std::make_unique<Pending>();
    p->nr = nr;
    p->klass = TraceClass(klass);
    if (klass == kPath) {
        if (abi == Abi::i386 && nr == kI386Socketcall)
            decode_socketcall(t, a[0], a[1], *p);
        else
            decode(t, abi, decoder_nr(abi, nr), a, *p);
        for (const Operand& op : p->ops) p->changes_tree |= (op.access & kChangesTree) != 0;
        if (p->changes_tree) {
            ++changing_;
            cache_.clear();
        }
    }
    t.pending = std::move(p);
    resume(PTRACE_SYSCALL, t.tid);  // stop again at syscall exit for the result
}

void Tracer::on_syscall_exit(Task& t) {
    std::unique_ptr<Pending> p = std::move(t.pending);
    if (!p) return;
    if (p->changes_tree) {
        --changing_;
        cache_.clear();
    }
    struct ptrace_syscall_info info {};
    if (xptrace(PTRACE_GET_SYSCALL_INFO, t.tid, sizeof info, (unsigned long)&info) <= 0 ||
        info.op != PTRACE_SYSCALL_INFO_EXIT)
        return;
    bool ok = !info.exit.is_error;
    int err = ok ? 0 : (int)-info.exit.rval;
    if (p->klass == kCreds) {
        refresh_creds(t.tgid);
        return;
    }
    if (p->is_exec) {
        finish_exec(t, *p, ok, err);  // only failures reach here; success is the exec event
        return;
    }
    for (const Operand& op : p->ops) {
        // Only a call that may have created or removed the object needs a second look at it.
        bool look_again = (op.access & kChangesTree) || (!op.before.exists && ok);
        LStat now = look_again ? lstat_as(hostproc_, t.tid, op.path) : op.before;
        const LStat& s = now.exists ? now : op.before;
        for (unsigned i = 0; i < unsigned(Access::count_); ++i)
            if ((op.access >> i) & 1u) result_.record(op.path, s.type, Access(i), ok, err, s.size, s.target);
    }
}

void Tracer::on_exec_event(pid_t tid) {
    unsigned long former = 0;
    xptrace(PTRACE_GETEVENTMSG, tid, 0, (unsigned long)&former);
    if ((pid_t)former != tid && tasks_.count((pid_t)former)) {
        // A non-leader thread called execve: it now has the leader's tid.
        std::unique_ptr<Pending> p = std::move(tasks_[(pid_t)former]->pending);
        tasks_.erase((pid_t)former);
        task(tid).pending = std::move(p);
    }
    Task& t = task(tid);
    std::unique_ptr<Pending> p = std::move(t.pending);
    if (p && p->is_exec) {
        finish_exec(t, *p, true, 0);
    } else {
        // An exec we did not see enter (attached mid-call): record what /proc says.
        Pending q;
        q.is_exec = true;
        q.exec.pid = t.tgid;
        q.exec.path = proc_link(tid, "exe");
        finish_exec(t, q, true, 0);
    }
    refresh_creds(t.tgid);
}

void Tracer::finish_exec(Task& t, Pending& p, bool ok, int err) {
    ExecRecord& x = p.exec;
    x.ok = ok;
    if (!ok) x.error = sys::errno_name(err);
    for (const Operand& op : p.ops) {
        LStat s = lstat_path(op.path);
        result_.record(op.path, s.exists ? s.type : FileType::missing, Access::exec, ok, err, s.size);
    }
    if (ok) {
        record_interpreters(t, x);
        auto& proc = result_.processes[t.tgid];
        proc.pid = t.tgid;
        proc.exe = x.path;
    }
    result_.execs.push_back(std::move(x));
}

void Tracer::record_interpreters(Task& t, ExecRecord& x) {
    std::string cwd = base_dir(t.tid, AT_FDCWD);
    for (const std::string& interp : exec_interpreters(x.path)) {
        std::string abs = interp[0] == '/' ? interp : join_normalize(cwd.empty() ? "/" : cwd, interp);
        ResolvedPath r = resolve_path(abs, true, nullptr);
        for (const auto& [link, target] : r.hops)
            result_.record(link, FileType::symlink, Access::follow, true, 0, 0, target);
        LStat s = lstat_path(r.path);
        result_.record(r.path, s.exists ? s.type : FileType::missing, Access::exec, s.exists,
                       s.exists ? 0 : ENOENT, s.size);
        x.interpreters.push_back(r.path);
    }
}

void Tracer::refresh_creds(pid_t pid) {
    std::string status = read_proc(hostproc_, pid, "status");
    if (status.empty()) return;
    auto& proc = result_.processes[pid];
    proc.pid = pid;
    unsigned r, e;
    if (auto p = status.find("\nUid:"); p != std::string::npos && sscanf(status.c_str() + p + 5, "%u %u", &r, &e) == 2)
        proc.uid = e;
    if (auto p = status.find("\nGid:"); p != std::string::npos && sscanf(status.c_str() + p + 5, "%u %u", &r, &e) == 2)
        proc.gid = e;
    if (auto p = status.find("\nPPid:"); p != std::string::npos && proc.ppid == 0) proc.ppid = atoi(status.c_str() + p + 6);
}

// ---- reading the tracee ----

bool Tracer::read_mem(pid_t tid, unsigned long long addr, void* buf, size_t n) {
    struct iovec local = {buf, n};
    struct iovec remote = {(void*)addr, n};
    return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)n;
}

std::string Tracer::read_string(pid_t tid, unsigned long long addr, bool* ok) {
    std::string out;
    if (ok) *ok = false;
    if (addr == 0) return out;
    while (out.size() < 4096) {
        // Never read across a page boundary in one go: the next page may be unmapped.
        size_t chunk = 4096 - (addr % 4096);
        char buf[4096];
        struct iovec local = {buf, chunk};
        struct iovec remote = {(void*)addr, chunk};
        ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
        if (n <= 0) return out;
        size_t len = strnlen(buf, n);
        out.append(buf, len);
        if (len < (size_t)n) {
            if (ok) *ok = true;
            return out;
        }
        addr += n;
    }
    return out;
}

std::vector<std::string> Tracer::read_argv(pid_t tid, unsigned long long addr, size_t word) {
    std::vector<std::string> argv;
    for (int i = 0; addr && i < 4096; ++i) {
        unsigned long long p = 0;  // little-endian: a 4-byte pointer fills the low half
        if (!read_mem(tid, addr + word * i, &p, word) || p == 0) break;
        argv.push_back(read_string(tid, p));
    }
    return argv;
}

std::string Tracer::proc_link(pid_t tid, const std::string& what) {
    std::string t = sys::readlinkat_or_empty(hostproc_, fmt::format("{}/{}", tid, what));
    if (t.empty() || t[0] != '/') return "";  // socket:[...], pipe:[...], anon_inode:...
    const std::string deleted = " (deleted)";
    if (t.size() > deleted.size() && t.compare(t.size() - deleted.size(), deleted.size(), deleted) == 0)
        return "";
    return t;
}

std::string Tracer::base_dir(pid_t tid, long dirfd) {
    if ((int)dirfd == AT_FDCWD) return proc_link(tid, "cwd");
    return proc_link(tid, fmt::format("fd/{}", (int)dirfd));
}

// ---- decoding ----

void Tracer::add_operand(Task& t, Pending& p, long dirfd, unsigned long long path_ptr,
                         unsigned access, bool follow, bool empty_path) {
    bool complete = false;
    std::string path = read_string(t.tid, path_ptr, &complete);
    std::string abs;
    if (path.empty()) {
        if (!empty_path) return;  // the kernel answers ENOENT/EFAULT without a lookup
        abs = base_dir(t.tid, dirfd);  // AT_EMPTY_PATH: the fd itself (already canonical,
        if (abs.empty()) return;       // but /proc/<pid> still needs its /proc/self form)
        std::string path = resolve_path(abs, false, nullptr).path;
        p.ops.push_back({path, access, lstat_as(hostproc_, t.tid, path)});
        return;
    }
    if (path[0] == '/') abs = path;
    else {
        std::string base = base_dir(t.tid, dirfd);
        if (base.empty()) return;  // a dirfd we cannot name (deleted dir, not a dir)
        abs = base + "/" + path;
    }
    ResolvedPath r = resolve_path(abs, follow, [&](const std::string& what) { return proc_link(t.tid, what); },
                                  changing_ == 0 ? &cache_ : nullptr);
    for (const auto& [link, target] : r.hops)
        result_.record(link, FileType::symlink, Access::follow, true, 0, 0, target);
    Operand op{r.path, access, lstat_as(hostproc_, t.tid, r.path)};
    p.ops.push_back(std::move(op));
}

void Tracer::add_sockaddr(Task& t, Pending& p, unsigned long long addr, unsigned long long len,
                          unsigned access) {
    struct sockaddr_un sun {};
    if (len < offsetof(struct sockaddr_un, sun_path) + 1 || len > sizeof sun) return;
    if (!read_mem(t.tid, addr, &sun, len) || sun.sun_family != AF_UNIX) return;
    if (sun.sun_path[0] == 0) return;  // abstract socket: no file
    std::string path(sun.sun_path, strnlen(sun.sun_path, len - offsetof(struct sockaddr_un, sun_path)));
    std::string abs = path[0] == '/' ? path : base_dir(t.tid, AT_FDCWD) + "/" + path;
    ResolvedPath r = resolve_path(abs, true, [&](const std::string& what) { return proc_link(t.tid, what); });
    for (const auto& [link, target] : r.hops)
        result_.record(link, FileType::symlink, Access::follow, true, 0, 0, target);
    p.ops.push_back({r.path, access, lstat_path(r.path)});
}

void Tracer::decode_socketcall(Task& t, unsigned long long call, unsigned long long args,
                               Pending& p) {
    // socketcall(call, unsigned long args[]): 32-bit words, one pointer deeper.
    uint32_t w[3] = {};
    if (!read_mem(t.tid, args, w, sizeof w)) return;
    unsigned long long a[6] = {w[0], w[1], w[2], 0, 0, 0};
    if (call == kSysBind) decode(t, Abi::i386, SYS_bind, a, p);
    else if (call == kSysConnect) decode(t, Abi::i386, SYS_connect, a, p);
}

// `nr` is the x86_64 number of the operation (trace/abi.h maps i386 calls onto it); `abi`
// says only how wide the tracee's pointers in memory are.
void Tracer::decode(Task& t, Abi abi, long nr, const unsigned long long* a, Pending& p) {
    const long CWD = AT_FDCWD;
    auto open_access = [](unsigned long long flags, bool exists) {
        unsigned acc = 0;
        if (flags & O_PATH) return bit(Access::stat);
        switch (flags & O_ACCMODE) {
        case O_RDONLY: acc |= bit(Access::read); break;
        case O_WRONLY: acc |= bit(Access::write); break;
        default: acc |= bit(Access::read) | bit(Access::write);
        }
        if (flags & O_TRUNC) acc |= bit(Access::write);
        if ((flags & O_CREAT) && !exists) acc |= bit(Access::create);
        return acc;
    };
    auto do_open = [&](long dirfd, unsigned long long path, unsigned long long flags) {
        bool follow = !(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL));
        add_operand(t, p, dirfd, path, 0, follow);
        if (!p.ops.empty()) p.ops.back().access = open_access(flags, p.ops.back().before.exists);
    };
    const unsigned STAT = bit(Access::stat), CREATE = bit(Access::create), REMOVE = bit(Access::remove),
                   SETATTR = bit(Access::setattr);
    switch (nr) {
    case SYS_open: do_open(CWD, a[0], a[1]); break;
    case SYS_creat: do_open(CWD, a[0], O_CREAT | O_WRONLY | O_TRUNC); break;
    case SYS_openat: do_open((int)a[0], a[1], a[2]); break;
    case SYS_openat2: {
        struct open_how how {};
        if (read_mem(t.tid, a[2], &how, std::min<size_t>(sizeof how, a[3])))
            do_open((int)a[0], a[1], how.flags);
        break;
    }
    case SYS_stat: case SYS_access: case SYS_statfs: case SYS_getxattr: case SYS_listxattr:
        add_operand(t, p, CWD, a[0], STAT, true);
        break;
    case SYS_lstat: case SYS_lgetxattr: case SYS_llistxattr:
        add_operand(t, p, CWD, a[0], STAT, false);
        break;
    case SYS_newfstatat:
        add_operand(t, p, (int)a[0], a[1], STAT, !(a[3] & AT_SYMLINK_NOFOLLOW), a[3] & AT_EMPTY_PATH);
        break;
    case SYS_statx:
        add_operand(t, p, (int)a[0], a[1], STAT, !(a[2] & AT_SYMLINK_NOFOLLOW), a[2] & AT_EMPTY_PATH);
        break;
    case SYS_faccessat: add_operand(t, p, (int)a[0], a[1], STAT, true); break;
    case SYS_faccessat2:
        add_operand(t, p, (int)a[0], a[1], STAT, !(a[3] & AT_SYMLINK_NOFOLLOW), a[3] & AT_EMPTY_PATH);
        break;
    case SYS_readlink: add_operand(t, p, CWD, a[0], bit(Access::readlink), false); break;
    case SYS_readlinkat: add_operand(t, p, (int)a[0], a[1], bit(Access::readlink), false); break;
    case SYS_inotify_add_watch:
        add_operand(t, p, CWD, a[1], bit(Access::watch), !(a[2] & 0x01000000 /* IN_DONT_FOLLOW */));
        break;
    case SYS_chdir: add_operand(t, p, CWD, a[0], bit(Access::chdir), true); break;
    case SYS_fchdir: add_operand(t, p, (int)a[0], 0, bit(Access::chdir), true, true); break;
    case SYS_chroot: add_operand(t, p, CWD, a[0], bit(Access::chroot), true); break;
    case SYS_getdents: case SYS_getdents64:
        add_operand(t, p, (int)a[0], 0, bit(Access::list), true, true);
        break;
    case SYS_mkdir: add_operand(t, p, CWD, a[0], CREATE, false); break;
    case SYS_mkdirat: add_operand(t, p, (int)a[0], a[1], CREATE, false); break;
    case SYS_mknod: add_operand(t, p, CWD, a[0], CREATE, false); break;
    case SYS_mknodat: add_operand(t, p, (int)a[0], a[1], CREATE, false); break;
    case SYS_rmdir: case SYS_unlink: add_operand(t, p, CWD, a[0], REMOVE, false); break;
    case SYS_unlinkat: add_operand(t, p, (int)a[0], a[1], REMOVE, false); break;
    case SYS_rename:
        add_operand(t, p, CWD, a[0], REMOVE, false);
        add_operand(t, p, CWD, a[1], CREATE, false);
        break;
    case SYS_renameat: case SYS_renameat2:
        add_operand(t, p, (int)a[0], a[1], REMOVE, false);
        add_operand(t, p, (int)a[2], a[3], CREATE, false);
        break;
    case SYS_link:
        add_operand(t, p, CWD, a[0], bit(Access::link), false);
        add_operand(t, p, CWD, a[1], CREATE, false);
        break;
    case SYS_linkat:
        add_operand(t, p, (int)a[0], a[1], bit(Access::link), a[4] & AT_SYMLINK_FOLLOW, a[4] & AT_EMPTY_PATH);
        add_operand(t, p, (int)a[2], a[3], CREATE, false);
        break;
    case SYS_symlink: add_operand(t, p, CWD, a[1], CREATE, false); break;
    case SYS_symlinkat: add_operand(t, p, (int)a[1], a[2], CREATE, false); break;
    case SYS_truncate: add_operand(t, p, CWD, a[0], bit(Access::write), true); break;
    case SYS_chmod: case SYS_chown: case SYS_utime: case SYS_utimes: case SYS_setxattr:
    case SYS_removexattr:
        add_operand(t, p, CWD, a[0], SETATTR, true);
        break;
    case SYS_lchown: case SYS_lsetxattr: case SYS_lremovexattr:
        add_operand(t, p, CWD, a[0], SETATTR, false);
        break;
    case SYS_fchmodat: add_operand(t, p, (int)a[0], a[1], SETATTR, true); break;
    case SYS_fchownat:
        add_operand(t, p, (int)a[0], a[1], SETATTR, !(a[4] & AT_SYMLINK_NOFOLLOW), a[4] & AT_EMPTY_PATH);
        break;
    case SYS_futimesat: add_operand(t, p, (int)a[0], a[1], SETATTR, true, true); break;
    case SYS_utimensat:
        add_operand(t, p, (int)a[0], a[1], SETATTR, !(a[3] & AT_SYMLINK_NOFOLLOW), true);
        break;
    case SYS_bind: add_sockaddr(t, p, a[1], a[2], bit(Access::bind)); break;
    case SYS_connect: add_sockaddr(t, p, a[1], a[2], bit(Access::connect)); break;
    case SYS_execve:
    case SYS_execveat: {
        bool at = nr == SYS_execveat;
        long dirfd = at ? (long)(int)a[0] : CWD;
        unsigned long long path = at ? a[1] : a[0], argv = at ? a[2] : a[1];
        unsigned long long flags = at ? a[4] : 0;
        add_operand(t, p, dirfd, path, bit(Access::exec), !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH);
        p.is_exec = true;
        p.exec.pid = t.tgid;
        p.exec.argv = read_argv(t.tid, argv, abi == Abi::i386 ? 4 : 8);
        p.exec.path = p.ops.empty() ? read_string(t.tid, path) : p.ops.back().path;
        break;
    }
    default:
        break;
    }
}

std::vector<std::pair<pid_t, pid_t>> Tracer::live_processes() const {
    std::vector<std::pair<pid_t, pid_t>> out;
    for (const auto& [tid, t] : tasks_) {
        if (t->tid != t->tgid) continue;
        pid_t ppid = 0;
        // "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        std::string stat = read_proc(hostproc_, tid, "stat");
        if (auto r = stat.rfind(')'); r != std::string::npos) sscanf(stat.c_str() + r + 2, "%*c %d", &ppid);
        out.emplace_back(tid, ppid);
    }
    return out;
}

}  // namespace romimg::trace
