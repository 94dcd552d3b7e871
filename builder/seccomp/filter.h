// The per-service seccomp filter. Input: the syscalls a trace saw, the template's [seccomp]
// table and the service's mode. Output: a FilterPlan (pure, unit-tested: which syscalls are
// allowed and why, which are killed) and, from it, the classic BPF program romimg-init loads as
// the last step before the service's exec (compile_filter, libseccomp). No side effects.
//
// Unlisted syscalls fail with ENOSYS (EPERM would break glibc's fallbacks: clone3 → clone); the
// never-list kills the process (SIGSYS); a foreign arch is killed. In log mode nothing is
// refused: everything the enforce filter would refuse is allowed and logged by the kernel.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace romimg::seccomp {

enum class Mode { enforce, log, off };
std::string to_string(Mode m);
// nullopt-free: throws UsageError naming the three modes.
Mode parse_mode(const std::string& s, const std::string& where);

// What a template's [seccomp] table says.
struct TemplateRules {
    std::string mode;                             // "" = not set (enforce)
    std::vector<std::string> allow;               // syscall names and @groups
    std::map<std::string, std::string> allow_never;  // never-list syscall → why the service needs it
};

struct Rule {
    std::string name;
    std::string why;  // "trace", "baseline", "template", "template (@group)", "template: <reason>"
};

struct FilterPlan {
    std::string service;
    std::string arch = "x86_64";  // libseccomp's arch name (the target's)
    Mode mode = Mode::off;         // a plan nobody made filters nothing
    std::vector<Rule> allow;       // sorted by name, each once
    std::vector<std::string> kill; // the never-list, minus what the template allowed; sorted
};

// The syscalls every program may need although a trace rarely or never shows them (signal
// returns, restart_syscall, thread and process exit, rseq, the vDSO's fallbacks, memory and
// futex calls glibc makes under load).
const std::vector<std::string>& baseline();
// Killed unless a template allows one with a reason.
const std::vector<std::string>& never_list();
// "@network-io" → its syscalls. Names that an arch lacks are skipped for that arch.
const std::map<std::string, std::vector<std::string>>& groups();

// The arches romimg builds for, by libseccomp's names.
inline constexpr const char* kArches[] = {"x86_64", "x86"};

// True if libseccomp knows `name` on `arch`; on any of kArches.
bool known_syscall(const std::string& name, const std::string& arch);
bool known_anywhere(const std::string& name);

// Pure but for libseccomp's name tables. Throws ConfigError (template file) for an unknown
// syscall or group, a reason-less allow_never, an allow_never entry not on the never-list, or a
// never-list syscall the trace saw that the template does not allow (naming the fix).
FilterPlan plan_filter(const std::string& service, const std::filesystem::path& template_file,
                       const std::set<std::string>& traced, const TemplateRules& rules, Mode mode,
                       const std::string& arch);

// The BPF program (bytes of struct sock_filter) for an enforce or log plan.
std::string compile_filter(const FilterPlan& plan);

// "nr name" lines for every syscall number of `arch` libseccomp knows: init's table for
// naming what a seccomp report says.
std::string syscall_table(const std::string& arch);

nlohmann::json to_json(const FilterPlan& plan);
FilterPlan plan_from_json(const nlohmann::json& j);  // throws Error on a malformed value

// Inside the root: the compiled filter of a service (appliance::kSeccompDir/NAME.bpf).
std::string filter_path(const std::string& service);

}  // namespace romimg::seccomp
