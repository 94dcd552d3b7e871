// The ptrace loop. Runs in the sandbox supervisor (same root and mounts as the traced service),
// attaches to the sandbox's reaper and follows every descendant; decodes the seccomp trace
// stops into TraceResult records. Input: a pid to seize and an fd on the host's /proc.
// Output: TraceResult. Side effects: none beyond ptrace.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "trace/abi.h"
#include "trace/paths.h"
#include "trace/trace_result.h"

namespace romimg::trace {

class Tracer {
public:
    explicit Tracer(int hostproc_fd);
    ~Tracer();

    // PTRACE_SEIZE with fork/vfork/clone/exec/seccomp following and EXITKILL. The first process
    // this task forks is taken as the service's main process.
    void seize(pid_t pid);

    // Dispatches stops until no traced task is left. `on_wake` runs after every stop and
    // whenever waiting was interrupted by a signal (the caller acts on its flags there).
    void run(const std::function<void()>& on_wake);

    // Processes (not threads) still alive, with their parent pid as the host sees it.
    std::vector<std::pair<pid_t, pid_t>> live_processes() const;
    // Exit status of the service's main process: >= 0 exit code, < 0 -signal; 1000 = not yet.
    int main_status() const { return main_status_; }

    TraceResult take_result() { return std::move(result_); }

private:
    struct Task;
    struct Operand;
    struct Pending;

    bool dispatch(pid_t tid, int status);
    void on_seccomp_stop(Task& t);
    void on_syscall_exit(Task& t);
    void on_exec_event(pid_t tid);
    void on_new_task(pid_t parent, pid_t child);
    Task& task(pid_t tid);

    void decode(Task& t, Abi abi, long nr, const unsigned long long* a, Pending& p);
    void decode_socketcall(Task& t, unsigned long long call, unsigned long long args, Pending& p);
    void add_operand(Task& t, Pending& p, long dirfd, unsigned long long path_ptr, unsigned access,
                     bool follow, bool empty_path = false);
    void add_sockaddr(Task& t, Pending& p, unsigned long long addr, unsigned long long len,
                      unsigned access);
    void finish_exec(Task& t, Pending& p, bool ok, int err);
    void record_interpreters(Task& t, ExecRecord& x);
    void refresh_creds(pid_t tid);

    std::string read_string(pid_t tid, unsigned long long addr, bool* ok = nullptr);
    std::vector<std::string> read_argv(pid_t tid, unsigned long long addr, size_t word);
    bool read_mem(pid_t tid, unsigned long long addr, void* buf, size_t n);
    std::string base_dir(pid_t tid, long dirfd);
    std::string proc_link(pid_t tid, const std::string& what);

    int hostproc_;
    pid_t root_ = 0;
    pid_t main_pid_ = 0;
    int main_status_ = 1000;
    std::map<pid_t, std::unique_ptr<Task>> tasks_;
    TraceResult result_;
    ComponentCache cache_;
    int changing_ = 0;  // tree-changing syscalls between entry and exit: bypass the cache
};

}  // namespace romimg::trace
