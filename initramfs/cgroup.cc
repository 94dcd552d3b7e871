#include "cgroup.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

namespace romimg::init {

namespace {

std::string group(const std::string& name) { return std::string(kCgroupRoot) + "/" + name; }

}  // namespace

bool setup_cgroups() {
    if (mount("cgroup2", kCgroupRoot, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate") != 0) {
        say(std::string("cannot mount the cgroup hierarchy at ") + kCgroupRoot + ": " + strerror(errno) +
            ": services run without memory and task limits");
        return false;
    }
    if (!write_file(std::string(kCgroupRoot) + "/cgroup.subtree_control", "+memory +pids")) {
        say(std::string("cannot enable the memory and pids controllers: ") + strerror(errno) +
            ": services run without memory and task limits");
        return false;
    }
    return true;
}

unsigned long long mem_total_bytes() {
    std::string text;
    if (!read_file("/proc/meminfo", text)) return 0;
    long kb = appliance::flat_keyed_value(text, "MemTotal:");
    return kb > 0 ? (unsigned long long)kb * 1024 : 0;
}

bool make_service_cgroup(const appliance::Service& s, unsigned long long mem_total, unsigned long long& memory) {
    const std::string g = group(s.name);
    if (mkdir(g.c_str(), 0755) != 0 && errno != EEXIST) {
        say("cannot make the cgroup of " + s.name + ": " + strerror(errno));
        return false;
    }
    if (!appliance::memory_limit_bytes(s.memory_max, mem_total, memory)) {
        say(s.name + ": memory limit '" + s.memory_max + "' is not a size");
        return false;
    }
    // The whole service is one unit for the OOM killer: a hog takes its own service down (init
    // restarts it), never half of it, and never another service or PID 1.
    const std::pair<const char*, std::string> settings[] = {{"memory.max", std::to_string(memory)},
                                                            {"pids.max", std::to_string(s.tasks_max)},
                                                            {"memory.oom.group", "1"}};
    for (const auto& [file, value] : settings)
        if (!write_file(g + "/" + file, value)) {
            say(std::string("cannot set ") + file + " = " + value + " for " + s.name + ": " + strerror(errno));
            return false;
        }
    return true;
}

bool join_service_cgroup(const std::string& name) {
    int fd = open((group(name) + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, "0", 1) == 1;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

std::string cgroup_file(const std::string& name, const std::string& file) { return group(name) + "/" + file; }

unsigned long long cgroup_number(const std::string& name, const std::string& file) {
    std::string text;
    return read_file(cgroup_file(name, file), text) ? strtoull(text.c_str(), nullptr, 10) : 0;
}

CgroupEvents service_events(const std::string& name) {
    CgroupEvents e;
    std::string text;
    if (read_file(group(name) + "/memory.events", text)) e.oom_kills = appliance::flat_keyed_value(text, "oom_kill");
    if (read_file(group(name) + "/pids.events", text)) e.forks_refused = appliance::flat_keyed_value(text, "max");
    return e;
}

namespace {
std::string stall_kills_file(const std::string& name) { return "/run/romimg-init/stall-kills." + name; }
}  // namespace

unsigned long stall_kills(const std::string& name) {
    std::string text;
    return read_file(stall_kills_file(name), text) ? strtoul(text.c_str(), nullptr, 10) : 0;
}

void count_stall_kill(const std::string& name) {
    mkdir_p("/run/romimg-init", 0700);
    const std::string count = std::to_string(stall_kills(name) + 1);
    // A file of its own (write_file() only writes files that exist: /proc, cgroup files).
    int fd = open(stall_kills_file(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    (void)!write(fd, count.data(), count.size());
    close(fd);
}

std::vector<pid_t> service_pids(const std::string& name) {
    std::vector<pid_t> out;
    std::string text;
    if (!read_file(group(name) + "/cgroup.procs", text)) return out;
    for (const char* p = text.c_str(); *p;) {
        char* end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (v > 0) out.push_back((pid_t)v);
        p = end;
        while (*p == '\n') ++p;
    }
    return out;
}

}  // namespace romimg::init
