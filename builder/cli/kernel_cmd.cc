// `romimg kernel`: build (or find in the cache) the appliance kernel and print its path.
#include <cstdlib>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "install/layout.h"
#include "kernel/kernel.h"

namespace romimg::cli {

namespace {

const char* const kernel_usage =
    "usage: romimg kernel [--arch ARCH] [--jobs N] [--cache-dir DIR] [--config-dir DIR] [-o PATH]\n"
    "       romimg kernel --key [--arch ARCH] [--cache-dir DIR] [--config-dir DIR]\n"
    "\n"
    "Builds the appliance kernel (linux-source-6.12 + kernel-config/: the config fragments\n"
    "common.config and ARCH.config, the romlock LSM, patches) and prints the path of its\n"
    "bzImage. The result is cached under DIR/kernel/<hash of the inputs used>/ (another arch's\n"
    "fragment is not one), so a rerun with nothing changed returns at once; the final .config\n"
    "is the file `config` beside the bzImage.\n"
    "\n"
    "options:\n"
    "  --arch ARCH       kernel ARCH, x86_64 (default) or i386: `make ARCH=` and ARCH.config\n"
    "  --jobs N          parallel make jobs (default: number of CPUs)\n"
    "  --cache-dir DIR   cache root (default: $ROMIMG_CACHE, else ~/.cache/romimg)\n"
    "  --config-dir DIR  kernel-config directory (default: the one romimg ships)\n"
    "  -o, --output PATH also copy the bzImage to PATH\n"
    "  --key             build nothing: print the key of these inputs and whether the cache\n"
    "                    holds its kernel (\"KEY packaged PATH\", \"KEY cached PATH\" or\n"
    "                    \"KEY not cached\")\n"
    "\n"
    "A kernel of the romimg-kernel-* packages (in lib/romimg/kernel/KEY/) is used as it is when\n"
    "its key is the one these inputs give: the same linux-source and gcc versions and the same\n"
    "kernel-config. Otherwise romimg builds (a few minutes) and caches its own.\n";

int kernel_main(const GlobalOptions&, const std::vector<std::string>& args) {
    int jobs = 0;
    std::string cache_dir, config_dir, output, arch = kernel::KernelOptions{}.arch;
    bool key_only = false;
    ArgParser p("kernel", kernel_usage, args);
    p.flag("--key", key_only);
    p.option("--jobs", jobs);
    p.option("-j", jobs);
    p.option("--cache-dir", cache_dir);
    p.option("--config-dir", config_dir);
    p.option("--arch", arch);
    p.option("-o", output);
    p.option("--output", output);
    auto positional = p.parse();
    if (!positional.empty())
        throw UsageError(fmt::format("romimg kernel takes no arguments, got '{}'\n"
                                     "  (see `romimg kernel --help`)",
                                     positional[0]));
    bool jobs_given = false;
    for (const auto& a : args)
        jobs_given |= a == "--jobs" || a == "-j" || a.rfind("--jobs=", 0) == 0;
    if (jobs_given && jobs < 1)
        throw UsageError(fmt::format("--jobs must be a positive number, got {}\n"
                                     "  (see `romimg kernel --help`)",
                                     jobs));

    kernel::KernelOptions opt;
    opt.arch = arch;
    opt.jobs = jobs_given ? jobs : std::max(1u, std::thread::hardware_concurrency());
    opt.cache_dir = kernel::resolve_cache_dir(
        cache_dir.empty() ? std::nullopt : std::optional<std::string>(cache_dir),
        std::getenv("ROMIMG_CACHE"), std::getenv("HOME"));
    opt.packaged_dir = install::packaged_kernels_dir();
    opt.config_dir = config_dir.empty()
                         ? install::kernel_config_dir()
                         : std::filesystem::path(config_dir);

    if (key_only) {
        kernel::arch_source_dir(opt.arch);  // an unknown ARCH is a usage error here too
        const std::string key = kernel::cache_key(kernel::read_inputs(opt));
        const auto bz = opt.cache_dir / "kernel" / key / "bzImage";
        const auto pkg = opt.packaged_dir / key / "bzImage";
        std::error_code ec;
        if (std::filesystem::is_regular_file(pkg, ec)) fmt::print("{} packaged {}\n", key, pkg.string());
        else if (std::filesystem::is_regular_file(bz, ec)) fmt::print("{} cached {}\n", key, bz.string());
        else fmt::print("{} not cached\n", key);
        return 0;
    }
    auto result = kernel::build_kernel(opt);
    if (result.packaged) log::info("==> kernel: packaged {}", result.bzimage.string());
    else if (result.from_cache) log::info("==> kernel: cached {}", result.bzimage.string());
    if (!output.empty()) {
        std::filesystem::copy_file(result.bzimage, output,
                                   std::filesystem::copy_options::overwrite_existing);
        log::info("==> kernel: copied to {}", output);
    }
    fmt::print("{}\n", result.bzimage.string());
    return 0;
}

}  // namespace

Subcommand kernel_command() {
    return {"kernel", "build (or find in the cache) the appliance kernel with romlock", kernel_usage,
            kernel_main};
}

}  // namespace romimg::cli
