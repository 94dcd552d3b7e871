#include "trace/request.h"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/names.h"
#include "common/sys.h"
#include "recipe/template_checks.h"

namespace romimg::trace {

Credentials lookup_user(const std::string& user, const std::string& group) {
    struct passwd pw, *pwp = nullptr;
    char buf[16384];
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &pwp) != 0 || !pwp)
        throw Error(fmt::format("user '{}' does not exist on this host (the service runs as it: "
                                "install the package that creates it, or create it)", user));
    Credentials c;
    c.uid = pw.pw_uid;
    c.gid = pw.pw_gid;
    if (!group.empty()) {
        struct group gr, *grp = nullptr;
        if (getgrnam_r(group.c_str(), &gr, buf, sizeof buf, &grp) != 0 || !grp)
            throw Error(fmt::format("group '{}' does not exist on this host", group));
        c.gid = gr.gr_gid;
    }
    int n = 64;
    std::vector<gid_t> groups(n);
    if (getgrouplist(user.c_str(), c.gid, groups.data(), &n) < 0) {
        groups.resize(n);
        getgrouplist(user.c_str(), c.gid, groups.data(), &n);
    }
    groups.resize(n);
    c.groups = groups;
    return c;
}

int capability_number(const std::string& name) {
    cap_value_t v;
    std::string lower;
    for (char ch : name) lower += (char)tolower(ch);
    if (cap_from_name(lower.c_str(), &v) != 0)
        throw UsageError(fmt::format("unknown capability '{}' (e.g. CAP_NET_BIND_SERVICE)", name));
    return v;
}

static std::string resolve_program(const std::string& prog, const std::vector<std::string>& packages) {
    std::string exe = find_program(prog);
    if (!exe.empty()) return exe[0] == '/' ? exe : std::filesystem::absolute(exe).string();
    if (!packages.empty())
        throw Error(fmt::format("{} is not installed: install {} (apt-get install {}, or `make deps`)", prog,
                                fmt::join(packages, ", "), fmt::join(packages, " ")));
    throw Error(fmt::format("command not found: {}", prog));
}

TraceRequest build_request(const recipe::ServiceTemplate* t, const RequestSettings& s,
                           const std::filesystem::path& work) {
    TraceRequest req;
    std::vector<std::string> command = s.command, probes = s.probes, caps = s.caps;
    std::string ready = s.ready, user = s.user, stop_signal = s.stop_signal;
    int ready_timeout = s.ready_timeout, stop_timeout = s.stop_timeout;
    std::string group;
    std::vector<std::string> packages;
    std::map<std::string, std::string> environment = {
        {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, {"HOME", "/"}};
    if (t) {
        req.name = t->name;
        req.ready_timeout_hint = fmt::format("raise [ready] timeout in {}; `romimg trace` also takes --ready-timeout SECS",
                                             t->file.string());
        command = t->command;
        packages = t->packages;
        if (user.empty()) user = t->user;
        group = t->group;
        if (caps.empty()) caps = t->capabilities;
        for (const auto& [k, v] : t->environment) environment[k] = v;
        if (ready.empty()) ready = t->ready;
        if (ready_timeout < 0) ready_timeout = t->ready_timeout;
        if (probes.empty()) probes = t->trace_probes;
        for (const auto& w : t->writable) req.service.writable.push_back({w.path, w.size});
        req.service.data = t->data.paths;
        req.template_file = t->file;
        try {
            req.template_text = fs::read_file(t->file);
        } catch (const Error&) {  // the fix then names the table, not the line
        }
        req.service.logs = t->logs;
        if (stop_signal.empty()) stop_signal = t->stop_signal;
        if (stop_timeout < 0) stop_timeout = t->stop_timeout;
        req.service.cwd = t->cwd;
    } else {
        req.name = std::filesystem::path(command[0]).filename().string();
    }
    for (const auto& w : s.writable) {
        if (std::string why = recipe::writable_path_problem(w); !why.empty())
            throw UsageError(fmt::format("--writable '{}' {}: name the directory the command writes", names::printable(w), why));
        req.service.writable.push_back({w, "64m"});
    }
    for (const auto& e : s.env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError("--env needs NAME=VALUE, got " + e);
        if (!recipe::env_key_problem(e.substr(0, eq)).empty() || names::has_control(e))
            throw UsageError(fmt::format("--env '{}': NAME is letters, digits and _, and neither may hold a control character",
                                         names::printable(e)));
        environment[e.substr(0, eq)] = e.substr(eq + 1);
    }
    for (const auto& [k, v] : environment) req.service.env.push_back(k + "=" + v);

    if (!probes.empty() && ready.empty())
        throw UsageError("--probe needs --ready: romimg must know when the service is up");
    if (!ready.empty()) req.ready = parse_ready(ready);
    std::string base = base_url(req.ready);
    for (const auto& p : probes) {
        req.probes.push_back(parse_probe(p));
        probe_url(req.probes.back(), base);  // fails early if it has no host
    }
    req.ready_timeout_s = ready_timeout < 0 ? 60 : ready_timeout;
    if (s.timeout < 0) throw UsageError("--timeout must be positive");
    if (s.timeout > 0 && req.ready.kind != ReadyCheck::none)
        throw UsageError("--timeout is for commands without --ready (with --ready the probes end the trace)");
    req.timeout_s = s.timeout;
    req.service.stop_timeout_s = stop_timeout < 0 ? 10 : stop_timeout;
    if (!stop_signal.empty()) {
        req.service.stop_signal = sys::signal_number(stop_signal);
        if (req.service.stop_signal < 0) throw UsageError("unknown signal " + stop_signal);
    }
    if (!caps.empty() && user.empty()) throw UsageError("--cap only makes sense with --user");
    for (const auto& c : caps) req.service.keep_caps.push_back(capability_number(c));

    command[0] = resolve_program(command[0], packages);
    req.service.argv = command;
    if (!user.empty()) req.service.creds = lookup_user(user, group);
    req.work = std::filesystem::absolute(work);
    req.log = req.work / "logs" / fmt::format("trace-{}.log", req.name);

    return req;
}

}  // namespace romimg::trace
