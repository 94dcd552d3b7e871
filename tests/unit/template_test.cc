#include <catch2/catch.hpp>

#include "common/error.h"
#include "recipe/template.h"

using namespace romimg;
using namespace romimg::recipe;

TEST_CASE("parse_template reads every section") {
    auto t = parse_template(R"(
description = "test service"
packages = ["apache2"]
[service]
command = ["/usr/sbin/apache2", "-DFOREGROUND"]
environment = { APACHE_RUN_DIR = "/run/apache2" }
user = "www-data"
capabilities = ["CAP_NET_BIND_SERVICE"]
ports = [80]
stop_signal = "WINCH"
[ready]
check = "tcp:80"
timeout = 30
[trace]
probes = ["GET / 200"]
[verify]
probes = ["GET /nope 404"]
[jail]
writable = ["/run/apache2", { path = "/var/cache/apache2", size = "8m" }]
logs = ["/var/log/apache2/access.log"]
proc = false
exec_lock = true
[rlimits]
nofile = 1024
)", "/x/apache.toml");
    CHECK(t.name == "apache");
    CHECK(t.command.size() == 2);
    CHECK(t.environment.at("APACHE_RUN_DIR") == "/run/apache2");
    CHECK(t.user == "www-data");
    CHECK(t.ports == std::vector<int>{80});
    CHECK(t.ready == "tcp:80");
    CHECK(t.ready_timeout == 30);
    CHECK(t.verify_probes.size() == 1);
    REQUIRE(t.writable.size() == 2);
    CHECK(t.writable[1].size == "8m");
    CHECK(t.rlimits.at("nofile") == 1024);
    CHECK(t.limits.files == 1024);  // rlimits.nofile is the same limit
    CHECK(t.limits.memory == "75%");
    CHECK(t.limits.tasks == 1024);
    CHECK(t.limits.restarts == 10);
}

TEST_CASE("[limits]: memory, tasks, open files and restarts") {
    auto t = parse_template("[service]\ncommand = [\"/x\"]\n[limits]\nmemory = \"96m\"\ntasks = 64\nfiles = 512\nrestarts = 3\n",
                            "/x/t.toml");
    CHECK(t.limits.memory == "96m");
    CHECK(t.limits.tasks == 64);
    CHECK(t.limits.files == 512);
    CHECK(t.limits.restarts == 3);
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/x\"]\n[limits]\nfiles = 512\n[rlimits]\nnofile = 100\n", "/x/t.toml"),
                      Catch::Contains("limits.files and rlimits.nofile are the same limit"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/x\"]\n[limits]\nmemory = \"0.5g\"\n", "/x/t.toml"),
                      Catch::Contains("/x/t.toml:4: limits.memory '0.5g' is not a size"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/x\"]\n[limits]\nmemory = \"4m\"\n", "/x/t.toml"),
                      Catch::Contains("limits.memory '4m' is below 8m"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/x\"]\n[limits]\nmemory = \"120%\"\n", "/x/t.toml"),
                      Catch::Contains("is not a share of RAM (1% to 100%)"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/x\"]\n[limits]\ntasks = 3\n", "/x/t.toml"),
                      Catch::Contains("limits.tasks '3' is out of range"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/x\"]\n[limits]\nswap = 1\n", "/x/t.toml"),
                      Catch::Contains("unknown key 'limits.swap'"));
}

TEST_CASE("[limits] memory_needed and [java] heap: a floor and a share, checked") {
    const std::string head = "[service]\ncommand = [\"/x\"]\n";
    auto t = parse_template(head + "[limits]\nmemory_needed = \"96m\"\n[java]\nheap = \"40%\"\n", "/x/t.toml");
    CHECK(t.limits.memory_needed == "96m");
    CHECK(t.java.heap == "40%");
    CHECK(parse_template(head, "/x/t.toml").limits.memory_needed.empty());
    CHECK_THROWS_WITH(parse_template(head + "[limits]\nmemory_needed = \"50%\"\n", "/x/t.toml"),
                      Catch::Contains("/x/t.toml:4: limits.memory_needed '50%' is a share of RAM, and what a service needs is a size"));
    CHECK_THROWS_WITH(parse_template(head + "[limits]\nmemory = \"64m\"\nmemory_needed = \"96m\"\n", "/x/t.toml"),
                      Catch::Contains("limits.memory_needed '96m' is more than limits.memory (64m), so the service could never start"));
    CHECK_THROWS_WITH(parse_template(head + "[limits]\nmemory_needed = \"2m\"\n", "/x/t.toml"),
                      Catch::Contains("limits.memory_needed '2m' is below 8m"));
    for (const char* bad : {"4%", "91%", "40", "0%", "40 %", "100%"})
        CHECK_THROWS_WITH(parse_template(head + "[java]\nheap = \"" + bad + "\"\n", "/x/t.toml"),
                          Catch::Contains("is not a share of the memory limit from 5% to 90%"));
}

TEST_CASE("template errors name file and line") {
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/bin/x\"\n", "/t/bad.toml"),
                      Catch::StartsWith("/t/bad.toml:"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"/bin/x\"]\nusr = \"x\"\n", "/t/typo.toml"),
                      Catch::Contains("/t/typo.toml:3: unknown key 'service.usr'"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand = [\"x\"]\n", "/t/rel.toml"),
                      Catch::Contains("must be an absolute path"));
    CHECK_THROWS_WITH(parse_template("description = 1\n[service]\ncommand = [\"/x\"]\n", "/t/ty.toml"),
                      Catch::Contains("/t/ty.toml:1: description must be a string"));
    CHECK_THROWS_WITH(parse_template("description = \"x\"\n", "/t/none.toml"),
                      Catch::Contains("missing [service]"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand=[\"/x\"]\n[jail]\nwritable=[\"rel\"]\n", "/t/w.toml"),
                      Catch::Contains("/t/w.toml:4: jail.writable paths must be absolute"));
}

TEST_CASE("parse_template: a writable dir of logs, and a properties list set whole") {
    auto t = parse_template(R"(
[service]
command = ["/x"]
[jail]
writable = [{ path = "/var/log/x", size = "8m", logs = true }, "/tmp"]
[[jail.properties]]
file = "/etc/x/logging.properties"
key = "handlers"
set = ["java.util.logging.ConsoleHandler"]
)", "/t/l.toml");
    REQUIRE(t.writable.size() == 2);
    CHECK(t.writable[0].logs);
    CHECK_FALSE(t.writable[1].logs);
    REQUIRE(t.properties.size() == 1);
    CHECK(t.properties[0].set);
    CHECK(t.properties[0].add == std::vector<std::string>{"java.util.logging.ConsoleHandler"});
    CHECK_THROWS_WITH(parse_template("[service]\ncommand=[\"/x\"]\n[[jail.properties]]\nfile=\"/a\"\nkey=\"k\"\nadd=[\"x\"]\nset=[\"y\"]\n", "/t/b.toml"),
                      Catch::Contains("add or set, not both"));
}

TEST_CASE("the shipped templates parse") {
    for (const auto& [name, desc] : list_templates()) {
        INFO(name);
        CHECK(desc.find("(invalid") == std::string::npos);
        CHECK_NOTHROW(load_template(name));
    }
    CHECK_THROWS_WITH(load_template("no-such-service"), Catch::Contains("unknown service 'no-such-service'"));
}

TEST_CASE("jail.devices takes only devices from the allow-list, and says which those are") {
    auto t = parse_template("[service]\ncommand=[\"/x\"]\n[jail]\ndevices = [\"/dev/full\"]\n", "/t/d.toml");
    CHECK(t.devices == std::vector<std::string>{"/dev/full"});
    CHECK_THROWS_WITH(parse_template("[service]\ncommand=[\"/x\"]\n[jail]\ndevices = [\"/dev/sda\"]\n", "/t/sda.toml"),
                      Catch::Contains("/t/sda.toml:4: jail.devices: '/dev/sda' is not a device a jail may have "
                                      "(allowed: /dev/null, /dev/zero, /dev/random, /dev/urandom, /dev/full, /dev/tty)"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand=[\"/x\"]\n[jail]\ndevices = [\"full\"]\n", "/t/rel.toml"),
                      Catch::Contains("'full' is not a device a jail may have"));
    CHECK_THROWS_WITH(parse_template("[service]\ncommand=[\"/x\"]\n[jail]\ndevices = [\"/dev/../dev/mem\"]\n", "/t/mem.toml"),
                      Catch::Contains("is not a device a jail may have"));
}
