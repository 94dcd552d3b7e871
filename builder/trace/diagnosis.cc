#include "trace/diagnosis.h"

#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/fs.h"

namespace romimg::trace {

namespace {

constexpr size_t kMaxListed = 10;

bool is_write(const FileUse& f) {
    for (Access a : {Access::write, Access::create, Access::remove, Access::setattr, Access::link})
        if ((f.failed_mask & ~f.ok_mask) >> unsigned(a) & 1u) return true;
    return false;
}

// Refused: no permission, or a read-only file system. In a jail also ENOENT: a file created in
// a directory the jail does not have (its root is read-only: a writable dir is the only fix).
bool refused(const FileUse& f, bool in_jail) {
    return f.errors.count("EACCES") || f.errors.count("EROFS") || f.errors.count("EPERM") ||
           (in_jail && f.errors.count("ENOENT"));
}

bool kernel_or_ours(const std::string& path, const std::string& work) {
    for (const char* d : {"/proc", "/sys", "/dev"})
        if (fs::path_within(path, d)) return true;
    return !work.empty() && fs::path_within(path, work);
}

std::string errors_of(const FileUse& f, bool in_jail) {
    std::string out;
    for (const auto& e : f.errors)
        if (e == "EACCES" || e == "EROFS" || e == "EPERM" || (in_jail && e == "ENOENT"))
            out += (out.empty() ? "" : ", ") + (e == "ENOENT" ? "ENOENT: its dir is not in the jail" : e);
    return out;
}

// Where a template's key lives, for the fix line: "FILE line N, [table] key" or, when the key is
// not there yet, "FILE, [table]" (the caller words the addition).
std::string where(const DiagnosisContext& ctx, const std::string& table, const std::string& key, int& line) {
    line = ctx.template_text.empty() ? 0 : toml_key_line(ctx.template_text, table, key);
    if (line > 0) return fmt::format("{} line {}, [{}] {}", ctx.template_file.string(), line, table, key);
    return fmt::format("{}, [{}]", ctx.template_file.string(), table);
}

std::string list(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size() && i < kMaxListed; ++i) out += "    " + items[i] + "\n";
    if (items.size() > kMaxListed) out += fmt::format("    ... {} more\n", items.size() - kMaxListed);
    return out;
}

std::string refused_writes(const TraceResult& r, const DiagnosisContext& ctx) {
    std::vector<std::string> lines;
    std::set<std::string> dirs;  // where a writable dir would have let them through
    for (const auto& [path, f] : r.files) {
        if (!is_write(f) || !refused(f, ctx.in_jail) || kernel_or_ours(path, ctx.work)) continue;
        bool inside = false;
        for (const auto& w : ctx.writable) inside |= fs::path_within(path, w);
        if (inside) continue;  // a permission of the service's own dir: not a missing writable dir
        lines.push_back(fmt::format("{} ({})", path, errors_of(f, ctx.in_jail)));
        std::string parent = std::filesystem::path(path).parent_path().string();
        dirs.insert(parent == "/" || parent.empty() ? path : parent);
    }
    if (lines.empty()) return "";
    std::string out = fmt::format("  it was refused {} outside its writable dirs{}:\n", lines.size() == 1 ? "a write" : "writes",
                                  ctx.in_jail ? " (the jail's root is read-only)" : "");
    out += list(lines);
    std::string items;
    for (const auto& d : dirs) items += fmt::format("{}{{ path = \"{}\", size = \"1m\" }}", items.empty() ? "" : ", ", d);
    if (ctx.template_file.empty()) {
        std::string flags;
        for (const auto& d : dirs) flags += " --writable " + d;
        out += fmt::format("  fix: romimg trace{} (in a template: [jail] writable = [{}])\n", flags, items);
        return out;
    }
    int line = 0;
    std::string at = where(ctx, "jail", "writable", line);
    out += line > 0 ? fmt::format("  fix: in {}, add {}\n", at, items)
                    : fmt::format("  fix: in {}, add writable = [{}]\n", at, items);
    return out;
}

std::string missing_in_jail(const TraceResult& r, const DiagnosisContext& ctx,
                            const std::function<bool(const std::string&)>& on_host) {
    std::vector<std::string> missing;
    for (const auto& [path, f] : r.files) {
        if (f.type != FileType::missing || is_write(f) || kernel_or_ours(path, ctx.work)) continue;
        if (on_host(path)) missing.push_back(path);
    }
    if (missing.empty()) return "";
    std::string out = fmt::format("  it looked for {} the jail lacks and the host has:\n",
                                  missing.size() == 1 ? "a file" : fmt::format("{} files", missing.size()));
    out += list(missing);
    std::string items;
    for (size_t i = 0; i < missing.size() && i < 3; ++i) items += fmt::format("{}\"{}\"", i ? ", " : "", missing[i]);
    if (missing.size() > 3) items += ", ...";
    int line = 0;
    std::string at = where(ctx, "jail", "include", line);
    out += line > 0 ? fmt::format("  fix: in {}, add {} (or a glob of their dirs); or a [trace] probe that uses them\n", at, items)
                    : fmt::format("  fix: in {}, add include = [{}] (or a glob of their dirs); or a [trace] probe that "
                                  "uses them\n", at, items);
    return out;
}

}  // namespace

int toml_key_line(const std::string& text, const std::string& table, const std::string& key) {
    std::istringstream in(text);
    std::string line, current;
    for (int n = 1; std::getline(in, line); ++n) {
        size_t b = line.find_first_not_of(" \t");
        if (b == std::string::npos || line[b] == '#') continue;
        if (line[b] == '[') {
            bool array = line.compare(b, 2, "[[") == 0;
            size_t e = line.find(']', b);
            current = e == std::string::npos ? "" : line.substr(b + (array ? 2 : 1), e - b - (array ? 2 : 1));
            if (array) current = "[" + current + "]";  // an array of tables is not the table
            continue;
        }
        if (current != table || line.compare(b, key.size(), key) != 0) continue;
        size_t after = line.find_first_not_of(" \t", b + key.size());
        if (after != std::string::npos && line[after] == '=') return n;
    }
    return 0;
}

std::string diagnose(const TraceResult& r, const DiagnosisContext& ctx,
                     const std::function<bool(const std::string&)>& on_host) {
    std::string out = refused_writes(r, ctx);
    if (ctx.in_jail) out += missing_in_jail(r, ctx, on_host);
    return out;
}

}  // namespace romimg::trace
