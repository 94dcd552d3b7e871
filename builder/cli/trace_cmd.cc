// `romimg trace`: the tracer stage on its own. Builds a TraceRequest from a template or a
// command line, runs it, prints the summary, writes the JSON.

#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "recipe/template.h"
#include "trace/request.h"
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

    trace::RequestSettings s{command, ready, user, stop_signal, ready_timeout, stop_timeout, timeout,
                             probes, caps, writable, env};
    std::unique_ptr<recipe::ServiceTemplate> t;
    if (!positional.empty()) t = std::make_unique<recipe::ServiceTemplate>(recipe::load_template(positional[0]));
    trace::TraceRequest req = trace::build_request(t.get(), s, work);

    trace::TraceResult result;
    {
        auto stage = log::stage("trace " + req.name);
        result = trace::run_trace(req);
        if (std::string failed = trace::probe_failures(result, req); !failed.empty()) throw Error(failed);
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
