// The translated route of tracing, for an image of another arch on a host that cannot run that
// arch's programs itself (no IA32 emulation, or i386 programs that binfmt_misc hands to
// qemu-user, whose own x86_64 calls a trace would see): the service is traced as the build
// host's own build (amd64), and what it touched is carried over into the target's root by path
// and package. /usr/lib/x86_64-linux-gnu/libc.so.6 becomes /usr/lib/i386-linux-gnu/libc.so.6,
// /usr/lib/jvm/java-17-openjdk-amd64/... becomes .../java-17-openjdk-i386/..., a file with no
// such counterpart is looked up by name in the same package's i386 file list. The ELF closure
// is then taken from the target's own files (closure/), and its system calls become the i386
// calls that do the same (trace::i386_equivalents), so the seccomp filter is the target's. The
// booted image's probes are the proof (tests/e2e: e2e.i386-translated.*).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "recipe/template.h"
#include "staging/root_view.h"
#include "target/target.h"
#include "trace/trace_result.h"

namespace romimg::staging {

// How a build traces its services when the target is not the build host's arch.
enum class TraceRoute {
    native,      // the target's own programs, run on this host (IA32 emulation)
    translated,  // the host's own-arch programs, the result carried over (this file)
};
const char* to_string(TraceRoute r);
// "auto" → nullopt; throws UsageError on anything but auto, native, translated.
std::optional<TraceRoute> parse_route(const std::string& s, const std::string& flag);

// Pure: the paths a host path may have in the target's root, most likely first: the path with
// the host's multiarch triplet, dynamic linker and "-ARCH" directory suffixes put in the
// target's terms, then the path itself. Each once.
std::vector<std::string> path_candidates(const std::string& host_path, const target::Target& from,
                                         const target::Target& to);

// What the translation needs to know about the two roots.
struct TranslateOracle {
    // lstat of a path in the target root: the type, size and link text of what is there, or
    // nullopt when nothing is.
    std::function<std::optional<trace::FileUse>(const std::string&)> target_entry;
    // The target root's paths, in the package that owns `host_path` on the host, whose file
    // name is `name` (the same package's i386 file list, by name).
    std::function<std::vector<std::string>(const std::string& host_path, const std::string& name)> package_files;
};

struct Translation {
    trace::TraceResult traced;                                // in the target root's paths
    std::vector<std::pair<std::string, std::string>> moved;   // host path → target path, where they differ
    std::vector<std::string> dropped;                         // present on the host, no counterpart in the target
    std::vector<std::string> calls_without_equivalent;        // system calls the target arch has no twin of
};

// Pure given the oracle: the host's trace of a service carried over into the target root.
// Symlinks and files take the target's type, size and link text; a path that was missing on the
// host stays missing (at its translated path); processes and execs name the target's programs
// and interpreters.
Translation translate_trace(const trace::TraceResult& host, const target::Target& from, const target::Target& to,
                            const TranslateOracle& oracle);

// The translation as a text report (work/logs/translate-SERVICE.txt).
std::string translation_report(const Translation& t, const target::Target& from, const target::Target& to);

// The translated route, applied: each template's service traced on this host as it is (its own
// arch, its own root; `binds[i]` over its content paths), then carried over into `view`'s root
// (the target's) with this host's and the root's dpkg databases. Reports go to
// work/logs/translate-NAME.txt. Throws Error when a service's probes fail on this host.
std::vector<trace::TraceResult> translated_traces(RootView& view, const target::Target& to,
                                                  const std::vector<recipe::ServiceTemplate>& templates,
                                                  const std::vector<std::vector<std::pair<std::string, std::string>>>& binds,
                                                  const std::filesystem::path& work);

}  // namespace romimg::staging
