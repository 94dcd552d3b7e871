#include "jail/manifest.h"

#include <map>

#include <fmt/format.h>

#include "common/strings.h"

namespace romimg::jail {

namespace {
const char* kind_name(JailNode::Kind k) {
    switch (k) {
    case JailNode::dir: return "dir";
    case JailNode::file: return "file";
    case JailNode::symlink: return "symlink";
    case JailNode::hardlink: return "hardlink";
    case JailNode::device: return "device";
    case JailNode::fifo: return "fifo";
    case JailNode::generated: return "generated";
    }
    return "?";
}

std::string human(uint64_t b) { return human_bytes(b); }
}  // namespace

nlohmann::json manifest_json(const JailPlan& plan, const dpkg::Database& db,
                             const std::vector<std::string>& template_packages) {
    using nlohmann::json;
    json entries = json::array();
    struct Total {
        uint64_t files = 0, bytes = 0;
        std::string version;
    };
    std::map<std::string, Total> by_package;
    uint64_t bytes = 0, files = 0;
    for (const auto& n : plan.nodes) {
        const dpkg::Package* pkg = n.kind == JailNode::generated ? nullptr : db.owner_of(n.path);
        json e = {{"path", n.path}, {"type", kind_name(n.kind)}, {"mode", fmt::format("{:04o}", n.mode)},
                  {"uid", n.uid}, {"gid", n.gid}, {"reason", closure::to_string(n.reason)}, {"why", n.why}};
        if (n.kind == JailNode::file || n.kind == JailNode::generated) e["size"] = n.size;
        if (n.kind == JailNode::symlink) e["target"] = n.target;
        if (n.kind == JailNode::hardlink) e["link_to"] = n.source;
        if (n.kind == JailNode::device) e["device"] = fmt::format("c {}:{}", n.major, n.minor);
        e["package"] = pkg ? pkg->name : "";
        if (pkg) e["version"] = pkg->version;
        entries.push_back(std::move(e));
        if (n.kind == JailNode::file || n.kind == JailNode::generated) {
            Total& t = by_package[pkg ? pkg->name : "(none)"];
            t.files++;
            t.bytes += n.size;
            if (pkg) t.version = pkg->version;
            ++files;
            bytes += n.size;
        }
    }
    json per_package = json::array();
    std::vector<std::pair<std::string, Total>> sorted(by_package.begin(), by_package.end());
    std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second.bytes > b.second.bytes; });
    for (const auto& [name, t] : sorted)
        per_package.push_back({{"package", name}, {"version", t.version}, {"files", t.files}, {"bytes", t.bytes}});

    std::vector<std::string> closure_pkgs = db.dependency_closure(template_packages);
    json mounts = json::array();
    for (const auto& m : plan.mounts) mounts.push_back({{"type", m.type}, {"target", m.target}, {"options", m.options}});
    json findings = json::array();
    for (const auto& f : plan.findings)
        findings.push_back({{"severity", f.severity}, {"path", f.path}, {"message", f.message}});
    json result = {{"romimg_jail", 1},
            {"service", plan.service},
            {"uid", plan.accounts.uid},
            {"gid", plan.accounts.gid},
            {"groups", plan.accounts.groups},
            {"capabilities", plan.capabilities},
            {"mounts", mounts},
            {"findings", findings},
            {"seccomp", seccomp::to_json(plan.seccomp)},
            {"totals", {{"entries", plan.nodes.size()}, {"files", files}, {"bytes", bytes}, {"by_package", per_package}}},
            {"packages", {{"service", template_packages},
                          {"with_dependencies", closure_pkgs},
                          {"installed_bytes", db.installed_bytes(closure_pkgs)}}},
            {"entries", entries}};
    if (plan.java) {
        json modules = json::array();
        for (const auto& [name, why] : plan.java->modules) modules.push_back({{"name", name}, {"why", why}});
        result["java"] = {{"runtime", "jlink"}, {"home", plan.java->home}, {"version", plan.java->version},
                          {"jmods", plan.java->jmods}, {"modules", modules}, {"cds", plan.java->cds}};
    }
    return result;
}

std::string manifest_table(const nlohmann::json& m) {
    std::string out;
    uint64_t bytes = m["totals"]["bytes"], installed = m["packages"]["installed_bytes"];
    out += fmt::format("jail {}: {} entries, {} files, {}", m["service"].get<std::string>(),
                       m["totals"]["entries"].get<uint64_t>(), m["totals"]["files"].get<uint64_t>(), human(bytes));
    if (installed)
        out += fmt::format(" ({:.1f}% of the {} installed by {} and their {} dependencies)", 100.0 * bytes / installed,
                           human(installed), fmt::join(m["packages"]["service"].get<std::vector<std::string>>(), ", "),
                           m["packages"]["with_dependencies"].size() - m["packages"]["service"].size());
    out += fmt::format("\nruns as uid {} gid {}; capabilities: {}\n", m["uid"].get<unsigned>(), m["gid"].get<unsigned>(),
                       m["capabilities"].empty() ? "none" : fmt::format("{}", fmt::join(m["capabilities"].get<std::vector<std::string>>(), " ")));
    for (const auto& mt : m["mounts"])
        out += fmt::format("mount {} on {} ({})\n", mt["type"].get<std::string>(), mt["target"].get<std::string>(),
                           mt["options"].get<std::string>());
    if (m.contains("java")) {
        const auto& j = m["java"];
        out += fmt::format("java: a jlink'd runtime at {} (JDK {}, from {}), {} modules; class-data sharing: {}\n",
                           j["home"].get<std::string>(), j["version"].get<std::string>(), j["jmods"].get<std::string>(),
                           j["modules"].size(), j["cds"].get<std::string>().empty() ? "none" : j["cds"].get<std::string>());
        for (const auto& mod : j["modules"])
            out += fmt::format("  module {:<24} {}\n", mod["name"].get<std::string>(), mod["why"].get<std::string>());
    }
    out += "\nper package:\n";
    for (const auto& p : m["totals"]["by_package"])
        out += fmt::format("  {:<36} {:>6} files {:>10}\n", p["package"].get<std::string>(), p["files"].get<uint64_t>(),
                           human(p["bytes"].get<uint64_t>()));
    if (!m["findings"].empty()) {
        out += "\nfindings:\n";
        for (const auto& f : m["findings"])
            out += fmt::format("  {:<8} {}: {}\n", f["severity"].get<std::string>(), f["path"].get<std::string>(),
                               f["message"].get<std::string>());
    }
    out += fmt::format("\n{:<9} {:>10}  {:<28} {:<8} {}\n", "type", "size", "package", "reason", "path (why)");
    for (const auto& e : m["entries"]) {
        std::string size = e.contains("size") ? human(e["size"].get<uint64_t>()) : "";
        std::string path = e["path"];
        if (e.contains("target")) path += " -> " + e["target"].get<std::string>();
        out += fmt::format("{:<9} {:>10}  {:<28} {:<8} {} ({})\n", e["type"].get<std::string>(), size,
                           e["package"].get<std::string>(), e["reason"].get<std::string>(), path, e["why"].get<std::string>());
    }
    return out;
}

}  // namespace romimg::jail
