#include "common/command.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
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

// Spawns with stdout going to `stdout_fd` (or the log/terminal) and returns the pid.
pid_t spawn(const Command& cmd, int stdout_fd) {
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

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int devnull_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull_in >= 0) posix_spawn_file_actions_adddup2(&fa, devnull_in, 0);
    if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, stdout_fd, 1);
    else if (log) posix_spawn_file_actions_adddup2(&fa, log.get(), 1);
    if (log) posix_spawn_file_actions_adddup2(&fa, log.get(), 2);
    if (!cmd.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cmd.cwd.c_str());

    std::vector<std::string> env = merged_env(cmd);
    std::vector<char*> envp, argv;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = cmd.argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (devnull_in >= 0) ::close(devnull_in);
    if (rc != 0) throw SysError("posix_spawn", quote_argv(cmd.argv), rc);
    return pid;
}

int wait_status(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) throw SysError("waitpid", std::to_string(pid), errno);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

}  // namespace

int run_status(const Command& cmd) { return wait_status(spawn(cmd, -1)); }

void run(const Command& cmd) {
    int st = run_status(cmd);
    if (st != 0) throw ToolError(cmd.argv, st, cmd.log);
}

std::string run_capture(const Command& cmd) {
    auto [r, w] = sys::pipe();
    pid_t pid = spawn(cmd, w.get());
    w.reset();
    std::string out = sys::read_all(r.get());
    int st = wait_status(pid);
    if (st != 0) throw ToolError(cmd.argv, st, cmd.log);
    return out;
}

}  // namespace romimg
