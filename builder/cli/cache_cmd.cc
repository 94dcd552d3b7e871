// `romimg cache`: what the cache holds, and `romimg cache prune` (cache/inventory.h).
#include <ctime>

#include <fmt/format.h>

#include "cache/inventory.h"
#include "cli/cli.h"
#include "common/error.h"
#include "install/layout.h"
#include "kernel/kernel.h"
#include "recipe/template_checks.h"
#include "stages/cache_care.h"
#include "workdir/workdir.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg cache [--list] [--cache-dir DIR]\n"
    "       romimg cache prune [--older-than DAYS] [--max-size SIZE] [--dry-run] [--cache-dir DIR]\n"
    "\n"
    "Shows what the cache holds (kernels, base layers, content layers, CDS archives, verity trees,\n"
    "staging roots), how much, and what can never be hit again: a base layer made by another romimg\n"
    "binary, a kernel built from a linux-source or gcc that is no longer installed.\n"
    "\n"
    "prune removes those; with --older-than, also every entry not used for DAYS days; with\n"
    "--max-size, then the least recently used entries until the cache fits SIZE (e.g. 20g). It\n"
    "waits for no build: while one runs, it refuses. romimg.toml's cache_limit = \"SIZE\" prunes to\n"
    "SIZE after every build, never an entry that build used.\n"
    "\n"
    "options:\n"
    "  --list            every entry: kind, size, last use, and why it is stale\n"
    "  --cache-dir DIR   the cache (default: $ROMIMG_CACHE, else ~/.cache/romimg)\n"
    "  --older-than DAYS remove entries unused for DAYS days or more (0: all but those in use)\n"
    "  --max-size SIZE   then remove the least recently used until the cache is at most SIZE\n"
    "  --dry-run         say what would be removed, remove nothing\n";

std::string day(int64_t t) {
    time_t tt = (time_t)t;
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%d %H:%M", &tm);
    return b;
}

std::filesystem::path cache_of(const std::string& given) {
    const auto dir = kernel::resolve_cache_dir(given.empty() ? std::nullopt : std::optional<std::string>(given),
                                               getenv("ROMIMG_CACHE"), getenv("HOME"));
    workdir::check_cache(dir, given.empty() ? "the default" : "--cache-dir");
    return dir;
}

void show(const std::filesystem::path& dir, const std::vector<cache::Entry>& all, bool list) {
    uint64_t total = 0, stale_bytes = 0;
    size_t stale = 0;
    for (const auto& e : all) {
        total += e.bytes;
        if (!e.stale.empty()) ++stale, stale_bytes += e.bytes;
    }
    fmt::print("cache {}: {} in {} entries\n", dir.string(), cache::human_bytes(total), all.size());
    fmt::print("{:<9}{:>8}{:>10}{:>8}{:>11}  {}\n", "KIND", "ENTRIES", "SIZE", "STALE", "STALE SIZE", "LAST USED");
    for (const char* kind : {"kernel", "base", "content", "cds", "verity", "roots"}) {
        size_t n = 0, ns = 0;
        uint64_t b = 0, bs = 0;
        int64_t last = 0;
        for (const auto& e : all)
            if (e.kind == kind) {
                ++n, b += e.bytes, last = std::max(last, e.used);
                if (!e.stale.empty()) ++ns, bs += e.bytes;
            }
        if (n) fmt::print("{:<9}{:>8}{:>10}{:>8}{:>11}  {}\n", kind, n, cache::human_bytes(b), ns, cache::human_bytes(bs), day(last));
    }
    if (list) {
        fmt::print("\n");
        for (const auto& e : all)
            fmt::print("{:<9}{:>10}  {}  {}{}\n", e.kind, cache::human_bytes(e.bytes), day(e.used), e.path.filename().string(),
                       e.stale.empty() ? "" : "  (stale: " + e.stale + ")");
    }
    if (stale) fmt::print("\n`romimg cache prune` removes the {} stale entries ({}).\n", stale, cache::human_bytes(stale_bytes));
}

int prune(const std::filesystem::path& dir, const std::vector<cache::Entry>& all, const cache::PrunePolicy& p, bool dry_run) {
    const auto gone = cache::choose(all, p, (int64_t)time(nullptr));
    uint64_t bytes = 0;
    for (const auto& e : gone) {
        bytes += e.bytes;
        fmt::print("{} {:<8}{:>10}  {}{}\n", dry_run ? "would remove" : "remove", e.kind, cache::human_bytes(e.bytes),
                   e.path.filename().string(), e.stale.empty() ? fmt::format(" (last used {})", day(e.used)) : " (" + e.stale + ")");
    }
    if (!dry_run) cache::remove_entries(gone);
    fmt::print("{} {} entries, {} of {}\n", dry_run ? "would free" : "freed", gone.size(), cache::human_bytes(bytes), dir.string());
    return 0;
}

int cache_main(const GlobalOptions&, const std::vector<std::string>& args) {
    bool list = false, dry_run = false;
    std::string cache_dir, older, max_size;
    ArgParser p("cache", usage, args);
    p.flag("--list", list);
    p.flag("--dry-run", dry_run);
    p.option("--cache-dir", cache_dir);
    p.option("--older-than", older);
    p.option("--max-size", max_size);
    const auto pos = p.parse();
    const bool pruning = !pos.empty() && pos[0] == "prune";
    if (!pos.empty() && (!pruning || pos.size() > 1))
        throw UsageError(fmt::format("romimg cache takes no argument or `prune`, got '{}'", pos.back()));
    if (!pruning && (dry_run || !older.empty() || !max_size.empty()))
        throw UsageError("--older-than, --max-size and --dry-run go with `romimg cache prune`");
    cache::PrunePolicy policy;
    policy.stale = true;
    if (!older.empty()) {
        char* end = nullptr;
        const long days = strtol(older.c_str(), &end, 10);
        if (*end || days < 0 || days > 36500) throw UsageError(fmt::format("--older-than takes a number of days, got '{}'", older));
        policy.older_than_s = (int64_t)days * 86400;
    }
    if (!max_size.empty()) {
        if (std::string why = recipe::size_problem(max_size); !why.empty())
            throw UsageError(fmt::format("--max-size '{}' {} (e.g. 20g)", max_size, why));
        policy.max_bytes = (uint64_t)recipe::size_bytes(max_size);
    }
    const auto dir = cache_of(cache_dir);
    const auto now = pipeline::current_cache_inputs(install::kernel_config_dir());
    if (!pruning) {
        show(dir, cache::entries(dir, now), list);
        return 0;
    }
    Fd lock = cache::try_lock_exclusive(dir);
    if (!lock)
        throw Error(fmt::format("a romimg build is using the cache {}: prune it when the build has finished", dir.string()));
    return prune(dir, cache::entries(dir, now), policy, dry_run);
}

}  // namespace

Subcommand cache_command() {
    return {"cache", "show what the cache holds; `romimg cache prune` removes what cannot be used again", usage,
            cache_main};
}

}  // namespace romimg::cli
