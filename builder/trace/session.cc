#include "trace/session.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/sys.h"
#include "trace/diagnosis.h"
#include "workdir/workdir.h"

namespace romimg::trace {

namespace {

using Clock = std::chrono::steady_clock;

// Owns the supervisor and everything below it. Its destructor kills the supervisor (ptrace's
// EXITKILL then kills every traced process, and the sandbox's PID namespace dies with its init)
// and reaps every process that romimg, as child subreaper, inherits.
class SupervisorGuard {
public:
    explicit SupervisorGuard(pid_t pid) : pid_(pid) {}
    ~SupervisorGuard() { finish(); }
    pid_t pid() const { return pid_; }

    void finish() {
        if (pid_ > 0) kill(pid_, SIGKILL);
        pid_ = 0;
        // Reap until no child is left: wait for SIGCHLD (blocked, so none is missed) rather
        // than sleeping in a poll loop.
        sigset_t chld, old;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        pthread_sigmask(SIG_BLOCK, &chld, &old);
        auto deadline = Clock::now() + std::chrono::seconds(30);
        for (;;) {
            pid_t p = waitpid(-1, nullptr, WNOHANG | __WALL);
            if (p > 0) continue;
            if (p < 0 && errno == ECHILD) break;
            auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
            if (left.count() <= 0) {
                log::warn("processes from the traced sandbox are still exiting");
                break;
            }
            struct timespec ts = {left.count() / 1000000000, left.count() % 1000000000};
            sigtimedwait(&chld, nullptr, &ts);
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }

private:
    pid_t pid_;
};

struct Channel {
    int fd;
    // Waits for the next message until `deadline`; throws Interrupted on Ctrl-C. Returns false on
    // timeout.
    bool next(Msg& type, std::string& payload, Clock::time_point deadline) {
        for (;;) {
            signals::throw_if_interrupted();
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return false;
            struct pollfd p = {fd, POLLIN, 0};
            int n = poll(&p, 1, (int)std::min<long>(left.count(), 200));
            if (n < 0 && errno != EINTR) throw SysError("poll", "channel", errno);
            if (n > 0) {
                if (!read_msg(fd, type, payload))
                    throw Error("the trace supervisor died unexpectedly (see the log for details)");
                return true;
            }
        }
    }
    bool ready() {
        struct pollfd p = {fd, POLLIN, 0};
        return poll(&p, 1, 0) > 0;
    }
};

// Runs `fn` on a thread that has joined the sandbox's network namespace, so 127.0.0.1 is the
// traced service's loopback.
template <typename F>
void in_netns(int netns_fd, F&& fn) {
    std::exception_ptr err;
    std::thread t([&] {
        try {
            sys::setns(netns_fd, CLONE_NEWNET);
            fn();
        } catch (...) {
            err = std::current_exception();
        }
    });
    t.join();
    if (err) std::rethrow_exception(err);
}

// What the run saw that explains a failure, from the host's view of the paths it looked for.
// The service could write its writable dirs and its [data] dirs: on the host's view the
// template's, in a jail its confinement's tmpfs mounts and data dirs.
std::string diagnosis_of(const TraceResult& r, const TraceRequest& req) {
    DiagnosisContext ctx{req.template_file, req.template_text, {}, req.service.confinement.has_value(), req.work.string()};
    if (const auto& c = req.service.confinement) {
        for (const auto& m : c->mounts)
            if (m.type == "tmpfs") ctx.writable.push_back(m.target);
        ctx.writable.insert(ctx.writable.end(), c->data.begin(), c->data.end());
    } else {
        for (const auto& w : req.service.writable) ctx.writable.push_back(w.path);
        ctx.writable.insert(ctx.writable.end(), req.service.data.begin(), req.service.data.end());
    }
    return diagnose(r, ctx, [](const std::string& path) {
        struct stat st;
        return lstat(path.c_str(), &st) == 0;
    });
}

Error exited_early(const TraceRequest& req, const nlohmann::json& j) {
    int st = j.value("main_status", 1000);
    std::string how = st >= 0 && st < 1000 ? fmt::format("exited with status {}", st)
                      : st < 0             ? fmt::format("was killed by signal {}", sys::signal_name(-st))
                                           : "exited";
    std::string tail = tail_lines(req.log, 15);
    std::string why;
    try {
        why = diagnosis_of(trace_result_from_json(j), req);
    } catch (const Error&) {  // a result we cannot read explains nothing; the exit still stands
    }
    return Error(fmt::format("{} {} before it was ready\n{}  full output: {}{}", req.name, how,
                             tail.empty() ? "  (it printed nothing)\n" : "  last lines of its output:\n" + tail,
                             req.log.string(), why.empty() ? "" : "\n" + why.substr(0, why.size() - 1)));
}

}  // namespace

std::string probe_failures(const TraceResult& r, const TraceRequest& req) {
    std::string out;
    for (const auto& p : r.probes)
        if (!p.ok)
            out += fmt::format("probe failed: {}\n  {}\n", p.request,
                               p.detail.empty() ? fmt::format("got {}", p.status) : p.detail);
    if (out.empty()) return out;
    out += fmt::format("  the service's output: {}", req.log.string());
    if (std::string why = diagnosis_of(r, req); !why.empty()) out += "\n" + why.substr(0, why.size() - 1);
    return out;
}

TraceResult run_trace(const TraceRequest& req) {
    if (geteuid() != 0)
        throw Error("tracing a service needs root: romimg creates mount, PID and network namespaces, "
                    "mounts a copy-on-write overlay of the host's files so the service cannot change "
                    "them, and traces with ptrace (run it as root, e.g. with sudo)");
    signals::install_interrupt_handlers();
    // Orphans of the sandbox come to us, so we can reap every one of them.
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    workdir::claim(req.work);  // someone else's directory is refused, never written into
    std::filesystem::create_directories(req.log.parent_path());
    Fd logfd = sys::open(req.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fs::TempDir scratch(req.work, "trace-");
    auto [chan_r, chan_w] = sys::pipe();

    pid_t sup = fork();
    if (sup < 0) throw SysError("fork", "", errno);
    if (sup == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = ::open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(logfd.get(), 1);
        dup2(logfd.get(), 2);
        supervisor_main(req.service, scratch.path(), chan_w.get());
    }
    SupervisorGuard guard(sup);
    chan_w.reset();
    Channel chan{chan_r.get()};
    Msg type;
    std::string payload;

    if (!chan.next(type, payload, Clock::now() + std::chrono::seconds(60)))
        throw Error("the trace sandbox did not start within 60 s");
    if (type == Msg::error) throw Error("could not start the trace sandbox: " + payload);
    Fd netns = sys::open(fmt::format("/proc/{}/ns/net", sup), O_RDONLY);

    bool interactive = req.ready.kind == ReadyCheck::none && req.probes.empty();
    std::vector<ProbeResult> probes;
    std::optional<nlohmann::json> early;  // a result that arrived before we asked for it
    std::string child_error;
    // Not ready in time: the service is stopped and its result read first, so the error can say
    // what the run saw (a refused write is the usual reason a service never listens).
    std::string not_ready;

    auto poll_channel = [&] {
        while (chan.ready()) {
            if (!read_msg(chan.fd, type, payload)) throw Error("the trace supervisor died unexpectedly");
            if (type == Msg::error) child_error = payload;
            if (type == Msg::result) {
                early = nlohmann::json::parse(payload);
                return;
            }
        }
    };

    if (!interactive) {
        std::string base = base_url(req.ready);
        in_netns(netns.get(), [&] {
            if (req.ready.kind != ReadyCheck::none) {
                auto deadline = Clock::now() + std::chrono::seconds(req.ready_timeout_s);
                for (;;) {
                    signals::throw_if_interrupted();
                    poll_channel();
                    if (!child_error.empty()) throw Error(child_error);
                    if (early) throw exited_early(req, *early);
                    if (check_ready_once(req.ready)) break;
                    if (Clock::now() > deadline) {
                        std::string tail = tail_lines(req.log, 10);
                        not_ready = fmt::format("{} was not ready within {} s ({} never answered)\n{}  "
                                                "full output: {}\n  ({})",
                                                req.name, req.ready_timeout_s,
                                                req.ready.kind == ReadyCheck::http ? req.ready.url
                                                : req.ready.kind == ReadyCheck::postgres
                                                    ? fmt::format("PostgreSQL on port {}", req.ready.port)
                                                    : fmt::format("port {}", req.ready.port),
                                                tail.empty() ? "" : "  last lines of its output:\n" + tail,
                                                req.log.string(), req.ready_timeout_hint);
                        return;
                    }
                    usleep(20000);
                }
                log::verbose("{} is ready", req.name);
            }
            for (const auto& p : req.probes) {
                signals::throw_if_interrupted();
                probes.push_back(run_probe(p, base));
                log::verbose("probe {} -> {}", probes.back().request, probes.back().status);
            }
        });
        poll_channel();
        if (!child_error.empty()) throw Error(child_error);
        if (!early) kill(sup, SIGUSR1);  // stop the service
    }

    nlohmann::json j;
    if (early) {
        j = *early;
    } else {
        // Without a ready check the trace lasts as long as the command (daemons included), or
        // until --timeout; then the service is stopped like one with a ready check.
        bool stop_sent = !interactive;
        auto stop_deadline = [&] { return Clock::now() + std::chrono::seconds(req.service.stop_timeout_s + 60); };
        auto deadline = !interactive          ? stop_deadline()
                        : req.timeout_s > 0   ? Clock::now() + std::chrono::seconds(req.timeout_s)
                                              : Clock::time_point::max();
        for (;;) {
            if (!chan.next(type, payload, deadline)) {
                if (!not_ready.empty()) throw Error(not_ready);
                if (stop_sent) throw Error(fmt::format("{} did not stop; it was killed", req.name));
                log::info("{} still running after {} s: stopping it", req.name, req.timeout_s);
                kill(sup, SIGUSR1);
                stop_sent = true;
                deadline = stop_deadline();
                continue;
            }
            if (type == Msg::error) child_error = payload;
            if (type == Msg::result) break;
        }
        j = nlohmann::json::parse(payload);
    }
    guard.finish();
    if (!child_error.empty()) throw Error(child_error);

    TraceResult result = trace_result_from_json(j);
    if (!not_ready.empty()) {
        std::string why = diagnosis_of(result, req);
        throw Error(not_ready + (why.empty() ? "" : "\n" + why.substr(0, why.size() - 1)));
    }
    result.command = req.service.argv;
    // The service's stdout and stderr are romimg's log under the work dir: not the service's files.
    std::string work = req.work.string();
    std::erase_if(result.files, [&](const auto& kv) {
        return kv.first == work || kv.first.rfind(work + "/", 0) == 0;
    });
    result.probes = probes;
    result.collected = j.value("collected", -1ll);
    result.collect_error = j.value("collect_error", std::string());
    if (j.value("killed", false))
        log::warn("{} did not stop within {} s of its stop signal and was killed", req.name,
                  req.service.stop_timeout_s);
    return result;
}

}  // namespace romimg::trace
