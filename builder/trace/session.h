// One traced run of a service, from the host's side: fork the sandbox supervisor, wait for the
// ready check, run the probes from inside the sandbox's network, stop the service, collect the
// TraceResult, and make sure nothing is left running or mounted whatever happens.
// Input: TraceRequest. Output: TraceResult. Side effects: a scratch dir under `work` (removed)
// and the service's output log (kept).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "trace/probe.h"
#include "trace/sandbox.h"
#include "trace/trace_result.h"

namespace romimg::trace {

struct TraceRequest {
    std::string name;  // for messages and file names ("apache", or the command's basename)
    ServiceSpec service;
    ReadyCheck ready;
    std::vector<Probe> probes;
    int ready_timeout_s = 60;
    int timeout_s = 0;               // without a ready check: stop the service after this long
    // How the user raises ready_timeout_s: an option only `romimg trace` has, or a template key.
    std::string ready_timeout_hint = "raise the timeout with --ready-timeout";

    std::filesystem::path work;      // scratch lives under here
    std::filesystem::path log;       // the service's stdout and stderr
    // The template the service comes from ("" = none) and its text: the fix a failure's message
    // gives names the template's line (diagnosis.h; the rest of the context is the run's own).
    std::filesystem::path template_file;
    std::string template_text;
};

// Throws Error for every way the run can fail (not root, service exits before ready, ready
// timeout, sandbox errors), after cleaning up. Probe results are in the TraceResult: a failed
// probe is the caller's to judge (probe_failures).
TraceResult run_trace(const TraceRequest& req);

// "" if every probe passed; otherwise which requests failed and what came back, and what the
// run saw that explains it (diagnose()).
std::string probe_failures(const TraceResult& r, const TraceRequest& req);

}  // namespace romimg::trace
