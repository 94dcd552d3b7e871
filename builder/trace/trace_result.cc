#include "trace/trace_result.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_int.h"
#include "common/sys.h"

namespace romimg::trace {

namespace {
const char* const kTypeNames[] = {"file", "dir", "symlink", "device", "fifo", "socket", "missing", "other"};
const char* const kAccessNames[] = {"read",   "write",   "create", "exec",  "stat", "list",
                                    "readlink", "follow", "connect", "bind", "chdir", "remove",
                                    "setattr", "watch", "link", "chroot"};
static_assert(sizeof(kAccessNames) / sizeof(*kAccessNames) == unsigned(Access::count_));
}  // namespace

std::string to_string(FileType t) { return kTypeNames[unsigned(t)]; }
std::string to_string(Access a) { return kAccessNames[unsigned(a)]; }

FileType file_type_from_string(const std::string& s) {
    for (unsigned i = 0; i < sizeof(kTypeNames) / sizeof(*kTypeNames); ++i)
        if (s == kTypeNames[i]) return FileType(i);
    throw Error("unknown file type in trace: " + s);
}

Access access_from_string(const std::string& s) {
    for (unsigned i = 0; i < unsigned(Access::count_); ++i)
        if (s == kAccessNames[i]) return Access(i);
    throw Error("unknown access kind in trace: " + s);
}

std::vector<Access> FileUse::accesses() const {
    std::vector<Access> out;
    for (unsigned i = 0; i < unsigned(Access::count_); ++i)
        if (((ok_mask | failed_mask) >> i) & 1u) out.push_back(Access(i));
    return out;
}

void TraceResult::record(const std::string& path, FileType type, Access access, bool ok, int err,
                         uint64_t size, const std::string& target) {
    auto [it, inserted] = files.try_emplace(path);
    FileUse& f = it->second;
    if (inserted) f.path = path;
    // A real type beats "missing": the path may have been created after a failed lookup, and a
    // file removed later still existed when the service needed it.
    if (inserted || type != FileType::missing) f.type = type;
    if (ok) f.ok_mask |= 1u << unsigned(access);
    else {
        f.failed_mask |= 1u << unsigned(access);
        if (err) f.errors.insert(sys::errno_name(err));
    }
    if (size) f.size = size;
    if (!target.empty()) f.target = target;
}

nlohmann::json to_json(const TraceResult& r) {
    using nlohmann::json;
    json files = json::array();
    for (const auto& [path, f] : r.files) {
        json access = json::array(), failed = json::array();
        for (unsigned i = 0; i < unsigned(Access::count_); ++i) {
            if (((f.ok_mask | f.failed_mask) >> i) & 1u) access.push_back(kAccessNames[i]);
            // "failed" lists the kinds that never succeeded on this path.
            if (((f.failed_mask & ~f.ok_mask) >> i) & 1u) failed.push_back(kAccessNames[i]);
        }
        json e = {{"path", f.path}, {"type", to_string(f.type)}, {"access", access}, {"ok", f.ok()}};
        if (!failed.empty()) e["failed"] = failed;
        if (!f.errors.empty()) e["errors"] = f.errors;
        if (f.type == FileType::file) e["size"] = f.size;
        if (!f.target.empty()) e["target"] = f.target;
        files.push_back(std::move(e));
    }
    json execs = json::array();
    for (const auto& x : r.execs) {
        json e = {{"pid", x.pid}, {"path", x.path}, {"argv", x.argv}, {"ok", x.ok},
                  {"interpreters", x.interpreters}};
        if (!x.error.empty()) e["error"] = x.error;
        execs.push_back(std::move(e));
    }
    json procs = json::array();
    for (const auto& [pid, p] : r.processes)
        procs.push_back({{"pid", p.pid}, {"ppid", p.ppid}, {"uid", p.uid}, {"gid", p.gid}, {"exe", p.exe}});
    json probes = json::array();
    for (const auto& p : r.probes)
        probes.push_back({{"request", p.request}, {"status", p.status}, {"ok", p.ok}, {"detail", p.detail}});
    return {{"romimg_trace", 1},     {"command", r.command}, {"files", files},
            {"execs", execs},        {"processes", procs},   {"syscalls", r.syscalls},
            {"syscalls_baseline", r.syscalls_baseline},      {"probes", probes}};
}

TraceResult trace_result_from_json(const nlohmann::json& j) {
    try {
        if (j.value("romimg_trace", 0) != 1) throw Error("not a romimg trace (romimg_trace != 1)");
        TraceResult r;
        r.command = j.at("command").get<std::vector<std::string>>();
        for (const auto& e : j.at("files")) {
            FileUse f;
            f.path = e.at("path").get<std::string>();
            f.type = file_type_from_string(e.at("type").get<std::string>());
            std::set<std::string> failed;
            if (e.contains("failed")) failed = e["failed"].get<std::set<std::string>>();
            for (const auto& a : e.at("access")) {
                std::string name = a.get<std::string>();
                unsigned bit = 1u << unsigned(access_from_string(name));
                if (failed.count(name)) f.failed_mask |= bit;
                else f.ok_mask |= bit;
            }
            if (e.contains("errors")) f.errors = e["errors"].get<std::set<std::string>>();
            f.size = e.value("size", uint64_t(0));
            f.target = e.value("target", std::string());
            r.files.emplace(f.path, std::move(f));
        }
        for (const auto& e : j.at("execs")) {
            ExecRecord x;
            x.pid = json_int<int>(e.at("pid"));
            x.path = e.at("path").get<std::string>();
            x.argv = e.at("argv").get<std::vector<std::string>>();
            x.ok = e.at("ok").get<bool>();
            x.error = e.value("error", std::string());
            x.interpreters = e.at("interpreters").get<std::vector<std::string>>();
            r.execs.push_back(std::move(x));
        }
        for (const auto& e : j.at("processes")) {
            ProcessRecord p;
            p.pid = json_int<int>(e.at("pid"));
            p.ppid = json_int<int>(e.at("ppid"));
            p.uid = json_int<unsigned>(e.at("uid"));
            p.gid = json_int<unsigned>(e.at("gid"));
            p.exe = e.at("exe").get<std::string>();
            r.processes.emplace(p.pid, p);
        }
        r.syscalls = j.at("syscalls").get<std::set<std::string>>();
        r.syscalls_baseline = j.at("syscalls_baseline").get<std::set<std::string>>();
        for (const auto& e : j.at("probes"))
            r.probes.push_back({e.at("request").get<std::string>(), json_int<int>(e.at("status")),
                                e.at("ok").get<bool>(), e.at("detail").get<std::string>()});
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("malformed trace JSON: ") + e.what());
    }
}

std::optional<FileUse> lstat_use(const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return std::nullopt;
    FileUse u;
    u.path = path;
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        u.type = FileType::file;
        u.size = (uint64_t)st.st_size;
        break;
    case S_IFDIR: u.type = FileType::dir; break;
    case S_IFLNK:
        u.type = FileType::symlink;
        u.target = sys::readlinkat_or_empty(AT_FDCWD, path);
        break;
    case S_IFCHR: case S_IFBLK: u.type = FileType::device; break;
    case S_IFIFO: u.type = FileType::fifo; break;
    case S_IFSOCK: u.type = FileType::socket; break;
    default: u.type = FileType::other;
    }
    return u;
}

}  // namespace romimg::trace
