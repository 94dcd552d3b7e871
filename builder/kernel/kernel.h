// The kernel stage: linux-source-6.12 + kernel-config/ → bzImage, cached by content hash.
// Input: the source tarball, kernel-config/ (fragments, romlock LSM source, patches), gcc.
// Output: <cache>/kernel/<key>/bzImage. Side effects: only under <cache>/kernel/ (a temporary
// build dir renamed into place when complete; failed builds leave a log under logs/).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/command.h"

namespace romimg::kernel {

// Everything that determines the bzImage. Two equal values build the same kernel.
struct KernelInputs {
    std::string source_version;  // dpkg version of linux-source-6.12, or "sha256:<tarball>"
    std::string compiler;        // first line of `gcc --version`
    std::string recipe;          // how this stage configures and builds (recipe(arch))
    std::map<std::string, std::string> files;  // kernel-config/ relative path → contents
};

// How this stage configures and builds for kernel ARCH `arch`, as the text that goes into the
// key (so the arch is in it); its version is bumped when the procedure changes the output.
std::string recipe(const std::string& arch);

// The kernel ARCH values this stage builds, and the arch/ directory each one lives in (x86_64
// and i386 are both arch/x86). Throws UsageError naming the supported ones for anything else.
std::string arch_source_dir(const std::string& arch);

// Hex sha256 over a canonical serialization of the inputs (pure).
std::string cache_key(const KernelInputs& in);

// Which files of kernel-config/ go into the build (and so into the key) for kernel ARCH
// `arch`: common.config and <arch>.config (another arch's fragment does not), romlock/* and
// patches/*.patch. README.md, hardening.tsv and the like do not (pure, on relative paths).
bool is_build_input(const std::string& relative_path, const std::string& arch);

// The fragments merged, in merge order: common.config, then <arch>.config (pure).
std::vector<std::string> fragment_names(const std::string& arch);

// One requested option of a fragment: value is "y", "m", a number/string literal, or "n" for
// "# CONFIG_X is not set".
struct FragmentOption {
    std::string name;  // CONFIG_FOO
    std::string value;
    std::string where;  // file:line, for messages
};

std::vector<FragmentOption> parse_fragment(const std::string& text, const std::string& file);

// The options of a .config as name → value ("n" for "is not set"; absent options are absent).
std::map<std::string, std::string> parse_dotconfig(const std::string& text);

// Requested options that did not end up as requested; an option Kconfig left out entirely
// counts as "n". Each string names the option, what was asked, what came out, and where.
std::vector<std::string> config_mismatches(const std::vector<FragmentOption>& wanted,
                                           const std::map<std::string, std::string>& dotconfig);

// Where the cache lives: --cache-dir, else $ROMIMG_CACHE, else $HOME/.cache/romimg.
std::filesystem::path resolve_cache_dir(const std::optional<std::string>& cli,
                                        const char* env_cache, const char* env_home);

// Argv builders (pure).
Command unpack_command(const std::filesystem::path& tarball, const std::filesystem::path& dest,
                       const std::filesystem::path& log);
Command patch_command(const std::filesystem::path& tree, const std::filesystem::path& patch,
                      const std::filesystem::path& log);
Command merge_config_command(const std::filesystem::path& tree, const std::string& arch,
                             const std::vector<std::filesystem::path>& fragments,
                             const std::filesystem::path& log);
Command make_bzimage_command(const std::filesystem::path& tree, const std::string& arch, int jobs,
                             const std::filesystem::path& log);

struct KernelOptions {
    std::filesystem::path source_tarball = "/usr/src/linux-source-6.12.tar.xz";
    std::string source_package = "linux-source-6.12";
    std::filesystem::path config_dir;  // kernel-config/
    std::string arch = "x86_64";       // kernel ARCH: which <arch>.config, make ARCH=
    std::filesystem::path cache_dir;   // resolved; the stage uses <cache_dir>/kernel
    // Kernels built by the romimg-kernel-* packages, read-only: <packaged_dir>/<key>/bzImage is
    // taken as it is when its key is this build's (nothing is built or copied). "" for none.
    std::filesystem::path packaged_dir;
    int jobs = 1;
};

struct KernelResult {
    std::filesystem::path bzimage;
    std::string key;
    bool from_cache = false;
    std::filesystem::path config;  // the final .config, beside the bzImage
    std::string source_version;    // KernelInputs::source_version
    std::string compiler;          // KernelInputs::compiler
    bool packaged = false;         // from packaged_dir (a romimg-kernel-* package), not the cache
};

// Reads the inputs from disk (tarball version, compiler, kernel-config files).
KernelInputs read_inputs(const KernelOptions& opt);

// Returns the cached bzImage, building it first if needed.
KernelResult build_kernel(const KernelOptions& opt);

}  // namespace romimg::kernel
