// Entering a service's confinement, in a freshly forked child: chroot into its jail, its working
// dir, rlimits, only its capabilities (bounding set dropped, the kept ones ambient), its
// uid/gid/groups, no_new_privs. Shared by PID 1 (the services) and romimg-selftest (its attackers
// get exactly the services' confinement from exactly this code). No exceptions.
#pragma once

#include <string>

#include "appliance_conf.h"

namespace romimg::init {

// Binds each of the service's devices from /dev over its node under `root` (the jail's root as
// the caller sees it: "/jail/NAME" in init, the sandbox's root in `romimg jail --verify`), then
// makes that mount read-only, nosuid and noexec but not nodev: the only nodes of a jail that open
// (its root is nodev). Before romlock's seal: afterwards no mount can add or remove one. false
// and `failed` = the device and the step on error (errno set).
bool bind_devices(const appliance::Service& s, const std::string& root, std::string& failed);

// false and `what` = the step that failed (errno set) on error; the caller _exit()s.
bool enter_jail(const appliance::Service& s, const char*& what);

}  // namespace romimg::init
