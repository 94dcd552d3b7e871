#include "staging/translate.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "dpkg/dpkg.h"
#include "jail/stage.h"
#include "trace/abi.h"

namespace romimg::staging {

const char* to_string(TraceRoute r) { return r == TraceRoute::native ? "native" : "translated"; }

std::optional<TraceRoute> parse_route(const std::string& s, const std::string& flag) {
    if (s.empty() || s == "auto") return std::nullopt;
    if (s == "native") return TraceRoute::native;
    if (s == "translated") return TraceRoute::translated;
    throw UsageError(fmt::format("{} {}: not a way to trace; use auto (the default: native where this host runs the "
                                 "target's programs), native or translated",
                                 flag, s));
}

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// Each component that is the arch's name, or has "-ARCH" / "_ARCH", in the target's terms
// (trace paths are absolute and normalised).
std::string arch_components(const std::string& path, const std::string& from, const std::string& to) {
    std::string out;
    for (auto part : split(path, '/', true)) {
        if (part == from) part = to;
        // "-ARCH" / "_ARCH" at the end of the name or before its extension (jvm-amd64.cfg).
        for (const char* sep : {"-", "_"}) {
            const std::string tag = sep + from;
            const size_t at = part.rfind(tag);
            const size_t end = at == std::string::npos ? at : at + tag.size();
            if (at != std::string::npos && at > 0 && (end == part.size() || part[end] == '.'))
                part = part.substr(0, at) + sep + to + part.substr(end);
        }
        out += "/" + part;
    }
    return out.empty() ? path : out;
}

std::string base_name(const std::string& p) {
    size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

// The target's dynamic linker for every name the host's has (merged /usr, the multiarch copy).
bool is_host_interp(const std::string& p, const target::Target& from) {
    const std::string name = base_name(from.interp);
    return p == from.interp || p == "/usr" + from.interp || p == "/lib/" + from.multiarch + "/" + name ||
           p == "/usr/lib/" + from.multiarch + "/" + name;
}

}  // namespace

std::vector<std::string> path_candidates(const std::string& host_path, const target::Target& from,
                                         const target::Target& to) {
    std::vector<std::string> out;
    auto add = [&](const std::string& p) {
        if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    };
    if (is_host_interp(host_path, from)) add(to.interp);
    add(arch_components(replace_all(host_path, from.multiarch, to.multiarch), from.name, to.name));
    add(host_path);
    return out;
}

namespace {

struct Translator {
    const target::Target& from;
    const target::Target& to;
    const TranslateOracle& oracle;
    std::map<std::string, std::optional<std::string>> memo;  // host path → target path (nullopt: none)

    // The target path of a host path, or nullopt when the target root has nothing of the kind.
    std::optional<std::string> existing(const std::string& host_path) {
        auto [it, fresh] = memo.try_emplace(host_path);
        if (!fresh) return it->second;
        const std::vector<std::string> candidates = path_candidates(host_path, from, to);
        for (const auto& c : candidates)
            if (oracle.target_entry(c)) return it->second = c;
        // By name in the same package: what the target's build of the package calls the file.
        const std::string translated_name = base_name(candidates.front());
        std::vector<std::string> same;
        for (const auto& name : std::set<std::string>{base_name(host_path), translated_name})
            for (const auto& p : oracle.package_files(host_path, name))
                if (oracle.target_entry(p) && std::find(same.begin(), same.end(), p) == same.end()) same.push_back(p);
        if (same.size() == 1) return it->second = same.front();
        return it->second = std::nullopt;
    }
    // For names in execs and processes: the target's path, else the most likely one.
    std::string name(const std::string& host_path) {
        if (host_path.empty()) return host_path;
        if (auto p = existing(host_path)) return *p;
        return path_candidates(host_path, from, to).front();
    }
};

void merge_use(trace::FileUse& into, const trace::FileUse& u) {
    into.ok_mask |= u.ok_mask;
    into.failed_mask |= u.failed_mask;
    into.errors.insert(u.errors.begin(), u.errors.end());
}

}  // namespace

Translation translate_trace(const trace::TraceResult& host, const target::Target& from, const target::Target& to,
                            const TranslateOracle& oracle) {
    Translation out;
    Translator tr{from, to, oracle, {}};
    out.traced.command = host.command;
    for (const auto& [path, use] : host.files) {
        std::string target_path;
        trace::FileUse u = use;
        if (use.type == trace::FileType::missing) {
            // Looked for in vain on the host: looked for at the target's name of it (and, if the
            // target has it, it is there to take).
            auto hit = tr.existing(path);
            target_path = hit ? *hit : path_candidates(path, from, to).front();
            if (hit) {
                trace::FileUse e = *oracle.target_entry(target_path);
                u.type = e.type;
                u.size = e.size;
                u.target = e.target;
            }
        } else if (auto hit = tr.existing(path)) {
            target_path = *hit;
            trace::FileUse e = *oracle.target_entry(target_path);
            u.type = e.type;
            u.size = e.size;
            u.target = e.target;
        } else if (use.has(trace::Access::create) || use.has(trace::Access::write) || use.has(trace::Access::remove)) {
            // Made or written by the service while it ran (its pid file, logs, caches): made the
            // same way on the target, in the same place; the jail's writable areas come from it.
            target_path = path_candidates(path, from, to).front();
        } else {
            out.dropped.push_back(path);
            continue;
        }
        if (target_path != path) out.moved.emplace_back(path, target_path);
        u.path = target_path;
        auto [it, fresh] = out.traced.files.try_emplace(target_path, u);
        if (!fresh) {
            // Two host paths, one target path: every use counts; what is there decides the type.
            const bool was_missing = it->second.type == trace::FileType::missing;
            merge_use(it->second, u);
            if (was_missing && u.type != trace::FileType::missing) {
                it->second.type = u.type;
                it->second.size = u.size;
                it->second.target = u.target;
            }
        }
    }
    for (const auto& e : host.execs) {
        trace::ExecRecord x = e;
        x.path = tr.name(e.path);
        for (auto& i : x.interpreters) i = tr.name(i);
        for (auto& a : x.argv)
            if (a == e.path) a = x.path;
        out.traced.execs.push_back(std::move(x));
    }
    for (const auto& [pid, p] : host.processes) {
        trace::ProcessRecord q = p;
        q.exe = tr.name(p.exe);
        out.traced.processes.emplace(pid, q);
    }
    auto calls = [&](const std::set<std::string>& names, std::set<std::string>& into) {
        for (const auto& n : names) {
            std::vector<std::string> eq = to.seccomp_arch == "x86" ? trace::i386_equivalents(n) : std::vector<std::string>{n};
            if (eq.empty()) out.calls_without_equivalent.push_back(n);
            into.insert(eq.begin(), eq.end());
        }
    };
    calls(host.syscalls, out.traced.syscalls);
    if (to.seccomp_arch == "x86")
        out.traced.syscalls.insert(trace::i386_unmatched_calls().begin(), trace::i386_unmatched_calls().end());
    calls(host.syscalls_baseline, out.traced.syscalls_baseline);
    out.traced.probes = host.probes;
    return out;
}

std::string translation_report(const Translation& t, const target::Target& from, const target::Target& to) {
    std::string out = fmt::format("# traced as {} programs on this host, carried over into the {} root\n", from.name, to.name);
    out += fmt::format("# {} paths, {} at another path, {} with no {} counterpart\n", t.traced.files.size(), t.moved.size(),
                       t.dropped.size(), to.name);
    out += "\n[moved]\n";
    for (const auto& [a, b] : t.moved) out += a + " -> " + b + "\n";
    out += "\n[dropped: the host has it, the target root has nothing of the kind]\n";
    for (const auto& p : t.dropped) out += p + "\n";
    out += fmt::format("\n[system calls {} has no equivalent of]\n", to.name);
    for (const auto& c : t.calls_without_equivalent) out += c + "\n";
    return out;
}

std::vector<trace::TraceResult> translated_traces(RootView& view, const target::Target& to,
                                                  const std::vector<recipe::ServiceTemplate>& templates,
                                                  const std::vector<std::vector<std::pair<std::string, std::string>>>& binds,
                                                  const std::filesystem::path& work) {
    const target::Target& from = target::host_target();
    std::vector<trace::TraceResult> host;
    for (size_t i = 0; i < templates.size(); ++i) {
        log::info("==> {}: traced as this host's {} service (--trace-route translated)", templates[i].name, from.name);
        host.push_back(jail::trace_service(templates[i], work, i < binds.size() ? binds[i] : std::vector<std::pair<std::string, std::string>>{}));
    }
    const dpkg::Database host_db = dpkg::Database::load();
    std::vector<trace::TraceResult> out;
    view.inside([&] {
        const dpkg::Database target_db = dpkg::Database::load();
        TranslateOracle oracle;
        oracle.target_entry = trace::lstat_use;  // where this process stands: inside the view
        oracle.package_files = [&](const std::string& host_path, const std::string& name) {
            std::vector<std::string> same;
            const dpkg::Package* p = host_db.owner_of(host_path);
            if (!p) return same;
            for (const auto& f : target_db.files_of(p->name))
                if (base_name(f) == name) same.push_back(f);
            return same;
        };
        for (size_t i = 0; i < templates.size(); ++i) {
            auto stage = log::stage(fmt::format("translate {} ({} → {})", templates[i].name, from.name, to.name));
            Translation t = translate_trace(host[i], from, to, oracle);
            const std::filesystem::path report = work / "logs" / fmt::format("translate-{}.txt", templates[i].name);
            fs::write_file_atomic(report, translation_report(t, from, to));
            stage.detail(fmt::format("{} paths, {} at {} paths, {} with no {} counterpart ({})", t.traced.files.size(),
                                     t.moved.size(), to.name, t.dropped.size(), to.name, report.string()));
            out.push_back(std::move(t.traced));
        }
    });
    return out;
}

}  // namespace romimg::staging
