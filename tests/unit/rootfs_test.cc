#include <catch2/catch.hpp>

#include <algorithm>

#include "common/error.h"
#include "pipeline.h"
#include "rootfs/rootfs.h"
#include "target/target.h"

using namespace romimg;

namespace {
recipe::ServiceTemplate tmpl() {
    recipe::ServiceTemplate t;
    t.name = "apache";
    t.command = {"/usr/sbin/apache2", "-DFOREGROUND"};
    t.environment = {{"LANG", "C"}, {"PATH", "/custom"}};
    t.capabilities = {"CAP_NET_BIND_SERVICE"};
    t.ready = "tcp:80";
    t.stop_signal = "WINCH";
    t.logs = {"/var/log/apache2/access.log"};
    t.rlimits = {{"nofile", 4096}};
    return t;
}
jail::JailPlan plan() {
    jail::JailPlan p;
    p.accounts.uid = 33;
    p.accounts.gid = 33;
    p.mounts = {{"tmpfs", "/run/apache2", "size=1m,mode=0755,uid=33,gid=33"}, {"proc", "/proc", "ro"}};
    jail::JailNode null;
    null.kind = jail::JailNode::device;
    null.path = "/dev/null";
    null.mode = 0666;
    null.major = 1;
    null.minor = 3;
    p.nodes.push_back(null);
    return p;
}
}  // namespace

TEST_CASE("service_entry turns a template and plan into PID 1's view") {
    auto t = tmpl();
    auto p = plan();
    auto s = rootfs::service_entry(t, p, true);
    CHECK(s.root == "/jail/apache");
    CHECK(s.uid == 33);
    CHECK(s.caps == std::vector<std::string>{"cap_net_bind_service"});
    CHECK(s.stop_signal == 28);  // SIGWINCH
    CHECK(s.mounts.at(0).target == "/jail/apache/run/apache2");
    CHECK(s.mounts.at(1).type == "proc");
    CHECK(s.logs == std::vector<std::string>{"/jail/apache/var/log/apache2/access.log"});
    CHECK(std::count(s.env.begin(), s.env.end(), std::string("LANG=C")) == 1);
    // PATH comes from init, not from the build host's template environment.
    CHECK(std::count_if(s.env.begin(), s.env.end(), [](const std::string& e) { return e.rfind("PATH=", 0) == 0; }) == 1);
    CHECK(s.exec_lock);
    CHECK_FALSE(rootfs::service_entry(t, p, false).exec_lock);  // --no-exec-lock
}

TEST_CASE("service_entry with the jail as / (romimg jail --verify) and its devices") {
    auto t = tmpl();
    auto p = plan();
    p.devices = {"/dev/null", "/dev/full"};
    auto s = rootfs::service_entry(t, p, true, "/");
    CHECK(s.root == "/");
    CHECK(s.mounts.at(0).target == "/run/apache2");
    CHECK(s.logs == std::vector<std::string>{"/var/log/apache2/access.log"});
    CHECK(s.devices == p.devices);  // paths inside the jail, whatever its root
    CHECK(rootfs::service_entry(t, p, true).devices == p.devices);
}

TEST_CASE("pseudo_definitions and mksquashfs argv") {
    auto t = tmpl();
    auto p = plan();
    std::vector<rootfs::JailInRoot> jails = {{&t, &p, "/tmp/x"}};
    CHECK(rootfs::pseudo_definitions(jails) == "jail/apache/dev/null c 666 0 0 1 3\n");
    Command c = rootfs::mksquashfs_command("/t", "/o.sqfs", "/p", "xz", "256K", 1700000000, "/l");
    auto has = [&](const std::string& a) { return std::find(c.argv.begin(), c.argv.end(), a) != c.argv.end(); };
    auto b = std::find(c.argv.begin(), c.argv.end(), "-b");
    REQUIRE(b != c.argv.end());
    CHECK(*(b + 1) == "256K");  // the target's block (target.h squashfs_block)
    CHECK(target::target_named("i386").squashfs_block == "256K");
    CHECK(target::target_named("amd64").squashfs_block == "256K");  // docs/limits.md: JSPs at 128 MB
    CHECK(c.argv[0] == "mksquashfs");
    CHECK(has("-all-time"));
    CHECK(has("1700000000"));
    CHECK(has("-pf"));
    CHECK_FALSE(has("-Xbcj"));  // the appliance kernel cannot decode BCJ
}

TEST_CASE("kernel ip= argument and command line") {
    using pipeline::kernel_ip_argument;
    CHECK(kernel_ip_argument("dhcp") == "ip=dhcp");
    CHECK(kernel_ip_argument("static:192.0.2.10/24,192.0.2.1") == "ip=192.0.2.10::192.0.2.1:255.255.255.0:::off");
    CHECK(kernel_ip_argument("static:192.0.2.10/16,192.0.2.1,192.0.2.53") ==
          "ip=192.0.2.10::192.0.2.1:255.255.0.0:::off:192.0.2.53");
    CHECK_THROWS_AS(kernel_ip_argument("static:192.0.2.10,192.0.2.1"), UsageError);
    CHECK_THROWS_AS(kernel_ip_argument("static:300.0.2.10/24,192.0.2.1"), UsageError);
    CHECK_THROWS_AS(kernel_ip_argument("bootp"), UsageError);
    pipeline::BuildOptions o;
    o.label = "WEB42";
    std::string cl = pipeline::kernel_cmdline(o, "x86_64");
    CHECK(cl.find("romimg.label=WEB42") != std::string::npos);
    CHECK(cl.find("romlock.mode=enforce") != std::string::npos);
    CHECK(cl.find("console=ttyS0") != std::string::npos);
    o.romlock_mode = "off";
    CHECK_THROWS_AS(pipeline::kernel_cmdline(o, "x86_64"), UsageError);
}
