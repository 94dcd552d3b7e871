// `romimg trace`: the tracer stage on its own. Builds a TraceRequest from a template or a
// command line, runs it, prints the summary, writes the JSON.
#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/sys.h"
#include "recipe/template.h"
#include "trace/session.h"
#include "trace/summary.h"
#include "trace/syscalls.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg trace [OPTIONS] SERVICE\n"
    "       romimg trace [OPTIONS] [--ready CHECK] [--probe 'METHOD /path STATUS']... [--user USER]\n"
    "                    -- COMMAND [ARGS...]\n"
    "\n"
    "Runs a service (from jail-templates/SERVICE.toml, or a path to a template) or any command\n"
    "under ptrace, in private namespaces over a copy-on-write view of this host, and reports every\n"
    "file, directory, symlink hop, device and socket it used, how, and whether it worked. The host's\n"
    "files are not changed. With a ready check, romimg waits for it, runs the probes, stops the\n"
    "service and ends the trace; without one, the trace ends when the command exits.\n"
    "\n"
    "options:\n"
    "  --out FILE            write the trace as JSON (format: docs/trace-format.md)\n"
    "  --ready CHECK         tcp:PORT or an http(s):// URL: wait until the service answers\n"
    "  --ready-timeout SECS  how long to wait for it (default 60, or the template's)\n"
    "  --probe 'M /path S'   a request to make once ready, expecting status S (repeatable)\n"
    "  --user USER           run as USER (and USER's groups) instead of root\n"
    "  --cap CAP             with --user: keep this capability, e.g. CAP_NET_BIND_SERVICE\n"
    "  --writable DIR        an empty tmpfs owned by the user at DIR, as in the jail (repeatable)\n"
    "  --env NAME=VALUE      add to the command's environment (repeatable)\n"
    "  --timeout SECS        without --ready: stop the command after SECS (default: when it exits)\n"
    "  --stop-signal SIG     how to stop the service (default TERM)\n"
    "  --stop-timeout SECS   then SIGKILL after this long (default 10)\n"
    "  --work DIR            scratch space and logs (default ./work)\n"
    "  -v, -q                more / less output\n"
    "\n"
    "Needs root (namespaces, overlay mount, ptrace).\n";

trace::Credentials lookup_user(const std::string& user, const std::string& group) {
    struct passwd pw, *pwp = nullptr;
    char buf[16384];
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &pwp) != 0 || !pwp)
        throw Error(fmt::format("user '{}' does not exist on this host (the service runs as it: "
                                "install the package that creates it, or create it)", user));
    trace::Credentials c;
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

int cap_number(const std::string& name) {
    cap_value_t v;
    std::string lower;
    for (char ch : name) lower += (char)tolower(ch);
    if (cap_from_name(lower.c_str(), &v) != 0)
        throw UsageError(fmt::format("unknown capability '{}' (e.g. CAP_NET_BIND_SERVICE)", name));
    return v;
}

std::string resolve_program(const std::string& prog, const std::vector<std::string>& packages) {
    std::string exe = find_program(prog);
    if (!exe.empty()) return exe[0] == '/' ? exe : std::filesystem::absolute(exe).string();
    if (!packages.empty())
        throw Error(fmt::format("{} is not installed: install {} (apt-get install {}, or `make deps`)", prog,
                                fmt::join(packages, ", "), fmt::join(packages, " ")));
    throw Error(fmt::format("command not found: {}", prog));
}

int trace_main(const GlobalOptions&, const std::vector<std::string>& args) {
    std::string out, ready, user, stop_signal, work = "work";
    int ready_timeout = -1, stop_timeout = -1, timeout = 0;
    std::vector<std::string> probes, caps, writable, env, command;
    ArgParser p("trace", usage, args);
    p.option("--out", out);
    p.option("--ready", ready);
    p.option("--ready-timeout", ready_timeout);
    p.repeated("--probe", probes);
    p.option("--user", user);
    p.repeated("--cap", caps);
    p.repeated("--writable", writable);
    p.repeated("--env", env);
    p.option("--timeout", timeout);
    p.option("--stop-signal", stop_signal);
    p.option("--stop-timeout", stop_timeout);
    p.option("--work", work);
    p.rest_after_dashdash(command);
    std::vector<std::string> positional = p.parse();

    if (positional.size() > 1) throw UsageError("romimg trace takes one SERVICE (or -- COMMAND)");
    if (positional.empty() == command.empty())
        throw UsageError("romimg trace needs a SERVICE or -- COMMAND (not both)");

    trace::TraceRequest req;
    std::string group;
    std::vector<std::string> packages;
    std::map<std::string, std::string> environment = {
        {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, {"HOME", "/"}};
    if (!positional.empty()) {
        recipe::ServiceTemplate t = recipe::load_template(positional[0]);
        req.name = t.name;
        command = t.command;
        packages = t.packages;
        if (user.empty()) user = t.user;
        group = t.group;
        if (caps.empty()) caps = t.capabilities;
        for (const auto& [k, v] : t.environment) environment[k] = v;
        if (ready.empty()) ready = t.ready;
        if (ready_timeout < 0) ready_timeout = t.ready_timeout;
        if (probes.empty()) probes = t.trace_probes;
        for (const auto& w : t.writable) req.service.writable.push_back({w.path, w.size});
        if (stop_signal.empty()) stop_signal = t.stop_signal;
        if (stop_timeout < 0) stop_timeout = t.stop_timeout;
        req.service.cwd = t.cwd;
    } else {
        req.name = std::filesystem::path(command[0]).filename().string();
    }
    for (const auto& w : writable) {
        if (w.empty() || w[0] != '/') throw UsageError("--writable needs an absolute path: " + w);
        req.service.writable.push_back({w, "64m"});
    }
    for (const auto& e : env) {
        auto eq = e.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError("--env needs NAME=VALUE, got " + e);
        environment[e.substr(0, eq)] = e.substr(eq + 1);
    }
    for (const auto& [k, v] : environment) req.service.env.push_back(k + "=" + v);

    if (!probes.empty() && ready.empty())
        throw UsageError("--probe needs --ready: romimg must know when the service is up");
    if (!ready.empty()) req.ready = trace::parse_ready(ready);
    std::string base = trace::base_url(req.ready);
    for (const auto& s : probes) {
        req.probes.push_back(trace::parse_probe(s));
        trace::probe_url(req.probes.back(), base);  // fails early if it has no host
    }
    req.ready_timeout_s = ready_timeout < 0 ? 60 : ready_timeout;
    if (timeout < 0) throw UsageError("--timeout must be positive");
    if (timeout > 0 && req.ready.kind != trace::ReadyCheck::none)
        throw UsageError("--timeout is for commands without --ready (with --ready the probes end the trace)");
    req.timeout_s = timeout;
    req.service.stop_timeout_s = stop_timeout < 0 ? 10 : stop_timeout;
    if (!stop_signal.empty()) {
        req.service.stop_signal = sys::signal_number(stop_signal);
        if (req.service.stop_signal < 0) throw UsageError("unknown signal " + stop_signal);
    }
    if (!caps.empty() && user.empty()) throw UsageError("--cap only makes sense with --user");
    for (const auto& c : caps) req.service.keep_caps.push_back(cap_number(c));

    command[0] = resolve_program(command[0], packages);
    req.service.argv = command;
    if (!user.empty()) req.service.creds = lookup_user(user, group);
    req.work = std::filesystem::absolute(work);
    req.log = req.work / "logs" / fmt::format("trace-{}.log", req.name);

    trace::TraceResult result;
    {
        auto stage = log::stage("trace " + req.name);
        result = trace::run_trace(req);
        stage.detail(fmt::format("{} paths, {} execs", result.files.size(), result.execs.size()));
    }
    for (const auto& n : trace::baseline_syscalls()) result.syscalls_baseline.insert(n);
    if (log::level() >= log::Level::normal) std::fputs(trace::summarize(req.name, result).c_str(), stdout);
    if (!out.empty()) {
        fs::write_file_atomic(out, to_json(result).dump(1) + "\n");
        log::info("trace written to {}", out);
    }
    return 0;
}

}  // namespace

Subcommand trace_command() {
    return {"trace", "run a service (or any command) under the tracer; report the files it uses",
            usage, trace_main};
}

}  // namespace romimg::cli
