#include "recipe/template_checks.h"

#include <cstring>
#include <set>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/names.h"
#include "common/sys.h"
#include "common/strings.h"
#include "ready_check.h"
#include "trace/probe.h"

namespace romimg::recipe {

namespace {

// Directories a tmpfs must never cover: it would hide the system the service runs on (its
// program, libraries, generated accounts). /run and /var may be writable: in a jail they hold
// only the service's own run-time files (lighttpd's pid file is /run/lighttpd.pid).
const std::set<std::string>& system_dirs() {
    static const std::set<std::string> dirs = {"/",        "/etc",     "/usr",       "/usr/bin",  "/usr/sbin",
                                               "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/bin",
                                               "/sbin",    "/lib",     "/lib32",     "/lib64",    "/libx32",
                                               "/boot",    "/jail"};
    return dirs;
}

bool under_kernel_fs(const std::string& p) {
    for (const char* d : {"/proc", "/sys", "/dev"})
        if (p == d || p.rfind(std::string(d) + "/", 0) == 0) return true;
    return false;
}

// The node at `path` ("jail.writable[2]"), or the nearest existing parent, for its line number.
const toml::node* node_at(const toml::table& root, std::string path) {
    for (;;) {
        if (auto n = root.at_path(path); n.node()) return n.node();
        auto cut = path.find_last_of(".[");
        if (cut == std::string::npos) return nullptr;
        path.resize(cut);
    }
}

class Checker {
public:
    Checker(const ServiceTemplate& t, const toml::table& root) : t_(t), root_(root) {}

    // `problem` non-empty: ConfigError at `key`'s line, "KEY 'VALUE' PROBLEM: FIX".
    void require(const std::string& key, const std::string& value, const std::string& problem,
                 const std::string& fix) const {
        if (problem.empty()) return;
        const toml::node* n = node_at(root_, key);
        throw ConfigError(t_.file, n ? (long)n->source().begin.line : 0,
                          fmt::format("{} '{}' {}: {}", key, names::printable(value), problem, fix));
    }
    // An integer key read from the TOML itself (the struct's int may already have wrapped).
    void range(const std::string& key, int64_t lo, int64_t hi) const {
        auto n = root_.at_path(key);
        if (!n.is_integer()) return;
        int64_t v = n.as_integer()->get();
        if (v < lo || v > hi)
            require(key, std::to_string(v), fmt::format("is out of range", lo, hi), fmt::format("give {} to {}", lo, hi));
    }
    const ServiceTemplate& t() const { return t_; }

private:
    const ServiceTemplate& t_;
    const toml::table& root_;
};

std::string absolute_problem(const std::string& p) {
    std::string why = names::absolute_path_problem(p);
    return why.empty() ? "" : "is not usable (" + why + ")";
}

std::string no_control(const std::string& s) { return names::has_control(s) ? "contains a control character" : ""; }

void check_service(const Checker& c) {
    const ServiceTemplate& t = c.t();
    c.require("service.command[0]", t.command[0], absolute_problem(t.command[0]),
              "give the program's absolute, normalized path");
    for (size_t i = 0; i < t.command.size(); ++i)
        c.require(fmt::format("service.command[{}]", i), t.command[i], no_control(t.command[i]), "remove it");
    for (const auto& [k, v] : t.environment) {
        c.require("service.environment." + k, k, env_key_problem(k), "use letters, digits and _");
        c.require("service.environment." + k, v, no_control(v), "remove it");
    }
    c.require("service.cwd", t.cwd, absolute_problem(t.cwd), "give an absolute, normalized directory");
    if (!t.user.empty()) c.require("service.user", t.user, account_name_problem(t.user), "name an existing user");
    if (!t.group.empty()) c.require("service.group", t.group, account_name_problem(t.group), "name an existing group");
    for (size_t i = 0; i < t.capabilities.size(); ++i) {
        const std::string& cap = t.capabilities[i];
        bool ok = cap.size() > 4 && cap.rfind("CAP_", 0) == 0 && cap.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_", 4) == std::string::npos;
        c.require(fmt::format("service.capabilities[{}]", i), cap, ok ? "" : "is not a capability name",
                  "write it like CAP_NET_BIND_SERVICE");
    }
    for (size_t i = 0; i < t.ports.size(); ++i) c.range(fmt::format("service.ports[{}]", i), 1, 65535);
    c.range("service.stop_timeout", 1, 3600);
    c.require("service.stop_signal", t.stop_signal, sys::signal_number(t.stop_signal) < 0 ? "is not a signal name" : "",
              "write it like TERM, INT or QUIT");
}

// What keeps romimg-init from running the check on the appliance: it speaks plain HTTP, to the
// appliance's own loopback. "" if nothing (or the check does not parse: syntax() says why).
std::string appliance_ready_problem(const std::string& spec) {
    appliance::ReadyCheck r;
    std::string why;
    if (!appliance::parse_ready_check(spec, r, why)) return "";
    if (r.kind == appliance::ReadyCheck::https)
        return "is an https URL: romimg-init checks readiness on the appliance over plain HTTP";
    if (r.host != "127.0.0.1" && r.host != "localhost" && r.host != "::1")
        return fmt::format("names the host '{}': the appliance checks the service on its own loopback", r.host);
    return "";
}

void check_ready_and_probes(const Checker& c) {
    const ServiceTemplate& t = c.t();
    c.range("ready.timeout", 1, 86400);
    auto syntax = [&](const std::string& key, const std::string& value, auto parse) {
        try {
            parse(value);
        } catch (const UsageError& e) {
            c.require(key, value, fmt::format("is not valid ({})", e.what()), "see jail-templates/README.md");
        }
    };
    if (!t.ready.empty()) {
        c.require("ready.check", t.ready, no_control(t.ready), "remove it");
        syntax("ready.check", t.ready, trace::parse_ready);
        c.require("ready.check", t.ready, appliance_ready_problem(t.ready),
                  "write tcp:PORT or http://127.0.0.1:PORT/PATH (a plain-HTTP port of the service)");
    }
    if (t.ready.empty() && !(t.trace_probes.empty() && t.verify_probes.empty()))
        c.require(t.trace_probes.empty() ? "verify.probes" : "trace.probes",
                  t.trace_probes.empty() ? t.verify_probes[0] : t.trace_probes[0],
                  "needs a ready check (romimg must know when and where the service is up)",
                  "add [ready] check = \"tcp:PORT\"");
    for (size_t i = 0; i < t.trace_probes.size(); ++i)
        syntax(fmt::format("trace.probes[{}]", i), t.trace_probes[i], trace::parse_probe);
    for (size_t i = 0; i < t.verify_probes.size(); ++i)
        syntax(fmt::format("verify.probes[{}]", i), t.verify_probes[i], trace::parse_probe);
}

void check_jail(const Checker& c) {
    const ServiceTemplate& t = c.t();
    for (size_t i = 0; i < t.writable.size(); ++i) {
        const std::string at = fmt::format("jail.writable[{}]", i);
        c.require(at, t.writable[i].path, writable_path_problem(t.writable[i].path),
                  "name the directory the service writes, like /run/NAME");
        c.require(at, t.writable[i].size, size_problem(t.writable[i].size), "write a size like \"16m\"");
    }
    for (size_t i = 0; i < t.logs.size(); ++i) {
        std::string why = absolute_problem(t.logs[i]);
        if (why.empty() && (t.logs[i] == "/" || under_kernel_fs(t.logs[i]))) why = "is not a log file path";
        c.require(fmt::format("jail.logs[{}]", i), t.logs[i], why, "give the log file's absolute, normalized path");
    }
    for (size_t i = 0; i < t.include.size(); ++i)
        c.require(fmt::format("jail.include[{}]", i), t.include[i], glob_problem(t.include[i]), "give an absolute glob");
    for (size_t i = 0; i < t.exclude.size(); ++i)
        c.require(fmt::format("jail.exclude[{}]", i), t.exclude[i], glob_problem(t.exclude[i]), "give an absolute glob");
    for (const auto& [k, v] : t.rlimits) c.range("rlimits." + k, 0, INT64_MAX);
    c.require("limits.memory", t.limits.memory, memory_limit_problem(t.limits.memory),
              "write a size like \"256m\" or a share of the machine's RAM like \"50%\"");
    // Below 16 a JVM or a threaded server cannot start; pids.max counts threads too.
    c.range("limits.tasks", 16, 4194304);
    // The kernel's fs.nr_open (1048576) caps RLIMIT_NOFILE; below 64 the C library itself fails.
    c.range("limits.files", 64, 1048576);
    c.range("rlimits.nofile", 64, 1048576);
    c.range("limits.restarts", 1, 1000);
    if (!t.limits.memory_needed.empty()) {
        const std::string& need = t.limits.memory_needed;
        std::string why = need.back() == '%' ? "is a share of RAM, and what a service needs is a size" : memory_limit_problem(need);
        if (why.empty() && memory_limit_problem(t.limits.memory).empty() && t.limits.memory.back() != '%' &&
            size_bytes(need) > size_bytes(t.limits.memory))
            why = "is more than limits.memory (" + t.limits.memory + "), so the service could never start";
        c.require("limits.memory_needed", need, why, "write the least memory it works in, like \"96m\"");
    }
    if (!t.java.heap.empty())
        c.require("java.heap", t.java.heap, heap_share_problem(t.java.heap),
                  "write a share of the service's memory limit like \"40%\"");
    for (size_t i = 0; i < t.properties.size(); ++i) {
        const PropertyEdit& e = t.properties[i];
        const std::string at = fmt::format("jail.properties[{}]", i);
        c.require(at + ".file", e.file, absolute_problem(e.file), "give the .properties file's absolute, normalized path");
        c.require(at + ".key", e.key, property_key_problem(e.key), "write a key like tomcat.util.scan.StandardJarScanFilter.jarsToSkip");
        for (size_t j = 0; j < e.add.size(); ++j)
            c.require(fmt::format("{}.{}[{}]", at, e.set ? "set" : "add", j), e.add[j], property_item_problem(e.add[j]),
                      "write one list item like tomcat10-*.jar");
    }
}

}  // namespace

std::string property_key_problem(const std::string& k) {
    if (k.empty() || k.size() > 200) return "is not 1 to 200 characters";
    for (char ch : k)
        if (!isalnum((unsigned char)ch) && !strchr("._-[]", ch)) return "is not a plain key (letters, digits and . _ - [ ])";
    return "";
}

std::string property_item_problem(const std::string& item) {
    if (item.empty() || item.size() > 200) return "is not 1 to 200 characters";
    for (char ch : item)
        if (!isalnum((unsigned char)ch) && !strchr("._-*?/+@", ch))
            return "is not one plain list item (letters, digits and . _ - * ? / + @; no ',', '\\' or blanks)";
    return "";
}

std::string writable_path_problem(const std::string& p) {
    if (std::string why = absolute_problem(p); !why.empty()) return why;
    if (system_dirs().count(p)) return "is a system directory (a tmpfs there would hide it)";
    if (under_kernel_fs(p)) return "is in /proc, /sys or /dev";
    return "";
}

std::string site_path_problem(const std::string& p) {
    if (std::string why = absolute_problem(p); !why.empty()) return why;
    if (p == "/") return "is the whole tree (name the service's own directories)";
    if (under_kernel_fs(p) || p == "/run" || p.rfind("/run/", 0) == 0) return "is in /proc, /sys, /dev or /run (made at run time)";
    for (const char* sys : {"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/boot"})
        if (fs::path_within(p, sys))
            return fmt::format("is in {}: programs and libraries come from the staging root's own packages, never "
                               "from this host (their arch may differ)", sys);
    return "";
}

std::string size_problem(const std::string& s) {
    const size_t digits = s.find_first_not_of("0123456789");
    if (s.empty() || digits == 0 || digits == std::string::npos || digits > 9 || s[0] == '0' || digits + 1 != s.size() ||
        (s.back() != 'k' && s.back() != 'm' && s.back() != 'g'))
        return "is not a size (digits and one of k, m, g)";
    return "";
}

std::string memory_limit_problem(const std::string& s) {
    if (!s.empty() && s.back() == '%') {
        const std::string n = s.substr(0, s.size() - 1);
        if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos || n[0] == '0' ||
            std::stoi(n) > 100)
            return "is not a share of RAM (1% to 100%)";
        return "";
    }
    if (std::string why = size_problem(s); !why.empty()) return why;
    // Less than 8 MiB cannot hold a service's libraries, let alone its work.
    if (size_bytes(s) < (8LL << 20)) return "is below 8m";
    return "";
}

std::string heap_share_problem(const std::string& s) {
    const std::string n = s.empty() || s.back() != '%' ? "" : s.substr(0, s.size() - 1);
    // Below 5% no JVM starts in a small limit; above 90% its metaspace, code and threads have no room.
    if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos || std::stoi(n) < 5 ||
        std::stoi(n) > 90)
        return "is not a share of the memory limit from 5% to 90%";
    return "";
}

long long size_bytes(const std::string& size) {
    const long long unit = size.back() == 'k' ? 1024LL : size.back() == 'm' ? 1LL << 20 : 1LL << 30;
    return std::stoll(size.substr(0, size.size() - 1)) * unit;
}

std::string account_name_problem(const std::string& n) {
    // Debian's NAME_REGEX, a little wider (upper case exists on real systems).
    bool ok = !n.empty() && n.size() <= 32 && n[0] != '-' &&
              n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos;
    return ok ? "" : "is not a user or group name";
}

std::string env_key_problem(const std::string& k) {
    bool ok = !k.empty() && !(k[0] >= '0' && k[0] <= '9') &&
              k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
    return ok ? "" : "is not an environment variable name";
}

std::string glob_problem(const std::string& g) {
    if (g.empty() || g[0] != '/') return "is not absolute";
    if (names::has_control(g)) return "contains a control character";
    for (const auto& part : split(g.substr(1), '/'))
        if (part == "." || part == "..") return "has a '" + part + "' component";
    return "";
}

// [data] paths: dirs of the jail bound from the data disk. Not a system dir, not a writable
// (tmpfs) dir or a log, not one inside another.
void check_data(const Checker& c) {
    const ServiceTemplate& t = c.t();
    for (size_t i = 0; i < t.data.paths.size(); ++i) {
        const std::string& p = t.data.paths[i];
        std::string why = writable_path_problem(p);
        if (why.empty() && (p == "/run" || p.rfind("/run/", 0) == 0 || p == "/tmp" || p.rfind("/tmp/", 0) == 0))
            why = "is in /run or /tmp (made at run time, and lost at power-off by design)";
        for (const auto& w : t.writable)
            if (why.empty() && (fs::path_within(p, w.path) || fs::path_within(w.path, p)))
                why = fmt::format("overlaps the writable dir {} (a tmpfs, lost at power-off)", w.path);
        for (size_t k = 0; k < i && why.empty(); ++k)
            if (fs::path_within(p, t.data.paths[k]) || fs::path_within(t.data.paths[k], p))
                why = fmt::format("overlaps data.paths[{}] {}", k, t.data.paths[k]);
        for (const auto& l : t.logs)
            if (why.empty() && fs::path_within(l, p)) why = fmt::format("holds the log {} (a FIFO to init)", l);
        c.require(fmt::format("data.paths[{}]", i), p, why, "name the directory where the service keeps its state, like /var/lib/NAME");
    }
    c.require("data.missing", t.data.missing, t.data.missing == "refuse" || t.data.missing == "tmpfs" ? "" : "is not refuse or tmpfs",
              "write \"refuse\" (the service does not start without its data disk) or \"tmpfs\" (it runs on a copy lost at power-off)");
    // As init reads it (appliance.conf's data_missing): a size of at least 8 MiB.
    std::string why = size_problem(t.data.size);
    if (why.empty() && size_bytes(t.data.size) < (8LL << 20)) why = "is below 8m";
    c.require("data.size", t.data.size, why, "write a size like \"64m\"");
}

void check_template(const ServiceTemplate& t, const toml::table& root) {
    if (!names::is_simple_name(t.name))
        throw ConfigError(t.file, 0,
                          fmt::format("the template's name '{}' (its file name) is not a service name: rename the file "
                                      "to 1 to 64 of a-z, 0-9, - and _, plus .toml",
                                      names::printable(t.name)));
    Checker c(t, root);
    check_service(c);
    check_ready_and_probes(c);
    check_jail(c);
    check_data(c);
}

}  // namespace romimg::recipe
