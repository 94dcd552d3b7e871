// How a staging root's package scripts run when this host cannot run the target's programs
// itself (an amd64 host without IA32 emulation, building for i386): mmdebstrap runs in a user
// and mount namespace of its own whose private binfmt_misc instance (Linux 6.7+) hands the
// target's programs to qemu-user (qemu-i386-static). The host's binfmt_misc, mounts and files
// are never touched: the registration and every mount mmdebstrap makes vanish with the
// namespace. Every uid and gid is mapped to itself (romimg runs as real root), so the root's
// owners and setuid bits are the real ones.
#pragma once

#include <optional>
#include <string>

#include "common/command.h"
#include "target/target.h"

namespace romimg::staging {

enum class RootMaker {
    native,     // mmdebstrap as it is: the host runs the target's programs (or its binfmt_misc does)
    qemu_user,  // mmdebstrap under a private binfmt_misc entry for qemu-user (this file)
};
const char* to_string(RootMaker m);
// "auto" or "" → nullopt; throws UsageError on anything but auto, native, qemu-user.
std::optional<RootMaker> parse_root_maker(const std::string& s, const std::string& flag);

// Pure: the qemu-user program for the target's machine ("qemu-i386-static").
std::string qemu_user_program(const target::Target& t);

// Pure: the line written to binfmt_misc's `register` that hands the target's ELF programs
// (executables and shared objects, as qemu's own qemu-binfmt-conf.sh matches them) to
// `emulator`. Flags: O (the emulator gets an open fd of the program), P (argv[0] kept), F (the
// emulator opened now, so it works inside the chroot).
std::string binfmt_register_line(const target::Target& t, const std::string& emulator);

// How the staging root for `t` is made on this host: `asked` (--staging-route), else native
// where the host runs t's programs (host_runs, or a binfmt_misc emulator of its own), else
// qemu-user where qemu-user is installed. `why` says why qemu-user was chosen. Throws Error
// naming what to install or enable when there is no way.
RootMaker choose_root_maker(const target::Target& t, std::optional<RootMaker> asked, std::string& why);

// Runs `cmd` (as run_status does: its exit status or -signal) in a new user and mount namespace
// with every uid/gid mapped to itself and a private binfmt_misc instance in which `register_line`
// is registered. Throws Error if the namespace cannot be made (the message says what the kernel
// refused and what it needs), Interrupted on an interrupt.
int run_with_private_binfmt(const Command& cmd, const std::string& register_line);

}  // namespace romimg::staging
