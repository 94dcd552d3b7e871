// romimg's places: the work directory it may empty parts of (claimed with a marker), and the
// directories no work, output or cache location may be or hold ($HOME, the source tree, /, the
// system directories). Checked before any work; see common/places for the rules.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace romimg::workdir {

inline constexpr const char* kMarker = ".romimg-work";

// $HOME and the source tree.
std::vector<std::filesystem::path> protected_dirs();

// `option` is how the user named it ("--work"). Throws UsageError/Error naming the fix.
void claim(const std::filesystem::path& work, const std::string& option = "--work");

// claim's checks without creating anything: refuse before the command reads its input.
void check(const std::filesystem::path& work, const std::string& option = "--work");

// The cache root: not dangerous, and writable (a read-only cache is named up front).
void check_cache(const std::filesystem::path& cache, const std::string& how);

}  // namespace romimg::workdir
