#include "common/command.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <csignal>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "common/error.h"
#include "common/signals.h"
#include "common/strings.h"
#include "common/sys.h"

extern char** environ;

namespace romimg {

std::string find_program(const std::string& prog) {
    if (prog.find('/') != std::string::npos) return access(prog.c_str(), X_OK) == 0 ? prog : "";
    const char* path = getenv("PATH");
    std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& dir : split(p, ':', true)) {
        std::string cand = dir + "/" + prog;
        struct stat st;
        if (stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(cand.c_str(), X_OK) == 0)
            return cand;
    }
    return "";
}

namespace {

std::vector<std::string> merged_env(const Command& cmd) {
    std::vector<std::string> out;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        std::string key = kv.substr(0, kv.find('='));
        bool overridden = false;
        for (const auto& [k, v] : cmd.env) overridden |= (k == key);
        if (!overridden) out.push_back(kv);
    }
    for (const auto& [k, v] : cmd.env) out.push_back(k + "=" + v);
    return out;
}

// A running tool, the leader of its own process group: romimg's Ctrl-C does not reach it
// directly; instead an interrupt (or any exception) SIGKILLs the whole group and reaps it, and
// PDEATHSIG kills it if romimg itself is killed.
class Child {
public:
    explicit Child(pid_t pid) : pid_(pid), pidfd_(sys::pidfd_open(pid)) {}
    ~Child() { stop(); }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Its exit status (>= 0) or -signal. On an interrupt: the group is killed, Interrupted thrown.
    int wait() {
        for (;;) {
            check_interrupt();
            if (!sys::poll_readable(pidfd_.get(), 100)) continue;
            int st;
            pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
            }
            if (r < 0 && errno != EINTR) throw SysError("waitpid", std::to_string(pid_), errno);
        }
    }

    // Everything written to `fd` until EOF, with the same reaction to an interrupt. With a
    // deadline, false if it passed first (the group is then killed); past `cap` bytes the rest is
    // read and dropped.
    bool read_all(int fd, std::string& out,
                  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
                  size_t cap = std::string::npos) {
        char buf[65536];
        for (;;) {
            check_interrupt();
            if (std::chrono::steady_clock::now() > deadline) {
                stop_status_ = -SIGKILL;
                stop();
                return false;
            }
            if (!sys::poll_readable(fd, 100)) continue;
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw SysError("read", std::to_string(fd), errno);
            if (n == 0) return true;
            if (out.size() < cap) out.append(buf, std::min((size_t)n, cap - out.size()));
        }
    }

    // After read_all() timed out: how it ended.
    int stop_status() const { return stop_status_; }

private:
    void check_interrupt() {
        if (!signals::interrupted()) return;
        stop();
        throw Interrupted();
    }

    // The group first: the unreaped leader keeps its id from being reused.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    pid_t pid_;
    Fd pidfd_;
    int stop_status_ = 0;
};

// Starts cmd with stdout going to `stdout_fd` (or the log/terminal), stderr to `stderr_fd` (or
// the log/terminal).
std::unique_ptr<Child> spawn(const Command& cmd, int stdout_fd, int stderr_fd = -1) {
    if (cmd.argv.empty()) throw Error("internal: empty command");
    std::string exe = find_program(cmd.argv[0]);
    if (exe.empty())
        throw Error("program not found: " + cmd.argv[0] + " (run `make deps` to install it)");

    Fd log;
    if (!cmd.log.empty()) {
        std::filesystem::create_directories(cmd.log.parent_path());
        log = sys::open(cmd.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        std::string header = "$ " + quote_argv(cmd.argv) + "\n";
        sys::write_all(log.get(), header);
    }
    Fd devnull = sys::open("/dev/null", O_RDONLY);
    const int fds[3] = {devnull.get(), stdout_fd >= 0 ? stdout_fd : log ? log.get() : -1,
                        stderr_fd >= 0 ? stderr_fd : log ? log.get() : -1};

    std::vector<std::string> env = merged_env(cmd);
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = cmd.argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return std::make_unique<Child>(
        sys::spawn_group_leader(exe, argv.data(), envp.data(), fds, cmd.cwd.string(), cmd.as ? &*cmd.as : nullptr));
}

}  // namespace

int run_status(const Command& cmd) { return spawn(cmd, -1)->wait(); }

void run(const Command& cmd) {
    int st = run_status(cmd);
    if (st != 0) throw ToolError(cmd.argv, st, cmd.log);
}

std::string run_capture(const Command& cmd) {
    auto [r, w] = sys::pipe();
    std::unique_ptr<Child> child = spawn(cmd, w.get());
    w.reset();
    std::string out;
    child->read_all(r.get(), out);
    int st = child->wait();
    if (st != 0) throw ToolError(cmd.argv, st, cmd.log);
    return out;
}

Collected run_collect(const Command& cmd, int timeout_s, size_t cap) {
    auto [r, w] = sys::pipe();
    std::unique_ptr<Child> child = spawn(cmd, w.get(), w.get());
    w.reset();
    Collected c;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    if (!child->read_all(r.get(), c.output, deadline, cap)) {
        c.timed_out = true;
        c.status = child->stop_status();
        return c;
    }
    c.status = child->wait();
    return c;
}

}  // namespace romimg
