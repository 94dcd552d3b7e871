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

// A compiled seccomp filter (the builder's appliance::kSeccompDir/NAME.bpf: struct sock_filter
// records). false (errno set) if it cannot be read or is not a whole program of 1-4096
// instructions. Read before the chroot: the filters are outside the jails.
bool read_seccomp_filter(const std::string& path, std::string& bpf);

// Loads the filter into the calling process: the last step before its exec, after enter_jail
// (no_new_privs is set). false and `what` on error (errno set).
bool load_seccomp(const std::string& bpf, const char*& what);

// The audit login uid of service number `index` (appliance::kServiceAuidBase + index), so that
// the kernel's seccomp reports name the service. Before enter_jail (it needs /proc and
// CAP_AUDIT_CONTROL).
bool set_service_auid(unsigned index);

}  // namespace romimg::init
