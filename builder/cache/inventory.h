// What the cache holds, and pruning it (`romimg cache`, `romimg cache prune`, romimg.toml's
// cache_limit). Every kind of entry, by where it lives under the cache dir:
//   kernel/<key>/   base/<key>/   content/<key>.sqfs   cds/<key>.jsa   verity/<key>/   roots/<name>/
// An entry's last use is its mtime: each cache hit refreshes it (mark_used). Some entries can
// never be hit again, whatever the inputs: a base layer made by another romimg binary (its key
// holds the binary's hash), a kernel built from a linux-source or gcc that is no longer the
// installed one. Removal is by rename out of the way first, so a half-removed entry is never
// taken for a whole one; a build holds the cache's lock shared, and pruning takes it alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fd.h"

namespace romimg::cache {

struct Entry {
    std::string kind;  // kernel, base, content, cds, verity, roots
    std::filesystem::path path;
    uint64_t bytes = 0;
    int64_t used = 0;   // last use, seconds since 1970 (the entry's mtime)
    std::string stale;  // why no input can hit it again; "" when one may
};

// What this romimg would hit: its own binary's hash (base entries record the one that made
// them in `made-by`) and the kernel inputs it would read now.
struct Current {
    std::string romimg_sha256;
    std::string kernel_source, kernel_compiler;  // inputs.txt's "source" and "compiler" values
};

// Every entry under `cache` (nothing for a kind whose dir is absent), with `stale` filled in.
std::vector<Entry> entries(const std::filesystem::path& cache, const Current& now);

// Refreshes an entry's last use (its mtime); best effort: a read-only cache is not an error.
void mark_used(const std::filesystem::path& entry);

// What to remove (pure): stale entries when `stale`; entries unused for `older_than_s` seconds;
// then, oldest use first, until what is left fits `max_bytes`. Never an entry in `keep`.
struct PrunePolicy {
    bool stale = false;
    std::optional<int64_t> older_than_s;
    std::optional<uint64_t> max_bytes;
    std::set<std::filesystem::path> keep;
};
std::vector<Entry> choose(const std::vector<Entry>& all, const PrunePolicy& policy, int64_t now);

// Removes the chosen entries (each renamed to a hidden name first, then deleted); returns the
// bytes freed.
uint64_t remove_entries(const std::vector<Entry>& chosen);

// The cache's lock (<cache>/.lock, flock): builds hold it shared while they run; pruning needs
// it alone. try_exclusive returns an invalid Fd when a build holds it.
Fd lock_shared(const std::filesystem::path& cache);
Fd try_lock_exclusive(const std::filesystem::path& cache);

// "1.2 GB", "640 MB", "12 kB" (decimal units, as du --si).
std::string human_bytes(uint64_t b);

}  // namespace romimg::cache
