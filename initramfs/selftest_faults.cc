#include "selftest_faults.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cgroup.h"
#include "jail_enter.h"
#include "ready_probe.h"
#include "util.h"

namespace romimg::selftest {

using appliance::Service;

namespace {

double now() { return init::monotonic_seconds(); }

std::string seconds(double s) {
    char b[32];
    snprintf(b, sizeof b, "%.1f s", s);
    return b;
}

// A process confined like `s` (its cgroup, jail, user, capabilities, rlimits; no seccomp filter:
// the worst case of a hijacked service) running `body`, which reports on fd 3. Returns its pid
// (its own session, so kill(-pid) reaches what it forked) and the read end of its report pipe.
pid_t spawn_confined(const Service& s, const std::function<void(int)>& body, int& report) {
    int p[2];
    report = -1;
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 3);
        close_range(4, ~0U, 0);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
        if (null > 3) close(null);
        setsid();
        if (!init::join_service_cgroup(s.name)) {
            dprintf(3, "failed cgroup: %s\n", strerror(errno));
            _exit(1);
        }
        const char* step = "";
        if (!init::enter_jail(s, step)) {
            dprintf(3, "failed %s: %s\n", step, strerror(errno));
            _exit(1);
        }
        body(3);
        _exit(0);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    report = p[0];
    return pid;
}

// One line from `fd` within `timeout` seconds ("" if none).
std::string read_report(int fd, double timeout) {
    std::string buf;
    const double end = now() + timeout;
    while (now() < end) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0) continue;
        char b[256];
        ssize_t n = read(fd, b, sizeof b);
        if (n <= 0) break;
        buf.append(b, n);
        if (size_t nl = buf.find('\n'); nl != std::string::npos) return buf.substr(0, nl);
    }
    return buf;
}

void stop(pid_t pid, int fd) {
    if (fd >= 0) close(fd);
    if (pid <= 0) return;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
}

// Whether the service answers its ready check within `timeout` seconds; `took` is how long it
// took. A service without a check (nothing to ask) answers if its cgroup has a process.
bool serving(const Service& s, double timeout, double& took) {
    const double t0 = now();
    appliance::ReadyCheck c;
    std::string why;
    const bool checkable = appliance::parse_ready_check(s.ready, c, why) && c.kind != appliance::ReadyCheck::none;
    appliance::ReadyProbe probe;
    while (now() - t0 < timeout) {
        if (checkable ? probe.step(c, now()) : !init::service_pids(s.name).empty()) {
            took = now() - t0;
            return true;
        }
        usleep(50000);
    }
    took = now() - t0;
    return false;
}

// The others still serve while `s` misbehaves.
void others_serve(const appliance::Conf& conf, const Service& s, const std::string& id, const CheckFn& check) {
    for (const auto& o : conf.services) {
        if (o.name == s.name) continue;
        double took = 0;
        bool ok = serving(o, 15, took);
        check(ok, "fault:" + s.name, id + ":" + o.name, o.name + " still serves while " + s.name + " does this",
              "answers " + (o.ready.empty() ? std::string("(runs)") : o.ready) + " within 15 s",
              ok ? "answered in " + seconds(took) : "no answer in 15 s");
    }
}

// The service's main process: in its cgroup, a child of PID 1 that leads its own session (init
// starts each service with setsid; a dead main process's workers are PID 1's children too, but
// in the old session).
pid_t main_pid(const Service& s) {
    for (pid_t p : init::service_pids(s.name)) {
        std::string stat;
        if (!init::read_file("/proc/" + std::to_string(p) + "/stat", stat)) continue;
        size_t rp = stat.rfind(')');
        if (rp == std::string::npos) continue;
        int ppid = 0, pgrp = 0, session = 0;
        char state;
        if (sscanf(stat.c_str() + rp + 1, " %c %d %d %d", &state, &ppid, &pgrp, &session) == 4 && ppid == 1 &&
            session == p && state != 'Z')
            return p;
    }
    return 0;
}

// Its first writable tmpfs owned by its user (a "uid=N" mount option): "" if it has none.
std::string own_tmpfs(const Service& s) {
    const std::string uid = "uid=" + std::to_string(s.uid);
    for (const auto& m : s.mounts)
        if (m.type == "tmpfs" && ("," + m.options + ",").find("," + uid + ",") != std::string::npos) return m.target;
    return "";
}

void tmpfs_full(const appliance::Conf& conf, const Service& s, const CheckFn& check) {
    const std::string scope = "fault:" + s.name, target = own_tmpfs(s);
    const std::string what = s.name + " fills its own tmpfs " + (target.empty() ? "" : target.substr(s.root.size()));
    if (target.empty()) {
        check(true, scope, "tmpfs-full", what, "ENOSPC for it alone", "it has no writable tmpfs of its own");
        return;
    }
    const std::string inside = target.substr(s.root.size()) + "/romimg-selftest-fill";
    int fd = -1;
    pid_t pid = spawn_confined(s, [&](int out) {
        int f = open(inside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (f < 0) {
            dprintf(out, "failed open: %s\n", strerror(errno));
            return;
        }
        static char block[1 << 16];
        memset(block, 'x', sizeof block);
        unsigned long long total = 0;
        int err = 0;
        for (;;) {
            ssize_t n = write(f, block, sizeof block);
            if (n <= 0) {
                err = n < 0 ? errno : 0;
                break;
            }
            total += (unsigned long long)n;
        }
        dprintf(out, "full %llu %s\n", total, strerrorname_np(err) ? strerrorname_np(err) : "?");
        pause();
    }, fd);
    const std::string got = pid > 0 ? read_report(fd, 120) : std::string("cannot fork: ") + strerror(errno);
    unsigned long long total = 0;
    char err[32] = "";
    const bool full = sscanf(got.c_str(), "full %llu %31s", &total, err) == 2 && !strcmp(err, "ENOSPC");
    check(full, scope, "tmpfs-full", what, "ENOSPC", full ? "ENOSPC after " + std::to_string(total >> 10) + " KiB" : got);
    if (full) {
        // While it is full: PID 1's own tmpfs (its logs) and the other services are untouched.
        struct statvfs mine, full_fs;
        struct stat a, b;
        const bool separate = stat("/var/log/romimg", &a) == 0 && stat(target.c_str(), &b) == 0 && a.st_dev != b.st_dev;
        const bool room = statvfs("/var/log/romimg", &mine) == 0 && mine.f_bavail > 0;
        (void)statvfs(target.c_str(), &full_fs);
        check(separate && room, scope, "tmpfs-full:init", "PID 1's /var/log/romimg keeps its room while " + s.name + "'s tmpfs is full",
              "another filesystem, with free blocks",
              !separate ? "the same filesystem" : room ? std::to_string(mine.f_bavail * mine.f_frsize >> 10) + " KiB free" : "full");
        others_serve(conf, s, "tmpfs-full", check);
    }
    stop(pid, fd);
    unlink((target + "/romimg-selftest-fill").c_str());
}

void fork_bomb(const appliance::Conf& conf, const Service& s, const CheckFn& check) {
    const std::string scope = "fault:" + s.name;
    int fd = -1;
    pid_t pid = spawn_confined(s, [&](int out) {
        long forks = 0;
        int err = 0;
        for (;;) {
            pid_t c = fork();
            if (c < 0) {
                err = errno;
                break;
            }
            if (c == 0) {
                for (;;) pause();
            }
            ++forks;
        }
        dprintf(out, "forks %ld %s\n", forks, strerrorname_np(err) ? strerrorname_np(err) : "?");
        pause();
    }, fd);
    const std::string got = pid > 0 ? read_report(fd, 180) : std::string("cannot fork: ") + strerror(errno);
    long forks = 0;
    char err[32] = "";
    const bool bounded = sscanf(got.c_str(), "forks %ld %31s", &forks, err) == 2 && !strcmp(err, "EAGAIN") &&
                         forks < s.tasks_max;
    check(bounded, scope, "fork-bomb", s.name + " forks until it is refused",
          "EAGAIN before " + std::to_string(s.tasks_max) + " tasks (its pids.max)",
          bounded ? "EAGAIN after " + std::to_string(forks) + " forks" : got);
    if (bounded) others_serve(conf, s, "fork-bomb", check);
    stop(pid, fd);
    double took = 0;
    const bool back = serving(s, std::max(30, s.ready_timeout), took);
    check(back, scope, "fork-bomb:after", s.name + " serves once the bomb is gone", "answers",
          back ? "answered in " + seconds(took) : "no answer");
}

// Waits for init to have started the service again after `old` died: its new main process.
pid_t restarted(const Service& s, pid_t old, double timeout, double& took) {
    const double t0 = now();
    while (now() - t0 < timeout) {
        pid_t p = main_pid(s);
        if (p > 0 && p != old) {
            took = now() - t0;
            return p;
        }
        usleep(20000);
    }
    took = now() - t0;
    return 0;
}

void killed(const appliance::Conf& conf, const Service& s, const CheckFn& check) {
    const std::string scope = "fault:" + s.name;
    const pid_t old = main_pid(s);
    if (old <= 0) {
        check(false, scope, "killed", "SIGKILL " + s.name + "'s main process", "it runs", "no main process in its cgroup");
        return;
    }
    kill(old, SIGKILL);
    double took = 0, serve = 0;
    const pid_t now_pid = restarted(s, old, 30, took);
    check(now_pid > 0 && took <= kRestartBound, scope, "killed", "SIGKILL " + s.name + "'s main process (pid " + std::to_string(old) + ")",
          "init starts it again within " + seconds(kRestartBound),
          now_pid > 0 ? "pid " + std::to_string(now_pid) + " after " + seconds(took) : "not restarted in 30 s");
    if (now_pid <= 0) return;
    const bool back = serving(s, s.ready_timeout, serve);
    check(back, scope, "killed:serves", s.name + " serves again after the SIGKILL",
          "answers within its ready timeout (" + std::to_string(s.ready_timeout) + " s)",
          back ? "answered " + seconds(took + serve) + " after its death" : "no answer");
    others_serve(conf, s, "killed", check);
}

void memory_hog(const appliance::Conf& conf, const Service& s, const CheckFn& check) {
    const std::string scope = "fault:" + s.name;
    const long before = init::service_events(s.name).oom_kills;
    const pid_t old = main_pid(s);
    std::string svc_adj;  // read while it runs
    const bool killable = old > 0 && init::read_file("/proc/" + std::to_string(old) + "/oom_score_adj", svc_adj) &&
                          atoi(svc_adj.c_str()) > -1000;
    const unsigned long stalls_before = init::stall_kills(s.name);
    int fd = -1;
    pid_t pid = spawn_confined(s, [&](int out) {
        dprintf(out, "hogging\n");
        for (;;) {
            void* p = mmap(nullptr, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                usleep(1000);
                continue;
            }
            memset(p, 0x5a, 4 << 20);
        }
    }, fd);
    const std::string started = pid > 0 ? read_report(fd, 30) : std::string("cannot fork: ") + strerror(errno);
    int st = 0;
    bool gone = false;
    const double t0 = now();
    while (pid > 0 && now() - t0 < 300) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            gone = true;
            break;
        }
        usleep(100000);
    }
    const long after = init::service_events(s.name).oom_kills;
    // Either the kernel's OOM killer at its memory.max, or init's memory-pressure watch when it
    // thrashed there first (pid1.cc pressure_event); both SIGKILL the whole service.
    const unsigned long stalls_after = init::stall_kills(s.name);
    const std::string thrash = stalls_after > stalls_before
                                   ? "init killed it for thrashing at its limit (its count " + std::to_string(stalls_before) +
                                         " -> " + std::to_string(stalls_after) + ")"
                                   : "";
    const bool killed9 = gone && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    const bool stopped = killed9 && (after > before || !thrash.empty());
    check(stopped, scope, "memory-hog", s.name + " takes memory until it is stopped",
          "SIGKILL by the OOM killer at its memory.max, or by init when it thrashes there",
          stopped ? "killed after " + seconds(now() - t0) + "; its cgroup's oom_kill " + std::to_string(before) + " -> " +
                        std::to_string(after) + (thrash.empty() ? "" : "; " + thrash)
                  : started != "hogging" ? started
                  : gone ? "ended otherwise (status " + std::to_string(st) + ")"
                         : "still running after 300 s");
    if (!gone) stop(pid, -1);
    if (fd >= 0) close(fd);
    std::string adj;
    const bool init_safe = init::read_file("/proc/1/oom_score_adj", adj) && atoi(adj.c_str()) == -1000;
    check(init_safe, scope, "memory-hog:init", "PID 1 is never the OOM killer's choice", "oom_score_adj -1000",
          "oom_score_adj " + (adj.empty() ? std::string("unreadable") : adj.substr(0, adj.find('\n'))));
    // A service inherits nothing of init's -1000 (pid1.cc child_defaults): with every task exempt
    // a machine out of memory has nothing to kill, and panics.
    check(killable, scope, "memory-hog:killable", s.name + " is a choice for the OOM killer", "oom_score_adj above -1000",
          "oom_score_adj " + (svc_adj.empty() ? std::string("unreadable") : svc_adj.substr(0, svc_adj.find('\n'))));
    others_serve(conf, s, "memory-hog", check);
    // memory.oom.group: the service went with the hog; init starts it again.
    double took = 0, serve = 0;
    const pid_t now_pid = restarted(s, old, 30, took);
    const bool back = now_pid > 0 && serving(s, s.ready_timeout, serve);
    check(back, scope, "memory-hog:after", s.name + " is restarted by init and serves again",
          "answers within its ready timeout (" + std::to_string(s.ready_timeout) + " s)",
          back ? "pid " + std::to_string(now_pid) + ", answered " + seconds(took + serve) + " after the kill" : now_pid > 0 ? "no answer" : "not restarted");
}

}  // namespace

void run_fault_checks(const appliance::Conf& conf, const CheckFn& check) {
    struct stat st;
    if (stat((std::string(init::kCgroupRoot) + "/cgroup.controllers").c_str(), &st) != 0) {
        check(false, "fault", "cgroups", "the services run in cgroups", std::string(init::kCgroupRoot) + " mounted",
              strerror(errno));
        return;
    }
    for (const auto& s : conf.services) {
        tmpfs_full(conf, s, check);
        fork_bomb(conf, s, check);
    }
    // These take the service down: one at a time, each back before the next.
    for (const auto& s : conf.services) {
        killed(conf, s, check);
        memory_hog(conf, s, check);
    }
}

}  // namespace romimg::selftest
