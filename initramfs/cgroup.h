// Each service's cgroup (cgroup v2, docs/limits.md): PID 1 mounts the hierarchy before the seal,
// gives every service a group of its own with memory.max, pids.max and memory.oom.group, and
// starts the service in it; the self-test's attackers join it to be held by the same bounds.
// No exceptions: bool + errno, or a value.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "appliance_conf.h"

namespace romimg::init {

inline constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

// Mounts cgroup2 at kCgroupRoot and hands the memory and pids controllers to the groups below.
// false + say() on failure (a kernel without them).
bool setup_cgroups();

// RAM of this machine in bytes (MemTotal), 0 if unknown.
unsigned long long mem_total_bytes();

// Makes (or resets) /sys/fs/cgroup/NAME with the service's limits; `memory` is set to the
// byte limit it got. false + say() on failure.
bool make_service_cgroup(const appliance::Service& s, unsigned long long mem_total, unsigned long long& memory);

// In a forked child: moves the calling process into the service's group. false + errno.
bool join_service_cgroup(const std::string& name);

// What the kernel counted in the group: OOM kills (memory.events oom_kill) and forks refused at
// pids.max (pids.events max). -1 where a file cannot be read.
struct CgroupEvents {
    long oom_kills = -1, forks_refused = -1;
};
CgroupEvents service_events(const std::string& name);

// Times init killed service NAME for thrashing at its limit (pid1.cc pressure_event), counted in
// a file of init's (/run/romimg-init/stall-kills.NAME) for the self-test's memory-hog check: a
// line in the kernel log was seen to go missing there. 0 if none.
unsigned long stall_kills(const std::string& name);
void count_stall_kill(const std::string& name);

// The path of `file` in the service's group ("memory.pressure").
std::string cgroup_file(const std::string& name, const std::string& file);

// A one-number file of the service's group (memory.current, memory.max, pids.current); 0 if it
// cannot be read or says "max".
unsigned long long cgroup_number(const std::string& name, const std::string& file);

// Processes in the group now (cgroup.procs).
std::vector<pid_t> service_pids(const std::string& name);

}  // namespace romimg::init
