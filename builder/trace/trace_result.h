// TraceResult: what a traced run touched. Produced by the tracer, consumed by the closure stage
// and written as JSON by `romimg trace --out`. Pure data plus the rule for recording a use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace romimg::trace {

enum class FileType { file, dir, symlink, device, fifo, socket, missing, other };

// Ways a path was used. "follow" = the kernel traversed this symlink while resolving another
// path (every hop of a chain is recorded); "chdir" = used as a working directory.
enum class Access : unsigned {
    read, write, create, exec, stat, list, readlink, follow, connect, bind, chdir, remove,
    setattr, watch, link, chroot, count_
};

std::string to_string(FileType t);
std::string to_string(Access a);
FileType file_type_from_string(const std::string& s);  // throws Error on unknown
Access access_from_string(const std::string& s);       // throws Error on unknown

struct FileUse {
    std::string path;
    FileType type = FileType::missing;
    unsigned ok_mask = 0;      // bit per Access that succeeded at least once
    unsigned failed_mask = 0;  // bit per Access that failed at least once
    std::set<std::string> errors;  // errno names seen on failure ("ENOENT")
    uint64_t size = 0;             // regular files
    std::string target;            // symlinks: the link text

    bool ok() const { return ok_mask != 0; }
    bool has(Access a) const { return ((ok_mask | failed_mask) >> unsigned(a)) & 1u; }
    std::vector<Access> accesses() const;
};

// What is at `path` now, without following a final symlink (type; size of a regular file; a
// symlink's text), as a FileUse with no accesses; nullopt when nothing is there.
std::optional<FileUse> lstat_use(const std::string& path);

struct ExecRecord {
    int pid = 0;
    std::string path;               // resolved, absolute
    std::vector<std::string> argv;
    bool ok = false;
    std::string error;              // errno name when !ok
    // Interpreters the kernel loaded without a syscall: shebang interpreters (with their
    // optional argument) and ELF PT_INTERP, in the order the kernel used them.
    std::vector<std::string> interpreters;
};

struct ProcessRecord {
    int pid = 0;
    int ppid = 0;
    unsigned uid = 0, gid = 0;      // as last seen (after exec or a set*id call)
    std::string exe;                // last exec'd path ("" if it never exec'd)
};

struct ProbeResult {
    std::string request;            // "GET http://127.0.0.1:80/ 200"
    int status = 0;                 // what came back (0 = no answer)
    bool ok = false;
    std::string detail;             // error text or body excerpt on failure
};

struct TraceResult {
    std::vector<std::string> command;
    std::map<std::string, FileUse> files;   // key = path
    std::vector<ExecRecord> execs;
    std::map<int, ProcessRecord> processes;  // key = pid (host numbering)
    std::set<std::string> syscalls;          // seen at a trace stop
    std::set<std::string> syscalls_baseline; // never stopped on (see syscalls.h)
    std::vector<ProbeResult> probes;
    // ServiceSpec::collect_path: the bytes the supervisor copied out (-1: none, or it failed,
    // with collect_error saying why). Not part of the JSON form.
    long long collected = -1;
    std::string collect_error;

    // Records one use of a path. Type is refined when a later use knows better (e.g. a path that
    // was missing and then created).
    void record(const std::string& path, FileType type, Access access, bool ok,
                int err = 0, uint64_t size = 0, const std::string& target = "");
};

nlohmann::json to_json(const TraceResult& r);
TraceResult trace_result_from_json(const nlohmann::json& j);  // throws Error on bad input

}  // namespace romimg::trace
