// Capabilities romlock refuses to every task in a jail, whatever its uid or capability sets say
// (kernel-config/romlock/jail.c; a unit test keeps the two lists the same). A template that asks
// for one gets a warning: the service will not have it on the appliance.
#pragma once

#include <string>
#include <vector>

namespace romimg::jail {

// Lower-case names as libcap spells them: "cap_sys_admin".
const std::vector<std::string>& romlock_stripped_capabilities();

// The template's capabilities that romlock strips (as the template spells them).
std::vector<std::string> stripped_in_jail(const std::vector<std::string>& template_caps);

}  // namespace romimg::jail
