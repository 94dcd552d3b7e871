#include "trace/abi.h"

#include <linux/audit.h>
#include <seccomp.h>

#include <cstdlib>
#include <map>
#include <mutex>
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

}  // namespace

std::string native_equivalent(const std::string& name) {
    static const std::map<std::string, std::string> renames = {
        {"stat64", "stat"},         {"lstat64", "lstat"},       {"fstatat64", "newfstatat"},
        {"chown32", "chown"},       {"lchown32", "lchown"},     {"truncate64", "truncate"},
        {"statfs64", "statfs"},     {"utimensat_time64", "utimensat"},
        {"oldstat", "stat"},        {"oldlstat", "lstat"},
    };
    auto it = renames.find(name);
    return it == renames.end() ? name : it->second;
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
