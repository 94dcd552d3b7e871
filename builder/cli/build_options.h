// `romimg build`'s settings, layered: defaults, then the appliance config (romimg.toml), then
// the command line's flags.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline.h"

namespace romimg::cli {

// The flags as given: an empty string (or false, or 0) means "not given", so the config's
// value stays. Boolean flags can only switch a setting on.
struct BuildFlags {
    std::string config, output, work, media, label, hostname, net, log_to, romlock_mode, epoch, arch, root, trace_route,
        staging_route;
    bool no_config = false, log_console = false, no_exec_lock = false, fast = false, debug_shell = false;
    bool retrace = false, content_allow_private = false, no_hardening_cmdline = false, no_verity = false;
    int jobs = 0;
    int verity_fec = -1;  // -1: not given
    std::string sign_key, sign_cert;
    std::string kernel_config_dir;  // --kernel-config-dir; empty = the source's kernel-config/
    std::vector<std::string> services;
    // --content SERVICE:PATH=SOURCE: replaces the config file's entry for the same SERVICE:PATH,
    // adds to the others.
    std::vector<std::string> content;
    // --seccomp [SERVICE=]MODE: replaces the config file's entry for that service ("*" without one).
    std::vector<std::string> seccomp;
};

// Reads the config named by -c, else `cwd`/romimg.toml if there is one (unless --no-config).
pipeline::BuildOptions build_options(const BuildFlags& flags, const std::filesystem::path& cwd);

}  // namespace romimg::cli
