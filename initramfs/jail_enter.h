// Entering a service's confinement, in a freshly forked child: chroot into its jail, its working
// dir, rlimits, only its capabilities (bounding set dropped, the kept ones ambient), its
// uid/gid/groups, no_new_privs. Shared by PID 1 (the services) and romimg-selftest (its attackers
// get exactly the services' confinement from exactly this code). No exceptions.
#pragma once

#include "appliance_conf.h"

namespace romimg::init {

// false and `what` = the step that failed (errno set) on error; the caller _exit()s.
bool enter_jail(const appliance::Service& s, const char*& what);

}  // namespace romimg::init
