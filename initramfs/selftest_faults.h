// The self-test's fault checks (`romimg verify --faults`, docs/limits.md): what a broken or
// hijacked service can do to the others by using up what the machine has. Each runs in the
// service's jail and cgroup, as the service's user (no seccomp filter: the worst case), and then
// the other services must still serve and PID 1 must be untouched:
//   tmpfs-full   fills its first writable tmpfs: ENOSPC for it, room left everywhere else;
//   fork-bomb    forks until refused: bounded by its pids.max, the others still answer;
//   memory-hog   touches memory until killed: the OOM killer takes its service alone (the
//                whole group, memory.oom.group), init restarts it and it serves again;
//   killed       SIGKILL of its main process: init restarts it within kRestartBound seconds
//                and it serves again.
// The last two take a service down on purpose; they run one service at a time, each waiting
// until its service serves again.
#pragma once

#include <functional>
#include <string>

#include "appliance_conf.h"

namespace romimg::selftest {

// print_check of selftest.cc: one CHECK line.
using CheckFn = std::function<void(bool pass, const std::string& scope, const std::string& id, const std::string& what,
                                   const std::string& expected, const std::string& got)>;

// How soon init must have started a SIGKILLed service again (a behaviour of init, not a speed:
// it restarts the first death at once).
inline constexpr double kRestartBound = 2.0;

void run_fault_checks(const appliance::Conf& conf, const CheckFn& check);

}  // namespace romimg::selftest
