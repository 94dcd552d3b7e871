#include "trace/syscalls.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <mutex>

#include "common/error.h"
#include "common/fd.h"
#include "common/sys.h"

namespace romimg::trace {

const std::vector<std::string>& path_syscalls() {
    static const std::vector<std::string> v = {
        // opening and looking up
        "open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "statx", "access",
        "faccessat", "faccessat2", "readlink", "readlinkat", "statfs", "getxattr", "lgetxattr",
        "listxattr", "llistxattr", "inotify_add_watch",
        // directories as objects
        "chdir", "fchdir", "getdents", "getdents64", "mkdir", "mkdirat", "rmdir", "chroot",
        // changing the tree
        "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink",
        "unlinkat", "truncate", "mknod", "mknodat", "chmod", "fchmodat", "chown", "lchown",
        "fchownat", "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr",
        "removexattr", "lremovexattr",
        // programs and unix sockets
        "execve", "execveat", "bind", "connect",
    };
    return v;
}

const std::vector<std::string>& creds_syscalls() {
    static const std::vector<std::string> v = {"setuid", "setgid", "setreuid", "setregid",
                                               "setresuid", "setresgid", "setfsuid", "setfsgid",
                                               "setgroups", "capset"};
    return v;
}

const std::vector<std::string>& baseline_syscalls() {
    // What ld.so and glibc do for every dynamically linked program, plus the hot I/O and
    // synchronisation calls that dominate a server's syscall count. None names a path.
    static const std::vector<std::string> v = {
        "read",         "write",        "close",          "fstat",      "lseek",
        "mmap",         "mprotect",     "munmap",         "brk",        "madvise",
        "pread64",      "pwrite64",     "readv",          "writev",     "rt_sigaction",
        "rt_sigprocmask", "rt_sigreturn", "sigaltstack",  "futex",      "sched_yield",
        "getpid",       "gettid",       "getppid",        "getuid",     "geteuid",
        "getgid",       "getegid",      "clock_gettime",  "clock_nanosleep", "nanosleep",
        "gettimeofday", "arch_prctl",   "set_tid_address", "set_robust_list", "rseq",
        "prlimit64",    "getrandom",    "exit",           "exit_group", "fcntl",
    };
    return v;
}

namespace {

struct CtxDeleter {
    void operator()(void* c) const { seccomp_release(static_cast<scmp_filter_ctx>(c)); }
};

void add_rule(scmp_filter_ctx ctx, uint32_t action, const std::string& name) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) throw Error("internal: unknown syscall " + name);
    int rc = seccomp_rule_add(ctx, action, nr, 0);
    if (rc < 0) throw SysError("seccomp_rule_add", name, -rc);
}

}  // namespace

std::vector<sock_filter> build_trace_filter() {
    std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_TRACE(kCensus)));
    if (!ctx) throw Error("seccomp_init failed: is libseccomp usable on this host?");
    // Other architectures (i386, x32) are killed: romimg traces x86_64 services only.
    for (const auto& n : path_syscalls()) add_rule(ctx.get(), SCMP_ACT_TRACE(kPath), n);
    for (const auto& n : creds_syscalls()) add_rule(ctx.get(), SCMP_ACT_TRACE(kCreds), n);
    for (const auto& n : baseline_syscalls()) add_rule(ctx.get(), SCMP_ACT_ALLOW, n);

    Fd mem(memfd_create("romimg-bpf", MFD_CLOEXEC));
    if (!mem) throw SysError("memfd_create", "romimg-bpf", errno);
    int rc = seccomp_export_bpf(ctx.get(), mem.get());
    if (rc < 0) throw SysError("seccomp_export_bpf", "", -rc);
    lseek(mem.get(), 0, SEEK_SET);
    std::string bytes = sys::read_all(mem.get());
    if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0)
        throw Error("internal: libseccomp exported a malformed filter");
    std::vector<sock_filter> prog(bytes.size() / sizeof(sock_filter));
    memcpy(prog.data(), bytes.data(), bytes.size());
    return prog;
}

const std::string& syscall_name(long nr) {
    static std::mutex mu;
    static std::vector<std::string> cache(1024);
    std::lock_guard lock(mu);
    if (nr < 0 || nr >= (long)cache.size()) {
        static std::string unknown;
        unknown = "syscall_" + std::to_string(nr);
        return unknown;
    }
    if (cache[nr].empty()) {
        char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
        cache[nr] = n ? n : "syscall_" + std::to_string(nr);
        free(n);
    }
    return cache[nr];
}

}  // namespace romimg::trace
