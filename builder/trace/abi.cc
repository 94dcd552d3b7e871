#include "trace/abi.h"

#include <linux/audit.h>
#include <seccomp.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace romimg::trace {

Abi abi_from_audit_arch(uint32_t audit_arch) {
    switch (audit_arch) {
    case AUDIT_ARCH_X86_64: return Abi::x86_64;
    case AUDIT_ARCH_I386: return Abi::i386;
    default: return Abi::other;
    }
}

const char* abi_name(Abi abi) {
    switch (abi) {
    case Abi::x86_64: return "x86_64";
    case Abi::i386: return "i386";
    default: return "other";
    }
}

namespace {

const char* socketcall_sub(uint64_t call) {
    static const char* const names[] = {
        nullptr,     "socket",   "bind",        "connect",     "listen",      "accept",
        "getsockname", "getpeername", "socketpair", "send",     "recv",        "sendto",
        "recvfrom",  "shutdown", "setsockopt",  "getsockopt",  "sendmsg",     "recvmsg",
        "accept4",   "recvmmsg", "sendmmsg",
    };
    return call < sizeof names / sizeof *names ? names[call] : nullptr;
}

const char* ipc_sub(uint64_t call) {
    switch (call & 0xffff) {  // the high half is the ipc "version"
    case 1: return "semop";
    case 2: return "semget";
    case 3: return "semctl";
    case 4: return "semtimedop";
    case 11: return "msgsnd";
    case 12: return "msgrcv";
    case 13: return "msgget";
    case 14: return "msgctl";
    case 21: return "shmat";
    case 22: return "shmdt";
    case 23: return "shmget";
    case 24: return "shmctl";
    default: return nullptr;
    }
}

uint32_t scmp_arch(Abi abi) { return abi == Abi::i386 ? SCMP_ARCH_X86 : SCMP_ARCH_X86_64; }

std::string table_name(Abi abi, long nr) {
    if (abi == Abi::other || nr < 0) return "";
    char* n = seccomp_syscall_resolve_num_arch(scmp_arch(abi), (int)nr);
    std::string s = n ? n : "";
    free(n);
    return s;
}

// i386 calls decoded as an x86_64 call with the same path operands.
const std::map<std::string, std::string>& path_renames() {
    static const std::map<std::string, std::string> m = {
        {"stat64", "stat"},         {"lstat64", "lstat"},       {"fstatat64", "newfstatat"},
        {"chown32", "chown"},       {"lchown32", "lchown"},     {"truncate64", "truncate"},
        {"statfs64", "statfs"},     {"utimensat_time64", "utimensat"},
        {"oldstat", "stat"},        {"oldlstat", "lstat"},
    };
    return m;
}

// i386 calls that do what an x86_64 call does without a path operand: the 64-bit file offset,
// 32-bit id, 64-bit time and old-name variants i386 glibc 2.36 makes (asm/unistd_32.h).
const std::map<std::string, std::string>& other_renames() {
    static const std::map<std::string, std::string> m = {
        {"mmap2", "mmap"},           {"fcntl64", "fcntl"},          {"_llseek", "lseek"},
        {"_newselect", "select"},    {"sendfile64", "sendfile"},    {"ftruncate64", "ftruncate"},
        {"fstat64", "fstat"},        {"fstatfs64", "fstatfs"},      {"fadvise64_64", "fadvise64"},
        {"ugetrlimit", "getrlimit"}, {"sigreturn", "rt_sigreturn"}, {"set_thread_area", "arch_prctl"},
        {"waitpid", "wait4"},
        {"getuid32", "getuid"},      {"geteuid32", "geteuid"},      {"getgid32", "getgid"},
        {"getegid32", "getegid"},    {"setuid32", "setuid"},        {"setgid32", "setgid"},
        {"setreuid32", "setreuid"},  {"setregid32", "setregid"},    {"setresuid32", "setresuid"},
        {"setresgid32", "setresgid"}, {"getresuid32", "getresuid"}, {"getresgid32", "getresgid"},
        {"getgroups32", "getgroups"}, {"setgroups32", "setgroups"}, {"setfsuid32", "setfsuid"},
        {"setfsgid32", "setfsgid"},  {"fchown32", "fchown"},
        {"clock_gettime64", "clock_gettime"},       {"clock_settime64", "clock_settime"},
        {"clock_getres_time64", "clock_getres"},    {"clock_nanosleep_time64", "clock_nanosleep"},
        {"clock_adjtime64", "clock_adjtime"},       {"futex_time64", "futex"},
        {"ppoll_time64", "ppoll"},                  {"pselect6_time64", "pselect6"},
        {"recvmmsg_time64", "recvmmsg"},            {"rt_sigtimedwait_time64", "rt_sigtimedwait"},
        {"timerfd_settime64", "timerfd_settime"},   {"timerfd_gettime64", "timerfd_gettime"},
        {"timer_settime64", "timer_settime"},       {"timer_gettime64", "timer_gettime"},
        {"semtimedop_time64", "semtimedop"},        {"io_pgetevents_time64", "io_pgetevents"},
        {"mq_timedsend_time64", "mq_timedsend"},    {"mq_timedreceive_time64", "mq_timedreceive"},
        {"sched_rr_get_interval_time64", "sched_rr_get_interval"},
    };
    return m;
}

bool exists_on(uint32_t arch, const std::string& name) {
    // libseccomp answers a call the arch lacks with a pseudo number (<= -10000); -101..-299 are
    // the socket and IPC subcalls, which x86 has as socketcall/ipc arguments.
    const int nr = seccomp_syscall_resolve_name_arch(arch, name.c_str());
    return nr >= 0 || (nr <= -101 && nr >= -299);
}

}  // namespace

std::string native_equivalent(const std::string& name) {
    auto it = path_renames().find(name);
    return it == path_renames().end() ? name : it->second;
}

const std::vector<std::string>& i386_unmatched_calls() {
    // The native i386 trace of tomcat makes statfs64 where the amd64 one makes no statfs at all.
    static const std::vector<std::string> v = {"fstatfs64", "statfs64"};
    return v;
}

std::vector<std::string> i386_equivalents(const std::string& name) {
    std::set<std::string> out;
    if (exists_on(SCMP_ARCH_X86, name)) out.insert(name);
    for (const auto* table : {&path_renames(), &other_renames()})
        for (const auto& [i386, native] : *table)
            if (native == name) out.insert(i386);
    // Calls the two glibc builds make for one libc function, each ABI its own way; a member on
    // x86_64 brings the whole family on i386 (none gives more than another: prlimit64 can do
    // what getrlimit and setrlimit do). Seen in the native and translated traces of apache and
    // tomcat: amd64 glibc's getrlimit is prlimit64, i386's is ugetrlimit; i386 glibc 2.36
    // answers every stat-family call with statx (64-bit times), and fstatfs with statfs64.
    static const std::vector<std::pair<std::set<std::string>, std::set<std::string>>> families = {
        {{"prlimit64", "getrlimit", "setrlimit"}, {"prlimit64", "ugetrlimit", "getrlimit", "setrlimit"}},
        {{"statfs", "fstatfs"}, {"statfs", "fstatfs", "statfs64", "fstatfs64"}},
        {{"stat", "lstat", "fstat", "newfstatat"}, {"statx"}},
    };
    for (const auto& [native, i386] : families)
        if (native.count(name)) out.insert(i386.begin(), i386.end());
    return {out.begin(), out.end()};
}

std::string syscall_name(Abi abi, long nr, uint64_t arg0) {
    if (abi == Abi::i386 && nr == kI386Socketcall) {
        const char* s = socketcall_sub(arg0);
        return s ? s : "socketcall_" + std::to_string(arg0);
    }
    if (abi == Abi::i386 && nr == kI386Ipc) {
        const char* s = ipc_sub(arg0);
        return s ? s : "ipc_" + std::to_string(arg0 & 0xffff);
    }
    static std::mutex mu;
    static std::map<std::pair<Abi, long>, std::string> cache;
    std::lock_guard lock(mu);
    auto [it, fresh] = cache.try_emplace({abi, nr});
    if (fresh) {
        it->second = table_name(abi, nr);
        if (it->second.empty()) it->second = "syscall_" + std::to_string(nr);
    }
    return it->second;
}

long decoder_nr(Abi abi, long nr) {
    if (abi == Abi::x86_64) return nr;
    if (abi != Abi::i386 || nr == kI386Socketcall || nr == kI386Ipc) return -1;
    static std::mutex mu;
    static std::map<long, long> cache;
    std::lock_guard lock(mu);
    auto [it, fresh] = cache.try_emplace(nr, -1);
    if (fresh) {
        std::string name = table_name(Abi::i386, nr);
        if (!name.empty()) {
            int native = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64,
                                                           native_equivalent(name).c_str());
            if (native >= 0) it->second = native;
        }
    }
    return it->second;
}

}  // namespace romimg::trace
