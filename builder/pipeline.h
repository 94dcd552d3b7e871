// `romimg build`: services → jails → kernel → root filesystem → initramfs → ISO.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace romimg::pipeline {

struct BuildOptions {
    std::vector<std::string> services = {"apache", "tomcat"};
    std::filesystem::path output = "out/romimg.iso";
    std::filesystem::path work = "work";
    std::string media;          // "", cd, dvd
    std::string label = "ROMIMG";
    std::string hostname = "romimg";
    std::string net = "dhcp";   // dhcp | static:ADDR/PREFIX,GW[,DNS]
    std::string log_to;         // udp://ADDRESS:PORT
    bool log_console = false;
    std::string romlock_mode = "enforce";
    bool exec_lock = true;
    bool fast = false;          // zstd instead of xz
    bool debug_shell = false;   // a root shell on the console (busybox), announced loudly
    int jobs = 0;               // kernel build; 0 = all cores
    std::vector<std::string> content;  // --content SERVICE:PATH=SOURCE, as given
    bool retrace = false;       // trace again (content in place) instead of using the base cache
};

struct BuildResult {
    std::filesystem::path iso;
    uint64_t bytes = 0;
    std::vector<std::string> manifests;
    std::vector<std::string> ports;  // "apache:80"
    bool base_cached = false;        // jails and root.sqfs came from the base cache
    bool iso_unchanged = false;      // every input was the same: the existing ISO was kept
    std::string root_sha256;
};

BuildResult build_appliance(const BuildOptions& opt);

// Pure: the kernel's ip= argument for --net (Documentation/admin-guide/nfs/nfsroot.rst syntax).
std::string kernel_ip_argument(const std::string& net);
// Pure: the whole kernel command line.
std::string kernel_cmdline(const BuildOptions& opt);

}  // namespace romimg::pipeline
