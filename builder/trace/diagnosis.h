// Why a traced or jailed service failed, from what its run touched: the writes it was refused
// outside the writable dirs it had (EACCES, EROFS, EPERM) and, in its jail, the files it looked
// for that only the host has. Each finding names the path and the template line that fixes it.
// Input: a TraceResult and the run's context. Output: text for an error message. Pure, except
// for the host lookup the caller passes in.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "trace/trace_result.h"

namespace romimg::trace {

struct DiagnosisContext {
    std::filesystem::path template_file;  // "" = no template (`romimg trace CMD`)
    std::string template_text;            // its text, to name the line of a key ("" = unknown)
    std::vector<std::string> writable;    // the dirs the service could write (absolute)
    bool in_jail = false;                 // run from its jail (missing files are the jail's)
    std::string work;                     // romimg's own dir: never the service's business
};

// "" when nothing explains the failure; otherwise lines starting with two spaces. `on_host`
// says whether the host has a path (lstat); only asked for in_jail.
std::string diagnose(const TraceResult& r, const DiagnosisContext& ctx,
                     const std::function<bool(const std::string&)>& on_host);

// The line (1-based) of `key = ...` in table [table] of TOML text, 0 if it is not there. Only
// what templates use: [table] headers and keys at the start of a line.
int toml_key_line(const std::string& text, const std::string& table, const std::string& key);

}  // namespace romimg::trace
