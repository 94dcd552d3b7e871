// PID 1 from the read-only image, driven by /etc/romimg/appliance.conf: mounts each jail's
// tmpfs areas and /proc, starts the log drains, writes the romlock policy and seals it, forbids
// ptrace, starts each service (jail_enter.cc: chroot, user, only its capabilities, rlimits,
// no_new_privs), exec-locks it once ready, restarts it with backoff when it dies, runs the
// self-test once if this is `romimg verify`'s copy, and stops everything cleanly on
// Ctrl+Alt+Del (reboot) or the power button / SIGTERM (power off). No exceptions: bool + a log
// line.
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/watchdog.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "appliance_conf.h"
#include "cgroup.h"
#include "data_mount.h"
#include "jail_enter.h"
#include "ready_probe.h"
#include "util.h"
#include "verity.h"

namespace romimg::init {

using appliance::Conf;
using appliance::Service;
using appliance::kLogBurst;
using appliance::kLogDroppedLine;
using appliance::kLogRate;

namespace {

// Whether process `pid` maps `path` (absolute in init's root, as /proc/PID/maps names it).
bool maps_file(pid_t pid, const std::string& path) {
    std::string maps;
    return read_file("/proc/" + std::to_string(pid) + "/maps", maps) && appliance::maps_contain(maps, path);
}

const char* const kRomlock = "/sys/kernel/security/romlock";
const char* const kLogDir = "/var/log/romimg";
const char* const kSelftest = "/run/medium/romimg/selftest";  // see load_selftest()
const char* const kSelftestFaults = "/run/medium/romimg/selftest.faults";  // verify --faults

struct Sink {             // one log source drained into a bounded file
    std::string name;     // "apache-access.log", "apache-console", "romlock"
    const Service* owner = nullptr;  // the service it belongs to (null: romlock)
    std::deque<std::string> tail;    // its last lines, to explain its service's death
    double budget = -1, refilled = 0;  // bytes it may still log now (a token bucket), when
    unsigned long dropped = 0;         // lines dropped over its rate, not yet reported
    int fd = -1;
    std::string pending;  // a partial line
    std::string file;
    size_t size = 0;
};

// A writable dir of log files the service names itself (template jail.writable logs = true).
struct LogDir {
    std::string path;     // absolute in the appliance's root: one of its jail's tmpfs mounts
    size_t sink = 0;      // its lines go to sinks_[sink]
    std::vector<std::pair<ino_t, off_t>> read;  // how far each file was read
};

struct Running {
    const Service* svc = nullptr;  // null: the --debug-shell console shell
    pid_t pid = 0;
    double started = 0, restart_at = 0;
    bool ready = false;
    int restarts = 0;
    // Seconds this start may take to become ready: the template's timeout, doubled after each
    // start that missed it (up to kReadyGrowth times), so a machine slower than the one the
    // template was written for still brings the service up instead of restarting it forever.
    double ready_timeout = 0;
    int console = -1;  // read end of its stdout/stderr pipe
    unsigned index = 0;       // in appliance.conf: its audit login uid (set_service_auid)
    std::string seccomp_bpf;  // its filter, read at boot; "" = none (seccomp off)
    bool broken = false;      // its filter cannot be loaded, or its memory is below its need: never started
    appliance::ReadyCheck check;  // its ready check, parsed once (parse_conf checked it)
    appliance::ReadyProbe probe;  // the attempt under way
    bool given_up = false;        // died restart_limit times in a row: not restarted again
    int starts = 0;               // since boot (the health line's restarts: starts - 1)
    int pressure = -1;            // its cgroup's memory.pressure with a trigger (watch_pressure)
    bool stalled = false;         // init killed it for stalling on memory (said at its death)
    CgroupEvents events;          // its cgroup's counters at its start (what changed is news)
};

// Lines of each of a service's sources (its output, each log) kept to explain its death without
// a rebuild. Per source: a flood into one log cannot push the console's last words out.
constexpr size_t kTailLines = 20;

// How far a service's ready timeout grows on a slow machine (Running::ready_timeout).
constexpr int kReadyGrowth = 8;

// false: the line is over its source's rate (kLogRate, kLogBurst; counted in s.dropped).
bool within_rate(Sink& s, size_t bytes, double now) {
    if (s.budget < 0) s.budget = kLogBurst;
    s.budget = std::min(kLogBurst, s.budget + (now - s.refilled) * kLogRate);
    s.refilled = now;
    if (s.budget < bytes) {
        ++s.dropped;
        return false;
    }
    s.budget -= bytes;
    return true;
}

class Pid1 {
public:
    explicit Pid1(Conf c) : conf_(std::move(c)) {}
    [[noreturn]] void run();

private:
    void setup_logging();
    void mount_jails();
    void mount_data();
    void mount_content_layers(const Service& s);
    void write_policy();
    void start(Running& r);
    void check_ready(Running& r, double now);
    void reap(double now);
    void drain(Sink& s);
    void log_pending(Sink& s);
    void drain_log_dirs(double now);
    void drain_log_dir(LogDir& d);
    void log_line(Sink& s, const std::string& line, int severity);
    void drain_service(Running& r);
    void tell_last_lines(Running& r, const std::string& how);
    void emit(const std::string& source, const std::string& line, int severity);
    void add_fd(int fd);
    void start_selftest();
    void load_selftest();
    void read_boot_facts();
    void verity_refused(const std::string& kernel_line);
    void load_seccomp_filters();
    void seccomp_report(const std::string& audit_line);
    void setup_limits();
    void check_memory_needed(Running& r);
    void watch_pressure();
    void health(double now);
    void pressure_event(Running& r);
    void setup_watchdog();
    void pet_watchdog(double now);
    std::string died_why(Running& r);
    [[noreturn]] void shutdown(int how);

    Conf conf_;
    std::vector<Running> run_;
    std::vector<Sink> sinks_;
    std::vector<int> inputs_;
    int epoll_ = -1, signals_ = -1, kmsg_ = -1, syslog_ = -1;
    bool selftest_ = false;      // this is `romimg verify`'s copy of the image
    bool secure_boot_ = false;   // early boot's facts (verity.h kBootFacts)
    bool verity_ = true;         // false only for an image built --no-verity (benchmarking)
    int selftest_fd_ = -1;       // the self-test binary, read through verity into a sealed memfd
    std::vector<std::pair<std::string, std::string>> layers_;  // verity data device "7:N" → layer name
    pid_t selftest_pid_ = 0;     // running; -1 once finished
    bool cgroups_ = false;       // each service has its cgroup (setup_limits)
    std::vector<unsigned long long> memory_;  // each service's memory.max in bytes (0: no cgroups)
    int watchdog_ = -1;          // /dev/watchdog, petted by the main loop
    double health_at_ = 0;       // when the next health line is due
    std::vector<LogDir> log_dirs_;
    double log_dirs_at_ = 0;     // when they are next read
    double health_last_ = 0;     // when the last one was made
    long pgpgin_last_ = -1;      // /proc/vmstat pgpgin (KiB read from block devices) then
    unsigned long console_dropped_ = 0;  // --log-console lines the console had no room for (emit)
    double petted_ = 0;
    std::set<std::string> no_data_;  // services whose [data] dirs could not be given: never started
    std::vector<std::string> syscall_names_;  // by number, from the builder's table
    std::vector<std::pair<unsigned, long>> logged_;  // (service, syscall) already told in log mode
    struct sockaddr_storage syslog_addr_ {};
    socklen_t syslog_len_ = 0;
};

void Pid1::add_fd(int fd) {
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
}

void Pid1::emit(const std::string& source, const std::string& line, int severity) {
    // Warnings wait for the console; the logs it echoes with --log-console do not: under load they
    // come faster than a serial line takes them, and PID 1 must keep draining, restarting and
    // petting the watchdog. What is dropped is counted and said; the ring and --log-to have it.
    if (severity <= 4) {
        say("[" + source + "] " + line);
    } else if (conf_.log_console) {
        if (console_dropped_ && say_nowait(std::to_string(console_dropped_) +
                                           " log lines not echoed on the console: it was slower than the logs "
                                           "(they are in /var/log/romimg and went to --log-to)"))
            console_dropped_ = 0;
        if (console_dropped_ || !say_nowait("[" + source + "] " + line)) ++console_dropped_;
    }
    if (syslog_ >= 0) {
        // RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG (local0 facility).
        std::string msg = "<" + std::to_string(16 * 8 + severity) + ">1 - " + conf_.hostname + " " + source + " - - - " + line;
        sendto(syslog_, msg.data(), msg.size(), 0, (struct sockaddr*)&syslog_addr_, syslog_len_);
    }
}

void Pid1::setup_logging() {
    mkdir_p(kLogDir, 0750);
    if (!conf_.log_to.empty()) {
        // Numeric addresses only: the image has no resolver outside the jails (the builder checks).
        std::string hp = conf_.log_to.rfind("udp://", 0) == 0 ? conf_.log_to.substr(6) : "";
        size_t colon = hp.rfind(':');
        std::string host = colon == std::string::npos ? "" : hp.substr(0, colon);
        int port = colon == std::string::npos ? 0 : atoi(hp.c_str() + colon + 1);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        auto* v4 = (struct sockaddr_in*)&syslog_addr_;
        auto* v6 = (struct sockaddr_in6*)&syslog_addr_;
        if (port > 0 && port < 65536 && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
            v4->sin_family = AF_INET;
            v4->sin_port = htons(port);
            syslog_len_ = sizeof *v4;
        } else if (port > 0 && port < 65536 && inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons(port);
            syslog_len_ = sizeof *v6;
        }
        if (syslog_len_) syslog_ = socket(syslog_addr_.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        else say("log_to " + conf_.log_to + " is not udp://ADDRESS:PORT: not forwarding");
    }
    // Kernel messages: romlock's refusals are told like service logs.
    kmsg_ = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (kmsg_ >= 0) {
        lseek(kmsg_, 0, SEEK_END);
        Sink k;
        k.name = "romlock";
        k.fd = kmsg_;
        k.file = std::string(kLogDir) + "/romlock.log";
        sinks_.push_back(k);
    }
    // The power button arrives as KEY_POWER on an input device.
    if (DIR* d = opendir("/dev/input")) {
        while (dirent* e = readdir(d)) {
            if (strncmp(e->d_name, "event", 5) != 0) continue;
            int fd = open(("/dev/input/" + std::string(e->d_name)).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) inputs_.push_back(fd);
        }
        closedir(d);
    }
}

// The services' [data] dirs (docs/data-disk.md), before the seal: from the data disk when there
// is one this appliance may use, else a seeded tmpfs where the template allows it; a service
// that gets neither is not started, and the console says why and how to give it a disk.
void Pid1::mount_data() {
    bool any = false;
    for (const auto& s : conf_.services) any = any || !s.data.empty();
    if (!any) return;
    const DataDisk disk = open_data_disk(conf_.hostname, 10);
    if (!disk.mounted) say(disk.why_not);
    for (const auto& s : conf_.services) {
        for (const auto& path : s.data) {
            const std::string rel = path.substr(s.root.size());
            std::string what, error;
            bool ok = false;
            if (disk.mounted) ok = bind_data_dir(s, path, what, error);
            else if (s.data_missing == "tmpfs") ok = tmpfs_data_dir(s, path, what, error);
            else error = disk.why_not + "; make one (`romimg data-disk FILE --size SIZE`, attached with `romimg boot ISO --data FILE`; "
                         "on a machine `mkfs.ext4 -L " + std::string(appliance::kDataLabel) + " DEVICE`) and reboot";
            if (ok) {
                say("data for " + s.name + ": " + rel + " " + what);
                continue;
            }
            no_data_.insert(s.name);
            say("NOT starting " + s.name + ": its data dir " + rel + " needs the data disk: " + error);
            break;
        }
    }
}

void Pid1::mount_jails() {
    // DNS: the kernel's IP autoconfiguration (DHCP, or ip=...:DNS) writes /proc/net/pnp in
    // resolv.conf format. A read-only copy is bound over each jail's /etc/resolv.conf (a copy of
    // the build host's) before the seal; afterwards romlock refuses to undo that mount.
    std::string pnp;
    bool have_dns = read_file("/proc/net/pnp", pnp) && pnp.find("nameserver") != std::string::npos;
    if (have_dns) {
        mkdir_p("/run/romimg");
        int fd = open("/run/romimg/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, pnp.data(), pnp.size()) != (ssize_t)pnp.size()) have_dns = false;
        if (fd >= 0) close(fd);
    }
    for (const auto& s : conf_.services) {
        std::string resolv = s.root + "/etc/resolv.conf";
        struct stat st;
        if (have_dns && lstat(resolv.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
            say(s.name + ": /etc/resolv.conf is not a regular file in the jail: DNS left as built");
        if (have_dns && lstat(resolv.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            if (do_mount("/run/romimg/resolv.conf", resolv, "", MS_BIND, "") &&
                do_mount("", resolv, "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, ""))
                say("DNS for " + s.name + " from the kernel's IP configuration");
        }
        mount_content_layers(s);
        std::string failed;
        if (!bind_devices(s, s.root, failed))
            fatal("cannot give " + s.name + " its devices: " + failed + ": " + strerror(errno));
        std::string devs;
        for (const auto& d : s.devices) devs += (devs.empty() ? "" : " ") + d;
        if (!devs.empty()) say("devices for " + s.name + ": " + devs + " (bound from /dev, read-only)");
        for (const auto& m : s.mounts) {
            unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
            std::string opts = m.options;
            if (m.type == "proc") {
                // A jail sees only its own processes (romlock refuses it every other one). gid=:
                // the group exempt from hidepid defaults to 0, which would let root in a jail see
                // them all; this one no process has.
                flags |= MS_RDONLY;
                opts = "hidepid=invisible,gid=4294967294";
            }
            if (!do_mount(m.type, m.target, m.type, flags, opts))
                fatal("cannot mount " + m.type + " on " + m.target + " for " + s.name);
        }
        for (const auto& log : s.logs) {
            // O_RDWR: the FIFO never reports end-of-file when the service closes and reopens it.
            int fd = open(log.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0) {
                say("cannot open log FIFO " + log + ": " + strerror(errno));
                continue;
            }
            Sink k;
            k.name = s.name + "-" + log.substr(log.rfind('/') + 1);
            k.owner = &s;
            k.fd = fd;
            k.file = std::string(kLogDir) + "/" + k.name;
            sinks_.push_back(k);
        }
        for (const auto& dir : s.log_dirs) {
            Sink k;
            k.name = s.name + "-" + dir.substr(dir.rfind('/') + 1);
            k.owner = &s;
            k.file = std::string(kLogDir) + "/" + k.name;
            sinks_.push_back(k);
            log_dirs_.push_back({dir, sinks_.size() - 1, {}});
        }
    }
}

// Content layers (--content): each squashfs on the medium, mapped through dm-verity with the
// parameters beside it (and, under Secure Boot, the signature of its root hash, which the kernel
// checks against the firmware's keys), over its directory in the jail (an empty mount point in
// the image). A service never runs without its content, nor with content that is not verified:
// any failure is fatal.
void Pid1::mount_content_layers(const Service& s) {
    int n = 0;
    for (const auto& l : s.layers) {
        const std::string name = "romimg-" + s.name + "-" + std::to_string(++n);
        if (!verity_) {  // built --no-verity (early boot said so loudly)
            int keep = -1;
            std::string dev = attach_loop(l.image, keep);
            if (dev.empty()) fatal("cannot attach the content layer " + l.image + " for " + s.name + ": " + strerror(errno));
            bool ok = do_mount(dev, l.target, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
            close(keep);
            if (!ok) fatal("cannot mount the content layer " + l.image + " on " + l.target + " for " + s.name);
            say("content for " + s.name + ": " + l.image + " on " + l.target + " (read-only, UNCHECKED: --no-verity)");
            continue;
        }
        verity::Params p;
        std::string error, signature;
        if (!read_params(l.image + verity::kParamsSuffix, p, error)) fatal("content layer " + l.image + " for " + s.name + ": " + error);
        const std::string sig_file = l.image + verity::kSignatureSuffix;
        if (secure_boot_ && !read_file(sig_file, signature))
            fatal("content layer " + l.image + " for " + s.name + " has no signature (" + sig_file + ": " + strerror(errno) +
                  "): under Secure Boot every content layer must be signed (romimg build --sign-key)");
        VerityDevice dev;
        if (!verity_map(name, l.image, p, secure_boot_ ? signature : "", dev, error))
            fatal("content layer " + l.image + " for " + s.name + ": " + error +
                  (secure_boot_ && errno != 0 ? " (under Secure Boot: its signature must be by a key in the firmware's db)" : ""));
        layers_.emplace_back(dev.data_dev, l.image);
        bool ok = do_mount(dev.path, l.target, "squashfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
        if (!ok && errno == EIO)
            fatal("verity refused the content layer " + l.image + " for " + s.name +
                  ": it or its hash tree does not match its root hash; the medium was changed or is damaged");
        if (!ok) fatal("cannot mount the content layer " + l.image + " on " + l.target + " for " + s.name);
        say("content for " + s.name + ": " + l.image + " on " + l.target + " (read-only, verity" +
            (secure_boot_ ? ", signature checked" : "") + ")");
    }
}

// Early boot's facts (Secure Boot, the root's verity data device, the trusted self-test).
void Pid1::read_boot_facts() {
    std::string text;
    if (!read_file(verity::kBootFacts, text)) fatal(std::string("cannot read early boot's facts ") + verity::kBootFacts);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        size_t sp = line.find(' ');
        if (sp == std::string::npos) continue;
        std::string key = line.substr(0, sp), value = line.substr(sp + 1);
        if (key == "secure_boot") secure_boot_ = value == "1";
        else if (key == "verity") verity_ = value != "0";
        else if (key == "root_dev") layers_.emplace_back(value, "/run/medium/live/root.sqfs");
    }
}

// The kernel found a block that does not match its layer's hash tree: the reader got EIO and no
// wrong byte, but the medium is not what was built. Say which layer and block, stop every
// service and halt (no reboot loop, no unverified fallback).
void Pid1::verity_refused(const std::string& kernel_line) {
    std::string data_dev, what;
    if (!verity::parse_corruption(kernel_line, data_dev, what)) return;
    std::string layer = "an unknown layer (device " + data_dev + ")";
    for (const auto& [dev, image] : layers_)
        if (dev == data_dev) layer = image;
    emit("romimg-init", "VERITY: " + what + " of " + layer + " does not match its hash tree: the medium was changed or is damaged", 2);
    kill(-1, SIGKILL);
    fatal("verity refused " + what + " of " + layer + "; every service was stopped");
}

void Pid1::write_policy() {
    struct stat st;
    if (stat(kRomlock, &st) != 0 && mount("securityfs", "/sys/kernel/security", "securityfs",
                                          MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0 && errno != EBUSY)
        say(std::string("cannot mount securityfs: ") + strerror(errno));
    if (stat(kRomlock, &st) != 0)
        fatal("this kernel has no romlock LSM (no /sys/kernel/security/romlock): refusing to run services unprotected");
    std::vector<std::string> policy;
    std::string error;
    if (!appliance::romlock_policy(conf_, policy, error)) fatal(error);
    for (const auto& line : policy)
        if (!write_file(std::string(kRomlock) + "/policy", line + "\n"))
            fatal("romlock refused policy line '" + line + "': " + strerror(errno));
    say("romlock policy written and sealed");
    // Debian's kernel leaves Yama off (ptrace_scope 0): a service could then ptrace every other
    // process of its user. 3 = no process may attach to another, and it cannot be lowered again
    // until reboot (the in-guest self-test caught this).
    if (!write_file("/proc/sys/kernel/yama/ptrace_scope", "3\n"))
        fatal(std::string("cannot forbid ptrace (kernel.yama.ptrace_scope=3): ") + strerror(errno));
    say("ptrace forbidden (yama.ptrace_scope=3)");
    if (!write_file("/proc/sys/kernel/dmesg_restrict", "1\n"))
        fatal(std::string("cannot restrict the kernel log (kernel.dmesg_restrict=1): ") + strerror(errno));
}

// In a child of init: signals unblocked (init blocks them for its signalfd), a session and
// process group of its own (so it can be stopped as a group).
void child_defaults() {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setsid();
    // Not PID 1's -1000, which a fork inherits: a service the OOM killer may not choose leaves it
    // nothing to kill, and the kernel panics ("System is deadlocked on memory": seen at 32 MB).
    (void)write_file("/proc/self/oom_score_adj", "0");
}

// --debug-shell: a root shell on the console, outside any jail and never exec-locked.
void start_debug_shell(Running& r) {
    pid_t pid = fork();
    if (pid == 0) {
        child_defaults();
        int fd = open("/dev/console", O_RDWR);
        if (fd < 0) _exit(127);
        ioctl(fd, TIOCSCTTY, 1);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        char* argv[] = {const_cast<char*>("-sh"), nullptr};
        char* envp[] = {const_cast<char*>("PATH=/bin"), const_cast<char*>("HOME=/"), const_cast<char*>("TERM=vt100"), nullptr};
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    r.pid = pid > 0 ? pid : 0;
    r.started = monotonic_seconds();
    r.ready = true;
    if (pid > 0) say("DEBUG SHELL started on the console (pid " + std::to_string(pid) + ")");
}

// romlock's start lock: from the service's first exec (its own program) on, its process tree
// may exec only what the trace saw it start, until check_ready locks it for good. No window in
// which a service that is hijacked before it is ready could start a program.
bool arm_start_lock(const Service& s, pid_t pid) {
    std::string line = "start_lock " + std::to_string(pid);
    for (const auto& e : s.start_execs) line += " " + s.root + e;
    if (write_file(std::string(kRomlock) + "/jail", line + "\n")) return true;
    say("cannot start-lock " + s.name + " (" + line + "): " + strerror(errno) + ": not starting it");
    return false;
}

// Nothing of a dead service outlives it into its next start: romlock kills every process that
// is in its jail (daemons that left its process group too).
void kill_jail(const Service& s) {
    if (!write_file(std::string(kRomlock) + "/jail", "kill " + s.root + "\n"))
        say("cannot kill what is left in " + s.root + ": " + strerror(errno));
}

std::string mib(unsigned long long bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// Each service in a cgroup of its own (cgroup.h), and PID 1 out of the OOM killer's reach (the
// kernel never picks init; said here so that no later change can make it a candidate).
void Pid1::setup_limits() {
    (void)write_file("/proc/self/oom_score_adj", "-1000");
    // A hung machine's way out: an NMI nobody claims (a server's NMI button, its BMC's, QEMU's
    // inject-nmi) panics the kernel, and panic=10 (the command line) reboots it. A sysctl, not
    // the unknown_nmi_panic parameter: isolinux's APPEND line has no room left.
    if (!write_file("/proc/sys/kernel/unknown_nmi_panic", "1"))
        say(std::string("cannot make an NMI panic the kernel: ") + strerror(errno));
    // No watermark boost: after a fragmentation event the kernel holds back another 4 MiB (a
    // pageblock) above its min watermark, for huge pages this kernel does not have; on a 32 MB
    // machine that was a fifth of the free memory, and apache was OOM-killed with it held back.
    if (!write_file("/proc/sys/vm/watermark_boost_factor", "0"))
        say(std::string("cannot turn off the watermark boost: ") + strerror(errno));
    const unsigned long long ram = mem_total_bytes();
    cgroups_ = setup_cgroups();
    for (const auto& s : conf_.services) {
        unsigned long long memory = 0;
        if (cgroups_ && !make_service_cgroup(s, ram, memory)) cgroups_ = false;
        memory_.push_back(memory);
        long files = 0;
        for (const auto& [k, v] : s.rlimits)
            if (k == "nofile") files = v;
        if (cgroups_)
            say("limits of " + s.name + ": memory " + mib(memory) +
                (s.memory_max.back() == '%' ? " (" + s.memory_max + " of " + mib(ram) + ")" : "") + ", " +
                std::to_string(s.tasks_max) + " tasks, " + (files ? std::to_string(files) : std::string("default")) +
                " open files");
    }
    if (!cgroups_ && !conf_.services.empty()) say("WARNING: services run without memory and task limits");
    if (!cgroups_) memory_.assign(conf_.services.size(), 0);
}

// A service whose memory limit on this machine is below what its template says it needs is not
// started: said once, instead of starts that run out of memory or never become ready.
void Pid1::check_memory_needed(Running& r) {
    const Service& s = *r.svc;
    unsigned long long needed = 0;
    const unsigned long long memory = memory_[r.index];
    if (s.memory_needed.empty() || !memory || !appliance::memory_limit_bytes(s.memory_needed, 0, needed) ||
        memory >= needed)
        return;
    r.broken = true;
    say("NOT starting " + s.name + ": it needs " + mib(needed) + " (limits.memory_needed) and gets " + mib(memory) +
        " on this machine (limits.memory " + s.memory_max + " of " + mib(mem_total_bytes()) +
        " of RAM); give the machine more RAM, or run fewer services in this image");
}

// Why a service died, beyond the signal: its cgroup's OOM kills and refused forks since its start.
std::string Pid1::died_why(Running& r) {
    if (!cgroups_) return "";
    const CgroupEvents e = service_events(r.svc->name);
    std::string why;
    if (r.stalled) why += " (by init: it was stalled on memory, see above)";
    r.stalled = false;
    if (e.oom_kills > r.events.oom_kills && r.events.oom_kills >= 0) {
        why += " (out of memory: it used all of its " + mib(cgroup_number(r.svc->name, "memory.max")) + ", and the kernel killed " +
               std::to_string(e.oom_kills - r.events.oom_kills) + " of its processes)";
    }
    if (e.forks_refused > r.events.forks_refused && r.events.forks_refused >= 0)
        why += " (" + std::to_string(e.forks_refused - r.events.forks_refused) + " fork(s) refused since its start, at its limit of " +
               std::to_string(r.svc->tasks_max) + " tasks)";
    return why;
}

// Thrashing: a service at its memory limit whose file pages (its program, its libraries, read
// back from the medium) are evicted and read again may crawl for minutes before the kernel's
// OOM killer acts, if ever. The kernel tells init when all of a service's running tasks were
// stalled on memory for kStallMs of a kStallWindowMs window (pressure stall information); init
// then kills the service (all of it: cgroup.kill) and restarts it, and says why.
constexpr int kStallMs = 2000, kStallWindowMs = 4000;

void Pid1::watch_pressure() {
    if (!cgroups_) return;
    for (auto& r : run_) {
        if (!r.svc) continue;
        const std::string file = cgroup_file(r.svc->name, "memory.pressure");
        int fd = open(file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        const std::string trigger = "full " + std::to_string(kStallMs * 1000) + " " + std::to_string(kStallWindowMs * 1000);
        if (fd < 0 || write(fd, trigger.c_str(), trigger.size() + 1) < 0) {
            say("cannot watch " + r.svc->name + "'s memory pressure (" + file + "): " + strerror(errno) +
                ": a service that thrashes is left to the kernel's OOM killer");
            if (fd >= 0) close(fd);
            continue;
        }
        struct epoll_event ev {};
        ev.events = EPOLLPRI;
        ev.data.fd = fd;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
        r.pressure = fd;
    }
}

void Pid1::pressure_event(Running& r) {
    if (r.pid <= 0) return;
    const unsigned long long used = cgroup_number(r.svc->name, "memory.current"),
                             limit = cgroup_number(r.svc->name, "memory.max");
    // At its own limit: its own doing. Below it, the whole machine is short: the kernel's OOM
    // killer chooses (init does not guess which service to blame).
    if (limit == 0 || used < limit / 10 * 9) return;
    const std::string line = r.svc->name + " is thrashing: its tasks were all stalled on memory for " +
                             std::to_string(kStallMs / 1000) + " s of " + std::to_string(kStallWindowMs / 1000) +
                             " at its limit (" + mib(used) + " of " + mib(limit) + "): killing it";
    say(line);
    count_stall_kill(r.svc->name);  // for the self-test's memory-hog check
    r.stalled = true;
    if (!write_file(cgroup_file(r.svc->name, "cgroup.kill"), "1")) kill(-r.pid, SIGKILL);
}

// Every kHealthSeconds a line for the remote log (--log-to; the console only with
// --log-console): the machine's available memory, each service's memory and tasks (its cgroup)
// and restarts, and how full the appliance's own tmpfs areas are. What a load test or an
// operator watches for growth.
constexpr double kHealthSeconds = 10;

void Pid1::health(double now) {
    if (now < health_at_) return;
    health_at_ = now + kHealthSeconds;
    if (syslog_ < 0 && !conf_.log_console) return;
    std::string meminfo, line = "health:";
    if (read_file("/proc/meminfo", meminfo))
        line += " memory available " + mib((unsigned long long)appliance::flat_keyed_value(meminfo, "MemAvailable:") * 1024) +
                " of " + mib((unsigned long long)appliance::flat_keyed_value(meminfo, "MemTotal:") * 1024) + ";";
    // Short of memory, the kernel evicts file pages (programs, libraries, jars) that are then read
    // back from the medium, through squashfs and xz: the time tasks waited on memory (PSI) and
    // the rate of those reads show a machine thrashing before anything is killed.
    std::string psi, vmstat;
    if (read_file("/proc/pressure/memory", psi)) {
        char buf[96];
        snprintf(buf, sizeof buf, " memory pressure %.1f%% some, %.1f%% full;", appliance::pressure_avg10(psi, "some"),
                 appliance::pressure_avg10(psi, "full"));
        line += buf;
    }
    if (read_file("/proc/vmstat", vmstat)) {
        const long pgpgin = appliance::flat_keyed_value(vmstat, "pgpgin");
        if (pgpgin_last_ >= 0 && pgpgin >= pgpgin_last_ && now > health_last_)
            line += " read from the medium " + std::to_string((long)((pgpgin - pgpgin_last_) / (now - health_last_))) +
                    " KiB/s;";
        pgpgin_last_ = pgpgin;
    }
    health_last_ = now;
    for (const auto& r : run_) {
        if (!r.svc) continue;
        line += " " + r.svc->name + (r.pid > 0 ? (r.ready ? "" : " (starting)") : " (down)");
        if (cgroups_) {
            // Its anonymous memory apart: the rest is page cache the kernel can take back.
            std::string stat;
            const long anon = read_file(cgroup_file(r.svc->name, "memory.stat"), stat) ? appliance::flat_keyed_value(stat, "anon") : -1;
            line += " " + mib(cgroup_number(r.svc->name, "memory.current")) +
                    (anon >= 0 ? " (" + mib((unsigned long long)anon) + " anon)" : "") + " " +
                    std::to_string(cgroup_number(r.svc->name, "pids.current")) + " tasks";
        }
        line += " " + std::to_string(std::max(0, r.starts - 1)) + " restarts";
        // What its writable dirs hold (their tmpfs), which a log it keeps in the jail would fill.
        unsigned long long used = 0;
        for (const auto& m : r.svc->mounts) {
            struct statvfs v;
            if (m.type == "tmpfs" && statvfs(m.target.c_str(), &v) == 0) used += (v.f_blocks - v.f_bfree) * v.f_frsize;
        }
        line += ", tmpfs " + std::to_string(used >> 10) + " KiB;";
    }
    // TCP's view of the network: segments sent again (lost ones, or a peer too slow to take
    // them) and connections dropped because a service's accept queue was full.
    std::string snmp, netstat;
    if (read_file("/proc/net/snmp", snmp) && read_file("/proc/net/netstat", netstat))
        line += " tcp " + std::to_string(appliance::net_counter(snmp, "Tcp:", "RetransSegs")) + " retransmitted, " +
                std::to_string(appliance::net_counter(netstat, "TcpExt:", "ListenOverflows")) + " accept-queue overflows;";
    for (const char* dir : {"/var", "/tmp", "/run"}) {
        struct statvfs v;
        if (statvfs(dir, &v) == 0)
            line += std::string(" ") + dir + " " + std::to_string((v.f_blocks - v.f_bfree) * v.f_frsize >> 10) + " KiB used;";
    }
    line.pop_back();
    emit("romimg-init", line, 6);
}

// A hardware watchdog (QEMU's i6300esb; a real machine's when its driver is built): if PID 1 or
// the kernel stops, nothing pets it and the machine resets after kWatchdogSeconds.
constexpr int kWatchdogSeconds = 30;

void Pid1::setup_watchdog() {
    watchdog_ = open("/dev/watchdog", O_WRONLY | O_CLOEXEC);
    if (watchdog_ < 0) return;  // no watchdog hardware: nothing to say on every boot
    int timeout = kWatchdogSeconds;
    struct watchdog_info info {};
    ioctl(watchdog_, WDIOC_GETSUPPORT, &info);
    ioctl(watchdog_, WDIOC_SETTIMEOUT, &timeout);
    say(std::string("watchdog: ") + (info.identity[0] ? (const char*)info.identity : "/dev/watchdog") +
        ", reset after " + std::to_string(timeout) + " s without PID 1");
    pet_watchdog(monotonic_seconds());
}

void Pid1::pet_watchdog(double now) {
    if (watchdog_ < 0 || now - petted_ < 5) return;
    ioctl(watchdog_, WDIOC_KEEPALIVE, 0);
    petted_ = now;
}

void Pid1::start(Running& r) {
    if (!r.svc) return start_debug_shell(r);
    if (r.broken) return;
    const Service& s = *r.svc;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        say("cannot start " + s.name + ": pipe: " + strerror(errno));
        r.restart_at = monotonic_seconds() + 5;
        return;
    }
    // The start lock (romlock) is armed by init between the child's fork and its exec: the
    // child waits at this gate.
    int gate[2] = {-1, -1};
    if (s.exec_lock && pipe2(gate, O_CLOEXEC) < 0) {
        say("cannot start " + s.name + ": pipe: " + strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        r.restart_at = monotonic_seconds() + 5;
        return;
    }
    std::vector<std::string> env = s.env;
    // Without cgroups there is no limit to size it from: the JVM's own defaults then.
    if (const std::string jvm = memory_[r.index] ? appliance::java_memory_options(s.java_heap, memory_[r.index]) : "";
        !jvm.empty()) {
        env.push_back("JAVA_TOOL_OPTIONS=" + jvm);
        // glibc keeps up to 8 malloc arenas per CPU, one per thread that wants one: a small JVM's
        // ~30 threads then hold megabytes freed but not returned. Two, unless the template says.
        const bool set = std::any_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("MALLOC_ARENA_MAX=", 0) == 0; });
        if (memory_[r.index] < appliance::kSmallJvm && !set) env.push_back("MALLOC_ARENA_MAX=2");
    }
    pid_t pid = fork();
    if (pid < 0) {
        say("cannot start " + s.name + ": fork: " + strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        if (gate[0] >= 0) close(gate[0]), close(gate[1]);
        r.restart_at = monotonic_seconds() + 5;
        return;
    }
    if (pid == 0) {
        child_defaults();
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        auto die = [&](const char* what) {
            dprintf(2, "romimg-init: cannot start %s: %s: %s\n", s.name.c_str(), what, strerror(errno));
            _exit(127);
        };
        const char* step = "";
        // Before the jail: it needs /proc and CAP_AUDIT_CONTROL. Without audit in the kernel the
        // reports just cannot name the service (init said so at boot).
        (void)set_service_auid(r.index);
        if (cgroups_ && !join_service_cgroup(s.name)) die("cgroup");
        if (!enter_jail(s, step)) die(step);
        char go = 0;
        if (gate[0] >= 0 && (close(gate[1]), read(gate[0], &go, 1) != 1 || go != 'g')) {
            errno = EPERM;
            die("start lock");
        }
        if (!load_seccomp(r.seccomp_bpf, step)) die(step);
        std::vector<char*> argv, envp;
        for (const auto& a : s.argv) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
        execve(argv[0], argv.data(), envp.data());
        die("execve");
    }
    close(pipefd[1]);
    if (gate[0] >= 0) {
        close(gate[0]);
        if (arm_start_lock(s, pid)) (void)!write(gate[1], "g", 1);  // else the child dies at the gate
        close(gate[1]);
    }
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    if (r.console >= 0) close(r.console);
    r.console = pipefd[0];
    add_fd(r.console);
    bool known = false;
    for (const auto& k : sinks_) known |= k.name == s.name + "-console";
    if (!known) {
        Sink k;
        k.name = s.name + "-console";
        k.owner = &s;
        k.fd = -1;  // fds change on restart: found through run_ below
        k.file = std::string(kLogDir) + "/" + k.name;
        sinks_.push_back(k);
    }
    r.pid = pid;
    ++r.starts;
    r.started = monotonic_seconds();
    r.ready = false;
    if (cgroups_) r.events = service_events(s.name);
    r.probe.reset();
    r.restart_at = 0;
    say("started " + s.name + " (pid " + std::to_string(pid) + ")");
}

void Pid1::check_ready(Running& r, double now) {
    const Service& s = *r.svc;
    // No ready check: give it two seconds to exec and settle.
    const bool up = r.check.kind == appliance::ReadyCheck::none ? now - r.started >= 2 : r.probe.step(r.check, now);
    if (r.ready_timeout <= 0) r.ready_timeout = s.ready_timeout;
    if (!up) {
        if (now - r.started > r.ready_timeout) {
            const double next = std::min(r.ready_timeout * 2, (double)s.ready_timeout * kReadyGrowth);
            const int last = r.probe.last_status();
            say(s.name + " was not ready within " + std::to_string((int)r.ready_timeout) + " s" +
                (last ? " (its last answer: HTTP " + std::to_string(last) + ")" : "") + ": restarting it" +
                (next > r.ready_timeout ? ", with " + std::to_string((int)next) + " s for the next start" : ""));
            r.ready_timeout = next;
            r.probe.reset();
            kill(-r.pid, SIGKILL);
        }
        return;
    }
    r.ready = true;
    char took[32];
    snprintf(took, sizeof took, "%.1f", now - r.started);
    std::string how = took;
    how += " s";
    if (r.check.kind == appliance::ReadyCheck::http)
        how += ", HTTP " + std::to_string(r.probe.last_status()) + " for GET " + r.check.path;
    if (r.check.kind == appliance::ReadyCheck::postgres) how += ", taking sessions";
    for (const auto& m : s.expect_maps) {
        if (maps_file(r.pid, m)) {
            how += "; maps " + m.substr(m.rfind('/') + 1);
        } else {
            say("WARNING: " + s.name + " does not map " + m + ": it runs without it (a JVM that rejects its class-data "
                "archive starts slower; `romimg verify` and the build's run in the jail check it)");
        }
    }
    if (s.exec_lock) {
        if (!write_file(std::string(kRomlock) + "/exec_lock", std::to_string(r.pid) + "\n")) {
            say("cannot exec-lock " + s.name + ": " + strerror(errno) + ": stopping it");
            kill(-r.pid, SIGKILL);
            return;
        }
        say(s.name + " is ready (" + how + ") and exec-locked");
    } else {
        say(s.name + " is ready (" + how + "); exec lock is off for it");
    }
}

// Each service's filter is read once, at boot, from the read-only root. One that cannot be read
// keeps its service from starting (never without its filter); the others start.
void Pid1::load_seccomp_filters() {
    bool any = false;
    for (auto& r : run_) {
        if (!r.svc || r.svc->seccomp == "off") continue;
        any = true;
        if (!read_seccomp_filter(r.svc->seccomp_filter, r.seccomp_bpf)) {
            r.broken = true;
            emit(r.svc->name, "cannot start " + r.svc->name + ": its seccomp filter " + r.svc->seccomp_filter +
                                  " cannot be loaded: " + strerror(errno) + " (rebuild the image)",
                 2);
            continue;
        }
        say("seccomp for " + r.svc->name + ": " + r.svc->seccomp + ", " +
            std::to_string(r.seccomp_bpf.size() / 8) + " BPF instructions");
    }
    if (!any) return;
    std::string table;
    if (read_file(appliance::kSeccompSyscalls, table))
        for (size_t pos = 0; pos < table.size();) {
            size_t nl = table.find('\n', pos);
            std::string line = table.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
            pos = nl == std::string::npos ? table.size() : nl + 1;
            size_t sp = line.find(' ');
            long nr = sp == std::string::npos ? -1 : atol(line.c_str());
            if (nr < 0 || nr >= 4096) continue;
            if ((size_t)nr >= syscall_names_.size()) syscall_names_.resize(nr + 1);
            syscall_names_[nr] = line.substr(sp + 1);
        }
    if (access("/proc/self/loginuid", F_OK) != 0)
        say("this kernel has no audit login uids: seccomp reports will not name the service");
}

// The kernel's seccomp report (audit type 1326; printed to the kernel log when no audit daemon
// listens): "... auid=4200000000 uid=33 ... pid=412 comm="apache2" ... syscall=101 ... code=0x80000000".
void Pid1::seccomp_report(const std::string& a) {
    auto field = [&](const char* key) {
        std::string k = std::string(" ") + key + "=";
        size_t p = a.find(k);
        if (p == std::string::npos) return std::string();
        p += k.size();
        size_t e = a[p] == '"' ? a.find('"', p + 1) + 1 : a.find(' ', p);
        return a.substr(p, e == std::string::npos ? std::string::npos : e - p);
    };
    unsigned long auid = strtoul(field("auid").c_str(), nullptr, 10);
    long nr = atol(field("syscall").c_str());
    std::string code = field("code"), pid = field("pid"), comm = field("comm");
    const Service* owner = nullptr;
    if (auid >= appliance::kServiceAuidBase && auid - appliance::kServiceAuidBase < conf_.services.size())
        owner = &conf_.services[auid - appliance::kServiceAuidBase];
    std::string name = nr >= 0 && (size_t)nr < syscall_names_.size() && !syscall_names_[nr].empty()
                           ? syscall_names_[nr]
                           : "syscall " + std::to_string(nr);
    const std::string who = owner ? owner->name : "seccomp";
    if (code == "0x80000000" || code == "0x0") {  // SECCOMP_RET_KILL_PROCESS / _THREAD
        emit(who, "seccomp killed pid " + pid + " " + comm + (owner ? " of " + owner->name : "") + ": it made " + name +
                      ", which its filter never allows",
             3);
        return;
    }
    // Log mode: once per service and syscall (a loop would flood the log).
    const unsigned key = owner ? (unsigned)(owner - conf_.services.data()) : ~0u;
    for (const auto& [svc, n] : logged_)
        if (svc == key && n == nr) return;
    if (logged_.size() < 4096) logged_.emplace_back(key, nr);
    emit(who, "seccomp (log mode): pid " + pid + " " + comm + " made " + name +
                  ", which the enforce filter would refuse (allow it in the template's [seccomp] if it is needed)",
         4);
}

// `romimg verify` adds /romimg/selftest (and its hash tree) to its copy of the ISO (a release
// image has none). Before the policy is sealed, init reads it through a verity device made with
// the params this image's initramfs carries into a sealed memfd, so only the self-test this
// image was built with runs (a file someone put on the medium does not). It runs once, as root
// outside the jails, when every service is ready and exec-locked; its results go straight to
// the console.
void Pid1::load_selftest() {
    struct stat st;
    if (stat(kSelftest, &st) != 0) return;
    verity::Params p;
    std::string error;
    VerityDevice dev;
    if (!read_params(verity::kSelftestParams, p, error) || !verity_map("romimg-selftest", kSelftest, p, "", dev, error)) {
        say("the medium has a self-test, but not one this image can verify: not running it (" + error + ")");
        return;
    }
    int in = open(dev.path.c_str(), O_RDONLY | O_CLOEXEC);
    int out = memfd_create("romimg-selftest", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    bool ok = in >= 0 && out >= 0;
    char buf[65536];
    for (ssize_t n; ok && (n = read(in, buf, sizeof buf)) != 0;)
        ok = n > 0 && write(out, buf, n) == n;
    if (in >= 0) close(in);
    verity_unmap("romimg-selftest");
    if (!ok || fcntl(out, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        say(std::string("the self-test on the medium does not match its hash tree, not running it: ") + strerror(errno));
        if (out >= 0) close(out);
        return;
    }
    selftest_fd_ = out;
    selftest_ = true;
}

void Pid1::start_selftest() {
    std::vector<std::string> args = {"romimg-selftest"};
    for (const auto& r : run_)
        if (r.svc) args.push_back(r.svc->name + "=" + std::to_string(r.pid));
    // `romimg verify --faults` put this beside the self-test: it only adds checks, and only on a
    // copy whose self-test matched its hash tree.
    if (access(kSelftestFaults, F_OK) == 0) args.push_back("--faults");
    pid_t pid = fork();
    if (pid == 0) {
        child_defaults();
        int fd = open("/dev/console", O_RDWR | O_NOCTTY);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0) _exit(127);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        char* envp[] = {nullptr};
        fexecve(selftest_fd_, argv.data(), envp);
        dprintf(2, "romimg-init: cannot run the self-test: %s\n", strerror(errno));
        _exit(127);
    }
    selftest_pid_ = pid > 0 ? pid : -1;
    say(pid > 0 ? "all services ready: starting the self-test (pid " + std::to_string(pid) + ")"
                : std::string("cannot start the self-test: ") + strerror(errno));
}

void Pid1::reap(double now) {
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) return;
        if (pid == selftest_pid_) {
            say("self-test finished (" + std::string(WIFEXITED(st) ? "exit status " + std::to_string(WEXITSTATUS(st))
                                                                : std::string("killed by ") + strsignal(WTERMSIG(st))) + ")");
            selftest_pid_ = -1;
        }
        for (auto& r : run_) {
            if (r.pid != pid) continue;
            std::string how = WIFEXITED(st) ? "exited with status " + std::to_string(WEXITSTATUS(st))
                                            : std::string("was killed by signal ") + strsignal(WTERMSIG(st));
            r.pid = 0;
            if (!r.svc) {  // the debug shell: a new one at once
                r.restart_at = now;
                continue;
            }
            // At once, then after 1, 2, 4 ... 60 s; the count starts again after a run that
            // lasted a minute. After restart_limit quick deaths in a row init gives up on it.
            if (now - r.started > 60) r.restarts = 0;
            how += died_why(r);
            tell_last_lines(r, how);
            kill_jail(*r.svc);
            if (r.restarts >= r.svc->restart_limit) {
                r.given_up = true;
                r.restart_at = 0;
                say(r.svc->name + " " + how + "; it died " + std::to_string(r.restarts + 1) +
                    " times in a row, each within a minute of its start: NOT restarting it again (the other "
                    "services carry on; its last lines are above)");
                continue;
            }
            int delay = r.restarts == 0 ? 0 : std::min(60, 1 << std::min(r.restarts - 1, 6));
            ++r.restarts;
            r.restart_at = now + delay;
            say(r.svc->name + " " + how + (delay ? "; restarting in " + std::to_string(delay) + " s" : "; restarting it now"));
        }
    }
}

// What the service wrote before it died: its console pipe and log FIFOs still hold it.
void Pid1::drain_service(Running& r) {
    for (auto& s : sinks_) {
        if (s.owner != r.svc) continue;
        if (s.name == r.svc->name + "-console") {
            if (r.console < 0) continue;
            s.fd = r.console;
            drain(s);
            s.fd = -1;
        } else if (s.fd >= 0) {
            drain(s);
        }
    }
    for (auto& d : log_dirs_)
        if (sinks_[d.sink].owner == r.svc) drain_log_dir(d);
}

// A dead service explains itself: its last lines go to the console and the remote log whatever
// --log-console says (`romimg verify` quotes them for a service that never became ready).
void Pid1::tell_last_lines(Running& r, const std::string& how) {
    drain_service(r);
    const std::string& name = r.svc->name;
    bool wrote = false;
    for (const auto& k : sinks_) wrote |= k.owner == r.svc && !k.tail.empty();
    emit(name, name + " " + how + (r.ready ? "" : " before it was ready") + (wrote ? "; its last lines:" : "; it wrote nothing"), 3);
    for (auto& k : sinks_) {
        if (k.owner != r.svc) continue;
        for (const auto& line : k.tail) emit(k.name, line, 3);
        k.tail.clear();
    }
}

void Pid1::drain(Sink& s) {
    char buf[8192];
    for (;;) {
        ssize_t n = read(s.fd, buf, sizeof buf);
        if (n <= 0) break;
        if (s.name == "romlock") {  // /dev/kmsg: one record per read, "pri,seq,ts,flags;text\n"
            std::string rec(buf, n);
            size_t semi = rec.find(';');
            std::string text = semi == std::string::npos ? rec : rec.substr(semi + 1);
            if (!text.empty() && text.back() == '\n') text.pop_back();
            if (text.rfind("audit: type=1326 ", 0) == 0) {  // AUDIT_SECCOMP
                seccomp_report(text);
                continue;
            }
            if (text.rfind("device-mapper: verity", 0) == 0) {  // verity and verity-fec
                if (text.find(" is corrupted") != std::string::npos) verity_refused(text);
                s.pending += text + "\n";
                continue;
            }
            if (text.rfind("romlock:", 0) != 0) continue;
            s.pending += text + "\n";
        } else {
            s.pending.append(buf, n);
        }
    }
    log_pending(s);
}

// The complete lines of s.pending into its log, within its rate.
void Pid1::log_pending(Sink& s) {
    size_t nl;
    while ((nl = s.pending.find('\n')) != std::string::npos) {
        std::string line = s.pending.substr(0, nl);
        s.pending.erase(0, nl + 1);
        if (s.name != "romlock" && !within_rate(s, line.size() + 1, monotonic_seconds())) continue;
        if (s.dropped && s.name != "romlock") {
            unsigned long n = s.dropped;
            s.dropped = 0;
            log_line(s, "romimg-init: " + std::to_string(n) + " " + kLogDroppedLine + " (" +
                            std::to_string((int)(kLogRate / 1024)) + " KiB/s)", 4);
        }
        log_line(s, line, -1);
    }
    if (s.pending.size() > 65536) s.pending.clear();  // a line without end: drop, stay bounded
}

// Log files a service keeps in a writable dir of its jail (dated names, rotated by the service:
// Tomcat's access log and JULI's files) are read by init once a second, their lines go into the
// service's bounded log like a FIFO's, and a file read to its end that has grown past
// kLogDirFileCap, or that nothing wrote to for kLogDirIdle, is emptied: the tmpfs holds at most
// about that per file being written, whatever the load and however long the machine runs.
// The dir is the service's, so what is in it is not trusted: regular files of that tmpfs only
// (no symlink is followed, no FIFO or device opened), at most kLogDirFiles files (of the first
// 16 times as many entries) and kLogDirRead bytes of each per pass.
constexpr off_t kLogDirFileCap = 256 * 1024;
constexpr int kLogDirFiles = 64;
constexpr size_t kLogDirRead = 256 * 1024;
constexpr time_t kLogDirIdle = 600;  // seconds without a write

void Pid1::drain_log_dirs(double now) {
    if (log_dirs_.empty() || now < log_dirs_at_) return;
    log_dirs_at_ = now + 1;
    for (auto& d : log_dirs_) drain_log_dir(d);
}

void Pid1::drain_log_dir(LogDir& d) {
    int dfd = open(d.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return;
    struct stat dst;
    DIR* dir = fstat(dfd, &dst) == 0 ? fdopendir(dfd) : nullptr;
    if (!dir) {
        close(dfd);
        return;
    }
    Sink& sink = sinks_[d.sink];
    std::vector<std::pair<ino_t, off_t>> read_now;
    int files = 0, entries = 0;
    bool whole = true;  // every entry seen (else the offsets of the unseen ones are kept)
    const time_t wall = time(nullptr);
    while (struct dirent* e = readdir(dir)) {
        if (++entries > 16 * kLogDirFiles || files >= kLogDirFiles) {  // a dir stuffed with entries
            whole = false;
            break;
        }
        if (e->d_name[0] == '.') continue;
        int fd = openat(dfd, e->d_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dst.st_dev) {
            close(fd);
            continue;
        }
        off_t off = 0;
        for (const auto& [ino, at] : d.read)
            if (ino == st.st_ino) off = at;
        if (st.st_size < off) off = 0;  // emptied by the service itself
        if (st.st_size > off) ++files;  // only files with news count toward the pass's limit
        std::string chunk(std::min<off_t>(st.st_size - off, kLogDirRead), '\0');
        ssize_t got = chunk.empty() ? 0 : pread(fd, chunk.data(), chunk.size(), off);
        chunk.resize(got > 0 ? got : 0);
        // Whole lines only; a partial one waits for its end (unless a pass's worth has none).
        size_t take = chunk.rfind('\n');
        take = take == std::string::npos ? (chunk.size() == kLogDirRead ? chunk.size() : 0) : take + 1;
        for (size_t pos = 0; pos < take;) {
            size_t nl = chunk.find('\n', pos);
            if (nl == std::string::npos || nl >= take) nl = take;
            sink.pending += std::string(e->d_name) + ": " + chunk.substr(pos, nl - pos) + "\n";
            pos = nl + 1;
        }
        off += take;
        // Read to its end and past the cap, or left alone for kLogDirIdle (yesterday's dated
        // file): emptied, so the tmpfs holds about one cap per file being written, however long
        // the machine runs. A line the service appends between the fstat and the truncation is
        // lost; it writes with O_APPEND, so it carries on at the new end.
        struct stat now_st;
        if (off > 0 && (off >= kLogDirFileCap || wall - st.st_mtime > kLogDirIdle) && fstat(fd, &now_st) == 0 &&
            now_st.st_size == off && ftruncate(fd, 0) == 0)
            off = 0;
        read_now.push_back({st.st_ino, off});
        close(fd);
        log_pending(sink);
    }
    closedir(dir);
    if (!whole)
        for (const auto& old : d.read)
            if (std::none_of(read_now.begin(), read_now.end(), [&](const auto& n) { return n.first == old.first; }))
                read_now.push_back(old);
    d.read = std::move(read_now);  // files gone are forgotten
}

// One line into its source's ring, tail and the console/remote log (severity -1: its own).
void Pid1::log_line(Sink& s, const std::string& line, int severity) {
    // A bounded ring: the file is rotated to NAME.1 when it reaches the cap, so a log never
    // takes more than twice the cap of the /var tmpfs.
    if (s.size + line.size() + 1 > conf_.log_ring_kb * 1024) {
        rename(s.file.c_str(), (s.file + ".1").c_str());
        s.size = 0;
    }
    int fd = open(s.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd >= 0) {
        std::string l = line + "\n";
        if (write(fd, l.data(), l.size()) > 0) s.size += l.size();
        close(fd);
    }
    if (s.owner) {
        s.tail.push_back(line);
        if (s.tail.size() > kTailLines) s.tail.pop_front();
    }
    bool denial = s.name == "romlock" && line.find("DENY") != std::string::npos;
    if (s.name != "romlock" || denial) emit(s.name, line, severity >= 0 ? severity : denial ? 4 : 6);
}

[[noreturn]] void Pid1::shutdown(int how) {
    say(how == RB_AUTOBOOT ? "Ctrl+Alt+Del: stopping services, then rebooting"
                           : "power button or SIGTERM: stopping services, then powering off");
    int longest = 0;
    if (selftest_pid_ > 0) {
        kill(-selftest_pid_, SIGKILL);
        waitpid(selftest_pid_, nullptr, 0);
    }
    for (auto& r : run_) {
        r.restart_at = 0;
        if (r.pid > 0 && !r.svc) {  // the debug shell
            kill(-r.pid, SIGKILL);
            waitpid(r.pid, nullptr, 0);
            r.pid = 0;
        }
        if (r.pid > 0) {
            kill(-r.pid, r.svc->stop_signal);
            longest = std::max(longest, r.svc->stop_timeout);
        }
    }
    double deadline = monotonic_seconds() + longest;
    for (;;) {
        bool any = false;
        for (auto& r : run_) {
            if (r.pid <= 0) continue;
            int st;
            if (waitpid(r.pid, &st, WNOHANG) == r.pid) {
                say("stopped " + r.svc->name);
                kill(-r.pid, SIGKILL);  // leftovers of its process group
                r.pid = 0;
            } else {
                any = true;
            }
        }
        if (!any) break;
        if (monotonic_seconds() > deadline) {
            for (auto& r : run_)
                if (r.pid > 0) {
                    say(r.svc->name + " did not stop in time: killing it");
                    kill(-r.pid, SIGKILL);
                    waitpid(r.pid, nullptr, 0);
                }
            break;
        }
        usleep(50000);
    }
    for (auto& s : sinks_)
        if (s.fd >= 0) drain(s);
    while (waitpid(-1, nullptr, WNOHANG) > 0) {}
    say("all services stopped; syncing");
    sync();
    say(how == RB_AUTOBOOT ? "rebooting" : "powering off");
    reboot(how);
    fatal("reboot(2) failed");
}

[[noreturn]] void Pid1::run() {
    // Ctrl+Alt+Del becomes SIGINT to init instead of an immediate reboot.
    reboot(RB_DISABLE_CAD);
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGPWR, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&mask, s);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signals_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (signals_ < 0 || epoll_ < 0) fatal("cannot set up signal handling");
    if (sethostname(conf_.hostname.c_str(), conf_.hostname.size()) != 0)
        say("cannot set the hostname to " + conf_.hostname + ": " + strerror(errno));

    read_boot_facts();
    // Before the kernel log is followed: a self-test that fails verity is not run, and that is
    // all (it is no service's layer; what the kernel logs about it is not read as a halt).
    load_selftest();
    setup_logging();
    mount_jails();
    mount_data();
    setup_limits();  // before the seal: romlock refuses mounts after it
    write_policy();
    setup_watchdog();
    add_fd(signals_);
    for (const auto& s : sinks_)
        if (s.fd >= 0) add_fd(s.fd);
    for (int fd : inputs_) add_fd(fd);

    for (const auto& s : conf_.services) {
        Running r;
        r.svc = &s;
        r.index = (unsigned)run_.size();
        std::string why;
        appliance::parse_ready_check(s.ready, r.check, why);  // parse_conf refused a bad one
        check_memory_needed(r);
        r.broken = r.broken || no_data_.count(s.name) > 0;  // mount_data said why
        run_.push_back(r);
    }
    load_seccomp_filters();
    watch_pressure();
    if (conf_.debug_shell) {
        for (int i = 0; i < 3; ++i)
            say("*** DEBUG SHELL ENABLED: a root shell is on the console; this image is NOT tamper-proof ***");
        run_.push_back(Running{});  // svc == nullptr
    }
    if (selftest_)
        say("SELF-TEST copy of the image (made by romimg verify): the attack self-test runs once every service is ready");
    for (auto& r : run_) start(r);

    for (;;) {
        double now = monotonic_seconds();
        bool all_ready = true;
        for (auto& r : run_) {
            if (r.svc && r.pid > 0 && !r.ready) check_ready(r, now);
            if (r.pid == 0 && r.restart_at > 0 && now >= r.restart_at && !r.given_up) start(r);
            all_ready = all_ready && r.pid > 0 && r.ready;
        }
        if (selftest_ && selftest_pid_ == 0 && all_ready) start_selftest();
        pet_watchdog(now);
        health(now);
        drain_log_dirs(now);
        struct epoll_event evs[16];
        int n = epoll_wait(epoll_, evs, 16, 200);
        now = monotonic_seconds();
        for (int i = 0; i < n; ++i) {
            int fd = evs[i].data.fd;
            if (fd == signals_) {
                struct signalfd_siginfo si;
                while (read(signals_, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGCHLD) reap(now);
                    else if (si.ssi_signo == SIGINT) shutdown(RB_AUTOBOOT);
                    else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGPWR || si.ssi_signo == SIGUSR2)
                        shutdown(RB_POWER_OFF);
                }
                continue;
            }
            if (std::find(inputs_.begin(), inputs_.end(), fd) != inputs_.end()) {
                struct input_event ev;
                while (read(fd, &ev, sizeof ev) == sizeof ev)
                    if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1) shutdown(RB_POWER_OFF);
                continue;
            }
            bool handled = false;
            for (auto& r : run_)
                if (r.pressure == fd) {
                    pressure_event(r);
                    handled = true;
                }
            if (handled) continue;
            for (auto& s : sinks_)
                if (s.fd == fd) {
                    drain(s);
                    handled = true;
                }
            if (handled) continue;
            for (auto& r : run_) {
                if (!r.svc || r.console != fd) continue;
                for (auto& s : sinks_)
                    if (s.name == r.svc->name + "-console") {
                        s.fd = fd;
                        drain(s);
                        s.fd = -1;
                    }
                if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
                    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
                    close(fd);
                    r.console = -1;
                }
            }
        }
    }
}

}  // namespace

[[noreturn]] void pid1_main() {
    std::string text, error;
    Conf conf;
    if (!read_file("/etc/romimg/appliance.conf", text)) fatal("cannot read /etc/romimg/appliance.conf");
    if (!appliance::parse_conf(text, conf, error)) fatal("/etc/romimg/appliance.conf: " + error);
    say("PID 1: " + std::to_string(conf.services.size()) + " service(s) on " + conf.hostname);
    Pid1(std::move(conf)).run();
}

}  // namespace romimg::init
