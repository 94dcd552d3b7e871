#include "trace/syscalls.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>

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
        // the i386 ABI's own names for the same operations (trace/abi.h maps them); i386
        // sockets go through socketcall, demultiplexed by the tracer
        "stat64", "lstat64", "fstatat64", "chown32", "lchown32", "truncate64", "statfs64",
        "utimensat_time64",
    };
    return v;
}

const std::vector<std::string>& creds_syscalls() {
    static const std::vector<std::string> v = {"setuid", "setgid", "setreuid", "setregid",
                                               "setresuid", "setresgid", "setfsuid", "setfsgid",
                                               "setgroups", "capset",
                                               // i386: the 32-bit-id variants
                                               "setuid32", "setgid32", "setreuid32",
                                               "setregid32", "setresuid32", "setresgid32",
                                               "setfsuid32", "setfsgid32", "setgroups32"};
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
        // i386 only
        "fstat64",      "_llseek",      "mmap2",          "sigreturn",  "futex_time64",
        "getuid32",     "geteuid32",    "getgid32",       "getegid32",  "clock_gettime64",
        "clock_nanosleep_time64", "set_thread_area", "fcntl64",
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
    // i386 services are traced too (a 32-bit target built on an amd64 host); x32 is killed.
    if (int rc = seccomp_arch_add(ctx.get(), SCMP_ARCH_X86); rc < 0 && rc != -EEXIST)
        throw SysError("seccomp_arch_add", "x86", -rc);
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

}  // namespace romimg::trace
