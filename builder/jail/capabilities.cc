#include "jail/capabilities.h"

#include <algorithm>

namespace romimg::jail {

const std::vector<std::string>& romlock_stripped_capabilities() {
    static const std::vector<std::string> caps = {
        "cap_dac_override", "cap_dac_read_search", "cap_setpcap",     "cap_linux_immutable", "cap_net_admin",
        "cap_net_raw",      "cap_ipc_owner",       "cap_sys_module",  "cap_sys_rawio",       "cap_sys_chroot",
        "cap_sys_ptrace",   "cap_sys_pacct",       "cap_sys_admin",   "cap_sys_boot",        "cap_sys_resource",
        "cap_sys_time",     "cap_sys_tty_config",  "cap_mknod",       "cap_audit_write",     "cap_audit_control",
        "cap_setfcap",      "cap_mac_override",    "cap_mac_admin",   "cap_syslog",          "cap_wake_alarm",
        "cap_block_suspend", "cap_audit_read",     "cap_perfmon",     "cap_bpf",             "cap_checkpoint_restore"};
    return caps;
}

std::vector<std::string> stripped_in_jail(const std::vector<std::string>& template_caps) {
    std::vector<std::string> out;
    const auto& stripped = romlock_stripped_capabilities();
    for (const auto& c : template_caps) {
        std::string lower;
        for (char ch : c) lower += (char)tolower((unsigned char)ch);
        if (std::find(stripped.begin(), stripped.end(), lower) != stripped.end()) out.push_back(c);
    }
    return out;
}

}  // namespace romimg::jail
