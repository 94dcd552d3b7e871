// External tools (mksquashfs, xorriso, make, qemu) go through one Command value and one runner.
// Argv builders elsewhere are pure functions returning a Command; only run()/run_status() spawn.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace romimg {

struct Command {
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;  // added to (or overriding) environ
    std::filesystem::path cwd;                             // empty = inherit
    std::filesystem::path log;  // stdout+stderr appended here; empty = inherit the terminal
    // Run as this (uid, gid), no supplementary groups, no_new_privs; none = as romimg.
    std::optional<std::pair<uid_t, gid_t>> as = std::nullopt;
};

// Runs to completion. Exit status (>= 0) or -signal. Throws SysError if it cannot be started
// (the message names the missing program). The tool leads its own process group and dies with
// romimg (PDEATHSIG); once an interrupt is flagged (common/signals) the group is SIGKILLed and
// reaped within 0.1 s and Interrupted is thrown, as on any exception while it runs.
int run_status(const Command& cmd);

// Same, but throws ToolError (argv, status, last log lines) on a non-zero status.
void run(const Command& cmd);

// Runs and returns stdout (stderr goes to cmd.log or the terminal). Throws ToolError on failure.
std::string run_capture(const Command& cmd);

// What a bounded run printed and how it ended.
struct Collected {
    int status = 0;          // exit status (>= 0) or -signal
    bool timed_out = false;  // killed (with its group) after the timeout
    std::string output;      // stdout and stderr interleaved, at most `cap` bytes (the rest is read
                             // and dropped)
};

// Runs with stdout and stderr into one pipe, killing the group after `timeout_s` seconds.
// Throws as run_status() does if it cannot be started.
Collected run_collect(const Command& cmd, int timeout_s, size_t cap = 16384);

// Absolute path of `prog` found on PATH, or "" if none.
std::string find_program(const std::string& prog);

}  // namespace romimg
