#include "trace/sandbox.h"

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <libmount/libmount.h>
#include <poll.h>
#include <pthread.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/capability.h>
#include <elf.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/sys.h"
#include "trace/binfmt.h"
#include "trace/syscalls.h"
#include "trace/tracer.h"
#include "jail_enter.h"

namespace romimg::trace {

std::vector<HostMount> read_host_mounts() {
    std::vector<HostMount> out;
    struct libmnt_table* tb = mnt_new_table_from_file("/proc/self/mountinfo");
    if (!tb) throw Error("cannot read /proc/self/mountinfo (libmount)");
    struct libmnt_iter* it = mnt_new_iter(MNT_ITER_FORWARD);
    struct libmnt_fs* fs;
    while (mnt_table_next_fs(tb, it, &fs) == 0) {
        HostMount m;
        m.target = mnt_fs_get_target(fs) ? mnt_fs_get_target(fs) : "";
        m.fstype = mnt_fs_get_fstype(fs) ? mnt_fs_get_fstype(fs) : "";
        const char* vfs = mnt_fs_get_vfs_options(fs);
        m.read_only = vfs && mnt_optstr_get_option(vfs, "ro", nullptr, nullptr) == 0;
        if (!m.target.empty()) out.push_back(std::move(m));
    }
    mnt_free_iter(it);
    mnt_unref_table(tb);
    return out;
}

namespace {

using fs::path_within;

bool is_pseudo_fs(const std::string& t) {
    static const char* const pseudo[] = {"proc", "sysfs", "devtmpfs", "devpts", "mqueue", "cgroup",
                                         "cgroup2", "debugfs", "tracefs", "securityfs", "pstore",
                                         "bpf", "binfmt_misc", "autofs", "fusectl", "configfs",
                                         "hugetlbfs", "rpc_pipefs", "nsfs", "efivarfs"};
    for (const char* p : pseudo)
        if (t == p) return true;
    return t.rfind("fuse", 0) == 0;
}

}  // namespace

std::vector<MountOp> plan_sandbox_mounts(const std::vector<HostMount>& host,
                                         const std::vector<WritableDir>& writable, uid_t uid,
                                         gid_t gid, const std::vector<std::string>& data) {
    std::vector<MountOp> ops;
    // The last mount on a target is the visible one; earlier ones are hidden beneath it.
    std::vector<HostMount> visible;
    for (const auto& m : host) {
        auto same = std::find_if(visible.begin(), visible.end(),
                                 [&](const HostMount& v) { return v.target == m.target; });
        if (same != visible.end()) visible.erase(same);
        visible.push_back(m);
    }
    std::vector<std::string> skipped;
    for (const auto& m : visible) {
        if (m.target == "/") {
            ops.insert(ops.begin(), {MountOp::overlay, "/", "/", ""});
            continue;
        }
        bool skip = path_within(m.target, "/proc") || path_within(m.target, "/sys") || path_within(m.target, "/dev") ||
                    is_pseudo_fs(m.fstype);
        for (const auto& s : skipped) skip |= path_within(m.target, s);
        if (skip) {
            skipped.push_back(m.target);
            continue;
        }
        ops.push_back({m.read_only ? MountOp::bind_ro : MountOp::overlay, m.target, m.target, ""});
    }
    ops.push_back({MountOp::rbind, "/dev", "/dev", ""});
    ops.push_back({MountOp::tmpfs, "", "/dev/shm", "mode=1777,size=64m"});
    ops.push_back({MountOp::sysfs, "", "/sys", ""});
    for (const auto& w : writable)
        ops.push_back({MountOp::tmpfs, "", w.path,
                       fmt::format("mode=0755,uid={},gid={},size={}", uid, gid, w.size)});
    for (const auto& d : data) ops.push_back({MountOp::data, d, d, fmt::format("{}:{}", uid, gid)});
    return ops;
}

std::vector<MountOp> plan_jail_sandbox_mounts(const std::string& jail_root, const appliance::Service& confinement) {
    std::vector<MountOp> ops;
    ops.push_back({MountOp::jail_root, jail_root, "/", ""});
    for (const auto& m : confinement.mounts)
        if (m.type == "tmpfs") ops.push_back({MountOp::tmpfs, "", m.target, m.options});
    for (const auto& d : confinement.data)
        ops.push_back({MountOp::data, jail_root + d, d, fmt::format("{}:{}", confinement.uid, confinement.gid)});
    return ops;
}

void send_msg(int fd, Msg type, const std::string& payload) {
    std::string m(1, char(type));
    uint32_t n = payload.size();
    m.append(reinterpret_cast<const char*>(&n), sizeof n);
    m += payload;
    sys::write_all(fd, m);
}

bool read_msg(int fd, Msg& type, std::string& payload) {
    char t;
    uint32_t n;
    if (!sys::read_exact(fd, &t, 1) || !sys::read_exact(fd, &n, sizeof n)) return false;
    payload.resize(n);
    if (n && !sys::read_exact(fd, payload.data(), n)) return false;
    type = Msg(t);
    return true;
}

namespace {

volatile sig_atomic_t g_stop_requested = 0;
volatile sig_atomic_t g_alarm = 0;
volatile pid_t g_reaper = 0;

// The tracer checks these flags after every stop it handles. A request that arrives while it
// is busy would not interrupt its next waitpid, so the handler also sends the traced reaper a
// harmless SIGCONT: that is a stop the tracer will see, which wakes it.
void on_usr1(int) {
    g_stop_requested = 1;
    if (g_reaper > 0) kill(g_reaper, SIGCONT);
}
void on_alarm(int) {
    g_alarm = 1;
    if (g_reaper > 0) kill(g_reaper, SIGKILL);  // the PID namespace dies with its init
}

// The jail's device nodes exist only as mksquashfs pseudo-definitions (jail.h): a read-only
// overlay adds them (as mount points for bind_devices) to the jail's own /dev. Nothing is
// written into the jail directory.
void mount_jail_root(const std::string& jail, const std::string& target, const std::string& scratch,
                     const std::vector<std::string>& devices) {
    std::string nodes = scratch + "/devnodes";
    sys::mkdir_p(nodes + "/dev", 0755);
    struct stat st;
    if (stat((jail + "/dev").c_str(), &st) == 0) {
        chmod((nodes + "/dev").c_str(), st.st_mode & 07777);
        if (chown((nodes + "/dev").c_str(), st.st_uid, st.st_gid) < 0) throw SysError("chown", nodes + "/dev", errno);
    }
    // The nodes the image has (mode 0666, the real numbers): under the nodev root they do not
    // open, exactly as on the appliance, until bind_devices puts the real devices over them.
    for (const auto& d : devices) {
        const appliance::DeviceKind* kind = appliance::find_device(d);
        if (!kind) throw Error("not an allowed device: " + d);
        std::string node = nodes + d;
        if (mknod(node.c_str(), S_IFCHR | 0666, makedev(kind->major, kind->minor)) < 0 || chmod(node.c_str(), 0666) < 0)
            throw SysError("mknod", node, errno);
    }
    // The appliance mounts its root squashfs MS_RDONLY | MS_NODEV (initramfs/early.cc).
    sys::mount("romimg-jail", target, "overlay", MS_RDONLY | MS_NODEV, fmt::format("lowerdir={}:{}", nodes, jail));
}

void apply_mounts(const std::vector<MountOp>& ops, const std::string& scratch,
                  const std::vector<std::string>& devices) {
    std::string root = scratch + "/root";
    sys::mkdir_p(root);
    int n = 0;
    for (const auto& op : ops) {
        std::string target = op.target == "/" ? root : root + op.target;
        // A mount point missing in the overlay lands in the scratch layer. (In a jail they all
        // exist: the jail plan made them, and its root is read-only.)
        sys::mkdir_p(target);
        switch (op.kind) {
        case MountOp::jail_root:
            mount_jail_root(op.source, target, scratch, devices);
            break;
        case MountOp::overlay:
        case MountOp::data: {
            std::string up = fmt::format("{}/upper/{}", scratch, n), wk = fmt::format("{}/work/{}", scratch, n);
            ++n;
            sys::mkdir_p(up);
            sys::mkdir_p(wk);
            sys::mount("romimg-trace", target, "overlay", op.kind == MountOp::data ? MS_NOSUID | MS_NODEV | MS_NOEXEC : 0,
                       fmt::format("lowerdir={},upperdir={},workdir={}", op.source, up, wk));
            // A data dir belongs to the service, with the lower dir's mode (the overlay's root
            // would show the scratch upper dir's 0755: PostgreSQL refuses a data directory
            // that others may read). Both are copy-ups in the scratch layer.
            unsigned owner_uid = 0, owner_gid = 0;
            if (op.kind == MountOp::data && sscanf(op.options.c_str(), "%u:%u", &owner_uid, &owner_gid) == 2) {
                struct stat lower {};
                if (stat(op.source.c_str(), &lower) != 0) throw SysError("stat", op.source, errno);
                if (chown(target.c_str(), owner_uid, owner_gid) != 0) throw SysError("chown", target, errno);
                if (chmod(target.c_str(), lower.st_mode & 07777) != 0) throw SysError("chmod", target, errno);
            }
            break;
        }
        case MountOp::bind_ro:
            sys::mount(op.source, target, "", MS_BIND | MS_REC);
            sys::mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY);
            break;
        case MountOp::rbind:
            sys::mount(op.source, target, "", MS_BIND | MS_REC);
            break;
        case MountOp::tmpfs:
            sys::mkdir_p(target);
            sys::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, op.options);
            break;
        case MountOp::sysfs:
            sys::mount("sysfs", target, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
            break;
        }
    }
}

// Tracing on the host's view: each log is a file of the service's in the scratch dir, bound
// over the path (the appliance's FIFOs are a property of the jail, which does not exist yet).
void bind_logs(const ServiceSpec& spec, const std::string& scratch, bool in_overlay) {
    std::string root = scratch + "/root";
    uid_t uid = spec.creds ? spec.creds->uid : 0;
    gid_t gid = spec.creds ? spec.creds->gid : 0;
    sys::mkdir_p(scratch + "/logs", 0700);
    int n = 0;
    for (const auto& log : spec.logs) {
        std::string parent = log.substr(0, log.rfind('/'));
        std::string target = root + log;
        if (in_overlay) {  // copy-up in the scratch layer: the host's directory is untouched
            sys::mkdir_p(root + parent);
            if (chown((root + parent).c_str(), 0, gid) < 0 || chmod((root + parent).c_str(), 0750) < 0)
                throw SysError("chown", root + parent, errno);
            Fd t = sys::open(target, O_WRONLY | O_CREAT, 0640);
        }
        std::string file = fmt::format("{}/logs/{}-{}", scratch, n++, log.substr(log.rfind('/') + 1));
        Fd f = sys::open(file, O_WRONLY | O_CREAT | O_TRUNC, 0640);
        if (fchown(f.get(), uid, gid) < 0) throw SysError("fchown", file, errno);
        sys::mount(file, target, "", MS_BIND);
    }
}

// From a jail: its log FIFOs, opened as init opens them (O_RDWR: no end-of-file when the service
// closes and reopens one), drained by a thread into the supervisor's output (the trace log).
// The thread is started before the supervisor unshares its PID namespace (a process may not add
// threads afterwards: clone(CLONE_THREAD) fails with EINVAL) and waits for the FIFOs, which exist
// only once the jail is mounted.
class LogDrain {
public:
    LogDrain() {
        control_ = sys::pipe();
        // Signals stay with the tracer thread (its waitpid must see EINTR).
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        thread_ = std::thread([this] { run(); });
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    // Opens the FIFOs (paths under `root`) and starts draining them.
    void open(const std::vector<std::string>& fifos, const std::string& root) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (const auto& f : fifos) sources_.push_back({sys::open(root + f, O_RDWR | O_NONBLOCK), f.substr(f.rfind('/') + 1), ""});
        }
        (void)!::write(control_.second.get(), "o", 1);
    }
    // Drains what is left and ends the thread (the supervisor leaves with _exit: no destructors).
    void stop() {
        if (!thread_.joinable()) return;
        (void)!::write(control_.second.get(), "x", 1);
        thread_.join();
    }
    ~LogDrain() { stop(); }

private:
    struct Source {
        Fd fd;
        std::string name;
        std::string pending;
    };
    void run() {
        for (;;) {
            std::vector<pollfd> p;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                for (auto& s : sources_) p.push_back({s.fd.get(), POLLIN, 0});
            }
            p.push_back({control_.first.get(), POLLIN, 0});
            if (poll(p.data(), p.size(), -1) < 0 && errno != EINTR) return;
            std::lock_guard<std::mutex> lock(mutex_);
            for (auto& s : sources_) drain(s);
            if (!p.back().revents) continue;
            char c = 0;
            if (::read(control_.first.get(), &c, 1) != 1 || c == 'x') return;
        }
    }
    static void drain(Source& s) {
        char buf[8192];
        ssize_t n;
        while ((n = ::read(s.fd.get(), buf, sizeof buf)) > 0) s.pending.append(buf, n);
        size_t nl;
        while ((nl = s.pending.find('\n')) != std::string::npos) {
            std::string line = "[" + s.name + "] " + s.pending.substr(0, nl + 1);
            (void)!::write(2, line.data(), line.size());
            s.pending.erase(0, nl + 1);
        }
        if (s.pending.size() > 65536) s.pending.clear();  // bounded, like init's drain
    }
    std::mutex mutex_;
    std::vector<Source> sources_;
    std::pair<Fd, Fd> control_;
    std::thread thread_;
};

// Copies `path` (in the sandbox's root) to `fd`: the bytes copied, or -1 with `error` set.
long long collect_file(const std::string& path, int fd, std::string& error) {
    constexpr long long kMax = 256ll << 20;
    int in = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        error = fmt::format("{}: {}", path, strerror(errno));
        return -1;
    }
    Fd guard(in);
    long long total = 0;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(in, buf, sizeof buf)) > 0) {
        if ((total += n) > kMax) {
            error = fmt::format("{} is over {} MB", path, kMax >> 20);
            return -1;
        }
        try {
            sys::write_all(fd, std::string(buf, n));
        } catch (const SysError& e) {
            error = fmt::format("copying {}: {}", path, e.what());
            return -1;
        }
    }
    if (n < 0) {
        error = fmt::format("{}: {}", path, strerror(errno));
        return -1;
    }
    return total;
}

void enter_root(const std::string& scratch) {
    // pivot_root(".", ".") stacks the old root on top of the new one, so no put_old directory
    // is needed (the jail's root is read-only); detaching it leaves only the new root.
    std::string root = scratch + "/root";
    if (chdir(root.c_str()) < 0) throw SysError("chdir", root, errno);
    sys::pivot_root(".", ".");
    sys::umount2(".", MNT_DETACH);
    if (chdir("/") < 0) throw SysError("chdir", "/", errno);
}

// The traced service: drop to its user and capabilities, load the trace filter, exec.
[[noreturn]] void exec_service(const ServiceSpec& spec, const std::vector<sock_filter>& filter,
                               int channel) {
    auto fail = [&](const std::string& what, int err) {
        send_msg(channel, Msg::error, fmt::format("{}: {}", what, strerror(err)));
        _exit(127);
    };
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s = 1; s < NSIG; ++s) signal(s, SIG_DFL);
    std::vector<std::string> env = spec.env;
    if (spec.confinement) {
        // Exactly init's steps (chroot into "/", cwd, rlimits, user, only its capabilities,
        // no_new_privs) and environment.
        const char* step = "";
        if (!init::enter_jail(*spec.confinement, step)) fail(std::string("cannot confine the service as the appliance does: ") + step, errno);
        env = spec.confinement->env;
    } else if (chdir(spec.cwd.c_str()) < 0) {
        fail("cannot change to the service's directory " + spec.cwd, errno);
    }
    if (spec.creds && !spec.confinement) {
        const Credentials& c = *spec.creds;
        if (prctl(PR_SET_KEEPCAPS, 1) < 0) fail("prctl(PR_SET_KEEPCAPS)", errno);
        for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
            if (std::find(spec.keep_caps.begin(), spec.keep_caps.end(), cap) == spec.keep_caps.end())
                prctl(PR_CAPBSET_DROP, cap);
        if (setgroups(c.groups.size(), c.groups.data()) < 0) fail("setgroups", errno);
        if (setresgid(c.gid, c.gid, c.gid) < 0) fail("setresgid", errno);
        if (setresuid(c.uid, c.uid, c.uid) < 0) fail("setresuid", errno);
        cap_t caps = cap_init();
        for (int cap : spec.keep_caps) {
            cap_value_t v = cap;
            cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
            cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
            cap_set_flag(caps, CAP_INHERITABLE, 1, &v, CAP_SET);
        }
        if (cap_set_proc(caps) < 0) fail("cap_set_proc", errno);
        cap_free(caps);
        for (int cap : spec.keep_caps)
            if (cap_set_ambient(cap, CAP_SET) < 0) fail("cap_set_ambient", errno);
        // Without CAP_SYS_ADMIN a seccomp filter needs no_new_privs; the appliance sets it too.
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail("prctl(PR_SET_NO_NEW_PRIVS)", errno);
    }
    // A 32-bit service sees the machine a 32-bit kernel reports (uname -m: i686), as on the
    // appliance. Before the trace filter, so the call is not taken for the service's own.
    if (exec_elf_machine(spec.argv[0]) == EM_386 && personality(PER_LINUX32) < 0)
        fail("personality(PER_LINUX32)", errno);
    struct sock_fprog prog = {(unsigned short)filter.size(), const_cast<sock_filter*>(filter.data())};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        fail("cannot load the seccomp trace filter (is CONFIG_SECCOMP_FILTER enabled?)", errno);
    if (spec.confinement) {
        // After the trace filter (its loading is a traced syscall like any other), as init loads
        // it: the last step before the exec.
        const char* step = "";
        if (!init::load_seccomp(spec.seccomp_bpf, step)) fail(std::string("cannot load the service's ") + step, errno);
    }
    std::vector<char*> argv, envp;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    fail("cannot execute " + spec.argv[0], errno);
    _exit(127);
}

// PID 1 of the sandbox: mounts /proc, waits for the tracer, starts the service and adopts
// whatever it leaves behind (daemons that double-fork). Exits when it has no children left.
[[noreturn]] void reaper_main(const ServiceSpec& spec, const std::vector<sock_filter>& filter,
                              int channel, int ready_w, int go_r) {
    try {
        if (spec.proc && spec.confinement) {
            // As init mounts a jail's /proc.
            sys::mount("proc", "/proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
        } else if (spec.proc) {
            sys::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
            // Host kernel tunables stay out of reach, even for a service that runs as root.
            sys::mount("/proc/sys", "/proc/sys", "", MS_BIND);
            sys::mount("", "/proc/sys", "", MS_BIND | MS_REMOUNT | MS_RDONLY);
        }
    } catch (const std::exception& e) {
        send_msg(channel, Msg::error, e.what());
        _exit(1);
    }
    char b = 1;
    if (write(ready_w, &b, 1) != 1 || read(go_r, &b, 1) != 1) _exit(1);
    close(ready_w);
    close(go_r);
    pid_t svc = fork();
    if (svc < 0) _exit(1);
    if (svc == 0) exec_service(spec, filter, channel);
    for (;;) {
        if (waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) _exit(0);
    }
}

}  // namespace

[[noreturn]] void supervisor_main(const ServiceSpec& spec, const std::filesystem::path& scratch,
                                  int channel) {
    try {
        Fd hostproc = sys::open("/proc", O_PATH | O_DIRECTORY);
        std::vector<sock_filter> filter = build_trace_filter();
        uid_t uid = spec.creds ? spec.creds->uid : 0;
        gid_t gid = spec.creds ? spec.creds->gid : 0;
        const bool in_jail = spec.confinement.has_value();
        if (in_jail == spec.jail_root.empty()) throw Error("internal: a jail run needs both jail_root and confinement");
        auto ops = in_jail ? plan_jail_sandbox_mounts(spec.jail_root, *spec.confinement)
                           : plan_sandbox_mounts(read_host_mounts(), spec.writable, uid, gid, spec.data);
        for (const auto& [source, target] : spec.content_binds) ops.push_back({MountOp::bind_ro, source, target, ""});

        std::optional<LogDrain> drain;
        if (in_jail) drain.emplace();
        sys::unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID);
        sys::mount("", "/", "", MS_REC | MS_PRIVATE);
        apply_mounts(ops, scratch, in_jail ? spec.confinement->devices : std::vector<std::string>{});
        if (in_jail) {
            std::string failed;
            if (!init::bind_devices(*spec.confinement, scratch.string() + "/root", failed)) throw SysError("mount", failed, errno);
            drain->open(spec.confinement->logs, scratch.string() + "/root");
            if (sethostname(spec.confinement_hostname.data(), spec.confinement_hostname.size()) != 0)
                throw SysError("sethostname", spec.confinement_hostname, errno);
        } else {
            bind_logs(spec, scratch, true);
        }
        enter_root(scratch);
        sys::set_loopback_up();

        struct sigaction sa {};
        sa.sa_handler = on_usr1;  // no SA_RESTART: waitpid returns EINTR
        sigaction(SIGUSR1, &sa, nullptr);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, nullptr);

        auto [ready_r, ready_w] = sys::pipe();
        auto [go_r, go_w] = sys::pipe();
        pid_t reaper = fork();
        if (reaper < 0) throw SysError("fork", "", errno);
        if (reaper == 0) reaper_main(spec, filter, channel, ready_w.get(), go_r.get());
        g_reaper = reaper;
        ready_w.reset();
        go_r.reset();
        char b;
        if (read(ready_r.get(), &b, 1) != 1) throw Error("the sandbox's init failed to start");

        Tracer tracer(hostproc.get());
        try {
            tracer.seize(reaper);
        } catch (const SysError& e) {
            kill(reaper, SIGKILL);
            throw Error(std::string("ptrace is not available: ") + e.what() +
                        "\n  (is kernel.yama.ptrace_scope 3, or is romimg itself being traced?)");
        }
        if (write(go_w.get(), &b, 1) != 1) throw SysError("write", "go", errno);
        send_msg(channel, Msg::started, "");

        bool stopping = false;
        tracer.run([&] {
            if (g_stop_requested && !stopping) {
                stopping = true;
                // The service's "leaders" are what PID 1 started or adopted: signal those, the
                // way an init would, and let them stop their own children.
                int sent = 0;
                for (auto [pid, ppid] : tracer.live_processes())
                    if (ppid == reaper && kill(pid, spec.stop_signal) == 0) ++sent;
                if (sent == 0) kill(reaper, SIGKILL);
                alarm(spec.stop_timeout_s);
            }
        });
        if (drain) drain->stop();
        TraceResult result = tracer.take_result();
        nlohmann::json j = to_json(result);
        j["main_status"] = tracer.main_status();
        j["stopped"] = stopping;
        j["killed"] = g_alarm != 0;
        if (spec.collect_fd >= 0) {
            std::string error;
            j["collected"] = collect_file(spec.collect_path, spec.collect_fd, error);
            if (!error.empty()) j["collect_error"] = error;
        }
        send_msg(channel, Msg::result, j.dump());
        _exit(0);
    } catch (const std::exception& e) {
        send_msg(channel, Msg::error, e.what());
        _exit(1);
    }
}

}  // namespace romimg::trace
