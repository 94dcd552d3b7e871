// Building a TraceRequest: from a jail template, from a command line, or both (command-line
// settings override the template's). Shared by `romimg trace` and `romimg jail`.
// Reads the user database and PATH; no other side effects.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "recipe/template.h"
#include "trace/session.h"

namespace romimg::trace {

// Settings given on the command line; empty / negative = not given.
struct RequestSettings {
    std::vector<std::string> command;  // the `-- COMMAND ARGS` form (empty with a template)
    std::string ready, user, stop_signal;
    int ready_timeout = -1, stop_timeout = -1, timeout = 0;
    std::vector<std::string> probes, caps, writable, env;
};

// `t` may be null (command form). Throws UsageError for contradictory settings, Error for a
// program that is not installed (naming its package) or a user that does not exist.
TraceRequest build_request(const recipe::ServiceTemplate* t, const RequestSettings& s,
                           const std::filesystem::path& work);

Credentials lookup_user(const std::string& user, const std::string& group);
int capability_number(const std::string& name);  // "CAP_NET_BIND_SERVICE" → 10; UsageError if unknown

}  // namespace romimg::trace
