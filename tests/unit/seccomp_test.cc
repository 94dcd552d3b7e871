// The per-service seccomp filter: the plan from a trace and a template, its compiled program,
// and the template's [seccomp] table.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <catch2/catch.hpp>

#include <seccomp.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "jail_enter.h"
#include "recipe/template.h"
#include "seccomp/filter.h"
#include "trace/syscalls.h"

using namespace romimg;

namespace {

const seccomp::Rule* find_rule(const seccomp::FilterPlan& p, const std::string& name) {
    for (const auto& r : p.allow)
        if (r.name == name) return &r;
    return nullptr;
}

bool kills(const seccomp::FilterPlan& p, const std::string& name) {
    return std::find(p.kill.begin(), p.kill.end(), name) != p.kill.end();
}

const char* kTemplate = R"(
[service]
command = ["/usr/sbin/x"]
)";

}  // namespace

TEST_CASE("seccomp plan: the trace, the baseline and the template, each with its why") {
    seccomp::TemplateRules rules;
    rules.allow = {"sendfile", "@timer"};
    auto p = seccomp::plan_filter("web", "web.toml", {"accept4", "openat", "syscall_999"}, rules, seccomp::Mode::enforce,
                                  "x86_64");
    REQUIRE(find_rule(p, "accept4"));
    CHECK(find_rule(p, "accept4")->why == "trace");
    CHECK(find_rule(p, "rt_sigreturn")->why == "baseline");
    CHECK(find_rule(p, "restart_syscall")->why == "baseline");
    CHECK(find_rule(p, "sendfile")->why == "template");
    CHECK(find_rule(p, "timer_create")->why == "template (@timer)");
    // i386-only names are not part of an x86_64 filter (libseccomp knows them as pseudo-calls).
    CHECK_FALSE(find_rule(p, "_llseek"));
    CHECK_FALSE(find_rule(p, "fcntl64"));
    CHECK_FALSE(kills(p, "umount"));
    seccomp::TemplateRules net;
    net.allow = {"@network-io"};
    auto q = seccomp::plan_filter("web", "web.toml", {}, net, seccomp::Mode::enforce, "x86_64");
    CHECK(find_rule(q, "accept4"));
    CHECK_FALSE(find_rule(q, "socketcall"));
    CHECK_FALSE(find_rule(p, "ptrace"));
    CHECK(kills(p, "ptrace"));
    CHECK(kills(p, "mount"));
    CHECK(kills(p, "io_uring_setup"));
    CHECK(std::is_sorted(p.allow.begin(), p.allow.end(), [](auto& a, auto& b) { return a.name < b.name; }));
}

TEST_CASE("seccomp plan: everything the tracer never stops on is in the baseline") {
    // The trace filter lets these through without a stop, so no trace can show them.
    // On either ABI: an i386 service is traced by the same filter.
    auto p = seccomp::plan_filter("x", "x.toml", {}, {}, seccomp::Mode::enforce, "x86_64");
    auto p32 = seccomp::plan_filter("x", "x.toml", {}, {}, seccomp::Mode::enforce, "x86");
    for (const auto& n : trace::baseline_syscalls()) {
        INFO(n);
        if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, n.c_str()) >= 0) CHECK(find_rule(p, n));
        if (seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, n.c_str()) >= 0) CHECK(find_rule(p32, n));
    }
}

TEST_CASE("seccomp plan: a never-list syscall the trace saw stops the build, naming the fix") {
    try {
        seccomp::plan_filter("db", "db.toml", {"read", "ptrace"}, {}, seccomp::Mode::enforce, "x86_64");
        FAIL("no error");
    } catch (const ConfigError& e) {
        std::string m = e.what();
        CHECK(m.find("db made ptrace while traced") != std::string::npos);
        CHECK(m.find("allow_never = { ptrace = \"why\" }") != std::string::npos);
    }
    seccomp::TemplateRules rules;
    rules.allow_never = {{"ptrace", "its crash handler attaches to itself"}};
    auto p = seccomp::plan_filter("db", "db.toml", {"read", "ptrace"}, rules, seccomp::Mode::enforce, "x86_64");
    CHECK(find_rule(p, "ptrace")->why == "template: its crash handler attaches to itself");
    CHECK_FALSE(kills(p, "ptrace"));
    // Off: nothing is filtered, so nothing to refuse.
    CHECK_NOTHROW(seccomp::plan_filter("db", "db.toml", {"ptrace"}, {}, seccomp::Mode::off, "x86_64"));
}

TEST_CASE("seccomp plan: unknown names and groups, reason-less or misplaced allow_never") {
    seccomp::TemplateRules r1;
    r1.allow = {"opnat"};
    CHECK_THROWS_WITH(seccomp::plan_filter("s", "s.toml", {}, r1, seccomp::Mode::enforce, "x86_64"),
                      Catch::Contains("'opnat' is not a system call"));
    seccomp::TemplateRules r2;
    r2.allow = {"@everything"};
    CHECK_THROWS_WITH(seccomp::plan_filter("s", "s.toml", {}, r2, seccomp::Mode::enforce, "x86_64"),
                      Catch::Contains("unknown group '@everything'"));
    seccomp::TemplateRules r3;
    r3.allow_never = {{"ptrace", "  "}};
    CHECK_THROWS_WITH(seccomp::plan_filter("s", "s.toml", {}, r3, seccomp::Mode::enforce, "x86_64"),
                      Catch::Contains("needs a reason"));
    seccomp::TemplateRules r4;
    r4.allow_never = {{"read", "it reads"}};
    CHECK_THROWS_WITH(seccomp::plan_filter("s", "s.toml", {}, r4, seccomp::Mode::enforce, "x86_64"),
                      Catch::Contains("not on the never-list"));
    seccomp::TemplateRules r5;
    r5.allow = {"mount"};
    CHECK_THROWS_WITH(seccomp::plan_filter("s", "s.toml", {}, r5, seccomp::Mode::enforce, "x86_64"),
                      Catch::Contains("allow_never"));
}

TEST_CASE("seccomp plan: JSON round trip; a malformed description is an error") {
    seccomp::TemplateRules rules;
    rules.allow = {"sendfile"};
    auto p = seccomp::plan_filter("web", "web.toml", {"accept4"}, rules, seccomp::Mode::log, "x86_64");
    auto q = seccomp::plan_from_json(seccomp::to_json(p));
    CHECK(q.service == "web");
    CHECK(q.mode == seccomp::Mode::log);
    CHECK(q.allow.size() == p.allow.size());
    CHECK(q.kill == p.kill);
    CHECK(seccomp::to_json(p)["default"] == "log");
    CHECK_THROWS_AS(seccomp::plan_from_json(nlohmann::json{{"service", 1}}), Error);
    auto bad = seccomp::to_json(p);
    bad["mode"] = "maybe";
    CHECK_THROWS_AS(seccomp::plan_from_json(bad), Error);
}

TEST_CASE("seccomp filter: enforce gives ENOSYS to the unlisted and kills the never-list; log refuses nothing") {
    seccomp::TemplateRules rules;
    rules.allow = {"@process", "@signal"};  // fork, wait4 and friends for this test process
    auto plan = seccomp::plan_filter("t", "t.toml", {}, rules, seccomp::Mode::enforce, "x86_64");
    std::string bpf = seccomp::compile_filter(plan);
    REQUIRE(bpf.size() % sizeof(sock_filter) == 0);
    // In a child, through init's own loader (no_new_privs first, as enter_jail leaves it).
    auto run = [&](const std::string& prog, long nr) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            const char* what = "";
            if (!init::load_seccomp(prog, what)) _exit(90);
            long r = syscall(nr, 0, 0, 0, 0, 0);
            _exit(r == -1 && errno == ENOSYS ? 38 : 0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        return st;
    };
    int st = run(bpf, SYS_mincore);  // not in the plan
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 38);
    st = run(bpf, SYS_keyctl);  // never-list
    REQUIRE(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGSYS);
    st = run(bpf, SYS_getppid);  // baseline
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    plan.mode = seccomp::Mode::log;
    std::string logged = seccomp::compile_filter(plan);
    st = run(logged, SYS_keyctl);
    REQUIRE(WIFEXITED(st));  // let through (and reported by the kernel)
    CHECK(WEXITSTATUS(st) != 90);
}

namespace {
// A system call through the i386 ABI from this 64-bit process (int 0x80 enters the kernel's
// compat table, which a filter sees as AUDIT_ARCH_I386), as a 32-bit service's calls arrive.
long int80(long nr, long a = 0, long b = 0) {
    long r;
    asm volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory", "r8", "r9", "r10", "r11");
    return r;
}
// Whether this kernel takes i386 system calls at all. Asked in a child: where IA32 emulation is
// off (not built, or ia32_emulation=0 as on some paravirtualized hosts) int 0x80 is a general
// protection fault, i.e. SIGSEGV.
bool kernel_takes_int80() {
    pid_t pid = fork();
    if (pid == 0) _exit(int80(20 /* i386 getpid */) == getpid() ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
}  // namespace

TEST_CASE("seccomp filter for x86: i386 numbers, socketcall by subcall, the native ABI killed") {
    if (!kernel_takes_int80()) {
        WARN("skipped: this kernel runs no i386 system calls (IA32 emulation off)");
        return;
    }
    auto plan = seccomp::plan_filter("t", "t.toml", {"bind", "getppid"}, {}, seccomp::Mode::enforce, "x86");
    std::string bpf = seccomp::compile_filter(plan);
    // In the child only int 0x80 calls follow the filter: it admits no x86_64 call at all.
    auto run = [&](long nr, long a, long b) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            const char* what = "";
            if (!init::load_seccomp(bpf, what)) _exit(90);
            long r = nr < 0 ? syscall(SYS_getppid) : int80(nr, a, b);
            int80(1 /* exit */, r == -ENOSYS ? 38 : r < 0 ? 10 : 0);
            _exit(91);  // not reached: the native exit would be killed
        }
        int st = 0;
        waitpid(pid, &st, 0);
        return st;
    };
    int st = run(64 /* getppid */, 0, 0);
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    st = run(102 /* socketcall */, 2 /* SYS_BIND */, 0);  // allowed: the kernel answers EFAULT
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 10);
    st = run(102, 5 /* SYS_ACCEPT */, 0);  // not in the trace
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 38);
    st = run(218 /* mincore */, 0, 0);
    REQUIRE(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 38);
    st = run(288 /* keyctl: never-list */, 0, 0);
    REQUIRE(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGSYS);
    st = run(-1, 0, 0);  // getppid through the x86_64 ABI: not the filter's arch
    REQUIRE(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGSYS);
}

TEST_CASE("seccomp filter: init refuses a file that is not a filter") {
    char dir[] = "/tmp/romimg-seccomp-XXXXXX";
    REQUIRE(mkdtemp(dir));
    std::string f = std::string(dir) + "/x.bpf";
    FILE* fp = fopen(f.c_str(), "w");
    fputs("not a filter", fp);  // 12 bytes: not whole instructions
    fclose(fp);
    std::string bpf;
    CHECK_FALSE(init::read_seccomp_filter(f, bpf));
    CHECK(errno == EINVAL);
    CHECK_FALSE(init::read_seccomp_filter(std::string(dir) + "/missing.bpf", bpf));
    CHECK(errno == ENOENT);
    unlink(f.c_str());
    rmdir(dir);
}

TEST_CASE("template [seccomp]: mode, allow, allow_never, each checked with its line") {
    auto t = recipe::parse_template(std::string(kTemplate) + R"(
[seccomp]
mode = "log"
allow = ["sendfile", "@network-io"]
allow_never = { ptrace = "the crash reporter" }
)",
                                    "x.toml");
    CHECK(t.seccomp.mode == "log");
    CHECK(t.seccomp.allow.size() == 2);
    CHECK(t.seccomp.allow_never.at("ptrace") == "the crash reporter");
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nallow = [\"read\", \"opnat\"]\n", "x.toml"),
                      Catch::Contains("x.toml:5") && Catch::Contains("'opnat' is not a system call"));
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nmode = \"strict\"\n", "x.toml"),
                      Catch::Contains("enforce, log or off"));
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nallow = [\"@all\"]\n", "x.toml"),
                      Catch::Contains("unknown group '@all'"));
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nallow = [\"bpf\"]\n", "x.toml"),
                      Catch::Contains("never-list"));
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nallow_never = { read = \"x\" }\n", "x.toml"),
                      Catch::Contains("not on the never-list"));
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nallow_never = { bpf = \"\" }\n", "x.toml"),
                      Catch::Contains("why the service needs it"));
    CHECK_THROWS_WITH(recipe::parse_template(std::string(kTemplate) + "[seccomp]\nallwo = []\n", "x.toml"),
                      Catch::Contains("unknown key 'seccomp.allwo'"));
}

TEST_CASE("the syscall table names every number init may see") {
    std::string t = seccomp::syscall_table("x86_64");
    CHECK(t.find("\n0 read\n") == std::string::npos);  // the first line has no newline before it
    CHECK(t.rfind("0 read\n", 0) == 0);
    CHECK(t.find("\n250 keyctl\n") != std::string::npos);
    CHECK(t.find("\n101 ptrace\n") != std::string::npos);
}
