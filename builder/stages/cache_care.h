// The cache around a build: held shared while the build runs (a `romimg cache prune` waits for
// no one and removes nothing then), and pruned to romimg.toml's cache_limit after it, oldest use
// first, never an entry this build used (inventory.h).
#pragma once

#include <ctime>
#include <filesystem>

#include "cache/inventory.h"
#include "pipeline.h"

namespace romimg::pipeline {

// What this romimg would hit now (its binary's hash, the kernel inputs it would read).
cache::Current current_cache_inputs(const std::filesystem::path& kernel_config);

// After a build that started at `start`: prunes to opt.cache_limit when it is set and the cache
// is over it. Skipped, with a line saying so, while another build holds the cache.
void prune_to_limit(const BuildOptions& opt, const std::filesystem::path& cache_dir, time_t start);

}  // namespace romimg::pipeline
