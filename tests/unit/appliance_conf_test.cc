#include <catch2/catch.hpp>

#include "appliance_conf.h"

using namespace romimg::appliance;

static Conf sample() {
    Conf c;
    c.hostname = "web1";
    c.log_console = true;
    c.log_to = "udp://192.0.2.1:514";
    Service s;
    s.name = "apache";
    s.root = "/jail/apache";
    s.uid = 33;
    s.gid = 33;
    s.groups = {4};
    s.caps = {"cap_net_bind_service"};
    s.argv = {"/usr/sbin/apache2", "-DFOREGROUND", "two words", "back\\slash", ""};
    s.env = {"LANG=C", "X=a b\nc"};
    s.ready = "tcp:80";
    s.ready_timeout = 30;
    s.stop_signal = 28;
    s.stop_timeout = 10;
    s.rlimits = {{"nofile", 4096}};
    s.mounts = {{"tmpfs", "/jail/apache/run/apache2", "size=1m,mode=0755,uid=33,gid=33"}, {"proc", "/jail/apache/proc", "ro"}};
    s.logs = {"/jail/apache/var/log/apache2/access.log"};
    s.layers = {{"/run/medium/live/content/apache-1.sqfs", "/jail/apache/var/www/html"}};
    s.devices = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full"};
    s.start_execs = {"/usr/bin/dash", "/usr/share/lighttpd/create-mime.conf.pl"};
    s.seccomp = "enforce";
    s.seccomp_filter = "/etc/romimg/seccomp/apache.bpf";
    s.memory_max = "40%";
    s.tasks_max = 300;
    s.restart_limit = 4;
    s.memory_needed = "96m";
    s.java_heap = "40%";
    c.services.push_back(s);
    return c;
}

TEST_CASE("appliance.conf round-trips, whatever argv and env contain") {
    Conf c = sample(), back;
    std::string err;
    REQUIRE(parse_conf(format_conf(c), back, err));
    CHECK(format_conf(back) == format_conf(c));
    const Service& s = back.services.at(0);
    CHECK(s.argv == c.services[0].argv);
    CHECK(s.env == c.services[0].env);
    CHECK(s.mounts.size() == 2);
    CHECK(s.rlimits.at(0).second == 4096);
    CHECK(back.log_to == "udp://192.0.2.1:514");
    REQUIRE(s.layers.size() == 1);
    CHECK(s.layers[0].image == "/run/medium/live/content/apache-1.sqfs");
    CHECK(s.layers[0].target == "/jail/apache/var/www/html");
    CHECK(s.seccomp == "enforce");
    CHECK(s.seccomp_filter == "/etc/romimg/seccomp/apache.bpf");
    CHECK(s.memory_max == "40%");
    CHECK(s.tasks_max == 300);
    CHECK(s.restart_limit == 4);
    CHECK(s.memory_needed == "96m");
    CHECK(s.java_heap == "40%");
}

TEST_CASE("java memory options: the JVM sized from its service's memory limit") {
    CHECK(java_memory_options("40%", 100ULL << 20) == "-XX:MaxRAM=104857600 -Xmx40m -XX:CICompilerCount=1");
    CHECK(java_memory_options("25%", 78ULL << 20) == "-XX:MaxRAM=81788928 -Xmx19m -XX:CICompilerCount=1");
    CHECK(java_memory_options("5%", 64ULL << 20) == "-XX:MaxRAM=67108864 -Xmx8m -XX:CICompilerCount=1");  // the JVM's floor
    // Not small: JIT threads as the JVM likes, the whole heap taken at start.
    CHECK(java_memory_options("30%", 1000ULL << 20) == "-XX:MaxRAM=1048576000 -Xmx300m -Xms300m -XX:+AlwaysPreTouch");
    for (const char* bad : {"", "40", "%", "040%", "4x%", "100%0"}) CHECK(java_memory_options(bad, 1ULL << 30).empty());
    Conf c;
    std::string err;
    CHECK_FALSE(parse_conf("service x\nroot /jail/x\nargv /x\nmemory_needed 50%\nend\n", c, err));
    CHECK(err == "line 4: memory_needed takes a size (96m)");
    CHECK_FALSE(parse_conf("service x\nroot /jail/x\nargv /x\njava_heap 40\nend\n", c, err));
    CHECK(err == "line 4: java_heap takes a share (40%)");
}

TEST_CASE("limits: a memory limit is a size or a share of RAM, never below 8 MiB") {
    unsigned long long b = 0;
    CHECK(memory_limit_bytes("256m", 1ULL << 30, b));
    CHECK(b == 256ULL << 20);
    CHECK(memory_limit_bytes("75%", 128ULL << 20, b));
    CHECK(b == (128ULL << 20) / 100 * 75);
    CHECK(memory_limit_bytes("2g", 0, b));
    CHECK(b == 2ULL << 30);
    CHECK(memory_limit_bytes("1%", 100ULL << 20, b));
    CHECK(b == 8ULL << 20);  // 1 MiB would not hold the service's libraries
    for (const char* bad : {"", "%", "0%", "101%", "75", "12x", "-5m", "05m", "99999999999m", "1.5g", " 5m"})
        CHECK_FALSE(memory_limit_bytes(bad, 1ULL << 30, b));
    Conf c;
    std::string err;
    CHECK_FALSE(parse_conf("service x\nroot /jail/x\nargv /x\nlimits 75 10 3\nend\n", c, err));
    CHECK(err == "line 4: limits takes MEMORY (256m or 75%) TASKS RESTARTS");
    CHECK_FALSE(parse_conf("service x\nroot /jail/x\nargv /x\nlimits 75% 0 3\nend\n", c, err));
}

TEST_CASE("net counters: a column of /proc/net/snmp and /proc/net/netstat") {
    const std::string snmp = "Ip: Forwarding DefaultTTL\nIp: 2 64\n"
                             "Tcp: RtoAlgorithm RtoMin RetransSegs InErrs\nTcp: 1 200 17 0\n"
                             "Udp: InDatagrams\nUdp: 5\n";
    CHECK(net_counter(snmp, "Tcp:", "RetransSegs") == 17);
    CHECK(net_counter(snmp, "Tcp:", "InErrs") == 0);
    CHECK(net_counter(snmp, "Udp:", "InDatagrams") == 5);
    CHECK(net_counter(snmp, "Tcp:", "Nope") == -1);
    CHECK(net_counter(snmp, "TcpExt:", "ListenOverflows") == -1);
    CHECK(net_counter("TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4", "TcpExt:", "ListenDrops") == 4);
    CHECK(net_counter("Tcp: RetransSegs\n", "Tcp:", "RetransSegs") == -1);  // no values line
}

TEST_CASE("pressure_avg10 reads the some and full lines of a PSI file", "[appliance_conf]") {
    const std::string psi = "some avg10=12.50 avg60=3.00 avg300=0.61 total=123456\n"
                            "full avg10=0.75 avg60=0.10 avg300=0.00 total=2345\n";
    CHECK(pressure_avg10(psi, "some") == Approx(12.5));
    CHECK(pressure_avg10(psi, "full") == Approx(0.75));
    CHECK(pressure_avg10(psi, "none") == -1);
    CHECK(pressure_avg10("some avg10=x\n", "some") == -1);
    CHECK(pressure_avg10("", "some") == -1);
}

TEST_CASE("flat keyed files: memory.events, pids.events, /proc/meminfo") {
    const std::string events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 1\n";
    CHECK(flat_keyed_value(events, "oom_kill") == 2);
    CHECK(flat_keyed_value(events, "oom") == 3);
    CHECK(flat_keyed_value(events, "max") == 12);
    CHECK(flat_keyed_value(events, "oom_kil") == -1);
    CHECK(flat_keyed_value("MemTotal:         118596 kB\nMemFree: 1 kB\n", "MemTotal:") == 118596);
    CHECK(flat_keyed_value("", "max") == -1);
}

TEST_CASE("appliance.conf errors name the line") {
    Conf c;
    std::string err;
    CHECK_FALSE(parse_conf("hostname a\nbogus 1\n", c, err));
    CHECK(err == "line 2: unknown key bogus");
    CHECK_FALSE(parse_conf("service x\nroot /jail/x\n", c, err));
    CHECK(err.find("has no end") != std::string::npos);
    CHECK_FALSE(parse_conf("service x\nroot /jail/x\nend\n", c, err));
    CHECK(err.find("needs root and argv") != std::string::npos);
    CHECK_FALSE(parse_conf("service x\nuid abc\n", c, err));
    CHECK(err == "line 2: uid takes a number");
    CHECK_FALSE(parse_conf("service x\nlayer live/a.sqfs /jail/x/www\n", c, err));
    CHECK(err == "line 2: layer takes IMAGE TARGET, both absolute");
    CHECK_FALSE(parse_conf("service x\nready tcp:0 30\n", c, err));
    CHECK(err == "line 2: ready tcp:0: expected tcp:PORT with a port of 1-65535");
    CHECK_FALSE(parse_conf("service x\nready gopher://h/ 30\n", c, err));
    CHECK(err.find("expected tcp:PORT, postgres:PORT or an http:// URL") != std::string::npos);
    CHECK(parse_conf("service x\nroot /jail/x\nargv /x\nready http://127.0.0.1:8080/ 30\nend\n", c, err));
    CHECK(c.services.back().ready == "http://127.0.0.1:8080/");
}

TEST_CASE("the romlock policy allows exactly the jail mounts and chroots, then seals") {
    std::vector<std::string> p;
    std::string err;
    REQUIRE(romlock_policy(sample(), p, err));
    REQUIRE(p.size() == 5);
    CHECK(p[0] == "mount tmpfs /jail/apache/run/apache2 nosuid,nodev,noexec");
    CHECK(p[1] == "mount proc /jail/apache/proc nosuid,nodev,noexec,ro");
    CHECK(p[2] == "mount squashfs /jail/apache/var/www/html ro,nosuid,nodev,noexec");
    CHECK(p[3] == "chroot /jail/apache");
    CHECK(p[4] == "seal");
}

TEST_CASE("appliance.conf: a jail's devices come only from the allow-list") {
    Conf back;
    std::string err;
    const std::string head = "service a\nroot /jail/a\nargv /a\n";
    REQUIRE(parse_conf(head + "device /dev/full\nend\n", back, err));
    CHECK(back.services.at(0).devices == std::vector<std::string>{"/dev/full"});
    for (const char* bad : {"device /dev/sda", "device /dev/mem", "device /jail/a/dev/null", "device", "device /dev/null /dev/zero"}) {
        CHECK_FALSE(parse_conf(head + bad + "\nend\n", back, err));
        CHECK(err == "line 4: device takes one of the allowed device paths");
    }
    CHECK(find_device("/dev/urandom")->minor == 9);
    CHECK(find_device("/dev/kmsg") == nullptr);
}

TEST_CASE("appliance.conf: start_exec paths are absolute words") {
    Conf back;
    std::string err;
    const std::string head = "service a\nroot /jail/a\nargv /a\n";
    REQUIRE(parse_conf(head + "start_exec /usr/bin/dash\nend\n", back, err));
    CHECK(back.services.at(0).start_execs == std::vector<std::string>{"/usr/bin/dash"});
    for (const char* bad : {"start_exec usr/bin/dash", "start_exec /a\\sb", "start_exec"}) {
        CHECK_FALSE(parse_conf(head + bad + "\nend\n", back, err));
        CHECK(err == "line 4: start_exec takes one absolute path without blanks");
    }
}

TEST_CASE("appliance.conf: a seccomp filter is enforce or log, and lives under /etc/romimg/seccomp") {
    Conf back;
    std::string err;
    const std::string head = "service a\nroot /jail/a\nargv /a\n";
    REQUIRE(parse_conf(head + "end\n", back, err));
    CHECK(back.services.at(0).seccomp == "off");  // no line: no filter
    REQUIRE(parse_conf(head + "seccomp log /etc/romimg/seccomp/a.bpf\nend\n", back, err));
    CHECK(back.services.at(0).seccomp == "log");
    for (const char* bad : {"seccomp enforce /jail/a/x.bpf", "seccomp strict /etc/romimg/seccomp/a.bpf",
                            "seccomp enforce /etc/romimg/seccomp/../../x", "seccomp enforce"}) {
        CHECK_FALSE(parse_conf(head + bad + "\nend\n", back, err));
        CHECK(err.rfind("line 4: seccomp takes", 0) == 0);
    }
}

TEST_CASE("appliance.conf: expect_map names files the service must map once ready") {
    Conf back;
    std::string err;
    const std::string head = "service a\nroot /jail/a\nargv /a\n";
    const std::string jsa = "/jail/a/usr/lib/jvm/java-17-openjdk-amd64/lib/server/classes.jsa";
    REQUIRE(parse_conf(head + "expect_map " + jsa + "\nend\n", back, err));
    CHECK(back.services.at(0).expect_maps == std::vector<std::string>{jsa});
    CHECK(format_conf(back).find("expect_map " + jsa + "\n") != std::string::npos);
    for (const char* bad : {"expect_map lib/x.jsa", "expect_map /a\\sb", "expect_map", "expect_map /a /b"}) {
        CHECK_FALSE(parse_conf(head + bad + "\nend\n", back, err));
        CHECK(err == "line 4: expect_map takes one absolute path without blanks");
    }
}

TEST_CASE("appliance.conf: a log_dir is one of the service's own tmpfs mounts") {
    Conf back;
    std::string err;
    const std::string head = "service a\nroot /jail/a\nargv /a\nmount tmpfs /jail/a/var/log/a nosuid,size=16m\n"
                             "mount proc /jail/a/proc \"\"\n";
    REQUIRE(parse_conf(head + "log_dir /jail/a/var/log/a\nend\n", back, err));
    CHECK(back.services.at(0).log_dirs == std::vector<std::string>{"/jail/a/var/log/a"});
    CHECK(format_conf(back).find("log_dir /jail/a/var/log/a\n") != std::string::npos);
    // Init reads and empties files there: never a dir that is not the service's tmpfs.
    for (const char* bad : {"log_dir /jail/a/proc", "log_dir /jail/a/var/log", "log_dir /var/log/romimg", "log_dir"}) {
        CHECK_FALSE(parse_conf(head + bad + "\nend\n", back, err));
        CHECK(err.find("log_dir takes one of the service's tmpfs mount targets") != std::string::npos);
    }
}

TEST_CASE("maps_contain: a /proc/PID/maps line that ends in the path") {
    using romimg::appliance::maps_contain;
    const std::string jsa = "/jail/a/usr/lib/jvm/j/lib/server/classes.jsa";
    const std::string maps =
        "800000000-800ff0000 rw-p 00001000 07:00 1234                           " + jsa + "\n"
        "7f0000000000-7f0000021000 r-xp 00000000 07:00 99                       /jail/a/usr/lib/libc.so.6\n"
        "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                        [stack]";
    CHECK(maps_contain(maps, jsa));
    CHECK(maps_contain(maps, "/jail/a/usr/lib/libc.so.6"));
    CHECK_FALSE(maps_contain(maps, "/usr/lib/jvm/j/lib/server/classes.jsa"));  // the jail's prefix is part of it
    CHECK_FALSE(maps_contain(maps, "/jail/a/usr/lib/jvm/j/lib/server/classes"));
    // A file replaced after it was mapped is not the one the image has.
    CHECK_FALSE(maps_contain("800000000-800ff0000 r--p 00000000 07:00 1 " + jsa + " (deleted)\n", jsa));
    CHECK_FALSE(maps_contain("", jsa));
    CHECK_FALSE(maps_contain(maps, ""));
}
