#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "jail/jail.h"

using namespace romimg;
using namespace romimg::jail;
using closure::FileEntry;
using trace::FileType;

namespace {
closure::FileSet sample() {
    closure::FileSet fs;
    auto add = [&](FileEntry e) { fs.entries[e.path] = e; };
    add({"/", FileType::dir, "", 0, 0755, 0, 0, 0, "", false, closure::Reason::closure, "parent"});
    add({"/usr", FileType::dir, "", 0, 0755, 0, 0, 0, "", false, closure::Reason::closure, "parent"});
    add({"/usr/sbin", FileType::dir, "", 0, 0755, 0, 0, 0, "", false, closure::Reason::closure, "parent"});
    add({"/usr/sbin/apache2", FileType::file, "", 700000, 0755, 0, 0, 0, "", false, closure::Reason::traced, "exec"});
    add({"/usr/sbin/a2", FileType::file, "", 700000, 0755, 0, 0, 0, "/usr/sbin/apache2", false, closure::Reason::traced, "exec"});
    add({"/lib", FileType::symlink, "usr/lib", 0, 0777, 0, 0, 0, "", false, closure::Reason::traced, "follow"});
    add({"/etc", FileType::dir, "", 0, 0755, 0, 0, 0, "", false, closure::Reason::closure, "parent"});
    add({"/etc/passwd", FileType::file, "", 1000, 0644, 0, 0, 0, "", false, closure::Reason::traced, "read"});
    add({"/dev/sda", FileType::device, "", 0, 0660, 0, 6, 0x800, "", false, closure::Reason::traced, "read"});
    add({"/run", FileType::dir, "", 0, 0755, 0, 0, 0, "", false, closure::Reason::closure, "parent"});
    add({"/run/apache2", FileType::dir, "", 0, 0755, 33, 33, 0, "", false, closure::Reason::traced, "create"});
    add({"/run/apache2/old.pid", FileType::file, "", 5, 0644, 33, 33, 0, "", false, closure::Reason::traced, "read"});
    return fs;
}
recipe::ServiceTemplate tmpl() {
    recipe::ServiceTemplate t;
    t.name = "apache";
    t.file = "/t/apache.toml";
    t.writable = {{"/run/apache2", "1m"}};
    t.logs = {"/var/log/apache2/access.log"};
    t.capabilities = {"CAP_NET_BIND_SERVICE"};
    return t;
}
JailAccounts accounts() {
    return jail_accounts("www-data:x:33:33:www:/var/www:/bin/sh\n", "www-data:x:33:\n", "www-data");
}
const JailNode* find(const JailPlan& p, const std::string& path) {
    for (const auto& n : p.nodes)
        if (n.path == path) return &n;
    return nullptr;
}
}  // namespace

TEST_CASE("plan_jail: files, links, generated accounts, devices, FIFOs, tmpfs areas") {
    JailPlan p = plan_jail(sample(), tmpl(), accounts());
    REQUIRE(find(p, "/usr/sbin/apache2"));
    CHECK(find(p, "/usr/sbin/apache2")->kind == JailNode::file);
    CHECK(find(p, "/usr/sbin/a2")->kind == JailNode::hardlink);
    CHECK(find(p, "/usr/sbin/a2")->source == "/usr/sbin/apache2");
    CHECK(find(p, "/lib")->kind == JailNode::symlink);
    CHECK(find(p, "/lib")->target == "usr/lib");
    const JailNode* pw = find(p, "/etc/passwd");
    REQUIRE(pw);
    CHECK(pw->kind == JailNode::generated);  // never the host's file
    CHECK(pw->content == "www-data:x:33:33:www:/var/www:/usr/sbin/nologin\n");
    CHECK(find(p, "/dev/sda") == nullptr);    // not on the allow-list
    bool dropped = false;
    for (const auto& f : p.findings) dropped |= f.path == "/dev/sda" && f.severity == "dropped";
    CHECK(dropped);
    for (const char* d : {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"}) {
        INFO(d);
        REQUIRE(find(p, d));
        CHECK(find(p, d)->kind == JailNode::device);
    }
    CHECK(find(p, "/dev/null")->major == 1);
    CHECK(find(p, "/dev/null")->minor == 3);
    const JailNode* fifo = find(p, "/var/log/apache2/access.log");
    REQUIRE(fifo);
    CHECK(fifo->kind == JailNode::fifo);
    CHECK(fifo->uid == 33);
    CHECK(find(p, "/var/log/apache2"));  // parents made
    CHECK(find(p, "/run/apache2/old.pid") == nullptr);  // hidden by the tmpfs
    REQUIRE(p.mounts.size() == 1);
    CHECK(p.mounts[0].target == "/run/apache2");
    CHECK(p.mounts[0].options == "size=1m,mode=0755,uid=33,gid=33");
    // Parents precede children.
    for (size_t i = 0; i < p.nodes.size(); ++i)
        for (size_t j = i + 1; j < p.nodes.size(); ++j)
            CHECK_FALSE(p.nodes[i].path.rfind(p.nodes[j].path + "/", 0) == 0);
}

TEST_CASE("plan_jail: the devices bound at run time: every jail's four, the template's, the traced ones") {
    auto files = sample();
    files.entries["/dev/tty"] = {"/dev/tty", FileType::device, "", 0, 0666, 0, 5, 0, "", false, closure::Reason::traced, "open"};
    auto t = tmpl();
    t.devices = {"/dev/full", "/dev/null"};
    JailPlan p = plan_jail(files, t, accounts());
    CHECK(p.devices == std::vector<std::string>{"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full", "/dev/tty"});
    for (const auto& d : p.devices) {
        INFO(d);
        REQUIRE(find(p, d));
        CHECK(find(p, d)->kind == JailNode::device);
        CHECK(find(p, d)->mode == 0666);
    }
    CHECK(find(p, "/dev/full")->minor == 7);
    CHECK(find(p, "/dev/full")->why == "jail.devices in the template");
    CHECK(find(p, "/dev/tty")->major == 5);
    CHECK(find(p, "/dev/sda") == nullptr);  // traced, but not on the allow-list
    t.devices = {"/dev/mem"};
    CHECK_THROWS_WITH(plan_jail(files, t, accounts()), Catch::Contains("'/dev/mem' is not a device a jail may have (allowed: /dev/null"));
}

TEST_CASE("plan_jail refuses a log inside a writable dir, and adds /proc on request") {
    auto t = tmpl();
    t.logs = {"/run/apache2/access.log"};
    CHECK_THROWS_WITH(plan_jail(sample(), t, accounts()), Catch::Contains("would hide its FIFO"));
    t.logs.clear();
    t.proc = true;
    JailPlan p = plan_jail(sample(), t, accounts());
    CHECK(find(p, "/proc"));
    CHECK(p.mounts.back().type == "proc");
}

TEST_CASE("apply_jail writes the tree, keeps hard links, never touches an unknown dir") {
    if (geteuid() != 0) return;  // chown needs root; covered by the privileged jail tests too
    fs::TempDir tmp("/tmp", "romimg-jailtest-");
    auto src = tmp.path() / "src";
    std::filesystem::create_directories(src);
    fs::write_file_atomic(src / "bin", "#!/bin/true\n", 0755);
    closure::FileSet set;
    std::string s = src.string();
    set.entries["/"] = {"/", FileType::dir, "", 0, 0755, 0, 0, 0, "", false, closure::Reason::closure, ""};
    set.entries[s + "/bin"] = {s + "/bin", FileType::file, "", 12, 0755, 0, 0, 0, "", false, closure::Reason::traced, ""};
    set.entries[s + "/bin2"] = {s + "/bin2", FileType::file, "", 12, 0755, 0, 0, 0, s + "/bin", false, closure::Reason::traced, ""};
    set.entries[s + "/link"] = {s + "/link", FileType::symlink, "bin", 0, 0777, 0, 0, 0, "", false, closure::Reason::traced, ""};
    auto t = tmpl();
    t.writable.clear();
    t.logs = {"/var/log/x.log"};
    JailPlan p = plan_jail(set, t, accounts());
    auto out = tmp.path() / "jail";
    apply_jail(p, out);
    struct stat a, b;
    REQUIRE(stat((out.string() + s + "/bin").c_str(), &a) == 0);
    REQUIRE(stat((out.string() + s + "/bin2").c_str(), &b) == 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK((a.st_mode & 07777) == 0755);
    CHECK(std::filesystem::read_symlink(out.string() + s + "/link") == "bin");
    struct stat f;
    REQUIRE(lstat((out / "var/log/x.log").c_str(), &f) == 0);
    CHECK(S_ISFIFO(f.st_mode));
    CHECK(f.st_uid == 33);
    CHECK(fs::read_file(out / "etc/passwd").find("www-data") == 0);
    CHECK_FALSE(std::filesystem::exists(out / "dev/null"));  // devices are pseudo-definitions
    apply_jail(p, out);  // replacing our own jail is fine
    auto other = tmp.path() / "other";
    std::filesystem::create_directories(other);
    fs::write_file_atomic(other / "precious", "x");
    CHECK_THROWS_WITH(apply_jail(p, other), Catch::Contains("is not a jail romimg made"));
    CHECK(std::filesystem::exists(other / "precious"));
}

TEST_CASE("start_execs: what the trace saw the service start after its own exec, if the jail holds it") {
    JailPlan p = plan_jail(sample(), tmpl(), accounts());
    trace::TraceResult tr;
    auto exec = [&](const std::string& path, bool ok) {
        trace::ExecRecord e;
        e.path = path;
        e.ok = ok;
        tr.execs.push_back(e);
    };
    exec("/usr/sbin/apache2", true);  // the service itself
    exec("/usr/sbin/a2", true);
    exec("/usr/sbin/a2", true);       // once
    exec("/usr/bin/missing", true);   // not in the jail
    exec("/usr/sbin/apache2", false); // failed
    CHECK(start_execs(tr, p) == std::vector<std::string>{"/usr/sbin/a2"});
    CHECK(find(p, "/var/log/apache2/access.log")->mode == 0200);  // log FIFOs: write-only for the service
}
