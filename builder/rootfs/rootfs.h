// The root filesystem stage. Input: the applied jails (trees + plans), romimg-init, overlays/,
// the appliance configuration. Output: root.sqfs. Side effects: a staging tree of hard links
// under the work dir (nothing copied, nothing chowned or mknod'ed on the host: device nodes are
// mksquashfs pseudo-definitions).
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "appliance_conf.h"
#include "common/command.h"
#include "jail/jail.h"
#include "recipe/template.h"

namespace romimg::rootfs {

struct JailInRoot {
    const recipe::ServiceTemplate* tmpl;
    const jail::JailPlan* plan;
    std::filesystem::path tree;  // the applied jail
};

// Pure: the PID 1 entry for a jailed service, from its template and plan. Paths become the
// appliance's (/jail/NAME/...), or are under `root` (`romimg jail --verify` runs the jail as "/").
appliance::Service service_entry(const recipe::ServiceTemplate& t, const jail::JailPlan& plan, bool exec_lock,
                                 const std::string& root = "");

// Pure: mksquashfs pseudo-definitions for the jails' device nodes ("jail/apache/dev/null c 666 0 0 1 3").
std::string pseudo_definitions(const std::vector<JailInRoot>& jails);

// Pure: the mksquashfs command (sorted, fixed times, no host ownership surprises).
Command mksquashfs_command(const std::filesystem::path& tree, const std::filesystem::path& out,
                           const std::filesystem::path& pseudo, const std::string& compression, const std::string& block,
                           time_t epoch, const std::filesystem::path& log);

struct RootfsRequest {
    std::vector<JailInRoot> jails;
    std::filesystem::path init_binary;
    std::filesystem::path e2fsck;     // "" = none (no service has [data] paths)
    std::filesystem::path overlays;
    appliance::Conf conf;
    std::string compression = "xz";  // or zstd (--fast)
    std::string block = "256K";      // with xz: the target's squashfs_block
    time_t epoch = 0;
    std::filesystem::path work;      // staging under work/rootfs
    std::filesystem::path log;
};

struct RootfsResult {
    std::filesystem::path squashfs;
    uint64_t bytes = 0;
};

RootfsResult build_rootfs(const RootfsRequest& req);

}  // namespace romimg::rootfs
