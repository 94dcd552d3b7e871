#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "trace/binfmt.h"
#include "trace/paths.h"
#include "trace/probe.h"
#include "trace/sandbox.h"
#include "trace/trace_result.h"

using namespace romimg;
using namespace romimg::trace;

TEST_CASE("join_normalize collapses slashes, dots and dotdots") {
    CHECK(join_normalize("/a/b", "c") == "/a/b/c");
    CHECK(join_normalize("/a/b", "../c") == "/a/c");
    CHECK(join_normalize("/a/b", "/x//y/./z/") == "/x/y/z");
    CHECK(join_normalize("/", "../../..") == "/");
    CHECK(join_normalize("/a", ".") == "/a");
    CHECK(join_normalize("/a/b/", "c/../../d") == "/a/d");
}

namespace {
struct Tree {
    fs::TempDir dir{"/tmp", "romimg-unit-"};
    std::string p(const std::string& rel) const { return dir.path().string() + "/" + rel; }
    void file(const std::string& rel) { fs::write_file_atomic(p(rel), "x"); }
    void link(const std::string& target, const std::string& rel) { REQUIRE(symlink(target.c_str(), p(rel).c_str()) == 0); }
    void mkdir(const std::string& rel) { REQUIRE(::mkdir(p(rel).c_str(), 0755) == 0); }
};
}  // namespace

TEST_CASE("resolve_path follows a chain and reports every hop in order") {
    Tree t;
    t.file("c");
    t.link("b", "a");
    t.link(t.p("c"), "b");  // absolute hop
    ResolvedPath r = resolve_path(t.p("a"), true, nullptr);
    CHECK(r.exists);
    CHECK(r.path == t.p("c"));
    REQUIRE(r.hops.size() == 2);
    CHECK(r.hops[0] == std::make_pair(t.p("a"), std::string("b")));
    CHECK(r.hops[1] == std::make_pair(t.p("b"), t.p("c")));

    ResolvedPath nofollow = resolve_path(t.p("a"), false, nullptr);
    CHECK(nofollow.path == t.p("a"));
    CHECK(nofollow.hops.empty());
}

TEST_CASE("resolve_path applies .. after following a symlink, as the kernel does") {
    Tree t;
    t.mkdir("x");
    t.mkdir("x/y");
    t.file("x/file");
    t.link("x/y", "l");
    ResolvedPath r = resolve_path(t.p("l/../file"), true, nullptr);
    CHECK(r.path == t.p("x/file"));
    CHECK(r.exists);
    CHECK(join_normalize("/", t.p("l/../file")) == t.p("file"));  // lexical would be wrong
}

TEST_CASE("resolve_path: missing components, intermediate symlinked dirs, loops") {
    Tree t;
    t.mkdir("real");
    t.link("real", "dirlink");
    ResolvedPath r = resolve_path(t.p("dirlink/nothere/../x"), true, nullptr);
    CHECK_FALSE(r.exists);
    CHECK(r.path == t.p("real/x"));
    REQUIRE(r.hops.size() == 1);

    t.link("loop2", "loop1");
    t.link("loop1", "loop2");
    ResolvedPath l = resolve_path(t.p("loop1"), true, nullptr);
    CHECK_FALSE(l.exists);
}

TEST_CASE("resolve_path maps /proc/<pid> and self, and follows fd links through the callback") {
    Tree t;
    t.file("target");
    auto proc = [&](const std::string& what) { return what == "fd/3" ? t.p("target") : std::string(); };
    CHECK(resolve_path("/proc/self/fd/3", true, proc).path == t.p("target"));
    CHECK(resolve_path("/proc/1234/fd/3", true, proc).path == t.p("target"));
    CHECK(resolve_path("/proc/self/fd/3", false, proc).path == "/proc/self/fd/3");
    CHECK(resolve_path("/proc/thread-self/mountinfo", true, proc).path == "/proc/self/mountinfo");
    CHECK(resolve_path("/proc/self/fd/9", true, proc).path == "/proc/self/fd/9");  // a pipe: stays
}

TEST_CASE("TraceResult::record merges usages per path") {
    TraceResult r;
    r.record("/etc/x", FileType::missing, Access::stat, false, ENOENT);
    r.record("/etc/x", FileType::file, Access::create, true, 0, 10);
    r.record("/etc/x", FileType::file, Access::write, true);
    r.record("/etc/x", FileType::missing, Access::remove, true);  // deleted later: still a file
    const FileUse& f = r.files.at("/etc/x");
    CHECK(f.type == FileType::file);
    CHECK(f.ok());
    CHECK(f.has(Access::stat));
    CHECK(f.has(Access::create));
    CHECK(f.has(Access::remove));
    CHECK_FALSE(f.has(Access::read));
    CHECK(f.size == 10);
    CHECK(f.errors == std::set<std::string>{"ENOENT"});
    CHECK(((f.failed_mask >> unsigned(Access::stat)) & 1u));
}

TEST_CASE("TraceResult JSON round trip is exact") {
    TraceResult r;
    r.command = {"/usr/sbin/apache2", "-DFOREGROUND"};
    r.record("/usr/lib/a.so", FileType::file, Access::read, true, 0, 1234);
    r.record("/usr/lib/a.so", FileType::file, Access::stat, true);
    r.record("/lib", FileType::symlink, Access::follow, true, 0, 0, "usr/lib");
    r.record("/etc/nope", FileType::missing, Access::stat, false, ENOENT);
    r.execs.push_back({42, "/usr/bin/true", {"true", "x"}, true, "", {"/lib64/ld-linux-x86-64.so.2"}});
    r.execs.push_back({43, "/nonexistent", {"nonexistent"}, false, "ENOENT", {}});
    r.processes[42] = {42, 1, 33, 33, "/usr/bin/true"};
    r.syscalls = {"openat", "execve"};
    r.syscalls_baseline = {"read"};
    r.probes.push_back({"GET http://127.0.0.1:80/ 200", 200, true, ""});

    nlohmann::json j = to_json(r);
    CHECK(j["files"].size() == 3);
    CHECK(j["romimg_trace"] == 1);
    TraceResult back = trace_result_from_json(j);
    CHECK(to_json(back) == j);
    CHECK(back.files.at("/etc/nope").ok() == false);
    CHECK(back.files.at("/lib").target == "usr/lib");
    CHECK(back.execs[1].error == "ENOENT");
    CHECK_THROWS_WITH(trace_result_from_json(nlohmann::json{{"x", 1}}), Catch::Contains("not a romimg trace"));
}

TEST_CASE("parse_ready and parse_probe") {
    ReadyCheck t = parse_ready("tcp:8080");
    CHECK(t.kind == ReadyCheck::tcp);
    CHECK(t.port == 8080);
    CHECK(base_url(t) == "http://127.0.0.1:8080");
    ReadyCheck h = parse_ready("https://127.0.0.1/health");
    CHECK(h.kind == ReadyCheck::http);
    CHECK(h.port == 443);
    CHECK(base_url(h) == "https://127.0.0.1:443");
    CHECK_THROWS_AS(parse_ready("tcp:0"), UsageError);
    CHECK_THROWS_AS(parse_ready("udp:53"), UsageError);
    CHECK_THROWS_WITH(parse_ready("udp:53"), "bad ready check 'udp:53': expected tcp:PORT, postgres:PORT or an http:// URL");
    CHECK_THROWS_WITH(parse_ready("http://h:/"), "bad ready check 'http://h:/': the port after ':' is missing "
                                                 "(write tcp:PORT, postgres:PORT or an http(s) URL)");

    Probe p = parse_probe("GET /missing 404");
    CHECK(p.method == "GET");
    CHECK(p.target == "/missing");
    CHECK(p.expect == 404);
    CHECK(parse_probe("/").expect == 200);
    CHECK(parse_probe("HEAD http://127.0.0.1:81/x").target == "http://127.0.0.1:81/x");
    CHECK(probe_url(p, "http://127.0.0.1:80") == "http://127.0.0.1:80/missing");
    CHECK_THROWS_AS(probe_url(p, ""), UsageError);
    CHECK_THROWS_AS(parse_probe("GET / abc"), UsageError);
    CHECK_THROWS_AS(parse_probe("get / 200"), UsageError);
    CHECK_THROWS_AS(parse_probe(""), UsageError);
}

TEST_CASE("command probes: words, quotes, {host} and {port}, exit status, timeout") {
    Probe p = parse_probe("run mariadb --host={host} --port={port} --execute='SELECT 1' \"a b\"c");
    CHECK(p.method == "run");
    CHECK(p.argv == std::vector<std::string>{"mariadb", "--host={host}", "--port={port}", "--execute=SELECT 1", "a bc"});
    CHECK(expectation(p) == "exit 0");
    CHECK(expectation(parse_probe("GET / 404")) == "HTTP 404");
    CHECK_THROWS_WITH(parse_probe("run"), Catch::Contains("'run' needs a program"));
    CHECK_THROWS_WITH(parse_probe("run x 'unclosed"), Catch::Contains("the quote ' is not closed"));
    CHECK_THROWS_WITH(probe_url(p, ""), Catch::Contains("has no host"));

    ProbeResult ok = run_probe(parse_probe("run /bin/sh -c 'test {host}:{port} = 127.0.0.1:3306'"), "mysql://127.0.0.1:3306", 10);
    CHECK(ok.ok);
    CHECK(ok.status == 0);
    ProbeResult v6 = run_probe(parse_probe("run /bin/sh -c 'test {host}/{port} = ::1/22'"), "ssh://[::1]:22", 10);
    CHECK(v6.ok);
    ProbeResult bad = run_probe(parse_probe("run /bin/sh -c 'echo one; echo refused >&2; exit 3'"), "http://127.0.0.1:1", 10);
    CHECK_FALSE(bad.ok);
    CHECK(bad.status == 3);
    CHECK(bad.detail == "exit 3; it said: one | refused");
    ProbeResult slow = run_probe(parse_probe("run /bin/sleep 30"), "http://127.0.0.1:1", 1);
    CHECK_FALSE(slow.ok);
    CHECK(slow.detail == "no result within 1 s");
    // Someone else's template or image: never romimg's root, nothing of the host's to write.
    ProbeResult unprivileged = run_probe(
        parse_probe("run /bin/sh -c 'test \"$(id -u)\" != 0 && test \"$HOME\" = / && ! touch /etc/romimg-probe-test'"),
        "http://127.0.0.1:1", 10);
    CHECK(unprivileged.ok);
    CHECK_FALSE(std::filesystem::exists("/etc/romimg-probe-test"));
    ProbeResult missing = run_probe(parse_probe("run no-such-client-romimg {host}"), "http://127.0.0.1:1", 10);
    CHECK_FALSE(missing.ok);
    CHECK_THAT(missing.detail, Catch::Contains("no-such-client-romimg is not installed on this host"));
}

TEST_CASE("parse_shebang reads the interpreter and one optional argument like binfmt_script") {
    CHECK(parse_shebang("#!/bin/sh\necho").interpreter == "/bin/sh");
    ShebangLine e = parse_shebang("#! /usr/bin/env  python3 -u \n");
    CHECK(e.interpreter == "/usr/bin/env");
    CHECK(e.argument == "python3 -u");
    CHECK(parse_shebang("\x7f" "ELF").interpreter.empty());
    CHECK(parse_shebang("#!/bin/bash").interpreter == "/bin/bash");
}

TEST_CASE("elf_interpreter finds PT_INTERP of a dynamic binary") {
    std::string interp = elf_interpreter("/bin/true");
    CHECK(interp.find("ld-linux") != std::string::npos);
    CHECK(elf_interpreter("/etc/hostname").empty());
    auto chain = exec_interpreters("/bin/true");
    REQUIRE(chain.size() == 1);
    CHECK(chain[0] == interp);
}

TEST_CASE("plan_sandbox_mounts: overlay for writable filesystems, binds for read-only ones") {
    std::vector<HostMount> host = {
        {"/", "ext4", false},          {"/proc", "proc", false},     {"/sys", "sysfs", false},
        {"/sys/fs/cgroup", "cgroup2", false}, {"/dev", "devtmpfs", false}, {"/dev/shm", "tmpfs", false},
        {"/boot", "ext4", true},       {"/home", "xfs", false},      {"/run", "tmpfs", false},
        {"/run/user/0", "tmpfs", false}, {"/mnt/fuse", "fuse.sshfs", false}, {"/mnt/fuse/x", "ext4", false},
        {"/srv", "ext4", false},       {"/srv", "nfs", true},  // mounted over: the last one counts
    };
    auto ops = plan_sandbox_mounts(host, {{"/run/apache2", "1m"}}, 33, 33);
    auto find = [&](const std::string& target) -> const MountOp* {
        const MountOp* hit = nullptr;
        for (const auto& o : ops)
            if (o.target == target) hit = &o;
        return hit;
    };
    REQUIRE(!ops.empty());
    CHECK(ops[0].kind == MountOp::overlay);
    CHECK(ops[0].target == "/");
    CHECK(find("/boot")->kind == MountOp::bind_ro);
    CHECK(find("/home")->kind == MountOp::overlay);
    CHECK(find("/run")->kind == MountOp::overlay);
    CHECK(find("/srv")->kind == MountOp::bind_ro);
    CHECK(find("/mnt/fuse") == nullptr);
    CHECK(find("/mnt/fuse/x") == nullptr);
    CHECK(find("/sys/fs/cgroup") == nullptr);
    CHECK(find("/sys")->kind == MountOp::sysfs);
    CHECK(find("/dev")->kind == MountOp::rbind);
    CHECK(find("/dev/shm")->kind == MountOp::tmpfs);
    const MountOp* w = find("/run/apache2");
    REQUIRE(w);
    CHECK(w->kind == MountOp::tmpfs);
    CHECK(w->options == "mode=0755,uid=33,gid=33,size=1m");
    // Writable areas come after the overlays they sit on.
    CHECK(w - ops.data() > find("/run") - ops.data());
}

TEST_CASE("plan_jail_sandbox_mounts: the jail as a read-only root, then its tmpfs areas as the appliance has them") {
    romimg::appliance::Service s;
    s.root.assign(1, '/');
    s.mounts = {{"tmpfs", "/run/apache2", "size=1m,mode=0755,uid=33,gid=33"}, {"proc", "/proc", ""}};
    s.devices = {"/dev/null"};
    auto ops = plan_jail_sandbox_mounts("/w/jails/apache", s);
    REQUIRE(ops.size() == 2);
    CHECK(ops[0].kind == MountOp::jail_root);
    CHECK(ops[0].source == "/w/jails/apache");
    CHECK(ops[0].target == "/");
    CHECK(ops[1].kind == MountOp::tmpfs);
    CHECK(ops[1].target == "/run/apache2");
    CHECK(ops[1].options == "size=1m,mode=0755,uid=33,gid=33");  // /proc: by the sandbox's PID 1, read-only
}
