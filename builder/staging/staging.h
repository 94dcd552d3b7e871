// Staging roots: for an image of another arch than the build host's (an i386 appliance built on
// amd64), romimg makes a Debian 12 root of the target's arch with the templates' packages
// (mmdebstrap), caches it under <cache>/roots/ keyed by suite, arch and package list, and, per
// build, copies this host's site files (each template's [site] paths) over it in the build's
// RootView (the cached root itself is never written after it is published).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/command.h"
#include "recipe/template.h"
#include "staging/emulated.h"
#include "staging/root_view.h"
#include "staging/translate.h"
#include "target/target.h"

namespace romimg::staging {

inline constexpr const char* kSuite = "bookworm";  // Debian 12: the last release with a full i386

// Pure: the packages a staging root gets: every template's packages plus `host_owners` (what
// owns the templates' site and include files on this host, e.g. tomcat10-examples or an Apache
// module's package), without arch qualifiers, sorted, each once.
std::vector<std::string> staging_packages(const std::vector<recipe::ServiceTemplate>& templates,
                                          const std::vector<std::string>& host_owners);

// The host packages owning files under the templates' [site] paths or matched by their include
// globs (read from this host's dpkg database).
std::vector<std::string> host_owners(const std::vector<recipe::ServiceTemplate>& templates);

// Pure: the cache key of a staging root (suite, arch, variant, packages, romimg's recipe, and
// whether it was made under qemu-user).
std::string staging_key(const target::Target& t, const std::vector<std::string>& packages,
                        RootMaker maker = RootMaker::native);

// Pure: the mmdebstrap command that makes the root at `dir`.
Command mmdebstrap_command(const target::Target& t, const std::vector<std::string>& packages,
                           const std::filesystem::path& dir, const std::filesystem::path& log);

// Pure: what a failed mmdebstrap's log says went wrong, as the fix a user can make ("" if it is
// not one romimg recognises): a package that does not exist for the arch, an arch the host
// cannot run, an unreachable mirror.
std::string explain_mmdebstrap_failure(const std::string& log_text, const target::Target& t);

// Pure: the interpreter of one binfmt_misc entry (/proc/sys/fs/binfmt_misc/NAME's text) if it
// is enabled and its magic and mask match the target's programs (a static ELF of its machine),
// else "".
std::string binfmt_entry_emulator(const std::string& entry_text, const target::Target& t);

// The binfmt_misc handler this host hands the target's programs to (qemu-user, usually), or ""
// when none is registered in `dir` (or binfmt_misc is not mounted there). A program run through
// it makes the emulator's x86_64 system calls, not its own: no trace of the target's arch.
std::string binfmt_emulator(const target::Target& t, const std::filesystem::path& dir = "/proc/sys/fs/binfmt_misc");

// How a build for `t` traces its services on this host: `asked` (--trace-route), else native
// where the host runs t's programs itself, else translated; `why` says why it is translated.
// Throws UsageError for a route this host cannot take (native without a way to run them,
// translated for the host's own arch).
TraceRoute choose_route(const target::Target& t, std::optional<TraceRoute> asked, std::string& why);

// True if this host runs the target's programs natively (a tiny static ELF of its machine, run
// once); `why` says how it failed.
bool host_runs(const target::Target& t, std::string& why);

// The cached staging root for `packages` (its root directory), made now if absent: mmdebstrap
// into a temporary directory under <cache>/roots/, then one rename; natively, or under
// qemu-user (emulated.h) as choose_root_maker(asked) decides. An interrupted or failed creation
// leaves nothing in the cache.
std::filesystem::path staging_root(const target::Target& t, const std::vector<std::string>& packages,
                                   const std::filesystem::path& cache_dir, const std::filesystem::path& log,
                                   std::optional<RootMaker> asked = std::nullopt);

// In `view`: replaces each [site] path of the templates that exists on this host with the
// host's copy (files, directories and symlinks, with their modes and mtimes; owners mapped by
// name from the host's accounts to the root's). Returns the number of files copied.
size_t copy_site(RootView& view, const std::vector<recipe::ServiceTemplate>& templates);

}  // namespace romimg::staging
