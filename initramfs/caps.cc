#include "caps.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>

namespace romimg::appliance {

namespace {

// Index = capability number (<linux/capability.h>); "" for a number the kernel never assigned.
const char* const kNames[] = {
    "cap_chown",          "cap_dac_override",   "cap_dac_read_search", "cap_fowner",         "cap_fsetid",
    "cap_kill",           "cap_setgid",         "cap_setuid",          "cap_setpcap",        "cap_linux_immutable",
    "cap_net_bind_service", "cap_net_broadcast", "cap_net_admin",      "cap_net_raw",        "cap_ipc_lock",
    "cap_ipc_owner",      "cap_sys_module",     "cap_sys_rawio",       "cap_sys_chroot",     "cap_sys_ptrace",
    "cap_sys_pacct",      "cap_sys_admin",      "cap_sys_boot",        "cap_sys_nice",       "cap_sys_resource",
    "cap_sys_time",       "cap_sys_tty_config", "cap_mknod",           "cap_lease",          "cap_audit_write",
    "cap_audit_control",  "cap_setfcap",        "cap_mac_override",    "cap_mac_admin",      "cap_syslog",
    "cap_wake_alarm",     "cap_block_suspend",  "cap_audit_read",      "cap_perfmon",        "cap_bpf",
    "cap_checkpoint_restore",
};
static_assert(sizeof kNames / sizeof kNames[0] == CAP_LAST_CAP + 1, "one name per capability of <linux/capability.h>");

}  // namespace

int cap_number(const std::string& name) {
    std::string n;
    for (char c : name) n += (char)std::tolower((unsigned char)c);
    for (int i = 0; i <= CAP_LAST_CAP; ++i)
        if (n == kNames[i]) return i;
    return -1;
}

std::string cap_name(int number) { return number >= 0 && number <= CAP_LAST_CAP ? kNames[number] : ""; }

bool set_capabilities(const std::vector<int>& caps) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    for (int c : caps) {
        if (c < 0 || c > CAP_LAST_CAP) return false;
        const uint32_t bit = 1u << (c % 32);
        data[c / 32].permitted |= bit;
        data[c / 32].effective |= bit;
        data[c / 32].inheritable |= bit;
    }
    return syscall(SYS_capset, &hdr, data) == 0;
}

bool raise_ambient(const std::vector<int>& caps) {
    for (int c : caps)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0UL, 0UL) < 0) return false;
    return true;
}

}  // namespace romimg::appliance
