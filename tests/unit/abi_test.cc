#include <catch2/catch.hpp>

#include <linux/audit.h>
#include <seccomp.h>
#include <sys/syscall.h>

#include "trace/abi.h"

using namespace romimg::trace;

TEST_CASE("abi: PTRACE_GET_SYSCALL_INFO's arch picks the table") {
    CHECK(abi_from_audit_arch(AUDIT_ARCH_X86_64) == Abi::x86_64);
    CHECK(abi_from_audit_arch(AUDIT_ARCH_I386) == Abi::i386);
    CHECK(abi_from_audit_arch(AUDIT_ARCH_AARCH64) == Abi::other);
}

TEST_CASE("abi: one number, two names") {
    // 5 is fstat on x86_64 and open on i386; 195 is stat64 on i386 only.
    CHECK(syscall_name(Abi::x86_64, 5, 0) == "fstat");
    CHECK(syscall_name(Abi::i386, 5, 0) == "open");
    CHECK(syscall_name(Abi::i386, 195, 0) == "stat64");
    CHECK(syscall_name(Abi::x86_64, 100000, 0) == "syscall_100000");
    CHECK(syscall_name(Abi::other, 1, 0) == "syscall_1");
}

TEST_CASE("abi: socketcall and ipc are named by their subcall") {
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 2) == "bind");
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 3) == "connect");
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 1) == "socket");
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 18) == "accept4");
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 20) == "sendmmsg");
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 0) == "socketcall_0");
    CHECK(syscall_name(Abi::i386, kI386Socketcall, 99) == "socketcall_99");
    CHECK(syscall_name(Abi::i386, kI386Ipc, 1) == "semop");
    CHECK(syscall_name(Abi::i386, kI386Ipc, (1u << 16) | 21) == "shmat");  // versioned call
    CHECK(syscall_name(Abi::i386, kI386Ipc, 7) == "ipc_7");
    // On x86_64 the same numbers are ordinary calls.
    CHECK(syscall_name(Abi::x86_64, 102, 2) == "getuid");
}

TEST_CASE("abi: i386 calls decode as the x86_64 call with the same arguments") {
    CHECK(decoder_nr(Abi::x86_64, SYS_openat) == SYS_openat);
    CHECK(decoder_nr(Abi::i386, 5) == SYS_open);
    CHECK(decoder_nr(Abi::i386, 295) == SYS_openat);
    CHECK(decoder_nr(Abi::i386, 195) == SYS_stat);        // stat64
    CHECK(decoder_nr(Abi::i386, 196) == SYS_lstat);       // lstat64
    CHECK(decoder_nr(Abi::i386, 300) == SYS_newfstatat);  // fstatat64
    CHECK(decoder_nr(Abi::i386, 212) == SYS_chown);       // chown32
    CHECK(decoder_nr(Abi::i386, 198) == SYS_lchown);      // lchown32
    CHECK(decoder_nr(Abi::i386, 193) == SYS_truncate);    // truncate64
    CHECK(decoder_nr(Abi::i386, 268) == SYS_statfs);      // statfs64
    CHECK(decoder_nr(Abi::i386, 412) == SYS_utimensat);   // utimensat_time64
    CHECK(decoder_nr(Abi::i386, 361) == SYS_bind);        // the direct socket calls
    CHECK(decoder_nr(Abi::i386, 383) == SYS_statx);
    CHECK(decoder_nr(Abi::i386, 11) == SYS_execve);
    CHECK(decoder_nr(Abi::i386, kI386Socketcall) == -1);
    CHECK(decoder_nr(Abi::i386, kI386Ipc) == -1);
    CHECK(decoder_nr(Abi::i386, 192) == -1);  // mmap2: nothing of the kind on x86_64
    CHECK(decoder_nr(Abi::other, 2) == -1);
    CHECK(native_equivalent("stat64") == "stat");
    CHECK(native_equivalent("openat") == "openat");
}

TEST_CASE("abi: an x86_64 call's i386 equivalents (the translated route)") {
    using V = std::vector<std::string>;
    CHECK(i386_equivalents("openat") == V{"openat"});
    CHECK(i386_equivalents("mmap") == V{"mmap", "mmap2"});
    CHECK(i386_equivalents("futex") == V{"futex", "futex_time64"});
    CHECK(i386_equivalents("getuid") == V{"getuid", "getuid32"});
    CHECK(i386_equivalents("fstat") == V{"fstat", "fstat64", "statx"});
    CHECK(i386_equivalents("newfstatat") == V{"fstatat64", "statx"});  // no newfstatat on i386
    CHECK(i386_equivalents("arch_prctl") == V{"arch_prctl", "set_thread_area"});  // 384 since Linux 4.12
    CHECK(i386_equivalents("bind") == V{"bind"});
    CHECK(i386_equivalents("prlimit64") == V{"getrlimit", "prlimit64", "setrlimit", "ugetrlimit"});
    CHECK(i386_equivalents("fstatfs") == V{"fstatfs", "fstatfs64", "statfs", "statfs64"});  // a socketcall subcall, and a direct call
    CHECK(i386_equivalents("no_such_call").empty());
    // Every name it gives is one libseccomp resolves on x86, so a filter can be made from it;
    // and every rename goes back to the x86_64 call it came from.
    for (const char* n : {"stat", "lstat", "clock_gettime", "fcntl", "lseek", "select", "setresuid", "getrlimit"}) {
        V eq = i386_equivalents(n);
        CHECK(eq.size() >= 2);
        for (const auto& e : eq) CHECK(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, e.c_str()) > -300);
    }
}
