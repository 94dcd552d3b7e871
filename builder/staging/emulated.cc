#include "staging/emulated.h"

#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"
#include "common/signals.h"
#include "common/sys.h"
#include "staging/staging.h"

namespace romimg::staging {

const char* to_string(RootMaker m) { return m == RootMaker::native ? "native" : "qemu-user"; }

std::optional<RootMaker> parse_root_maker(const std::string& s, const std::string& flag) {
    if (s.empty() || s == "auto") return std::nullopt;
    if (s == "native") return RootMaker::native;
    if (s == "qemu-user") return RootMaker::qemu_user;
    throw UsageError(fmt::format("{} {}: not a way to make the staging root; use auto (the default: native where this "
                                 "host runs the target's programs), native or qemu-user",
                                 flag, s));
}

std::string qemu_user_program(const target::Target& t) {
    return fmt::format("qemu-{}-static", t.elf_machine == EM_386 ? "i386" : t.kernel_arch);
}

std::string binfmt_register_line(const target::Target& t, const std::string& emulator) {
    // e_ident (magic, class, little-endian, version 1, any OS ABI), e_type ET_EXEC or ET_DYN (the
    // mask's 0xfe), e_machine: the first 20 bytes of the target's programs.
    const unsigned char magic[20] = {0x7f, 'E', 'L', 'F', (unsigned char)t.elf_class, ELFDATA2LSB, EV_CURRENT, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0, ET_EXEC, 0, (unsigned char)(t.elf_machine & 0xff),
                                     (unsigned char)(t.elf_machine >> 8)};
    const unsigned char mask[20] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xfe, 0x00, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff};
    std::string m, k;
    for (unsigned char c : magic) m += fmt::format("\\x{:02x}", c);
    for (unsigned char c : mask) k += fmt::format("\\x{:02x}", c);
    return fmt::format(":{}:M::{}:{}:{}:OPF", qemu_user_program(t).substr(0, qemu_user_program(t).rfind("-static")), m, k,
                       emulator);
}

namespace {

// True if this kernel (uname release "6.18.4-...") is `major.minor` or later.
bool kernel_at_least(int major, int minor) {
    struct utsname u {};
    if (uname(&u) != 0) return false;
    int a = 0, b = 0;
    if (std::sscanf(u.release, "%d.%d", &a, &b) != 2) return false;
    return a > major || (a == major && b >= minor);
}

std::string kernel_release() {
    struct utsname u {};
    return uname(&u) == 0 ? u.release : "unknown";
}

}  // namespace

RootMaker choose_root_maker(const target::Target& t, std::optional<RootMaker> asked, std::string& why) {
    std::string failed;
    const bool runs = host_runs(t, failed);
    if (asked == RootMaker::native) {
        if (!runs)
            throw Error(fmt::format("--staging-route native: this host cannot run {} programs ({}); leave the choice to "
                                    "romimg (auto) or give --staging-route qemu-user",
                                    t.name, failed));
        return RootMaker::native;
    }
    if (!asked && runs) return RootMaker::native;
    why = asked ? "asked for (--staging-route qemu-user)"
                : fmt::format("this host cannot run {} programs itself ({})", t.name, failed);
    const std::string qemu = qemu_user_program(t);
    if (find_program(qemu).empty())
        throw Error(fmt::format("{}{}: making an {} staging root runs Debian's {} package scripts, and {} is not "
                                "installed. Install qemu-user-static (`make deps`): romimg then runs them under {} "
                                "in a namespace of its own (Linux 6.7+; nothing is registered on the host). Or enable "
                                "32-bit support in the host kernel (CONFIG_IA32_EMULATION, ia32_emulation=1), or give "
                                "--root DIR, an {} root made elsewhere",
                                asked ? "--staging-route qemu-user" : "this host cannot run " + t.name + " programs",
                                asked ? "" : " (" + failed + ")", t.name, t.name, qemu, qemu, t.name));
    if (!kernel_at_least(6, 7))
        throw Error(fmt::format("{}: running {} under {} without touching the host's binfmt_misc needs a private "
                                "binfmt_misc instance, which Linux 6.7 and later have; this host runs {}. Enable 32-bit "
                                "support in the host kernel (CONFIG_IA32_EMULATION, ia32_emulation=1), register {} with "
                                "the host's binfmt_misc yourself, or give --root DIR, an {} root made elsewhere",
                                asked ? "--staging-route qemu-user" : why, t.name, qemu, kernel_release(), qemu, t.name));
    return RootMaker::qemu_user;
}

namespace {

// The namespace side, in the forked child: never returns. Failures before the command starts go
// to `err` (the parent throws them); the command's status becomes the exit status.
[[noreturn]] void private_binfmt_child(const Command& cmd, const std::string& register_line, int ready, int go, int err) {
    auto fail = [&](const std::string& what) {
        const std::string msg = fmt::format("{}: {}", what, std::strerror(errno));
        (void)!::write(err, msg.data(), msg.size());
        _exit(127);
    };
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) fail("making a user and mount namespace (unshare)");
    if (::write(ready, "u", 1) != 1) _exit(127);
    char c;
    if (::read(go, &c, 1) != 1) _exit(127);  // the parent has written the maps (or failed)
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("making the namespace's mounts private");
    if (::mount("binfmt_misc", "/proc/sys/fs/binfmt_misc", "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        fail(fmt::format("mounting a private binfmt_misc (Linux 6.7 and later allow it; this host runs {})", kernel_release()));
    const int reg = ::open("/proc/sys/fs/binfmt_misc/register", O_WRONLY | O_CLOEXEC);
    if (reg < 0) fail("opening the private binfmt_misc's register");
    if (::write(reg, register_line.data(), register_line.size()) != (ssize_t)register_line.size())
        fail("registering the emulator in the private binfmt_misc");
    ::close(reg);
    try {
        const int status = run_status(cmd);
        _exit(status >= 0 ? status : 128 - status);
    } catch (const std::exception& e) {
        const std::string msg = e.what();
        (void)!::write(err, msg.data(), msg.size());
        _exit(127);
    }
}

void write_map(pid_t pid, const char* which) {
    const std::string path = fmt::format("/proc/{}/{}", pid, which);
    Fd fd = sys::open(path, O_WRONLY);
    // Real root may map the whole id range onto itself (no /etc/subuid range needed).
    sys::write_all(fd.get(), "0 0 4294967295\n");
}

}  // namespace

int run_with_private_binfmt(const Command& cmd, const std::string& register_line) {
    auto [ready_r, ready_w] = sys::pipe();
    auto [go_r, go_w] = sys::pipe();
    auto [err_r, err_w] = sys::pipe();
    const pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork", "", errno);
    if (pid == 0) private_binfmt_child(cmd, register_line, ready_w.get(), go_r.get(), err_w.get());
    ready_w.reset();
    go_r.reset();
    err_w.reset();
    auto reap = [&] {
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        return st;
    };
    std::string map_error;
    char c;
    if (sys::read_exact(ready_r.get(), &c, 1)) {
        try {
            write_map(pid, "uid_map");
            write_map(pid, "gid_map");
        } catch (const std::exception& e) {
            map_error = e.what();
            ::kill(pid, SIGKILL);
        }
        if (map_error.empty()) sys::write_all(go_w.get(), "g");
    }
    go_w.reset();
    // Until the child exits (EOF). An interrupt reaches it as SIGTERM: its own runner then kills
    // the command's process group, as it would romimg's.
    std::string child_error;
    bool told = false;
    for (;;) {
        if (signals::interrupted() && !told) {
            ::kill(pid, SIGTERM);
            told = true;
        }
        if (!sys::poll_readable(err_r.get(), 100)) continue;
        char buf[4096];
        const ssize_t n = ::read(err_r.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        child_error.append(buf, n);
    }
    const int st = reap();
    signals::throw_if_interrupted();
    if (!map_error.empty()) throw Error("mapping the namespace's uids and gids: " + map_error);
    if (!child_error.empty()) throw Error(child_error);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

}  // namespace romimg::staging
