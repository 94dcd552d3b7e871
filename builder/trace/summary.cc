#include "trace/summary.h"

#include <map>
#include <set>

#include <fmt/format.h>

namespace romimg::trace {

namespace {
std::string human_bytes(uint64_t b) {
    if (b >= 10ull << 20) return fmt::format("{:.1f} MB", b / 1048576.0);
    if (b >= 10ull << 10) return fmt::format("{:.1f} kB", b / 1024.0);
    return fmt::format("{} B", b);
}

std::string examples(const std::vector<std::string>& v, size_t n = 4) {
    std::string out;
    for (size_t i = 0; i < v.size() && i < n; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > n) out += fmt::format(", ... ({} more)", v.size() - n);
    return out;
}
}  // namespace

std::string summarize(const std::string& name, const TraceResult& r) {
    std::map<FileType, int> by_type;
    uint64_t bytes = 0;
    std::vector<std::string> failed, refused, written;
    for (const auto& [path, f] : r.files) {
        if (f.type == FileType::missing) {
            failed.push_back(path);
            continue;
        }
        if (!f.ok()) refused.push_back(path);  // exists, but every use failed (EACCES, EINVAL, ...)
        by_type[f.type]++;
        if (f.type == FileType::file) bytes += f.size;
        if (f.has(Access::write) || f.has(Access::create) || f.has(Access::remove)) written.push_back(path);
    }
    std::string types;
    for (auto [t, n] : by_type) {
        if (t == FileType::missing) continue;
        types += fmt::format("{}{} {}", types.empty() ? "" : ", ", n, to_string(t));
        if (t == FileType::file) types += fmt::format(" ({})", human_bytes(bytes));
    }
    std::set<std::string> programs;
    int failed_execs = 0;
    for (const auto& x : r.execs) {
        if (x.ok) programs.insert(x.path);
        else ++failed_execs;
    }
    std::set<unsigned> uids;
    for (const auto& [pid, p] : r.processes) uids.insert(p.uid);
    std::string out = fmt::format("traced {}: {} paths used: {}\n", name, r.files.size() - failed.size(), types);
    out += fmt::format("  execs:           {} ok{} — {}\n", r.execs.size() - failed_execs,
                       failed_execs ? fmt::format(", {} failed", failed_execs) : "",
                       examples(std::vector<std::string>(programs.begin(), programs.end())));
    out += fmt::format("  processes:       {} (uids {})\n", r.processes.size(),
                       fmt::join(uids.begin(), uids.end(), ", "));
    out += fmt::format("  failed lookups:  {}{}\n", failed.size(), failed.empty() ? "" : " — " + examples(failed));
    out += fmt::format("  refused uses:    {}{}\n", refused.size(), refused.empty() ? "" : " — " + examples(refused));
    out += fmt::format("  written:         {}{}\n", written.size(), written.empty() ? "" : " — " + examples(written));
    out += fmt::format("  syscalls:        {} seen, {} baseline (not stopped on)\n", r.syscalls.size(),
                       r.syscalls_baseline.size());
    if (!r.probes.empty()) {
        int ok = 0;
        for (const auto& p : r.probes) ok += p.ok;
        out += fmt::format("  probes:          {}/{} ok\n", ok, r.probes.size());
    }
    return out;
}

}  // namespace romimg::trace
