// The cache around a build (cache_care.h).
#include "stages/cache_care.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "kernel/kernel.h"

namespace romimg::pipeline {

cache::Current current_cache_inputs(const std::filesystem::path& kernel_config) {
    cache::Current c;
    c.romimg_sha256 = fs::sha256_file("/proc/self/exe");
    kernel::KernelOptions k;
    k.config_dir = kernel_config;
    try {
        const kernel::KernelInputs in = kernel::read_inputs(k);
        c.kernel_source = in.source_version;
        c.kernel_compiler = in.compiler;
    } catch (const Error&) {
        // No linux-source or gcc: no kernel can be built, so none is called stale for it.
    }
    return c;
}

void prune_to_limit(const BuildOptions& opt, const std::filesystem::path& cache_dir, time_t start) {
    if (!opt.cache_limit) return;
    Fd lock = cache::try_lock_exclusive(cache_dir);
    if (!lock) {
        log::info("==> cache: not pruned to cache_limit now: another build is using {}", cache_dir.string());
        return;
    }
    const auto all = cache::entries(cache_dir, {});
    cache::PrunePolicy p;
    p.max_bytes = opt.cache_limit;
    for (const auto& e : all)
        if (e.used >= (int64_t)start) p.keep.insert(e.path);  // made or hit by this build
    const auto gone = cache::choose(all, p, (int64_t)time(nullptr));
    if (gone.empty()) return;
    const uint64_t freed = cache::remove_entries(gone);
    log::info("==> cache: pruned {} entries ({}) to stay under cache_limit {}, oldest use first", gone.size(),
              cache::human_bytes(freed), cache::human_bytes(opt.cache_limit));
}

}  // namespace romimg::pipeline
