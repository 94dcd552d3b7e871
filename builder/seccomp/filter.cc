#include "seccomp/filter.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "appliance_conf.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/sys.h"

namespace romimg::seccomp {

std::string to_string(Mode m) {
    switch (m) {
        case Mode::enforce: return "enforce";
        case Mode::log: return "log";
        case Mode::off: return "off";
    }
    return "?";
}

Mode parse_mode(const std::string& s, const std::string& where) {
    if (s == "enforce") return Mode::enforce;
    if (s == "log") return Mode::log;
    if (s == "off") return Mode::off;
    throw UsageError(fmt::format("{}: seccomp mode is enforce, log or off, got '{}'", where, s));
}

const std::vector<std::string>& baseline() {
    static const std::vector<std::string> v = {
        // leaving: threads, processes, signal handlers, interrupted calls
        "exit", "exit_group", "rt_sigreturn", "sigreturn", "restart_syscall",
        // thread start-up (glibc's pthread_create and ld.so)
        "set_robust_list", "set_tid_address", "rseq", "arch_prctl", "set_thread_area",
        // the vDSO's fallbacks (a kernel without a usable clocksource takes the syscall)
        "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64", "gettimeofday", "time", "getcpu",
        // memory: malloc arenas, realloc of big blocks, stacks
        "brk", "mmap", "mmap2", "munmap", "mprotect", "madvise", "mremap",
        // waiting and locks
        "futex", "futex_time64", "sched_yield", "nanosleep", "clock_nanosleep", "clock_nanosleep_time64",
        // plain I/O on descriptors it already has
        "read", "write", "close", "readv", "writev", "lseek", "_llseek", "pread64", "pwrite64", "fstat", "fstat64",
        "fcntl", "fcntl64",
        // signals to itself (abort, raise) and their masks
        "rt_sigaction", "rt_sigprocmask", "sigaltstack", "tgkill",
        // identity
        "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getuid32", "geteuid32", "getgid32",
        "getegid32", "prlimit64", "getrandom",
        // its own limits the old way: i386 glibc's getrlimit is ugetrlimit (amd64's is prlimit64,
        // which can do more)
        "getrlimit", "ugetrlimit",
    };
    return v;
}

const std::vector<std::string>& never_list() {
    static const std::vector<std::string> v = {
        // other processes' memory and descriptors
        "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
        // kernel attack surface the appliance does not use
        "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup",
        "io_uring_enter", "io_uring_register", "lookup_dcookie", "uselib", "modify_ldt", "iopl", "ioperm",
        "nfsservctl", "_sysctl",
        // code into the kernel, another kernel, power
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
        "swapoff",
        // the file system tree and namespaces (romlock refuses them too)
        "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsconfig", "fsmount",
        "fspick", "move_mount", "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
        "quotactl", "quotactl_fd",
        // the machine's identity, clock and logs
        "syslog", "acct", "settimeofday", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64",
        "adjtimex", "stime", "sethostname", "setdomainname", "vhangup",
    };
    return v;
}

const std::map<std::string, std::vector<std::string>>& groups() {
    static const std::map<std::string, std::vector<std::string>> g = {
        {"@network-io",
         {"socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
          "getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
          "recvmmsg", "recvmmsg_time64", "shutdown"}},
        {"@io-event",
         {"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll",
          "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64", "eventfd", "eventfd2"}},
        {"@file-system",
         {"open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "stat64", "lstat64", "fstatat64",
          "statx", "access", "faccessat", "faccessat2", "getdents", "getdents64", "readlink", "readlinkat", "mkdir",
          "mkdirat", "rmdir", "rename", "renameat", "renameat2", "unlink", "unlinkat", "link", "linkat", "symlink",
          "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate",
          "statfs", "fstatfs", "getcwd", "chdir", "fchdir", "utimensat", "inotify_init1", "inotify_add_watch",
          "inotify_rm_watch", "fallocate", "fsync", "fdatasync", "flock", "dup", "dup2", "dup3", "pipe", "pipe2",
          "sendfile", "sendfile64", "copy_file_range", "splice", "memfd_create", "umask"}},
        {"@process",
         {"clone", "clone3", "fork", "vfork", "execve", "execveat", "wait4", "waitid", "waitpid", "kill", "tkill",
          "tgkill", "prctl", "setsid", "setpgid", "getpgid", "getpgrp", "getsid", "pidfd_open", "pidfd_send_signal",
          "capget", "sched_getaffinity", "sched_setaffinity", "getpriority", "setpriority", "getrusage", "times"}},
        {"@signal",
         {"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending", "rt_sigtimedwait",
          "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4",
          "pause"}},
        {"@timer",
         {"alarm", "getitimer", "setitimer", "timer_create", "timer_settime", "timer_settime64", "timer_gettime",
          "timer_gettime64", "timer_getoverrun", "timer_delete", "timerfd_create", "timerfd_settime",
          "timerfd_settime64", "timerfd_gettime", "timerfd_gettime64"}},
        {"@ipc",
         {"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl", "msgget",
          "msgsnd", "msgrcv", "msgctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
          "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr"}},
    };
    return g;
}

namespace {

uint32_t arch_token(const std::string& arch) {
    uint32_t a = seccomp_arch_resolve_name(arch.c_str());
    if (a == 0) throw Error(fmt::format("internal: libseccomp does not know the arch '{}'", arch));
    return a;
}

// The syscall's number on `arch`, or __NR_SCMP_ERROR when the arch has no such call (libseccomp
// gives a negative pseudo-number for a name it knows from another arch: socketcall on x86_64).
// On x86 a socket or SysV IPC call (bind, semop) is a subcall of socketcall/ipc: libseccomp
// names it by a pseudo-number from -101 to -299 and filters it by socketcall's first argument
// (and by its own number where the kernel has one), so such a call exists there.
int resolve(const std::string& name, uint32_t arch) {
    int nr = seccomp_syscall_resolve_name_arch(arch, name.c_str());
    bool multiplexed = nr <= -101 && nr >= -299;
    return nr >= 0 || multiplexed ? nr : __NR_SCMP_ERROR;
}

bool on_never_list(const std::string& name) {
    const auto& n = never_list();
    return std::find(n.begin(), n.end(), name) != n.end();
}

struct CtxDeleter {
    void operator()(void* c) const { seccomp_release(static_cast<scmp_filter_ctx>(c)); }
};

}  // namespace

bool known_syscall(const std::string& name, const std::string& arch) {
    return resolve(name, arch_token(arch)) != __NR_SCMP_ERROR;
}

bool known_anywhere(const std::string& name) {
    for (const char* arch : kArches)
        if (known_syscall(name, arch)) return true;
    return false;
}

FilterPlan plan_filter(const std::string& service, const std::filesystem::path& template_file,
                       const std::set<std::string>& traced, const TemplateRules& rules, Mode mode,
                       const std::string& arch) {
    const uint32_t a = arch_token(arch);
    FilterPlan p;
    p.service = service;
    p.arch = arch;
    p.mode = mode;
    std::map<std::string, std::string> allow;  // name → why (the first reason wins)
    auto add = [&](const std::string& name, const std::string& why) {
        if (resolve(name, a) != __NR_SCMP_ERROR) allow.emplace(name, why);
    };
    for (const auto& [name, why] : rules.allow_never) {
        if (!on_never_list(name))
            throw ConfigError(template_file, 0,
                              fmt::format("seccomp.allow_never.{}: {} is not on the never-list (list it in seccomp.allow)",
                                          name, name));
        if (why.find_first_not_of(" \t") == std::string::npos)
            throw ConfigError(template_file, 0,
                              fmt::format("seccomp.allow_never.{} needs a reason: say why {} needs it", name, service));
        add(name, "template: " + why);
    }
    for (const auto& n : rules.allow) {
        if (n.rfind('@', 0) == 0) {
            auto g = groups().find(n);
            if (g == groups().end()) {
                std::string known;
                for (const auto& [name, _] : groups()) known += (known.empty() ? "" : ", ") + name;
                throw ConfigError(template_file, 0, fmt::format("seccomp.allow: unknown group '{}' (groups: {})", n, known));
            }
            for (const auto& s : g->second)
                if (!on_never_list(s)) add(s, "template (" + n + ")");
            continue;
        }
        if (!known_anywhere(n))
            throw ConfigError(template_file, 0,
                              fmt::format("seccomp.allow: '{}' is not a system call (a typo? `romimg trace` lists "
                                          "what a service makes)",
                                          n));
        if (on_never_list(n) && !rules.allow_never.count(n))
            throw ConfigError(template_file, 0,
                              fmt::format("seccomp.allow: {} is on the never-list: allow it with seccomp.allow_never = "
                                          "{{ {} = \"why {} needs it\" }}",
                                          n, n, service));
        add(n, "template");
    }
    std::vector<std::string> needed;
    for (const auto& n : traced) {
        if (n.rfind("syscall_", 0) == 0) continue;  // a number the tracer's libseccomp could not name
        if (on_never_list(n) && !rules.allow_never.count(n)) {
            needed.push_back(n);
            continue;
        }
        add(n, "trace");
    }
    if (!needed.empty() && mode != Mode::off) {
        std::string list, fix;
        for (const auto& n : needed) {
            list += (list.empty() ? "" : ", ") + n;
            fix += (fix.empty() ? "" : ", ") + n + " = \"why\"";
        }
        throw ConfigError(template_file, 0,
                          fmt::format("{} made {} while traced, which the seccomp filter kills (never-list): if the "
                                      "service needs it, allow it in the template with [seccomp] allow_never = {{ {} }}, "
                                      "or build with seccomp mode off for it",
                                      service, list, fix));
    }
    for (const auto& n : baseline()) add(n, "baseline");
    for (const auto& [name, why] : allow) p.allow.push_back({name, why});
    for (const auto& n : never_list())
        if (!allow.count(n) && resolve(n, a) != __NR_SCMP_ERROR) p.kill.push_back(n);
    std::sort(p.kill.begin(), p.kill.end());
    return p;
}

std::string compile_filter(const FilterPlan& plan) {
    if (plan.mode == Mode::off) throw Error("internal: no filter is compiled for seccomp mode off");
    const uint32_t a = arch_token(plan.arch);
    const bool log = plan.mode == Mode::log;
    std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(log ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(ENOSYS)));
    if (!ctx) throw Error("seccomp_init failed: is libseccomp usable on this host?");
    auto check = [](int rc, const char* call, const std::string& arg) {
        if (rc < 0) throw SysError(call, arg, -rc);
    };
    // The target's arch only; another arch's syscalls (e.g. int 0x80 on x86_64) are killed.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "seccomp_attr_set", "badarch");
    if (a != seccomp_arch_native()) {
        check(seccomp_arch_add(ctx.get(), a), "seccomp_arch_add", plan.arch);
        check(seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE), "seccomp_arch_remove", "native");
    }
    // Rules name a call by libseccomp's native (or pseudo) number, which it translates by name
    // into each arch of the filter: for x86, "bind" becomes socketcall(SYS_BIND) and bind.
    auto rule_nr = [](const std::string& name) { return seccomp_syscall_resolve_name(name.c_str()); };
    for (const auto& r : plan.allow) {
        if (resolve(r.name, a) == __NR_SCMP_ERROR)
            throw Error(fmt::format("seccomp: {} is not a {} system call", r.name, plan.arch));
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, rule_nr(r.name), 0), "seccomp_rule_add", r.name);
    }
    // In log mode the default action already logs the never-list (libseccomp refuses a rule that
    // repeats the default action).
    for (const auto& n : log ? std::vector<std::string>{} : plan.kill) {
        if (resolve(n, a) == __NR_SCMP_ERROR) continue;
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_KILL_PROCESS, rule_nr(n), 0), "seccomp_rule_add", n);
    }
    Fd mem(memfd_create("romimg-seccomp", MFD_CLOEXEC));
    if (!mem) throw SysError("memfd_create", "romimg-seccomp", errno);
    check(seccomp_export_bpf(ctx.get(), mem.get()), "seccomp_export_bpf", plan.service);
    lseek(mem.get(), 0, SEEK_SET);
    std::string bytes = sys::read_all(mem.get());
    if (bytes.empty() || bytes.size() % 8 != 0 || bytes.size() / 8 > 4096)
        throw Error(fmt::format("seccomp: libseccomp made a filter of {} bytes for {}: not a loadable program",
                                bytes.size(), plan.service));
    return bytes;
}

std::string syscall_table(const std::string& arch) {
    const uint32_t a = arch_token(arch);
    std::string out;
    for (int nr = 0; nr < 1024; ++nr) {
        char* name = seccomp_syscall_resolve_num_arch(a, nr);
        if (!name) continue;
        out += fmt::format("{} {}\n", nr, name);
        free(name);
    }
    return out;
}

nlohmann::json to_json(const FilterPlan& plan) {
    nlohmann::json allow = nlohmann::json::array();
    for (const auto& r : plan.allow) allow.push_back({{"name", r.name}, {"why", r.why}});
    return {{"service", plan.service}, {"arch", plan.arch}, {"mode", to_string(plan.mode)},
            {"default", plan.mode == Mode::log ? "log" : "ENOSYS"}, {"allow", allow}, {"kill", plan.kill}};
}

FilterPlan plan_from_json(const nlohmann::json& j) {
    try {
        FilterPlan p;
        p.service = j.at("service").get<std::string>();
        p.arch = j.at("arch").get<std::string>();
        p.mode = parse_mode(j.at("mode").get<std::string>(), "seccomp");
        for (const auto& r : j.at("allow")) p.allow.push_back({r.at("name").get<std::string>(), r.at("why").get<std::string>()});
        p.kill = j.at("kill").get<std::vector<std::string>>();
        return p;
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("a seccomp filter description is malformed: ") + e.what());
    } catch (const UsageError& e) {
        throw Error(std::string("a seccomp filter description is malformed: ") + e.what());
    }
}

std::string filter_path(const std::string& service) { return std::string(appliance::kSeccompDir) + "/" + service + ".bpf"; }

}  // namespace romimg::seccomp
