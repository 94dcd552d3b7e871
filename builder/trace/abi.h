// The system-call ABIs a traced process can use on an x86_64 host: native x86_64 and i386
// (a 32-bit service run on a kernel with IA32 emulation). One decoder serves both: an i386
// call is mapped onto the x86_64 call that does the same thing to the same arguments
// (stat64 -> stat, chown32 -> chown, ...), and the two multiplexers of the 32-bit ABI
// (socketcall, ipc) are named by their subcall, so a trace records "bind", not "socketcall",
// and an allow-list built from it never admits every socket operation at once.
// Pure but for libseccomp's syscall tables (read-only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace romimg::trace {

enum class Abi { x86_64, i386, other };

// From PTRACE_GET_SYSCALL_INFO's `arch` (an AUDIT_ARCH_* value).
Abi abi_from_audit_arch(uint32_t audit_arch);
const char* abi_name(Abi abi);

// i386 multiplexer numbers (asm/unistd_32.h), and socketcall's subcalls (linux/net.h).
constexpr long kI386Socketcall = 102;
constexpr long kI386Ipc = 117;
constexpr long kSysBind = 2;     // SYS_BIND
constexpr long kSysConnect = 3;  // SYS_CONNECT

// The name of a call as a trace records it. For socketcall/ipc, arg0 picks the subcall
// ("bind", "semop"; "socketcall_99" when unknown); otherwise the ABI's table; "syscall_N" for
// a number no table knows. Cached.
std::string syscall_name(Abi abi, long nr, uint64_t arg0);

// The x86_64 number of the call the decoder treats this one as; -1 when none (a call with no
// path operand on x86_64, the multiplexers, an unknown number).
long decoder_nr(Abi abi, long nr);

// The x86_64 call name an i386-only call is decoded as ("stat64" -> "stat"); the name itself
// when there is no rename.
std::string native_equivalent(const std::string& i386_name);

// The other way, for a trace of an x86_64 build of a program that will run as its i386 build
// (the translated route, staging/translate.h): the i386 calls that do what `x86_64_name` does
// (the name itself where i386 has it, its 64-bit offset, 32-bit id and 64-bit time variants,
// statx for the stat family, which i386 glibc 2.36 uses). Sorted; empty when i386 has none.
std::vector<std::string> i386_equivalents(const std::string& x86_64_name);

// Calls the i386 build of a program makes where its x86_64 build makes none of their kind
// (read-only ones, found by comparing native and translated traces): a translated trace adds them.
const std::vector<std::string>& i386_unmatched_calls();

}  // namespace romimg::trace
