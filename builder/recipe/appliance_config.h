// romimg.toml: what `romimg build` builds when it is run with no arguments (services, content,
// network, host name, logs, media, label, compression, output, work dir). Parsed strictly: an
// unknown key or a bad value is a ConfigError with file:line. Every setting is optional; the
// build command lays the file over its defaults and its own flags over the file.
// Input: the file's text. Output: ApplianceConfig. Pure (no disk access in parse_config).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace romimg::recipe {

inline constexpr const char* kConfigFile = "romimg.toml";

struct ApplianceConfig {
    std::filesystem::path file;  // where it was read from (for messages)
    std::optional<std::vector<std::string>> services;
    // Each "SERVICE:PATH=SOURCE", the form --content takes; SOURCE made absolute against the
    // file's directory.
    std::vector<std::string> content;
    std::optional<std::string> net;  // "dhcp" or "static:ADDR/PREFIX,GW[,DNS]" (the --net form)
    std::optional<std::string> hostname;
    std::optional<std::string> log_to;
    std::optional<bool> log_console;
    std::optional<std::string> media;        // cd | dvd
    std::optional<std::string> label;
    std::optional<std::string> compression;  // xz | zstd
    std::optional<std::string> romlock_mode; // enforce | permissive
    std::optional<std::string> arch;         // the target (target::all_targets' names)
    std::optional<std::string> trace_route;  // auto, native, translated (staging::TraceRoute)
    std::optional<std::string> staging_route;  // auto, native, qemu-user (staging::RootMaker)
    std::optional<std::filesystem::path> root;  // the server tree to build from, against the file's directory
    std::map<std::string, std::string> seccomp;  // [seccomp]: service (or "*") → enforce | log | off
    std::optional<std::filesystem::path> output;  // absolute, against the file's directory
    std::optional<std::filesystem::path> work;
    std::optional<int64_t> source_date_epoch;
    std::optional<unsigned> verity_fec;  // 0 or 2..24 (--verity-fec)
    std::optional<uint64_t> cache_limit;  // bytes: after a build, prune the cache to this (cache_limit = "20g")
    std::optional<std::filesystem::path> sign_key, sign_cert;  // against the file's directory
};

// The checks romimg.toml and the command line share: "" if fine, else what is wrong.
std::string hostname_problem(const std::string& hostname);  // 1 to 64 of letters, digits, - and .
std::string log_to_problem(const std::string& log_to);      // udp://IPV4:PORT or udp://[IPV6]:PORT

// Pure. Relative paths (output, work, content sources) are taken against `file`'s directory.
ApplianceConfig parse_config(const std::string& text, const std::filesystem::path& file);

// Reads and parses `file`; throws Error if it cannot be read.
ApplianceConfig load_config(const std::filesystem::path& file);

// Which file `romimg build` reads: `-c FILE` when given (it must exist), else ./romimg.toml when
// there is one, else none.
std::optional<std::filesystem::path> find_config(const std::optional<std::filesystem::path>& given,
                                                 const std::filesystem::path& cwd);

}  // namespace romimg::recipe
