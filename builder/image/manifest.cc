#include "image/manifest.h"

#include "appliance_conf.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common/error.h"
#include "common/json_int.h"
#include "common/fs.h"
#include "common/names.h"
#include "common/strings.h"

namespace romimg::image {

using nlohmann::json;

json to_json(const KernelInfo& k) {
    return {{"version", k.version},
            {"config_sha256", k.config_sha256},
            {"cache_key", k.cache_key},
            {"source", k.source},
            {"compiler", k.compiler}};
}

KernelInfo kernel_info_from_json(const json& j) {
    try {
        return {j.at("version").get<std::string>(), j.at("config_sha256").get<std::string>(),
                j.at("cache_key").get<std::string>(), j.at("source").get<std::string>(),
                j.at("compiler").get<std::string>()};
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: {}", kKernelInfoPath, e.what()));
    }
}

std::string bzimage_version(const std::string& head) {
    // Documentation/arch/x86/boot.rst: "HdrS" at 0x202, kernel_version (u16) at 0x20e.
    if (head.size() < 0x210 || head.compare(0x202, 4, "HdrS") != 0)
        throw Error("not an x86 bzImage (no \"HdrS\" setup header at 0x202)");
    unsigned off = (unsigned char)head[0x20e] | ((unsigned char)head[0x20f] << 8);
    size_t at = (size_t)off + 0x200;
    if (off == 0 || at >= head.size()) throw Error("the bzImage's setup header has no kernel version string");
    size_t end = head.find('\0', at);
    if (end == std::string::npos) throw Error("the bzImage's kernel version string is not terminated");
    return head.substr(at, end - at);
}

namespace {

bool has_content(const std::string& type) { return type == "file" || type == "generated" || type == "hardlink"; }

template <typename T>
T field_or(const json& j, const char* k, T dflt) {
    auto it = j.find(k);
    return it == j.end() ? dflt : it->get<T>();
}

}  // namespace

json jail_record_json(const json& manifest, const std::filesystem::path& jail_dir) {
    json out = manifest;
    for (auto& e : out.at("entries")) {
        if (!has_content(e.at("type").get<std::string>())) continue;
        std::string rel = e.at("path").get<std::string>();
        while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
        e["sha256"] = fs::sha256_file(jail_dir / rel);
    }
    return out;
}

JailRecord jail_record_from_json(const json& j) {
    JailRecord r;
    try {
        r.service = j.at("service").get<std::string>();
        for (const auto& e : j.at("entries")) {
            JailEntry x;
            x.path = e.at("path").get<std::string>();
            x.type = e.at("type").get<std::string>();
            x.mode = e.at("mode").get<std::string>();
            x.uid = json_int<unsigned>(e.at("uid"));
            x.gid = json_int<unsigned>(e.at("gid"));
            x.size = e.contains("size") ? json_int<uint64_t>(e.at("size")) : 0;
            x.sha256 = field_or<std::string>(e, "sha256", "");
            x.target = field_or<std::string>(e, "target", field_or<std::string>(e, "link_to", field_or<std::string>(e, "device", "")));
            x.package = field_or<std::string>(e, "package", "");
            x.version = field_or<std::string>(e, "version", "");
            x.reason = e.at("reason").get<std::string>();
            x.why = e.at("why").get<std::string>();
            if (!x.package.empty()) r.packages[x.package] = x.version;
            if (x.type == "file" || x.type == "generated") {
                ++r.files;
                r.bytes += x.size;
            }
            r.entries.push_back(std::move(x));
        }
        if (j.contains("seccomp")) r.seccomp = seccomp::plan_from_json(j.at("seccomp"));
        if (j.contains("java")) {
            const json& jv = j.at("java");
            JailRecord::Java x;
            x.home = jv.at("home").get<std::string>();
            x.version = jv.at("version").get<std::string>();
            x.cds = jv.at("cds").get<std::string>();
            for (const auto& mod : jv.at("modules")) x.modules.push_back(mod.at("name").get<std::string>());
            r.java = x;
        }
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}{}.json: {}", kJailsDir, r.service.empty() ? "?" : r.service, e.what()));
    }
    std::sort(r.entries.begin(), r.entries.end(), [](const JailEntry& a, const JailEntry& b) { return a.path < b.path; });
    return r;
}

ImageManifest read_manifest(const std::filesystem::path& iso) {
    ImageManifest m;
    m.info = read_image_info(iso);
    auto parse = [&](const std::string& path) {
        try {
            return json::parse(read_iso_file(iso, path));
        } catch (const json::exception& e) {
            throw Error(fmt::format("{}: /{} is not valid JSON: {}", iso.string(), path, e.what()));
        }
    };
    try {
        m.kernel = kernel_info_from_json(parse(kKernelInfoPath));
        for (const auto& line : split(read_iso_file(iso, kPolicyPath), '\n', true)) m.policy.push_back(line);
        m.conf = read_iso_file(iso, kConfPath);
        for (const auto& s : m.info.services) m.jails.push_back(jail_record_from_json(parse(kJailsDir + s.name + ".json")));
    } catch (const Error& e) {
        throw Error(fmt::format("{} (an image built before manifests were added? rebuild it with `romimg build`)", e.what()));
    }
    return m;
}

std::vector<std::string> conf_lines(const std::string& conf) {
    std::vector<std::string> out;
    std::string service;
    for (const auto& line : split(conf, '\n', true)) {
        if (line[0] == '#') continue;
        if (line.rfind("service ", 0) == 0) {
            service = line.substr(8);
            out.push_back(line);
        } else if (line == "end") {
            service.clear();
        } else {
            out.push_back(service.empty() ? line : service + ": " + line);
        }
    }
    return out;
}

std::vector<LayerInfo> content_layers(const ImageInfo& info) {
    std::vector<LayerInfo> out;
    for (const auto& l : info.layers)
        if (l.iso_path != "live/root.sqfs") out.push_back(l);
    return out;
}

json manifest_json(const ImageManifest& m) {
    json jails = json::array();
    for (const auto& r : m.jails) {
        json entries = json::array();
        for (const auto& e : r.entries) {
            json x = {{"path", e.path}, {"type", e.type},       {"mode", e.mode},       {"uid", e.uid},
                      {"gid", e.gid},   {"size", e.size},       {"package", e.package}, {"version", e.version},
                      {"reason", e.reason}, {"why", e.why}};
            if (!e.sha256.empty()) x["sha256"] = e.sha256;
            if (!e.target.empty()) x["target"] = e.target;
            entries.push_back(std::move(x));
        }
        jails.push_back({{"service", r.service},
                         {"files", r.files},
                         {"bytes", r.bytes},
                         {"packages", r.packages},
                         {"seccomp", r.seccomp ? seccomp::to_json(*r.seccomp) : json(nullptr)},
                         {"java", r.java ? json{{"home", r.java->home}, {"version", r.java->version},
                                                {"modules", r.java->modules}, {"cds", r.java->cds}}
                                         : json(nullptr)},
                         {"entries", entries}});
    }
    json layers = json::array();
    for (const auto& l : content_layers(m.info))
        layers.push_back({{"iso_path", l.iso_path}, {"sha256", l.sha256}, {"bytes", l.bytes}, {"mount", l.mount},
                          {"verity_root_hash", l.verity_root_hash}, {"fec_roots", l.fec_roots}});
    json root = nullptr;
    for (const auto& l : m.info.layers)
        if (l.iso_path == "live/root.sqfs")
            root = {{"sha256", l.sha256}, {"bytes", l.bytes}, {"verity_root_hash", l.verity_root_hash}, {"fec_roots", l.fec_roots}};
    return {{"label", m.info.label},
            {"source_date_epoch", m.info.source_date_epoch},
            {"cmdline", m.info.cmdline},
            {"romlock_mode", m.info.romlock_mode},
            {"arch", m.info.arch},
            {"traced", m.info.traced},
            {"signer", m.info.signer},
            {"kernel", to_json(m.kernel)},
            {"root", root},
            {"content_layers", layers},
            {"romlock_policy", m.policy},
            {"appliance_conf", conf_lines(m.conf)},
            {"jails", jails}};
}

namespace {

std::string utc(int64_t epoch) {
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string short_hash(const std::string& h) { return h.substr(0, 16); }

// A service's limits as init applies them (its appliance.conf lines), for the services table.
std::string limits_text(const appliance::Conf* conf, const std::string& service) {
    if (conf)
        for (const auto& s : conf->services) {
            if (s.name != service) continue;
            std::string files = "the kernel's default";
            for (const auto& [k, v] : s.rlimits)
                if (k == "nofile") files = std::to_string(v);
            std::string text = fmt::format(
                "limits: memory {}, {} tasks, {} open files; restarted at most {} times in a row after quick deaths",
                s.memory_max.back() == '%' ? names::printable(s.memory_max) + " of the machine's RAM" : names::printable(s.memory_max),
                s.tasks_max, files, s.restart_limit);
            if (!s.memory_needed.empty())
                text += fmt::format("; not started with less than {}", names::printable(s.memory_needed));
            if (!s.java_heap.empty())
                text += fmt::format("; JVM heap {} of its memory", names::printable(s.java_heap));
            return text;
        }
    return "limits: not recorded (its appliance.conf is unreadable)";
}

// A jail's seccomp filter: its mode, then the allowed syscalls grouped by why, then the killed.
std::string seccomp_table(const JailRecord& r) {
    const auto P = names::printable;
    if (!r.seccomp) return "  seccomp: not recorded (an image from before per-service filters)\n";
    const seccomp::FilterPlan& f = *r.seccomp;
    if (f.mode == seccomp::Mode::off) return "  seccomp: OFF: the service may make every system call\n";
    std::map<std::string, std::vector<std::string>> by_why;
    for (const auto& a : f.allow) by_why[a.why].push_back(a.name);
    std::string out = fmt::format("  seccomp {} ({}): {} allowed, {} killed, every other call {}\n", P(seccomp::to_string(f.mode)),
                                  P(f.arch), f.allow.size(), f.kill.size(),
                                  f.mode == seccomp::Mode::log ? "allowed and logged" : "fails with ENOSYS");
    for (const auto& [why, list] : by_why) {
        std::string names;
        for (const auto& n : list) names += " " + P(n);
        out += fmt::format("    allowed, {} ({}):{}\n", P(why), list.size(), names);
    }
    std::string killed;
    for (const auto& n : f.kill) killed += " " + P(n);
    out += fmt::format("    {} ({}):{}\n", f.mode == seccomp::Mode::log ? "logged, would kill" : "killed", f.kill.size(), killed);
    return out;
}

}  // namespace

std::string manifest_table(const ImageManifest& m) {
    // Every string comes from the ISO: escaped, so that none can forge a line or drive the terminal.
    const auto P = names::printable;
    std::string out;
    out += fmt::format("image {}, SOURCE_DATE_EPOCH {} ({})\n", P(m.info.label), m.info.source_date_epoch,
                       utc(m.info.source_date_epoch));
    out += fmt::format("arch     {} (services traced {})\n", P(m.info.arch), P(m.info.traced));
    out += fmt::format("kernel   {}\n", P(m.kernel.version));
    out += fmt::format("         .config sha256 {}\n", P(m.kernel.config_sha256));
    out += fmt::format("         cache key {}, {}\n", P(short_hash(m.kernel.cache_key)), P(m.kernel.source));
    out += fmt::format("cmdline  {}\n", P(m.info.cmdline));
    out += m.info.signer.empty()
               ? std::string("signed   no: no boot of this image is anchored (docs/verity.md)\n")
               : fmt::format("signed   by {}: the UEFI path boots one signed kernel image (anchored under Secure Boot "
                             "with this certificate in db); BIOS boot is not anchored\n",
                             P(m.info.signer));
    // The appliance-wide settings (before the first service) as init reads them.
    for (const auto& line : conf_lines(m.conf)) {
        if (line.rfind("service ", 0) == 0) break;
        if (line.rfind("debug_shell yes", 0) == 0)
            out += "init     debug_shell yes: A ROOT SHELL ON THE CONSOLE, this image is not tamper-proof\n";
        else
            out += "init     " + P(line) + "\n";
    }
    out += "\nlayers:\n";
    for (const auto& l : m.info.layers)
        out += fmt::format("  {:<36} {:>10}  sha256 {}  on {}\n{}", P(l.iso_path), human_bytes(l.bytes), P(l.sha256), P(l.mount),
                           l.verity_root_hash.empty()
                               ? std::string("  ") + std::string(36, ' ') + " no dm-verity (an image made before it)\n"
                               : fmt::format("  {:<36} dm-verity root hash {}, {}\n", "", P(l.verity_root_hash),
                                             l.fec_roots ? fmt::format("error correction {} parity bytes", l.fec_roots)
                                                         : std::string("no error correction")));
    if (content_layers(m.info).empty()) out += "  (no content layers)\n";
    out += "\nservices:\n";
    appliance::Conf conf;
    std::string conf_error;
    const bool have_conf = appliance::parse_conf(m.conf, conf, conf_error);
    for (const auto& s : m.info.services) {
        out += fmt::format("  {:<12} ports {:<10} ready {:<10} {}\n", P(s.name), fmt::format("{}", fmt::join(s.ports, ",")),
                           s.ready.empty() ? "-" : P(s.ready), s.exec_lock ? "exec-locked" : "NOT exec-locked");
        out += fmt::format("  {:<12} {}\n", "", limits_text(have_conf ? &conf : nullptr, s.name));
    }
    out += fmt::format("\nromlock policy ({}, {} lines):\n", P(m.info.romlock_mode), m.policy.size());
    for (const auto& p : m.policy) out += "  " + P(p) + "\n";
    for (const auto& r : m.jails) {
        out += fmt::format("\njail {}: {} entries, {} files, {}, {} packages\n", P(r.service), r.entries.size(), r.files,
                           human_bytes(r.bytes), r.packages.size());
        out += seccomp_table(r);
        if (r.java)
            out += fmt::format("  java: a jlink'd runtime at {} (JDK {}), {} modules: {}\n  class-data sharing: {}\n",
                               P(r.java->home), P(r.java->version), r.java->modules.size(), P(fmt::format("{}", fmt::join(r.java->modules, " "))),
                               r.java->cds.empty() ? "none" : P(r.java->cds));
        out += fmt::format("  {:<9} {:>10}  {:<24} {:<22} {}\n", "type", "size", "package", "version", "path (why)");
        for (const auto& e : r.entries) {
            if (e.type == "dir") continue;
            std::string path = P(e.path);
            if (e.type == "symlink") path += " -> " + P(e.target);
            if (e.type == "hardlink") path += " = " + P(e.target);
            std::string size = e.type == "file" || e.type == "generated" ? human_bytes(e.size) : "";
            out += fmt::format("  {:<9} {:>10}  {:<24} {:<22} {} ({})\n", P(e.type), size,
                               e.package.empty() ? "-" : P(e.package), e.version.empty() ? "-" : P(e.version), path, P(e.why));
        }
    }
    return out;
}

}  // namespace romimg::image
