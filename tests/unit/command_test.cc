// The one runner for external tools: a tool leads its own process group, an interrupt kills the
// whole group within a fraction of a second, and a tool dies with romimg (PDEATHSIG). Each case
// that needs the interrupt flag (process-wide, never reset) runs in a forked child.
#include <catch2/catch.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/signals.h"

using namespace romimg;
using namespace std::chrono_literals;

namespace {

// The pid a shell wrote to `file`, waiting up to 5 s for it.
pid_t pid_in(const std::filesystem::path& file) {
    for (int i = 0; i < 500; ++i) {
        std::ifstream in(file);
        pid_t pid = 0;
        if (in >> pid && pid > 0) return pid;
        std::this_thread::sleep_for(10ms);
    }
    return 0;
}

// True once `pid` is gone or a zombie (its parent is gone too, so only init can reap it).
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    do {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line)) return true;
        const auto close = line.rfind(')');
        if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') return true;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < end);
    return false;
}

// Runs `body` in a forked child; its exit status (0 = the child's checks passed).
int in_child(const std::function<int()>& body) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(body());
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

TEST_CASE("a tool and its own children are killed within a second of an interrupt") {
    fs::TempDir tmp("/tmp", "romimg-command-test-");
    const auto pidfile = tmp.path() / "grandchild";
    const int st = in_child([&] {
        signals::install_interrupt_handlers();
        std::thread([] {
            std::this_thread::sleep_for(300ms);
            kill(getpid(), SIGTERM);
        }).detach();
        const auto start = std::chrono::steady_clock::now();
        try {
            run(Command{{"sh", "-c", "sleep 30 & echo $! > " + pidfile.string() + "; wait"}, {}, {}, {}});
            return 1;  // ran to completion: the interrupt was ignored
        } catch (const Interrupted&) {
        }
        if (std::chrono::steady_clock::now() - start > 1500ms) return 2;
        const pid_t grandchild = pid_in(pidfile);
        if (grandchild <= 0) return 3;
        return gone_within(grandchild, 1000ms) ? 0 : 4;
    });
    CHECK(st == 0);
}

TEST_CASE("a tool dies with romimg even when romimg is SIGKILLed") {
    fs::TempDir tmp("/tmp", "romimg-command-test-");
    const auto pidfile = tmp.path() / "tool";
    pid_t romimg = fork();
    REQUIRE(romimg >= 0);
    if (romimg == 0) {
        try {
            run(Command{{"sh", "-c", "echo $$ > " + pidfile.string() + "; exec sleep 30"}, {}, {}, {}});
        } catch (...) {
        }
        _exit(0);
    }
    const pid_t tool = pid_in(pidfile);
    REQUIRE(tool > 0);
    CHECK(getpgid(tool) == tool);  // its own process group: a terminal's Ctrl-C reaches romimg only
    kill(romimg, SIGKILL);
    int st;
    waitpid(romimg, &st, 0);
    CHECK(gone_within(tool, 2000ms));
}

TEST_CASE("a tool that cannot start is an error naming it, and exit statuses come back") {
    CHECK(run_status(Command{{"sh", "-c", "exit 3"}, {}, {}, {}}) == 3);
    CHECK(run_status(Command{{"sh", "-c", "kill -TERM $$"}, {}, {}, {}}) == -SIGTERM);
    CHECK(run_capture(Command{{"sh", "-c", "echo out; echo err >&2"}, {}, {}, {}}) == "out\n");
    try {
        run(Command{{"sh", "-c", "true"}, {}, "/nonexistent-romimg-dir", {}});
        FAIL("started in a missing directory");
    } catch (const SysError& e) {
        CHECK(std::string(e.what()).find("/nonexistent-romimg-dir") != std::string::npos);
        CHECK(e.err() == ENOENT);
    }
    try {
        run(Command{{"false"}, {}, {}, {}});
        FAIL("false succeeded");
    } catch (const ToolError& e) {
        CHECK(e.status() == 1);
    }
}
