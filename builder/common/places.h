// Where a tool that runs as root may write and delete: pure checks of locations, and claiming a
// directory with a marker so that only what the tool provably made is ever removed. Knows
// nothing of romimg (the caller names its marker and the directories it protects).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace romimg::places {

// "" or why `dir` must never be a work, output or cache directory: "/", a system directory
// (/etc, /usr, /bin, /lib*, /var, /home, ...), inside /proc, /sys or /dev, or the same as or
// above one of `protect` ($HOME, the source tree). `dir` is made absolute and normalized first.
std::string dangerous_dir(const std::filesystem::path& dir, const std::vector<std::filesystem::path>& protect);

// Makes `dir` a directory its owner may empty parts of. Refused (Error naming `option` and the
// fix) when it is dangerous, or exists, is not empty and has no `marker` file (someone else's
// directory); otherwise created if needed and marked.
void claim_dir(const std::filesystem::path& dir, const std::string& marker, const std::string& option,
               const std::vector<std::filesystem::path>& protect);
// The same checks, creating nothing: for commands that must refuse before reading their input.
void check_claimable(const std::filesystem::path& dir, const std::string& marker, const std::string& option,
                     const std::vector<std::filesystem::path>& protect);

// Checks, before any work, that `file` can be created or replaced: not a directory, not a
// device or FIFO, not in /proc, /sys or /dev, and its directory (or the nearest existing
// ancestor) is writable. Error naming `option` otherwise.
void check_output_file(const std::filesystem::path& file, const std::string& option);

// Checks that `dir` (or the nearest existing ancestor, if it does not exist yet) is a writable
// directory: a read-only cache is named before the build instead of failing in the middle.
void check_writable_dir(const std::filesystem::path& dir, const std::string& what);

}  // namespace romimg::places
