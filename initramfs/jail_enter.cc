#include "jail_enter.h"

#include "caps.h"

#include <cerrno>
#include <grp.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace romimg::init {

bool bind_devices(const appliance::Service& s, const std::string& root, std::string& failed) {
    for (const auto& d : s.devices) {
        if (!appliance::find_device(d)) {  // parse_conf refuses these too
            errno = EPERM;
            failed = d + " (not an allowed device)";
            return false;
        }
        std::string target = (root == "/" ? "" : root) + d;
        if (mount(d.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0) {
            failed = "bind " + d + " on " + target;
            return false;
        }
        if (mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, nullptr) < 0) {
            failed = "remount " + target + " ro,nosuid,noexec";
            return false;
        }
    }
    return true;
}

bool enter_jail(const appliance::Service& s, const char*& what) {
    auto fail = [&](const char* step) {
        what = step;
        return false;
    };
    // Raising a hard limit needs CAP_SYS_RESOURCE (init has it; a host sandbox may not).
    static const struct { const char* name; int res; const char* step; } limits[] = {
        {"nofile", RLIMIT_NOFILE, "setrlimit nofile (raise the hard limit)"},
        {"nproc", RLIMIT_NPROC, "setrlimit nproc (raise the hard limit)"},
        {"as", RLIMIT_AS, "setrlimit as (raise the hard limit)"},
        {"core", RLIMIT_CORE, "setrlimit core (raise the hard limit)"},
        {"fsize", RLIMIT_FSIZE, "setrlimit fsize (raise the hard limit)"},
        {"memlock", RLIMIT_MEMLOCK, "setrlimit memlock (raise the hard limit)"},
        {"stack", RLIMIT_STACK, "setrlimit stack (raise the hard limit)"}};
    for (const auto& [name, value] : s.rlimits)
        for (const auto& l : limits)
            if (name == l.name) {
                struct rlimit rl = {(rlim_t)value, (rlim_t)value};
                if (setrlimit(l.res, &rl) < 0) return fail(l.step);
            }
    std::vector<int> keep;
    for (const auto& c : s.caps)
        if (int v = appliance::cap_number(c); v >= 0) keep.push_back(v);
    prctl(PR_SET_KEEPCAPS, 1);
    // Before the chroot: once in its jail, romlock refuses CAP_SETPCAP (and CAP_SYS_CHROOT) to
    // it whatever its capability sets say.
    for (int c = 0; c <= CAP_LAST_CAP; ++c)
        if (std::find(keep.begin(), keep.end(), c) == keep.end() && prctl(PR_CAPBSET_DROP, c) < 0 && errno != EINVAL)
            return fail("drop the capability bounding set");
    if (chroot(s.root.c_str()) < 0) return fail("chroot");
    if (chdir(s.cwd.c_str()) < 0) return fail("chdir");
    if (setgroups(s.groups.size(), (const gid_t*)s.groups.data()) < 0) return fail("setgroups");
    if (setresgid(s.gid, s.gid, s.gid) < 0) return fail("setresgid");
    if (setresuid(s.uid, s.uid, s.uid) < 0) return fail("setresuid");
    if (!appliance::set_capabilities(keep)) return fail("cap_set_proc");
    if (!appliance::raise_ambient(keep)) return fail("cap_set_ambient");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail("no_new_privs");
    return true;
}

bool read_seccomp_filter(const std::string& path, std::string& bpf) {
    bpf.clear();
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return false;
        }
        if (n == 0) break;
        bpf.append(buf, (size_t)n);
        if (bpf.size() > 4096 * sizeof(struct sock_filter)) break;
    }
    close(fd);
    if (bpf.empty() || bpf.size() % sizeof(struct sock_filter) != 0 || bpf.size() > 4096 * sizeof(struct sock_filter)) {
        bpf.clear();
        errno = EINVAL;
        return false;
    }
    return true;
}

bool load_seccomp(const std::string& bpf, const char*& what) {
    if (bpf.empty()) return true;
    struct sock_fprog prog = {(unsigned short)(bpf.size() / sizeof(struct sock_filter)),
                              (struct sock_filter*)const_cast<char*>(bpf.data())};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
        what = "seccomp filter";
        return false;
    }
    return true;
}

bool set_service_auid(unsigned index) {
    int fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%u", appliance::kServiceAuidBase + index);
    bool ok = write(fd, buf, n) == n;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

}  // namespace romimg::init
