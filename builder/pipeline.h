// `romimg build`: services → jails → kernel → root filesystem → initramfs → ISO.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "recipe/appliance_config.h"

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
    // dm-verity's Reed-Solomon parity bytes per 255 (--verity-fec, romimg.toml verity_fec): 0 for
    // none, else 2..24 (docs/verity.md). Every layer is verified either way.
    unsigned verity_fec_roots = 2;
    uint64_t cache_limit = 0;  // romimg.toml cache_limit: bytes the cache is pruned to after a build (0: never)
    // dm-verity off (--no-verity): benchmarking only, to measure what verity costs (bench/verity);
    // init says so loudly at every boot and `romimg verify` fails such an image.
    bool verity = true;
    // Signed boot (--sign-key/--sign-cert, romimg.toml sign_key/sign_cert; docs/verity.md): the
    // UEFI path boots a unified kernel image signed with this key, and each content layer's root
    // hash carries a PKCS#7 signature by it. Both or neither.
    std::filesystem::path sign_key, sign_cert;
    bool debug_shell = false;   // a root shell on the console (busybox), announced loudly
    int jobs = 0;               // kernel build; 0 = all cores
    // The target (target::all_targets: amd64, i386) by its Debian name; "" = the build host's.
    // build_appliance resolves it to one target::Target and passes that to the stages.
    std::string arch;
    // The configured server tree the services are traced and jailed from ("" = /). For an i386
    // target without one, romimg makes an i386 root from Debian's packages (staging/).
    std::filesystem::path root;
    // How services of another arch are traced: "auto" (""), "native" or "translated"
    // (staging::TraceRoute; staging/translate.h).
    std::string trace_route;
    // How a staging root is made when this host cannot run the target's programs: "auto" (""),
    // "native" or "qemu-user" (staging::RootMaker; staging/emulated.h).
    std::string staging_route;
    // The kernel hardening parameters on the command line (kernel-config/hardening.tsv); off only
    // to measure a previous kernel as it booted (bench/kernel-hardening); verify fails such an image.
    bool hardening_cmdline = true;
    // The kernel's config directory (--kernel-config-dir); empty = the source's kernel-config/.
    std::filesystem::path kernel_config_dir;
    // Content layers, "SERVICE:PATH=SOURCE" as --content takes them (romimg.toml's [[content]]
    // lands here too).
    std::vector<std::string> content;
    bool retrace = false;       // trace again (content in place) instead of using the base cache
    bool content_allow_private = false;  // content may ship private keys and non-world-readable files
    // SOURCE_DATE_EPOCH: --source-date-epoch or romimg.toml; else the environment variable;
    // else the newest input (see newest_input_time).
    std::optional<int64_t> source_date_epoch;
    // Seccomp mode per service (enforce | log | off) when romimg.toml or --seccomp say; "*" = every
    // service. Otherwise the template's [seccomp] mode, else enforce.
    std::map<std::string, std::string> seccomp;
};

// The override for one service from opt.seccomp, if any (its own entry, else "*").
std::optional<std::string> seccomp_override(const BuildOptions& opt, const std::string& service);

struct BuildResult {
    std::filesystem::path iso;
    uint64_t bytes = 0;
    std::vector<std::string> manifests;
    std::vector<std::string> ports;  // "apache:80"
    std::vector<std::string> data;   // services with [data] paths: the image wants a data disk
    bool base_cached = false;        // jails and root.sqfs came from the base cache
    bool iso_unchanged = false;      // every input was the same: the existing ISO was kept
    std::string root_sha256;
};

BuildResult build_appliance(const BuildOptions& opt);

// Pure: lays romimg.toml's settings over `opt` (the build command then lays its flags over
// the result). compression zstd is --fast.
void apply_config(const recipe::ApplianceConfig& config, BuildOptions& opt);

// Reads only metadata (lstat): every path that exists contributes its mtime (symlinks: the link's own);
// the newest one, or 0 when there is none; `which`, if given, is set to that path. Only regular
// files and symlinks count: directories change whenever a service on the build host writes a
// log or a pid file.
int64_t newest_input_time(const std::vector<std::filesystem::path>& paths, std::filesystem::path* which = nullptr);

// The latest SOURCE_DATE_EPOCH an image can carry: squashfs stores unsigned 32-bit times.
inline constexpr int64_t kMaxEpoch = 4294967295;

// The image's SOURCE_DATE_EPOCH: the explicit value if any, else $SOURCE_DATE_EPOCH (`env`,
// may be null; must be a non-negative integer), else `newest`.
int64_t choose_source_date_epoch(const std::optional<int64_t>& explicit_value, const char* env, int64_t newest);

// Pure: the kernel's ip= argument for --net (Documentation/admin-guide/nfs/nfsroot.rst syntax).
std::string kernel_ip_argument(const std::string& net);
// Pure: the whole kernel command line (the hardening parameters are the kernel ARCH's).
std::string kernel_cmdline(const BuildOptions& opt, const std::string& kernel_arch);

}  // namespace romimg::pipeline
