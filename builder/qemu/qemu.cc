// QEMU (TCG) for `romimg boot`, the ISO tests and `romimg verify`. The argv is data built by
// qemu_command(); the only process-starting code here is spawn_qemu(), which forks so the child
// can ask for PDEATHSIG: QEMU never outlives romimg, even when romimg is SIGKILLed.
#include "qemu/qemu.h"

#include "firmware/ovmf_vars.h"
#include "sign/sign.h"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <set>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/names.h"
#include "common/signals.h"
#include "common/sys.h"

extern char** environ;

namespace romimg::qemu {

namespace sfs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint16_t free_local_port() {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) throw SysError("socket", "AF_INET", errno);
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr*)&a, sizeof a) < 0 || getsockname(s, (struct sockaddr*)&a, &len) < 0) {
        int e = errno;
        close(s);
        throw SysError("bind", "127.0.0.1:0", e);
    }
    close(s);
    return ntohs(a.sin_port);
}

Forward parse_forward(const std::string& s) {
    auto bad = [&s](const std::string& why) {
        return UsageError(fmt::format("--forward takes HOSTPORT:GUESTPORT (e.g. 8080:80), got "
                                      "'{}': {}",
                                      s, why));
    };
    auto colon = s.find(':');
    if (colon == std::string::npos) throw bad("no ':'");
    auto port = [&](const std::string& p) -> uint16_t {
        if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
            throw bad("'" + p + "' is not a port number");
        unsigned long v = std::stoul(p);
        if (v < 1 || v > 65535) throw bad("ports are 1 to 65535");
        return static_cast<uint16_t>(v);
    };
    return {port(s.substr(0, colon)), port(s.substr(colon + 1))};
}

// QEMU option values separate keys with ','; a literal comma in a path is written ",,".
static std::string qemu_escape(const std::string& s) {
    std::string r;
    for (char c : s) {
        r += c;
        if (c == ',') r += ',';
    }
    return r;
}

Command qemu_command(const QemuSpec& s) {
    if (s.iso.empty()) throw UsageError("no ISO to boot");
    // 32 MB: the smallest machine an apache-only image is meant for (docs/limits.md).
    if (s.mem_mb < 32 || s.mem_mb > 65536)
        throw UsageError(fmt::format("--mem must be 32 to 65536 (MB), got {}", s.mem_mb));
    if (s.cpus < 1 || s.cpus > 64) throw UsageError(fmt::format("--smp must be 1 to 64, got {}", s.cpus));
    if (s.firmware == Firmware::uefi && s.ovmf_vars.empty())
        throw UsageError("UEFI boot needs a writable copy of the OVMF variable store");
    std::set<uint16_t> host_ports;
    for (const auto& f : s.forwards)
        if (!host_ports.insert(f.host).second)
            throw UsageError(fmt::format("host port {} is forwarded twice", f.host));

    if (s.system.empty() || s.nic.empty()) throw UsageError("no QEMU machine in the spec");
    Command c;
    c.argv = {s.system,
              // KVM does not work on the build machines, and TCG behaves the same everywhere.
              "-accel", "tcg", "-machine", s.secure_boot ? "q35,smm=on" : "pc", "-m", std::to_string(s.mem_mb), "-smp",
              std::to_string(s.cpus),
              // Only the devices listed here (no default NIC, CD drive or floppy).
              "-nodefaults", "-no-user-config", "-vga", "std", "-display", "none"};
    if (s.serial_log.empty()) {
        // Serial console and QEMU's monitor multiplexed on this terminal (Ctrl-A X quits).
        c.argv.insert(c.argv.end(), {"-serial", "mon:stdio"});
    } else {
        c.argv.insert(c.argv.end(), {"-serial", "file:" + s.serial_log.string()});
    }
    if (!s.qmp_socket.empty())
        c.argv.insert(c.argv.end(),
                      {"-qmp", "unix:" + qemu_escape(s.qmp_socket.string()) + ",server=on,wait=off"});
    if (s.secure_boot && s.firmware != Firmware::uefi) throw UsageError("Secure Boot needs UEFI firmware (--uefi)");
    if (s.secure_boot)
        c.argv.insert(c.argv.end(), {"-global", "driver=cfi.pflash01,property=secure,value=on"});
    if (s.firmware == Firmware::uefi) {
        c.argv.insert(c.argv.end(),
                      {"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" +
                                     qemu_escape((s.secure_boot ? sfs::path(kOvmfSecureCode) : s.ovmf_code).string()),
                       "-drive", "if=pflash,format=raw,unit=1,file=" +
                                     qemu_escape(s.ovmf_vars.string())});
    }
    const std::string iso = qemu_escape(sfs::absolute(s.iso).string());
    if (s.medium == Medium::cdrom) {
        c.argv.insert(c.argv.end(),
                      {"-drive", "if=none,id=cd,media=cdrom,format=raw,readonly=on,file=" + iso,
                       "-device", "ide-cd,drive=cd,bootindex=0"});
    } else {
        // A UEFI machine has an xHCI controller (USB 3); a BIOS one may have only EHCI (USB 2),
        // so each firmware is tested with its own. (Through OVMF's EHCI driver under TCG, GRUB
        // read the kernel and initramfs at about 1 MB/s: 6.2 s before Linux started.)
        const bool xhci = s.firmware == Firmware::uefi;
        const std::string bus = xhci ? "xhci" : "ehci";
        c.argv.insert(c.argv.end(),
                      {"-drive", "if=none,id=stick,format=raw,readonly=on,file=" + iso, "-device",
                       (xhci ? "qemu-xhci,id=" : "usb-ehci,id=") + bus, "-device",
                       "usb-storage,bus=" + bus + ".0,drive=stick,removable=on,bootindex=0"});
    }
    if (!s.data_disk.empty()) {
        const std::string drive = "if=none,id=data,format=raw,file=" + qemu_escape(sfs::absolute(s.data_disk).string());
        std::vector<std::string> dev;
        if (s.data_bus == "virtio") dev = {"-device", "virtio-blk-pci,drive=data"};
        else if (s.data_bus == "ide") dev = {"-device", "ide-hd,drive=data"};
        else if (s.data_bus == "sata") dev = {"-device", "ahci,id=sata", "-device", "ide-hd,drive=data,bus=sata.0"};
        else if (s.data_bus == "scsi") dev = {"-device", "virtio-scsi-pci,id=scsi", "-device", "scsi-hd,drive=data,bus=scsi.0"};
        else if (s.data_bus == "usb") dev = {"-device", "qemu-xhci,id=dataxhci", "-device", "usb-storage,bus=dataxhci.0,drive=data"};
        else throw UsageError(fmt::format("--data-bus '{}': give virtio, ide, sata, scsi or usb", names::printable(s.data_bus)));
        c.argv.insert(c.argv.end(), {"-drive", drive});
        c.argv.insert(c.argv.end(), dev.begin(), dev.end());
    }
    if (!s.tap.empty() && !s.forwards.empty())
        throw UsageError("--tap and --forward do not go together: with a TAP interface the guest is reached at its own address");
    if (!s.tap.empty() && (s.tap.size() > 15 || s.tap.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos))
        throw UsageError(fmt::format("--tap '{}' is not an interface name (up to 15 of a-z 0-9 - _)", names::printable(s.tap)));
    std::string netdev = s.tap.empty() ? "user,id=net0" : "tap,id=net0,ifname=" + s.tap + ",script=no,downscript=no";
    for (const auto& f : s.forwards)
        netdev += fmt::format(",hostfwd=tcp:127.0.0.1:{}-:{}", f.host, f.guest);
    // romfile= : no PXE option ROM, so the firmware never tries a network boot.
    c.argv.insert(c.argv.end(),
                  {"-netdev", netdev, "-device", s.nic + ",netdev=net0,romfile="});
    if (s.watchdog) c.argv.insert(c.argv.end(), {"-device", "i6300esb"});
    if (s.no_reboot) c.argv.push_back("-no-reboot");
    if (!s.cpu.empty()) c.argv.insert(c.argv.end(), {"-cpu", s.cpu});
    return c;
}

void apply_target(QemuSpec& spec, const target::Target& t) {
    spec.system = t.qemu;
    spec.cpu = t.qemu_cpu;
    spec.nic = t.qemu_nic;
    spec.package = t.qemu_package;
}

sfs::path prepare_uefi_vars(const sfs::path& dir, const sfs::path& tmpl) {
    if (!sfs::is_regular_file(tmpl))
        throw Error(fmt::format("{} not found; install ovmf (`make deps`)", tmpl.string()));
    sfs::create_directories(dir);
    sfs::path out = dir / tmpl.filename();
    sfs::copy_file(tmpl, out, sfs::copy_options::overwrite_existing);
    sfs::permissions(out, sfs::perms::owner_read | sfs::perms::owner_write);
    return out;
}

sfs::path prepare_secure_boot_vars(const sfs::path& dir, const sfs::path& cert, std::string* subject) {
    if (!sfs::is_regular_file(kOvmfVarsTemplate) || !sfs::is_regular_file(kOvmfSecureCode))
        throw Error(fmt::format("{} or {} not found; install ovmf (`make deps`)", kOvmfVarsTemplate, kOvmfSecureCode));
    const std::vector<uint8_t> der = sign::load_certificate(cert, subject);
    sfs::create_directories(dir);
    sfs::path out = dir / "OVMF_VARS_4M.secboot.fd";
    firmware::write_secure_boot_vars(kOvmfVarsTemplate, der, out);
    sfs::permissions(out, sfs::perms::owner_read | sfs::perms::owner_write);
    return out;
}

namespace {

void check_firmware(const QemuSpec& s) {
    if (find_program(s.system).empty())
        throw Error(fmt::format("{} not found; install {} (`make deps`)", s.system, s.package));
    if (s.firmware == Firmware::uefi && !sfs::is_regular_file(s.ovmf_code))
        throw Error(fmt::format("{} not found; install ovmf (`make deps`)", s.ovmf_code.string()));
    if (!sfs::is_regular_file(s.iso)) throw Error(fmt::format("no ISO at {}", s.iso.string()));
}

// fork+exec so the child can set PDEATHSIG; `out_log` empty = inherit stdio.
pid_t spawn_qemu(const Command& cmd, const sfs::path& out_log) {
    std::string exe = find_program(cmd.argv[0]);
    if (exe.empty()) throw Error("program not found: " + cmd.argv[0]);
    std::vector<std::string> args = cmd.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    Fd in, out;
    if (!out_log.empty()) {
        in = sys::open("/dev/null", O_RDONLY | O_CLOEXEC);
        out = sys::open(out_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        sys::write_all(out.get(), "$ " + quote_argv(cmd.argv) + "\n");
    }
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw SysError("fork", cmd.argv[0], errno);
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        if (in) {
            ::dup2(in.get(), 0);
            ::dup2(out.get(), 1);
            ::dup2(out.get(), 2);
        }
        ::execve(exe.c_str(), argv.data(), environ);
        ::_exit(127);
    }
    return pid;
}

int decode_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st); }

}  // namespace

int run_interactive(const QemuSpec& spec) {
    check_firmware(spec);
    Command cmd = qemu_command(spec);
    signals::install_interrupt_handlers();
    pid_t pid = spawn_qemu(cmd, {});
    // The terminal is in raw mode, so Ctrl-C reaches the guest; SIGTERM/SIGHUP to romimg stop
    // QEMU here (and SIGKILL through PDEATHSIG).
    for (;;) {
        int st;
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) return decode_status(st);
        if (r < 0 && errno != EINTR) throw SysError("waitpid", std::to_string(pid), errno);
        if (signals::interrupted()) {
            ::kill(pid, SIGTERM);
            for (int i = 0; i < 50 && ::waitpid(pid, &st, WNOHANG) == 0; ++i)
                std::this_thread::sleep_for(100ms);
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &st, 0);
            throw Interrupted();
        }
        std::this_thread::sleep_for(100ms);
    }
}

// ---- Machine ----

Machine Machine::start(QemuSpec spec, const sfs::path& dir) {
    sfs::create_directories(dir);
    if (spec.serial_log.empty()) spec.serial_log = dir / "serial.log";
    Machine m;
    // sun_path holds 107 bytes; deep build directories do not fit.
    if (spec.qmp_socket.empty()) {
        spec.qmp_socket = dir / "qmp.sock";
        if (spec.qmp_socket.string().size() > 100) {
            m.socket_dir_ = std::make_unique<fs::TempDir>("/tmp", "romimg-qmp-");
            spec.qmp_socket = m.socket_dir_->path() / "qmp.sock";
        }
    }
    if (spec.qmp_socket.string().size() > 100)
        throw Error(fmt::format("QMP socket path {} is too long for a unix socket",
                                spec.qmp_socket.string()));
    if (spec.firmware == Firmware::uefi && spec.ovmf_vars.empty())
        spec.ovmf_vars = prepare_uefi_vars(dir);
    check_firmware(spec);
    Command cmd = qemu_command(spec);
    std::error_code ec;
    sfs::remove(spec.serial_log, ec);
    sfs::remove(spec.qmp_socket, ec);
    m.spec_ = spec;
    m.pid_ = spawn_qemu(cmd, dir / "qemu.log");
    m.connect_qmp();
    return m;
}

Machine::Machine(Machine&& o) noexcept
    : spec_(std::move(o.spec_)),
      pid_(std::exchange(o.pid_, -1)),
      status_(o.status_),
      qmp_fd_(std::exchange(o.qmp_fd_, -1)),
      qmp_buf_(std::move(o.qmp_buf_)),
      replies_(std::move(o.replies_)),
      events_(std::move(o.events_)),
      scan_offset_(o.scan_offset_),
      socket_dir_(std::move(o.socket_dir_)) {}

Machine::~Machine() {
    if (qmp_fd_ >= 0) ::close(qmp_fd_);
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {}
    }
}

bool Machine::running() {
    if (status_) return false;
    int st;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) status_ = decode_status(st);
    return !status_;
}

void Machine::connect_qmp() {
    // QEMU creates the socket while it starts up; retry for a bounded time.
    const auto deadline = Clock::now() + 30s;
    for (;;) {
        Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) throw SysError("socket", "AF_UNIX", errno);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, spec_.qmp_socket.c_str(), sizeof(addr.sun_path) - 1);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
            qmp_fd_ = fd.release();
            break;
        }
        if (!running())
            throw Error(fmt::format("QEMU exited at once (status {}); see {}", *status_,
                                    (spec_.serial_log.parent_path() / "qemu.log").string()));
        if (Clock::now() > deadline)
            throw Error(fmt::format("QEMU's QMP socket {} did not appear within 30 s",
                                    spec_.qmp_socket.string()));
        signals::throw_if_interrupted();
        std::this_thread::sleep_for(50ms);
    }
    qmp_read_reply();  // the greeting
    qmp("qmp_capabilities");
}

bool Machine::pump_qmp(int timeout_ms) {
    if (qmp_fd_ < 0) return false;
    pollfd p{qmp_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno != EINTR) throw SysError("poll", spec_.qmp_socket.string(), errno);
    if (r > 0) {
        char buf[4096];
        ssize_t n = ::read(qmp_fd_, buf, sizeof buf);
        if (n < 0 && errno != EINTR) throw SysError("read", spec_.qmp_socket.string(), errno);
        if (n == 0) return false;
        if (n > 0) qmp_buf_.append(buf, static_cast<size_t>(n));
    }
    size_t nl;
    while ((nl = qmp_buf_.find('\n')) != std::string::npos) {
        std::string line = qmp_buf_.substr(0, nl);
        qmp_buf_.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) throw Error("QMP sent something that is not JSON: " + line);
        if (j.contains("event")) events_.push_back(j["event"].get<std::string>());
        else if (j.contains("error"))
            replies_.push_back({true, j["error"].value("desc", j["error"].dump())});
        else if (j.contains("return")) replies_.push_back({false, j["return"].dump()});
        else if (j.contains("QMP")) replies_.push_back({false, j["QMP"].dump()});  // greeting
    }
    return true;
}

// The next reply (a greeting, "return" or "error"), recording events on the way.
std::string Machine::qmp_read_reply() {
    const auto deadline = Clock::now() + 60s;
    while (replies_.empty()) {
        if (Clock::now() > deadline) throw Error("QMP did not answer within 60 s");
        if (!pump_qmp(200)) throw Error("QEMU closed its QMP socket (it has exited)");
        signals::throw_if_interrupted();
    }
    QmpReply r = replies_.front();
    replies_.erase(replies_.begin());
    if (r.error) throw Error("QMP error: " + r.text);
    return r.text;
}

bool Machine::wait_event(const std::string& name, std::chrono::milliseconds timeout, size_t from) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        for (size_t i = from; i < events_.size(); ++i)
            if (events_[i] == name) return true;
        if (Clock::now() >= deadline) return false;
        if (!pump_qmp(100)) return false;
        signals::throw_if_interrupted();
    }
}

std::string Machine::qmp(const std::string& name, const std::string& args_json) {
    if (qmp_fd_ < 0) throw Error("QMP is not connected");
    nlohmann::json req = {{"execute", name}};
    if (!args_json.empty()) req["arguments"] = nlohmann::json::parse(args_json);
    std::string line = req.dump() + "\n";
    if (::send(qmp_fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
        throw SysError("send", spec_.qmp_socket.string(), errno);
    return qmp_read_reply();
}

std::string Machine::hmp(const std::string& command_line) {
    nlohmann::json args = {{"command-line", command_line}};
    auto out = nlohmann::json::parse(qmp("human-monitor-command", args.dump()));
    return out.is_string() ? out.get<std::string>() : out.dump();
}

void Machine::ctrl_alt_del() {
    qmp("send-key", R"({"keys":[{"type":"qcode","data":"ctrl"},{"type":"qcode","data":"alt"},)"
                    R"({"type":"qcode","data":"delete"}]})");
}

std::string Machine::console() const {
    std::error_code ec;
    if (!sfs::exists(spec_.serial_log, ec)) return "";
    return fs::read_file(spec_.serial_log);
}

std::optional<std::string> Machine::wait_for_line(const std::regex& pattern,
                                                  std::chrono::milliseconds timeout,
                                                  bool from_last) {
    const auto deadline = Clock::now() + timeout;
    size_t offset = from_last ? scan_offset_ : 0;
    for (;;) {
        // Check for exit before reading, so the final read sees everything QEMU wrote.
        bool alive = running();
        std::string text = console();
        size_t pos = offset;
        for (;;) {
            size_t nl = text.find('\n', pos);
            bool last_partial = nl == std::string::npos;
            if (last_partial && alive) break;  // wait for the rest of the line
            if (last_partial && pos >= text.size()) break;
            size_t end = last_partial ? text.size() : nl;
            std::string line = text.substr(pos, end - pos);
            line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
            pos = last_partial ? end : end + 1;
            if (std::regex_search(line, pattern)) {
                if (from_last) scan_offset_ = pos;
                return line;
            }
        }
        offset = pos;
        if (!alive || Clock::now() >= deadline) return std::nullopt;
        signals::throw_if_interrupted();
        std::this_thread::sleep_for(100ms);
    }
}

std::optional<int> Machine::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
        if (Clock::now() >= deadline) return std::nullopt;
        signals::throw_if_interrupted();
        std::this_thread::sleep_for(50ms);
    }
    return status_;
}

int Machine::stop() {
    if (running() && qmp_fd_ >= 0) {
        try {
            qmp("quit");
        } catch (const Error&) {
            // QEMU may close the socket before answering; the wait below decides.
        }
    }
    if (!wait_exit(10s)) {
        ::kill(pid_, SIGKILL);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {}
        status_ = decode_status(st);
    }
    if (qmp_fd_ >= 0) {
        ::close(qmp_fd_);
        qmp_fd_ = -1;
    }
    return *status_;
}

}  // namespace romimg::qemu
