// Capabilities by name and number, and setting a process's sets, with raw system calls only:
// romimg-init and the self-test are static programs for amd64 and i386, and Debian 12 has no
// 32-bit static libcap. The names are libcap's (lower case, "cap_" prefix), the numbers
// <linux/capability.h>'s.
#pragma once

#include <linux/capability.h>

#include <cstdint>
#include <string>
#include <vector>

namespace romimg::appliance {

// "cap_net_bind_service" (any case) → 10; -1 if unknown.
int cap_number(const std::string& name);
// 10 → "cap_net_bind_service"; "" if unknown.
std::string cap_name(int number);
// capset(2): exactly `caps` permitted, effective and inheritable (nothing else). False on error.
bool set_capabilities(const std::vector<int>& caps);
// prctl(PR_CAP_AMBIENT_RAISE) for each. False on the first error.
bool raise_ambient(const std::vector<int>& caps);

}  // namespace romimg::appliance
