#include "recipe/template.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "appliance_conf.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strings.h"
#include "install/layout.h"
#include "recipe/template_checks.h"
#include "recipe/toml_reader.h"

namespace romimg::recipe {

std::vector<TemplateDir> template_search_path(const std::string& env_templates, const std::filesystem::path& etc,
                                              const std::string& xdg_config_home, const std::string& home,
                                              const std::filesystem::path& shipped) {
    std::vector<TemplateDir> dirs;
    for (const auto& d : split(env_templates, ':', true)) dirs.push_back({d, "ROMIMG_TEMPLATES"});
    dirs.push_back({etc / "romimg" / "templates", "system"});
    // XDG: a relative $XDG_CONFIG_HOME is invalid and ignored.
    if (!xdg_config_home.empty() && xdg_config_home[0] == '/')
        dirs.push_back({std::filesystem::path(xdg_config_home) / "romimg" / "templates", "user"});
    else if (!home.empty())
        dirs.push_back({std::filesystem::path(home) / ".config" / "romimg" / "templates", "user"});
    dirs.push_back({shipped, "shipped"});
    return dirs;
}

std::vector<TemplateDir> template_dirs() {
    auto env = [](const char* n) {
        const char* v = getenv(n);
        return std::string(v ? v : "");
    };
    return template_search_path(env("ROMIMG_TEMPLATES"), "/etc", env("XDG_CONFIG_HOME"), env("HOME"),
                                install::templates_dir());
}

std::vector<FoundTemplate> find_templates(const std::vector<TemplateDir>& path) {
    std::map<std::string, FoundTemplate> found;
    for (const auto& d : path) {
        std::error_code ec;
        std::vector<std::filesystem::path> files;
        for (const auto& e : std::filesystem::directory_iterator(d.dir, ec))
            if (e.path().extension() == ".toml") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            const std::string name = f.stem().string();
            auto it = found.find(name);
            if (it == found.end()) found[name] = FoundTemplate{name, f, d.origin, {}};
            else it->second.hidden.push_back({f, d.origin});
        }
    }
    std::vector<FoundTemplate> out;
    for (auto& [_, t] : found) out.push_back(std::move(t));
    return out;
}

namespace {

// Only character devices from the jails' allow-list (appliance_conf): a jail never gets a disk,
// memory or a console, whatever a template says.
void check_devices(const std::vector<std::string>& devices, const Reader& r, const toml::node* where) {
    for (const auto& d : devices) {
        if (appliance::find_device(d)) continue;
        std::string allowed;
        for (const auto& k : appliance::allowed_devices()) allowed += (allowed.empty() ? "" : ", ") + std::string(k.path);
        throw r.error(where, fmt::format("jail.devices: '{}' is not a device a jail may have (allowed: {})", d, allowed));
    }
}

// [seccomp]: every name checked here, with its line; the trace's own names are checked when the
// filter is planned.
void read_seccomp(const toml::table& sc, const std::filesystem::path& file, seccomp::TemplateRules& out) {
    Reader r(sc, file, "seccomp");
    r.str("mode", out.mode);
    if (!out.mode.empty() && out.mode != "enforce" && out.mode != "log" && out.mode != "off")
        throw r.error(sc.get("mode"), fmt::format("seccomp.mode is enforce, log or off, got '{}'", out.mode));
    r.strings("allow", out.allow);
    if (const toml::array* a = sc.get_as<toml::array>("allow"))
        for (size_t i = 0; i < out.allow.size(); ++i) {
            const std::string& n = out.allow[i];
            const toml::node* where = a->get(i);
            if (n.rfind('@', 0) == 0) {
                if (!seccomp::groups().count(n)) {
                    std::string known;
                    for (const auto& [g, _] : seccomp::groups()) known += (known.empty() ? "" : ", ") + g;
                    throw r.error(where, fmt::format("seccomp.allow: unknown group '{}' (groups: {})", n, known));
                }
            } else if (!seccomp::known_anywhere(n)) {
                throw r.error(where, fmt::format("seccomp.allow: '{}' is not a system call (a typo? `romimg trace` "
                                                 "--out FILE lists the ones a service makes)",
                                                 n));
            }
        }
    if (const toml::table* never = r.table("allow_never")) {
        const auto& list = seccomp::never_list();
        for (const auto& [k, v] : *never) {
            std::string name(k.str());
            if (std::find(list.begin(), list.end(), name) == list.end())
                throw r.error(&v, fmt::format("seccomp.allow_never.{}: {} is not on the never-list (put it in "
                                              "seccomp.allow)",
                                              name, name));
            if (!v.is_string() || v.as_string()->get().find_first_not_of(" \t") == std::string::npos)
                throw r.error(&v, fmt::format("seccomp.allow_never.{} must be a string saying why the service needs it",
                                              name));
            out.allow_never[name] = v.as_string()->get();
        }
    }
    for (const auto& n : out.allow)
        if (std::find(seccomp::never_list().begin(), seccomp::never_list().end(), n) != seccomp::never_list().end() &&
            !out.allow_never.count(n))
            throw r.error(sc.get("allow"), fmt::format("seccomp.allow: {} is on the never-list: allow it with "
                                                      "seccomp.allow_never = {{ {} = \"why it is needed\" }}",
                                                      n, n));
    r.reject_unknown();
}

void read_java(const toml::table& jv, const std::filesystem::path& file, ServiceTemplate& t) {
    Reader r(jv, file, "java");
    JavaSpec& j = t.java;
    r.str("runtime", j.runtime);
    r.strings("modules", j.modules);
    r.str("cds", j.cds);
    r.str("heap", j.heap);
    r.reject_unknown();
    if (j.runtime != "jlink" && j.runtime != "distribution")
        throw r.error(jv.get("runtime"), fmt::format("java.runtime must be \"jlink\" (a runtime of the modules the "
                                                     "service needs) or \"distribution\" (the JDK as installed), not '{}'",
                                                     names::printable(j.runtime)));
    if (j.cds != "service" && j.cds != "default" && j.cds != "off")
        throw r.error(jv.get("cds"), fmt::format("java.cds must be \"service\", \"default\" or \"off\", not '{}'",
                                                 names::printable(j.cds)));
    for (const auto& m : j.modules)
        if (m.empty() || !std::islower((unsigned char)m[0]) ||
            m.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._") != std::string::npos || m.back() == '.')
            throw r.error(jv.get("modules"), fmt::format("java.modules: '{}' is not a JDK module name (e.g. jdk.crypto.ec)",
                                                         names::printable(m)));
    if (j.runtime == "distribution" && (jv.get("modules") || jv.get("cds")))
        throw r.error(&jv, "java.modules and java.cds only apply with java.runtime = \"jlink\"");
    if (j.runtime == "jlink" && j.cds == "service" && t.writable.empty())
        throw r.error(&jv, "java.cds = \"service\" needs a writable dir in the jail ([jail] writable), where the "
                           "build's run of the service writes the list of classes it loads; or say java.cds = \"default\"");
    r.reject_unknown();
}

}  // namespace

ServiceTemplate parse_template(const std::string& text, const std::filesystem::path& file) {
    toml::table root = parse_toml(text, file);
    ServiceTemplate t;
    t.file = file;
    t.name = file.stem().string();
    Reader top(root, file, "");
    top.str("description", t.description);
    top.strings("packages", t.packages);

    const toml::table* svc = top.table("service");
    if (!svc) throw ConfigError(file, 0, "missing [service] table (it says what to run)");
    Reader s(*svc, file, "service");
    s.strings("command", t.command);
    if (t.command.empty()) throw s.error(svc, "service.command must name the program to run");
    if (t.command[0].empty() || t.command[0][0] != '/')
        throw s.error(svc->get("command"), "service.command[0] must be an absolute path");
    if (const toml::table* env = s.table("environment")) {
        for (const auto& [k, v] : *env) {
            if (!v.is_string()) throw s.error(&v, fmt::format("service.environment.{} must be a string", k.str()));
            t.environment[std::string(k.str())] = v.as_string()->get();
        }
    }
    s.str("cwd", t.cwd);
    s.str("user", t.user);
    s.str("group", t.group);
    s.strings("capabilities", t.capabilities);
    s.ints("ports", t.ports);
    s.str("stop_signal", t.stop_signal);
    s.integer("stop_timeout", t.stop_timeout);
    s.reject_unknown();

    if (const toml::table* rd = top.table("ready")) {
        Reader r(*rd, file, "ready");
        r.str("check", t.ready);
        r.integer("timeout", t.ready_timeout);
        r.reject_unknown();
    }
    if (const toml::table* tr = top.table("trace")) {
        Reader r(*tr, file, "trace");
        r.strings("probes", t.trace_probes);
        r.reject_unknown();
    }
    if (const toml::table* vf = top.table("verify")) {
        Reader r(*vf, file, "verify");
        r.strings("probes", t.verify_probes);
        r.reject_unknown();
    }
    if (const toml::table* jl = top.table("jail")) {
        Reader r(*jl, file, "jail");
        r.strings("include", t.include);
        r.strings("exclude", t.exclude);
        r.strings("logs", t.logs);
        r.strings("devices", t.devices);
        check_devices(t.devices, r, jl->get("devices"));
        r.boolean("proc", t.proc);
        r.boolean("exec_lock", t.exec_lock);
        r.boolean("keep_setuid", t.keep_setuid);
        r.boolean("keep_file_caps", t.keep_file_caps);
        if (const toml::array* w = r.array("writable")) {
            for (const auto& e : *w) {
                WritableArea area;
                if (e.is_string()) {
                    area.path = e.as_string()->get();
                } else if (const toml::table* wt = e.as_table()) {
                    Reader wr(*wt, file, "jail.writable");
                    wr.str("path", area.path);
                    wr.str("size", area.size);
                    wr.boolean("logs", area.logs);
                    wr.reject_unknown();
                } else {
                    throw r.error(&e, "jail.writable entries must be paths or { path = ..., size = ..., logs = true|false }");
                }
                if (area.path.empty() || area.path[0] != '/')
                    throw r.error(&e, "jail.writable paths must be absolute");
                t.writable.push_back(area);
            }
        }
        if (const toml::array* pa = r.array("properties")) {
            for (const auto& e : *pa) {
                const toml::table* pt = e.as_table();
                if (!pt) throw r.error(&e, "jail.properties entries must be tables: { file = ..., key = ..., add = [...] }");
                Reader pr(*pt, file, "jail.properties");
                PropertyEdit edit;
                pr.str("file", edit.file);
                pr.str("key", edit.key);
                pr.strings("add", edit.add);
                std::vector<std::string> set;
                pr.strings("set", set);
                pr.reject_unknown();
                if (!edit.add.empty() && !set.empty())
                    throw r.error(&e, "jail.properties entries take add or set, not both");
                if (!set.empty()) edit.add = set, edit.set = true;
                if (edit.file.empty() || edit.key.empty() || edit.add.empty())
                    throw r.error(&e, "jail.properties entries need file, key, and add or set");
                t.properties.push_back(edit);
            }
        }
        r.reject_unknown();
    }
    if (const toml::table* st = top.table("site")) {
        Reader r(*st, file, "site");
        r.strings("paths", t.site);
        for (const auto& p : t.site)
            if (std::string why = site_path_problem(p); !why.empty())
                throw r.error(st->get("paths"), fmt::format("site.paths: '{}' {}", names::printable(p), why));
        r.reject_unknown();
    }
    if (const toml::table* rl = top.table("rlimits")) {
        static const std::set<std::string> known = {"nofile", "nproc", "as", "core", "fsize", "memlock", "stack"};
        for (const auto& [k, v] : *rl) {
            std::string key(k.str());
            if (!known.count(key)) throw top.error(&v, fmt::format("unknown rlimit '{}'", key));
            if (!v.is_integer()) throw top.error(&v, fmt::format("rlimits.{} must be an integer", key));
            t.rlimits[key] = (long)v.as_integer()->get();
        }
    }
    if (const toml::table* lm = top.table("limits")) {
        Reader r(*lm, file, "limits");
        r.str("memory", t.limits.memory);
        r.integer("tasks", t.limits.tasks);
        int files = (int)t.limits.files;
        r.integer("files", files);
        t.limits.files = (long)files;
        r.integer("restarts", t.limits.restarts);
        r.str("memory_needed", t.limits.memory_needed);
        r.reject_unknown();
        if (lm->get("files") && t.rlimits.count("nofile"))
            throw r.error(lm->get("files"), "limits.files and rlimits.nofile are the same limit: give only limits.files");
    }
    if (auto it = t.rlimits.find("nofile"); it != t.rlimits.end()) t.limits.files = it->second;
    if (const toml::table* sc = top.table("seccomp")) read_seccomp(*sc, file, t.seccomp);
    if (const toml::table* jv = top.table("java")) read_java(*jv, file, t);
    if (const toml::table* dt = top.table("data")) {
        Reader r(*dt, file, "data");
        r.strings("paths", t.data.paths);
        r.str("missing", t.data.missing);
        r.str("size", t.data.size);
        r.reject_unknown();
    }
    top.reject_unknown();
    check_template(t, root);
    return t;
}

std::vector<std::string> jail_includes(const ServiceTemplate& t) {
    std::vector<std::string> out = t.include;
    for (const auto& p : t.data.paths) out.push_back(p);  // a dir is included recursively
    return out;
}

ServiceTemplate load_template(const std::string& name_or_path) {
    std::filesystem::path file;
    if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".toml")) {
        file = name_or_path;
        if (!std::filesystem::exists(file)) throw Error(fmt::format("no template file {}", file.string()));
    } else {
        const auto found = find_templates(template_dirs());
        auto it = std::find_if(found.begin(), found.end(), [&](const FoundTemplate& t) { return t.name == name_or_path; });
        if (it == found.end()) {
            std::string known;
            for (const auto& t : found) known += (known.empty() ? "" : ", ") + t.name;
            throw Error(fmt::format("unknown service '{}' (templates available: {}); `romimg "
                                    "templates` lists them, or give a path to a .toml file",
                                    name_or_path, known.empty() ? "none" : known));
        }
        file = it->file;
        if (it->origin != "shipped" || !it->hidden.empty()) {
            std::string hides;
            for (const auto& h : it->hidden) hides += fmt::format("{}{} ({})", hides.empty() ? "; it hides " : ", ", h.file.string(), h.origin);
            log::info("==> template {}: {} ({}){}", name_or_path, file.string(), it->origin, hides);
        }
    }
    return parse_template(fs::read_file(file), file);
}

std::map<std::string, std::string> list_templates() {
    std::map<std::string, std::string> out;
    for (const auto& t : find_templates(template_dirs())) out[t.name] = describe_template(t.file);
    return out;
}

std::string describe_template(const std::filesystem::path& file) {
    try {
        return parse_template(fs::read_file(file), file).description;
    } catch (const std::exception& ex) {
        return std::string("(invalid: ") + ex.what() + ")";
    }
}

}  // namespace romimg::recipe
