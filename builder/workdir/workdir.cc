#include "workdir/workdir.h"

#include <cstdlib>

#include <fmt/format.h>

#include "common/error.h"
#include "common/places.h"
#include "install/layout.h"

namespace romimg::workdir {

std::vector<std::filesystem::path> protected_dirs() {
    std::vector<std::filesystem::path> out = {install::layout().data};
    if (const char* home = getenv("HOME"); home && *home) out.emplace_back(home);
    return out;
}

void claim(const std::filesystem::path& work, const std::string& option) {
    places::claim_dir(std::filesystem::absolute(work), kMarker, option, protected_dirs());
}

void check(const std::filesystem::path& work, const std::string& option) {
    places::check_claimable(std::filesystem::absolute(work), kMarker, option, protected_dirs());
}

void check_cache(const std::filesystem::path& cache, const std::string& how) {
    if (std::string why = places::dangerous_dir(cache, protected_dirs()); !why.empty())
        throw UsageError(fmt::format("the cache {} ({}) {}: point it at a directory of its own, like ~/.cache/romimg",
                                     cache.string(), how, why));
    places::check_writable_dir(cache, fmt::format("the cache {} ({})", cache.string(), how));
}

}  // namespace romimg::workdir
