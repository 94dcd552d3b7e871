// The whole jail stage for one service, as `romimg jail` and `romimg build` run it:
// trace → closure → plan → apply → manifest, and optionally --verify.
// Input: a template. Output: the applied jail at `dir`, its plan, and DIR.manifest.{json,txt}.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jail/jail.h"
#include "recipe/template.h"
#include "trace/trace_result.h"

namespace romimg::jail {

struct JailBuild {
    JailPlan plan;
    std::filesystem::path dir;
    std::filesystem::path manifest;  // the .json
    uint64_t bytes = 0;
};

// What `romimg build --content` changes in a jail build; empty for `romimg jail`.
struct JailExtras {
    // (host dir, path) bound read-only over the path while tracing (--retrace).
    std::vector<std::pair<std::string, std::string>> trace_binds;
    // Applied to the plan before it is written (content layers replace subtrees).
    std::function<JailPlan(JailPlan)> adjust_plan;
    // The seccomp mode when romimg.toml or the command line say (else the template's, else enforce).
    std::optional<seccomp::Mode> seccomp_mode;
    // The target's arch as libseccomp names it.
    std::string seccomp_arch = "x86_64";
    // A trace made elsewhere (the translated route, staging/translate.h), in this root's paths:
    // taken instead of tracing the service here.
    std::optional<trace::TraceResult> traced;
    // False when this host cannot run the target's programs (the translated route): [java]
    // runtime = "jlink" then keeps the distribution's runtime (it runs the target's jlink).
    bool run_target = true;
    // Where CDS archives are kept between builds (java/cds.h); empty = dumped each time.
    std::filesystem::path cds_cache;
};

// Traces the service where this process stands (its root, its arch): the template's command and
// probes, with `content_binds` over the content paths. Throws Error naming the failed probes.
trace::TraceResult trace_service(const recipe::ServiceTemplate& t, const std::filesystem::path& work,
                                 const std::vector<std::pair<std::string, std::string>>& content_binds = {});

// The mode a service's filter gets: the build's override, the template's, or enforce.
seccomp::Mode seccomp_mode_of(const recipe::ServiceTemplate& t, const std::optional<seccomp::Mode>& override_mode);

JailBuild build_jail(const recipe::ServiceTemplate& t, const std::filesystem::path& dir,
                     const std::filesystem::path& work, const JailExtras& extras = {});

// Runs the service from its jail with the trace and verify probes; throws Error naming the
// failed requests and the paths the service looked for in vain.
void verify_jail(const recipe::ServiceTemplate& t, const JailBuild& jail, const std::filesystem::path& work);

}  // namespace romimg::jail
