// Runs one tracer case (cases.c) under `romimg trace` and checks that the trace reports at
// least what the case says it touched, with the right usage. Self-describing output: one line
// per expectation. Exit 0 = all found, 1 = something missing, 77 = skipped (not root).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "trace/trace_result.h"

using namespace romimg;
using namespace romimg::trace;

int main(int argc, char** argv) {
    if (argc != 4) {
        fmt::print(stderr, "usage: tracer-check ROMIMG CASES CASE\n");
        return 2;
    }
    if (geteuid() != 0) {
        fmt::print("SKIP: the tracer needs root (namespaces, overlay, ptrace)\n");
        return 77;
    }
    std::string romimg = argv[1], cases = argv[2], name = argv[3];
    fs::TempDir tmp("/tmp", "romimg-tracer-");
    std::string d = (tmp.path() / "d").string();
    std::filesystem::create_directories(d);
    // execve fails with ENOEXEC where the kernel cannot run the case at all (run_status throws).
    int setup = 1;
    try {
        setup = run_status({{cases, "setup", d}, {}, {}, {}});
    } catch (const SysError& e) {
        fmt::print("{}\n", e.what());
    }
    if (setup != 0) {
        // A 32-bit case on a host that cannot run 32-bit programs natively (no IA32
        // emulation, or it is off): that route is skipped, and says so.
        std::string head = fs::read_file(cases).substr(0, 5);
        if (head.size() == 5 && head[4] == 1 /* ELFCLASS32 */) {
            fmt::print("SKIP: this host cannot run 32-bit programs natively (IA32 emulation)\n");
            return 77;
        }
        fmt::print("FAIL: {} setup failed\n", cases);
        return 1;
    }
    std::string out = (tmp.path() / "trace.json").string();
    int st = run_status({{romimg, "-q", "trace", "--work", (tmp.path() / "work").string(), "--out", out,
                          "--", cases, name, d},
                         {}, {}, {}});
    std::string log = (tmp.path() / "work/logs" / ("trace-" + std::filesystem::path(cases).filename().string() + ".log")).string();
    if (st != 0) {
        fmt::print("FAIL: romimg trace exited {}\n{}", st, tail_lines(log, 20));
        return 1;
    }
    TraceResult r = trace_result_from_json(nlohmann::json::parse(fs::read_file(out)));

    std::ifstream in(log);
    std::string line;
    int n = 0, failed = 0;
    while (std::getline(in, line)) {
        if (line.rfind("EXPECT ", 0) != 0) continue;
        std::istringstream ss(line.substr(7));
        std::string kind, arg;
        ss >> kind;
        std::getline(ss >> std::ws, arg);
        ++n;
        bool ok = false;
        std::string have;
        if (kind == "argv") {
            for (const auto& x : r.execs)
                for (const auto& a : x.argv) ok |= a == arg;
        } else if (kind == "interp") {
            for (const auto& x : r.execs)
                for (const auto& i : x.interpreters) ok |= i == arg;
        } else if (kind == "syscall") {
            ok = r.syscalls.count(arg) || r.syscalls_baseline.count(arg);
            if (!ok) have = "not among the trace's syscalls";
        } else if (kind == "uid") {
            for (const auto& [pid, p] : r.processes) ok |= std::to_string(p.uid) == arg;
        } else {
            bool want_fail = kind.ends_with("-failed");
            std::string k = want_fail ? kind.substr(0, kind.size() - 7) : kind;
            Access a = access_from_string(k);
            auto it = r.files.find(arg);
            if (it != r.files.end()) {
                const FileUse& f = it->second;
                unsigned mask = want_fail ? f.failed_mask : f.ok_mask;
                ok = (mask >> unsigned(a)) & 1u;
                for (Access x : f.accesses()) have += " " + to_string(x);
                have = fmt::format("type {}, access{}", to_string(f.type), have);
            } else {
                have = "path not in trace";
            }
            if (ok && k == "exec" && !want_fail) {
                bool in_execs = false;
                for (const auto& x : r.execs) in_execs |= (x.path == arg && x.ok);
                for (const auto& x : r.execs)
                    for (const auto& i : x.interpreters) in_execs |= i == arg;
                ok = in_execs;
                if (!ok) have += "; not in execs";
            }
        }
        fmt::print("{} {} {}{}\n", ok ? "ok  " : "FAIL", kind, arg, ok ? "" : "  (" + have + ")");
        failed += !ok;
    }
    if (n == 0) {
        fmt::print("FAIL: the case printed no expectations\n{}", tail_lines(log, 20));
        return 1;
    }
    fmt::print("{} expectations, {} failed\n", n, failed);
    return failed ? 1 : 0;
}
