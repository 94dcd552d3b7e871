// Closure rules on fixtures built at test time: tiny ELF programs and libraries compiled with cc
// (RUNPATH, RPATH, $ORIGIN, LD_LIBRARY_PATH), symlink chains, shebang scripts, hard links,
// setuid bits, secrets, include/exclude globs.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "closure/closure.h"
#include "closure/secrets.h"
#include "common/fs.h"
#include "trace/paths.h"

using namespace romimg;
using namespace romimg::closure;
using trace::Access;
using trace::FileType;

namespace {

struct Fixture {
    fs::TempDir dir{"/tmp", "romimg-closure-"};
    std::string p(const std::string& rel) const { return dir.path().string() + "/" + rel; }
    void mkdir(const std::string& rel, mode_t mode = 0755) {
        REQUIRE(::mkdir(p(rel).c_str(), mode) == 0);
        REQUIRE(::chmod(p(rel).c_str(), mode) == 0);  // past the umask
    }
    void write(const std::string& rel, const std::string& data, mode_t mode = 0644) {
        fs::write_file_atomic(p(rel), data, mode);
        REQUIRE(::chmod(p(rel).c_str(), mode) == 0);
    }
    void link(const std::string& target, const std::string& rel) {
        REQUIRE(::symlink(target.c_str(), p(rel).c_str()) == 0);
    }
    // Runs cc in the fixture directory; its output goes to the test log on failure.
    void cc(const std::string& args) {
        std::string cmd = "cd '" + dir.path().string() + "' && cc -w " + args + " 2>&1";
        INFO(cmd);
        REQUIRE(std::system(cmd.c_str()) == 0);
    }
    // A shared library lib<name>.so.1 (soname) in `dir`, optional extra link arguments.
    void lib(const std::string& dir_rel, const std::string& name, const std::string& body,
             const std::string& extra = "") {
        write(name + ".c", body);
        cc("-shared -fPIC -Wl,-soname,lib" + name + ".so.1 -o " + dir_rel + "/lib" + name + ".so.1 " +
           name + ".c " + extra);
    }
};

const FileEntry* entry(const FileSet& s, const std::string& path) {
    auto it = s.entries.find(path);
    return it == s.entries.end() ? nullptr : &it->second;
}

bool has_finding(const FileSet& s, const std::string& severity, const std::string& path,
                 const std::string& words = "") {
    return std::any_of(s.findings.begin(), s.findings.end(), [&](const Finding& f) {
        return f.severity == severity && f.path == path && f.message.find(words) != std::string::npos;
    });
}

std::string dump(const FileSet& s) {
    std::string out;
    for (const auto& [p, e] : s.entries)
        out += to_string(e.reason) + " " + trace::to_string(e.type) + " " + p +
               (e.target.empty() ? "" : " -> " + e.target) + " [" + e.why + "]\n";
    for (const auto& f : s.findings) out += "finding " + f.severity + " " + f.path + ": " + f.message + "\n";
    return out;
}

ClosureOptions no_basics() {
    ClosureOptions o;
    o.basics = false;
    return o;
}

// Every entry's parent is a directory entry (up to, not including, "/").
void check_parents(const FileSet& s) {
    for (const auto& [p, e] : s.entries) {
        auto slash = p.rfind('/');
        if (slash == 0) continue;
        std::string parent = p.substr(0, slash);
        const FileEntry* d = entry(s, parent);
        INFO(p);
        REQUIRE(d);
        CHECK(d->type == FileType::dir);
    }
}

}  // namespace

TEST_CASE("glob_match: FNM_PATHNAME per component, ** at any depth", "[closure]") {
    CHECK(glob_match("/etc/apache2/mods-enabled/*", "/etc/apache2/mods-enabled/dir.load"));
    CHECK_FALSE(glob_match("/etc/apache2/*", "/etc/apache2/mods-enabled/dir.load"));
    CHECK(glob_match("/root/**", "/root"));
    CHECK(glob_match("/root/**", "/root/.ssh/id_rsa"));
    CHECK_FALSE(glob_match("/root/**", "/rootfs/x"));
    CHECK(glob_match("/usr/**/*.so", "/usr/lib/x86_64-linux-gnu/libc.so"));
    CHECK(glob_match("/usr/**/*.so", "/usr/x.so"));
    CHECK(glob_match("/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_ed25519_key"));
    CHECK_FALSE(glob_match("/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_ed25519_key.pub"));
    CHECK(glob_match("/etc/sudoers*", "/etc/sudoers.d"));
}

TEST_CASE("ELF closure: PT_INTERP, DT_NEEDED via $ORIGIN RUNPATH, every symlink hop kept", "[closure]") {
    Fixture f;
    f.mkdir("bin");
    f.mkdir("lib", 0750);
    f.mkdir("extra");
    // libbar lives where only libfoo's own RUNPATH finds it.
    f.lib("extra", "bar", "int bar(void){return 2;}\n");
    f.lib("lib", "foo", "int bar(void); int foo(void){return bar();}\n",
          "-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../extra' extra/libbar.so.1");
    // The program finds libfoo through a chain of two links: libfoo.so → libfoo.so.1.0 → libfoo.so.1.
    REQUIRE(::rename(f.p("lib/libfoo.so.1").c_str(), f.p("lib/libfoo.so.1.0.real").c_str()) == 0);
    f.link("libfoo.so.1.0", "lib/libfoo.so.1");
    f.link(f.p("lib/libfoo.so.1.0.real"), "lib/libfoo.so.1.0");
    f.write("prog.c", "int foo(void); int main(void){return foo()-2;}\n");
    f.cc("-o bin/prog prog.c -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib' lib/libfoo.so.1");

    elf::Info info = elf::read_info(f.p("bin/prog"));
    REQUIRE(info.is_elf);
    CHECK(info.runpath == std::vector<std::string>{"$ORIGIN/../lib"});
    CHECK(info.rpath.empty());
    CHECK(std::find(info.needed.begin(), info.needed.end(), "libfoo.so.1") != info.needed.end());
    CHECK_FALSE(info.interp.empty());
    CHECK(elf::read_info(f.p("prog.c")).is_elf == false);

    trace::TraceResult t;
    t.record(f.p("bin/prog"), FileType::file, Access::exec, true);
    FileSet s = compute_closure(t, no_basics());
    INFO(dump(s));

    const FileEntry* prog = entry(s, f.p("bin/prog"));
    REQUIRE(prog);
    CHECK(prog->reason == Reason::traced);
    CHECK(prog->why == "exec");

    const FileEntry* l1 = entry(s, f.p("lib/libfoo.so.1"));
    REQUIRE(l1);
    CHECK(l1->type == FileType::symlink);
    CHECK(l1->target == "libfoo.so.1.0");
    CHECK(l1->reason == Reason::closure);
    CHECK(l1->why == "DT_NEEDED of " + f.p("bin/prog"));
    const FileEntry* l2 = entry(s, f.p("lib/libfoo.so.1.0"));
    REQUIRE(l2);
    CHECK(l2->type == FileType::symlink);
    CHECK(l2->target == f.p("lib/libfoo.so.1.0.real"));
    const FileEntry* real = entry(s, f.p("lib/libfoo.so.1.0.real"));
    REQUIRE(real);
    CHECK(real->type == FileType::file);
    CHECK(real->size > 0);

    // libfoo's RUNPATH is expanded against libfoo's directory, not the program's.
    const FileEntry* bar = entry(s, f.p("extra/libbar.so.1"));
    REQUIRE(bar);
    CHECK(bar->why == "DT_NEEDED of " + f.p("lib/libfoo.so.1.0.real"));

    // The interpreter and libc come in through PT_INTERP and ld.so.cache/default dirs.
    bool interp = false, libc = false;
    for (const auto& [p, e] : s.entries) {
        if (e.type == FileType::file && e.why == "ELF interpreter of " + f.p("bin/prog")) interp = true;
        if (e.type == FileType::file && p.find("/libc.so.6") != std::string::npos) libc = true;
    }
    CHECK(interp);
    CHECK(libc);

    // Parents with their real mode; /tmp keeps its sticky bit.
    const FileEntry* libdir = entry(s, f.p("lib"));
    REQUIRE(libdir);
    CHECK(libdir->mode == 0750);
    const FileEntry* tmp = entry(s, "/tmp");
    REQUIRE(tmp);
    CHECK(tmp->mode == 01777);
    CHECK(entry(s, "/") == nullptr);
    check_parents(s);
    CHECK(s.findings.empty());
}

TEST_CASE("DT_RPATH is inherited down the loader chain, DT_RUNPATH is not", "[closure]") {
    Fixture f;
    f.mkdir("bin");
    f.mkdir("rlib");
    f.lib("rlib", "b", "int b(void){return 0;}\n");
    f.lib("rlib", "a", "int b(void); int a(void){return b();}\n", "rlib/libb.so.1");
    f.write("prog.c", "int a(void); int main(void){return a();}\n");
    // -Wl,-rpath-link lets the linker find libb; what the objects record is what matters.
    f.cc("-o bin/rprog prog.c -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../rlib' -Wl,-rpath-link,rlib rlib/liba.so.1");
    f.cc("-o bin/runprog prog.c -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../rlib' -Wl,-rpath-link,rlib rlib/liba.so.1");
    CHECK(elf::read_info(f.p("bin/rprog")).rpath == std::vector<std::string>{"$ORIGIN/../rlib"});

    SECTION("RPATH of the executable finds a library's own dependency") {
        trace::TraceResult t;
        t.record(f.p("bin/rprog"), FileType::file, Access::exec, true);
        FileSet s = compute_closure(t, no_basics());
        INFO(dump(s));
        REQUIRE(entry(s, f.p("rlib/liba.so.1")));
        const FileEntry* b = entry(s, f.p("rlib/libb.so.1"));
        REQUIRE(b);
        CHECK(b->why == "DT_NEEDED of " + f.p("rlib/liba.so.1"));
        CHECK(s.findings.empty());
    }
    SECTION("RUNPATH applies to the executable's own DT_NEEDED only: ld.so would fail, so do we") {
        trace::TraceResult t;
        t.record(f.p("bin/runprog"), FileType::file, Access::exec, true);
        FileSet s = compute_closure(t, no_basics());
        INFO(dump(s));
        REQUIRE(entry(s, f.p("rlib/liba.so.1")));
        CHECK_FALSE(entry(s, f.p("rlib/libb.so.1")));
        CHECK(has_finding(s, "warning", f.p("rlib/liba.so.1"), "libb.so.1"));
    }
    SECTION("LD_LIBRARY_PATH from the service environment is searched") {
        trace::TraceResult t;
        t.record(f.p("bin/runprog"), FileType::file, Access::exec, true);
        ClosureOptions o = no_basics();
        o.env_library_path = {f.p("rlib")};
        FileSet s = compute_closure(t, o);
        INFO(dump(s));
        CHECK(entry(s, f.p("rlib/libb.so.1")));
        CHECK(s.findings.empty());
    }
}

TEST_CASE("a dlopen'ed library (traced as a read) gets its closure; a stat alone does not", "[closure]") {
    Fixture f;
    f.mkdir("plugins");
    f.mkdir("deps");
    f.lib("deps", "dep", "int dep(void){return 0;}\n");
    f.lib("plugins", "plug", "int dep(void); int plug(void){return dep();}\n",
          "-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../deps' deps/libdep.so.1");
    f.lib("plugins", "statonly", "int dep(void); int so(void){return dep();}\n",
          "-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../deps' deps/libdep.so.1");
    trace::TraceResult t;
    t.record(f.p("plugins/libplug.so.1"), FileType::file, Access::read, true);
    FileSet s = compute_closure(t, no_basics());
    INFO(dump(s));
    CHECK(entry(s, f.p("deps/libdep.so.1")));

    trace::TraceResult t2;
    t2.record(f.p("plugins/libstatonly.so.1"), FileType::file, Access::stat, true);
    FileSet s2 = compute_closure(t2, no_basics());
    CHECK(entry(s2, f.p("plugins/libstatonly.so.1")));
    CHECK_FALSE(entry(s2, f.p("deps/libdep.so.1")));
}

TEST_CASE("shebang chains: nested scripts and /usr/bin/env", "[closure]") {
    Fixture f;
    f.mkdir("bin");
    f.write("bin/inner", "#!/bin/sh\necho inner \"$@\"\n", 0755);
    f.write("bin/outer", "#!" + f.p("bin/inner") + " -x\n", 0755);
    f.write("bin/viaenv", "#!/usr/bin/env sh\necho hi\n", 0755);
    f.write("bin/notexec", "#!/nonexistent/interp\n", 0644);
    trace::TraceResult t;
    t.record(f.p("bin/outer"), FileType::file, Access::exec, true);
    t.record(f.p("bin/viaenv"), FileType::file, Access::exec, true);
    t.record(f.p("bin/notexec"), FileType::file, Access::read, true);  // read, never exec'd
    FileSet s = compute_closure(t, no_basics());
    INFO(dump(s));
    const FileEntry* inner = entry(s, f.p("bin/inner"));
    REQUIRE(inner);
    CHECK(inner->reason == Reason::closure);
    CHECK(inner->why == "shebang interpreter of " + f.p("bin/outer"));

    // /bin/sh: every hop on the host (e.g. /bin → usr/bin, sh → dash) is a symlink entry and
    // the final file is there.
    trace::ResolvedPath sh = trace::resolve_path("/bin/sh", true, nullptr);
    REQUIRE(sh.exists);
    REQUIRE(entry(s, sh.path));
    CHECK(entry(s, sh.path)->type == FileType::file);
    for (const auto& [link, text] : sh.hops) {
        REQUIRE(entry(s, link));
        CHECK(entry(s, link)->type == FileType::symlink);
        CHECK(entry(s, link)->target == text);
    }
    // env and the sh it runs from its PATH.
    trace::ResolvedPath env = trace::resolve_path("/usr/bin/env", true, nullptr);
    REQUIRE(entry(s, env.path));
    CHECK(entry(s, env.path)->why == "shebang interpreter of " + f.p("bin/viaenv"));
    // Interpreters are ELF: their own PT_INTERP is in the set.
    std::string interp = elf::read_info(sh.path).interp;
    REQUIRE_FALSE(interp.empty());
    CHECK(entry(s, trace::resolve_path(interp, true, nullptr).path));
    CHECK(s.findings.empty());
}

TEST_CASE("hard links, setuid bits and include globs", "[closure]") {
    Fixture f;
    f.mkdir("data");
    f.mkdir("data/sub");
    f.write("data/a", "same inode");
    REQUIRE(::link(f.p("data/a").c_str(), f.p("data/sub/b").c_str()) == 0);
    f.write("data/sub/c.conf", "x");
    f.write("data/sub/d.txt", "x");
    f.write("data/suid", "x", 04755);
    f.mkdir("data/skip");
    f.write("data/skip/e", "x");
    f.mkdir("deep");
    f.mkdir("deep/1");
    f.mkdir("deep/1/2");
    f.write("deep/1/2/z.conf", "x");
    f.write("deep/top.conf", "x");
    f.write("deep/1/no.txt", "x");

    ClosureOptions o = no_basics();
    o.include = {f.p("data"), f.p("deep/**/*.conf"), f.p("nothing/*.here")};
    o.exclude = {f.p("data/skip"), f.p("**/*.txt")};
    FileSet s = compute_closure(trace::TraceResult{}, o);
    INFO(dump(s));

    const FileEntry* a = entry(s, f.p("data/a"));
    const FileEntry* b = entry(s, f.p("data/sub/b"));
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->hardlink_of.empty());
    CHECK(b->hardlink_of == f.p("data/a"));
    CHECK(a->reason == Reason::include);
    CHECK(a->why == "include " + f.p("data"));
    CHECK(entry(s, f.p("data/sub/c.conf")));
    CHECK_FALSE(entry(s, f.p("data/sub/d.txt")));  // excluded by a ** glob
    CHECK_FALSE(entry(s, f.p("data/skip")));        // an excluded dir takes its subtree
    CHECK_FALSE(entry(s, f.p("data/skip/e")));
    CHECK(entry(s, f.p("deep/top.conf")));
    CHECK(entry(s, f.p("deep/1/2/z.conf")));
    CHECK_FALSE(entry(s, f.p("deep/1/no.txt")));
    CHECK(has_finding(s, "warning", f.p("nothing/*.here"), "matches nothing"));
    check_parents(s);
    // Hard links count once.
    uint64_t expect = 0;
    for (const auto& [p, e] : s.entries)
        if (e.type == FileType::file && p != f.p("data/sub/b")) expect += e.size;
    CHECK(s.total_bytes() == expect);

    const FileEntry* suid = entry(s, f.p("data/suid"));
    REQUIRE(suid);
    CHECK(suid->mode == 0755);
    CHECK(has_finding(s, "dropped", f.p("data/suid"), "setuid"));

    o.keep_setuid = true;
    FileSet kept = compute_closure(trace::TraceResult{}, o);
    REQUIRE(entry(kept, f.p("data/suid")));
    CHECK(entry(kept, f.p("data/suid"))->mode == 04755);
    CHECK(has_finding(kept, "warning", f.p("data/suid"), "setuid"));
}

TEST_CASE("included symlinks keep their chain; linked dirs inside an include are not walked", "[closure]") {
    Fixture f;
    f.mkdir("real");
    f.write("real/file", "x");
    f.mkdir("conf");
    f.link("../real/file", "conf/l2");
    f.link("l2", "conf/l1");
    f.link("/", "conf/root");  // walking this would pull in the host
    f.link("../real", "conf/dir");
    ClosureOptions o = no_basics();
    o.include = {f.p("conf")};
    FileSet s = compute_closure(trace::TraceResult{}, o);
    INFO(dump(s));
    REQUIRE(entry(s, f.p("conf/l1")));
    CHECK(entry(s, f.p("conf/l1"))->type == FileType::symlink);
    CHECK(entry(s, f.p("conf/l1"))->target == "l2");
    REQUIRE(entry(s, f.p("conf/l2")));
    CHECK(entry(s, f.p("conf/l2"))->target == "../real/file");
    CHECK(entry(s, f.p("real/file")));
    CHECK(entry(s, f.p("conf/root")));
    CHECK(entry(s, f.p("conf/dir")));
    CHECK(entry(s, f.p("real"))->type == FileType::dir);
    CHECK(s.entries.size() < 50);  // nothing of the host's / came along
}

TEST_CASE("secrets, passwd/group, runtime objects, devices and missing paths", "[closure]") {
    Fixture f;
    f.write("server.key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", 0600);
    f.write("private-notes", "fake secret");
    f.write("config", "x");
    trace::TraceResult t;
    t.record("/etc/shadow", FileType::file, Access::read, true);
    t.record("/etc/passwd", FileType::file, Access::read, true);
    t.record("/etc/group", FileType::file, Access::read, true);
    t.record("/proc/self/mountinfo", FileType::file, Access::read, true);
    t.record("/sys/fs/cgroup", FileType::dir, Access::stat, true);
    t.record("/dev/null", FileType::device, Access::write, true);
    t.record("/dev/zero", FileType::device, Access::read, true);
    t.record("/run/romimg-test.sock", FileType::socket, Access::connect, true);
    t.record(f.p("server.key"), FileType::file, Access::read, true);
    t.record(f.p("private-notes"), FileType::file, Access::read, true);
    t.record(f.p("config"), FileType::file, Access::read, true);
    t.record(f.p("gone"), FileType::file, Access::create, true);            // created in the trace's overlay
    t.record(f.p("never"), FileType::missing, Access::stat, false, ENOENT);  // failed lookup
    ClosureOptions o = no_basics();
    o.allowed_devices = {"/dev/null"};
    o.exclude = {f.p("private-*")};
    FileSet s = compute_closure(t, o);
    INFO(dump(s));

    CHECK_FALSE(entry(s, "/etc/shadow"));
    CHECK(has_finding(s, "secret", "/etc/shadow"));
    CHECK_FALSE(entry(s, "/etc/passwd"));  // the jail stage writes its own
    CHECK_FALSE(entry(s, "/etc/group"));
    CHECK_FALSE(has_finding(s, "secret", "/etc/passwd"));
    CHECK_FALSE(entry(s, "/proc/self/mountinfo"));
    CHECK_FALSE(entry(s, "/proc"));
    CHECK_FALSE(entry(s, "/sys/fs/cgroup"));
    CHECK_FALSE(entry(s, "/run/romimg-test.sock"));
    const FileEntry* null = entry(s, "/dev/null");
    REQUIRE(null);
    CHECK(null->type == FileType::device);
    CHECK(null->rdev == makedev(1, 3));
    REQUIRE(entry(s, "/dev"));
    CHECK_FALSE(entry(s, "/dev/zero"));
    CHECK(has_finding(s, "dropped", "/dev/zero", "allowed"));
    // A key the service read is included and flagged.
    const FileEntry* key = entry(s, f.p("server.key"));
    REQUIRE(key);
    CHECK(key->mode == 0600);
    CHECK(has_finding(s, "secret", f.p("server.key"), "because the service read it"));
    // A path the template excludes is dropped even though it was traced.
    CHECK_FALSE(entry(s, f.p("private-notes")));
    CHECK(has_finding(s, "dropped", f.p("private-notes"), "excluded"));
    CHECK(entry(s, f.p("config")));
    CHECK_FALSE(entry(s, f.p("gone")));
    CHECK_FALSE(entry(s, f.p("never")));
    for (const auto& [p, e] : s.entries) {
        CHECK(e.type != FileType::fifo);
        CHECK(e.type != FileType::socket);
        CHECK(e.type != FileType::missing);
    }
    check_parents(s);
}

TEST_CASE("basics: NSS, name resolution and the timezone link come with libc", "[closure]") {
    trace::TraceResult t;
    t.record("/usr/bin/true", FileType::file, Access::exec, true);
    FileSet s = compute_closure(t, ClosureOptions{});
    INFO(dump(s));
    auto present = [&](const std::string& p) {
        struct stat st;
        return lstat(p.c_str(), &st) == 0;
    };
    for (const char* p : {"/etc/nsswitch.conf", "/etc/hosts", "/etc/services", "/etc/protocols"}) {
        if (!present(p)) continue;
        INFO(p);
        REQUIRE(entry(s, p));
        CHECK(entry(s, p)->reason == Reason::basics);
    }
    bool nss_files = false;
    for (const auto& [p, e] : s.entries)
        if (p.find("/libnss_files.so") != std::string::npos && e.type == FileType::file) nss_files = e.reason == Reason::basics;
    CHECK(nss_files);
    struct stat st;
    if (lstat("/etc/localtime", &st) == 0 && S_ISLNK(st.st_mode)) {
        const FileEntry* lt = entry(s, "/etc/localtime");
        REQUIRE(lt);
        CHECK(lt->type == FileType::symlink);
        trace::ResolvedPath zone = trace::resolve_path("/etc/localtime", true, nullptr);
        REQUIRE(entry(s, zone.path));
        CHECK(entry(s, zone.path)->type == FileType::file);
    }
    check_parents(s);
    // No TLS library, no CA bundle.
    CHECK_FALSE(entry(s, "/etc/ssl/certs/ca-certificates.crt"));
    // Without libc nothing is added.
    trace::TraceResult none;
    CHECK(compute_closure(none, ClosureOptions{}).entries.empty());
}

TEST_CASE("ld.so.cache parser agrees with ldconfig -p", "[closure]") {
    elf::LdCache c = elf::LdCache::load("/etc/ld.so.cache");
    REQUIRE(c.size() > 0);
    std::vector<std::string> libc = c.candidates("libc.so.6");
    REQUIRE_FALSE(libc.empty());
    FILE* p = popen("ldconfig -p | grep -E '^\\s+libc\\.so\\.6 ' | head -1 | sed 's/.*=> //'", "r");
    REQUIRE(p);
    char buf[512] = {};
    std::string line = fgets(buf, sizeof buf, p) ? buf : "";
    pclose(p);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    CHECK(libc.front() == line);
    CHECK(c.candidates("libdoes-not-exist.so.9").empty());
    CHECK(elf::LdCache::load("/nonexistent").size() == 0);
}

TEST_CASE("a library of another machine is skipped like ld.so does; ${ORIGIN} and $LIB expand", "[closure]") {
    Fixture f;
    f.mkdir("bin");
    f.mkdir("wrong");
    f.mkdir("right");
    f.lib("right", "m", "int m(void){return 0;}\n");
    // Same soname, but e_machine patched to AArch64: ld.so rejects it and keeps searching.
    f.cc("-shared -fPIC -Wl,-soname,libm.so.1 -o wrong/libm.so.1 m.c");
    {
        FILE* w = fopen(f.p("wrong/libm.so.1").c_str(), "r+b");
        REQUIRE(w);
        REQUIRE(fseek(w, 18, SEEK_SET) == 0);  // e_machine, little-endian
        const unsigned char aarch64[2] = {183, 0};
        REQUIRE(fwrite(aarch64, 1, 2, w) == 2);
        fclose(w);
    }
    CHECK(elf::read_info(f.p("wrong/libm.so.1")).machine == 183);
    f.write("prog.c", "int m(void); int main(void){return m();}\n");
    f.cc("-o bin/prog prog.c -Wl,--enable-new-dtags,-rpath,'${ORIGIN}/../wrong:$ORIGIN/../right' right/libm.so.1");
    trace::TraceResult t;
    t.record(f.p("bin/prog"), FileType::file, Access::exec, true);
    FileSet s = compute_closure(t, no_basics());
    INFO(dump(s));
    CHECK(entry(s, f.p("right/libm.so.1")));
    CHECK_FALSE(entry(s, f.p("wrong/libm.so.1")));

    elf::Info self = elf::read_info(f.p("bin/prog"));
    if (self.machine == 62 /* EM_X86_64 */) {
        // $LIB is Debian's multiarch directory.
        f.mkdir("lib");
        f.mkdir("lib/x86_64-linux-gnu");
        f.lib("lib/x86_64-linux-gnu", "l", "int l(void){return 0;}\n");
        f.write("prog2.c", "int l(void); int main(void){return l();}\n");
        f.cc("-o bin/prog2 prog2.c -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../$LIB' lib/x86_64-linux-gnu/libl.so.1");
        trace::TraceResult t2;
        t2.record(f.p("bin/prog2"), FileType::file, Access::exec, true);
        FileSet s2 = compute_closure(t2, no_basics());
        INFO(dump(s2));
        CHECK(entry(s2, f.p("lib/x86_64-linux-gnu/libl.so.1")));
    }
}

TEST_CASE("exec records: the kernel-loaded interpreters are in the set", "[closure]") {
    Fixture f;
    f.mkdir("bin");
    f.write("bin/interp", "#!/bin/sh\n", 0755);
    f.write("bin/script", "#!" + f.p("bin/interp") + "\n", 0755);
    trace::TraceResult t;
    trace::ExecRecord x;
    x.pid = 1;
    x.path = f.p("bin/script");
    x.ok = true;
    x.interpreters = {f.p("bin/interp")};
    t.execs.push_back(x);
    FileSet s = compute_closure(t, no_basics());
    INFO(dump(s));
    REQUIRE(entry(s, f.p("bin/script")));
    REQUIRE(entry(s, f.p("bin/interp")));
    CHECK(entry(s, f.p("bin/interp"))->why == "interpreter of " + f.p("bin/script"));
    CHECK(entry(s, trace::resolve_path("/bin/sh", true, nullptr).path));
}

TEST_CASE("basics: a TLS library brings the CA bundle, every link to it a link", "[closure]") {
    const std::string ssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    struct stat st;
    if (stat(ssl.c_str(), &st) != 0 || stat("/etc/ssl/certs/ca-certificates.crt", &st) != 0) {
        WARN("no libssl.so.3 or CA bundle on this host; nothing to check");
        return;
    }
    trace::TraceResult t;
    t.record(ssl, FileType::file, Access::read, true);
    FileSet s = compute_closure(t, ClosureOptions{});
    INFO(dump(s));
    const FileEntry* ca = entry(s, "/etc/ssl/certs/ca-certificates.crt");
    REQUIRE(ca);
    CHECK(ca->reason == Reason::basics);
    if (lstat("/usr/lib/ssl/cert.pem", &st) == 0 && S_ISLNK(st.st_mode)) {
        REQUIRE(entry(s, "/usr/lib/ssl/cert.pem"));
        CHECK(entry(s, "/usr/lib/ssl/cert.pem")->type == FileType::symlink);
    }
    // libssl needs libcrypto, which needs libc: NSS basics come too.
    CHECK(entry(s, "/etc/nsswitch.conf"));
}

TEST_CASE("glibc-hwcaps variants of a library come along (the appliance's CPU may prefer one)", "[closure]") {
    Fixture f;
    f.mkdir("bin");
    f.mkdir("lib");
    f.mkdir("lib/glibc-hwcaps");
    f.mkdir("lib/glibc-hwcaps/x86-64-v3");
    f.lib("lib", "h", "int h(void){return 0;}\n");
    f.lib("lib/glibc-hwcaps/x86-64-v3", "h", "int h(void){return 0;}\n");
    f.write("prog.c", "int h(void); int main(void){return h();}\n");
    f.cc("-o bin/prog prog.c -Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib' lib/libh.so.1");
    trace::TraceResult t;
    t.record(f.p("bin/prog"), FileType::file, Access::exec, true);
    FileSet s = compute_closure(t, no_basics());
    INFO(dump(s));
    REQUIRE(entry(s, f.p("lib/libh.so.1")));
    const FileEntry* v3 = entry(s, f.p("lib/glibc-hwcaps/x86-64-v3/libh.so.1"));
    REQUIRE(v3);
    CHECK(v3->why == "glibc-hwcaps variant of " + f.p("lib/libh.so.1"));
}

TEST_CASE("basics: a JVM brings its trust store and policies, links kept", "[closure]") {
    Fixture f;
    f.mkdir("jdk");
    f.mkdir("jdk/lib");
    f.mkdir("jdk/lib/server");
    f.mkdir("jdk/lib/security");
    f.mkdir("certs");
    f.write("jdk/lib/server/libjvm.so", "not really a JVM");
    f.write("certs/cacerts", "keystore");
    f.link(f.p("certs/cacerts"), "jdk/lib/security/cacerts");
    trace::TraceResult t;
    t.record(f.p("jdk/lib/server/libjvm.so"), FileType::file, Access::read, true);
    FileSet s = compute_closure(t, ClosureOptions{});
    INFO(dump(s));
    const FileEntry* link = entry(s, f.p("jdk/lib/security/cacerts"));
    REQUIRE(link);
    CHECK(link->type == FileType::symlink);
    CHECK(link->reason == Reason::basics);
    REQUIRE(entry(s, f.p("certs/cacerts")));
    CHECK(entry(s, f.p("certs/cacerts"))->type == FileType::file);
    CHECK(s.findings.empty());  // policies this fake JDK lacks are simply not there
}

TEST_CASE("the one secret rule: host secret globs, secret names anywhere, PEM private keys") {
    CHECK(romimg::closure::secret_glob("/etc/shadow") == "/etc/shadow");
    CHECK(romimg::closure::secret_glob("/root/.ssh/id_rsa") == "/root/**");
    CHECK(romimg::closure::secret_glob("/etc/sudoers.d/admins") == "/etc/sudoers.d/**");
    CHECK(romimg::closure::secret_glob("/var/www/html/shadow").empty());
    CHECK(romimg::closure::secret_name_glob("shadow") == "/etc/shadow");
    CHECK(romimg::closure::secret_name_glob("ssh_host_rsa_key") == "/etc/ssh/ssh_host_*_key");
    CHECK(romimg::closure::secret_name_glob("ssh_host_rsa_key.pub").empty());
    CHECK(romimg::closure::secret_name_glob("index.html").empty());
    const std::string pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n";
    CHECK(romimg::closure::private_key("/etc/ssl/private/site.key", pem));
    CHECK(romimg::closure::private_key("id_rsa", "-----BEGIN RSA PRIVATE KEY-----\n"));
    CHECK_FALSE(romimg::closure::private_key("/etc/ssl/certs/site.pem", "-----BEGIN CERTIFICATE-----\n"));
    CHECK_FALSE(romimg::closure::private_key("notes.txt", "see -----BEGIN PRIVATE KEY----- in the docs"));
    CHECK(romimg::closure::private_key("site.key", "comment\n" + pem));
}
