// Hostile template strings (recipe/template_checks) and the romlock policy's own refusal of a
// path that is not one word (initramfs/appliance_conf): defence in depth.
#include <catch2/catch.hpp>

#include "appliance_conf.h"
#include "common/error.h"
#include "recipe/template.h"
#include "recipe/template_checks.h"

using namespace romimg;

namespace {

recipe::ServiceTemplate parse(const std::string& extra, const std::string& file = "t.toml") {
    return recipe::parse_template("[service]\ncommand = [\"/bin/sleep\", \"60\"]\n" + extra, file);
}

}  // namespace

TEST_CASE("writable paths: absolute, normalized, one word, not a system directory") {
    CHECK(recipe::writable_path_problem("/run/apache2").empty());
    CHECK(recipe::writable_path_problem("/tmp").empty());
    CHECK(recipe::writable_path_problem("/").find("system directory") != std::string::npos);
    CHECK(recipe::writable_path_problem("/etc").find("system directory") != std::string::npos);
    CHECK(recipe::writable_path_problem("/lib64").find("system directory") != std::string::npos);
    CHECK(recipe::writable_path_problem("/proc/sys").find("/proc") != std::string::npos);
    CHECK(recipe::writable_path_problem("/run/../etc").find("'..'") != std::string::npos);
    CHECK(recipe::writable_path_problem("/run/x\nmount tmpfs /etc").find("control") != std::string::npos);
    CHECK(recipe::writable_path_problem("/run/a b").find("whitespace") != std::string::npos);
    CHECK(recipe::writable_path_problem("run/x").find("not absolute") != std::string::npos);
}

TEST_CASE("sizes are digits and one unit") {
    CHECK(recipe::size_problem("16m").empty());
    CHECK(recipe::size_problem("512k").empty());
    CHECK(recipe::size_problem("2g").empty());
    for (const char* bad : {"", "m", "16", "0m", "016m", "1m,exec,suid", "1M", "-1m", "1.5m", "99999999999m", "1 m"})
        CHECK_FALSE(recipe::size_problem(bad).empty());
}

TEST_CASE("account names, environment keys and globs") {
    CHECK(recipe::account_name_problem("www-data").empty());
    CHECK(recipe::account_name_problem("tomcat10").empty());
    CHECK_FALSE(recipe::account_name_problem("root\n").empty());
    CHECK_FALSE(recipe::account_name_problem("-x").empty());
    CHECK_FALSE(recipe::account_name_problem("a:b").empty());
    CHECK(recipe::env_key_problem("JAVA_HOME").empty());
    CHECK_FALSE(recipe::env_key_problem("A B").empty());
    CHECK_FALSE(recipe::env_key_problem("1A").empty());
    CHECK_FALSE(recipe::env_key_problem("A=B").empty());
    CHECK(recipe::glob_problem("/usr/lib/apache2/modules/*.so").empty());
    CHECK_FALSE(recipe::glob_problem("usr/lib/*").empty());
    CHECK_FALSE(recipe::glob_problem("/usr/../etc/*").empty());
}

TEST_CASE("a hostile template is refused with file:line, the key and the value") {
    CHECK_THROWS_WITH(parse("[jail]\nwritable = [\"/run/x\\nmount tmpfs /etc nosuid\"]\n"),
                      "t.toml:4: jail.writable[0] '/run/x\\x0amount tmpfs /etc nosuid' is not usable (it contains a "
                      "control character): name the directory the service writes, like /run/NAME");
    CHECK_THROWS_WITH(parse("[jail]\nwritable = [{ path = \"/run/x\", size = \"1m,exec,suid\" }]\n"),
                      Catch::Contains("t.toml:4: jail.writable[0] '1m,exec,suid' is not a size"));
    CHECK_THROWS_WITH(parse("[jail]\nwritable = [\"/etc\"]\n"), Catch::Contains("'/etc' is a system directory"));
    CHECK_THROWS_WITH(parse("[jail]\nwritable = [\"/run/../etc\"]\n"), Catch::Contains("'/run/../etc' is not usable"));
    CHECK_THROWS_WITH(parse("ports = [70000]\n"), "t.toml:3: service.ports[0] '70000' is out of range: give 1 to 65535");
    CHECK_THROWS_WITH(parse("ports = [4294967376]\n"), Catch::Contains("'4294967376' is out of range"));
    CHECK_THROWS_WITH(parse("ports = [0]\n"), Catch::Contains("'0' is out of range"));
    CHECK_THROWS_WITH(parse("stop_signal = \"NOPE\"\n"), Catch::Contains("service.stop_signal 'NOPE' is not a signal name"));
    CHECK_THROWS_WITH(parse("stop_timeout = -1\n"), Catch::Contains("service.stop_timeout '-1' is out of range"));
    CHECK_THROWS_WITH(parse("cwd = \"/srv/../etc\"\n"), Catch::Contains("service.cwd"));
    CHECK_THROWS_WITH(parse("user = \"root\\nx\"\n"), Catch::Contains("service.user 'root\\x0ax' is not a user or group name"));
    CHECK_THROWS_WITH(parse("environment = { \"A B\" = \"1\" }\n"), Catch::Contains("is not an environment variable name"));
    CHECK_THROWS_WITH(parse("environment = { A = \"x\\u0000y\" }\n"), Catch::Contains("contains a control character"));
    CHECK_THROWS_WITH(parse("capabilities = [\"cap_sys_admin; x\"]\n"), Catch::Contains("is not a capability name"));
    CHECK_THROWS_WITH(parse("[ready]\ncheck = \"tcp:99999\"\n"), Catch::Contains("ready.check 'tcp:99999' is not valid"));
    CHECK_THROWS_WITH(parse("[ready]\ncheck = \"https://127.0.0.1:8443/\"\n"),
                      Catch::Contains("is an https URL: romimg-init checks readiness on the appliance over plain HTTP"));
    CHECK_THROWS_WITH(parse("[ready]\ncheck = \"http://10.0.0.5:8080/\"\n"),
                      Catch::Contains("names the host '10.0.0.5': the appliance checks the service on its own loopback"));
    CHECK_NOTHROW(parse("[ready]\ncheck = \"http://127.0.0.1:8080/\"\n"));
    CHECK_NOTHROW(parse("[ready]\ncheck = \"http://localhost:8080/status?full\"\n"));
    CHECK_THROWS_WITH(parse("[ready]\ntimeout = 0\n"), Catch::Contains("ready.timeout '0' is out of range"));
    CHECK_THROWS_WITH(parse("[ready]\ncheck = \"tcp:80\"\n[trace]\nprobes = [\"GET / abc\"]\n"),
                      Catch::Contains("trace.probes[0] 'GET / abc' is not valid"));
    CHECK_THROWS_WITH(parse("[verify]\nprobes = [\"GET / 200\"]\n"),
                      Catch::Contains("verify.probes 'GET / 200' needs a ready check"));
    CHECK_THROWS_WITH(parse("[jail]\nlogs = [\"/var/log/x/../../etc/passwd\"]\n"), Catch::Contains("jail.logs[0]"));
    CHECK_THROWS_WITH(parse("[jail]\ninclude = [\"etc/*\"]\n"), Catch::Contains("jail.include[0] 'etc/*' is not absolute"));
    const std::string props = "[[jail.properties]]\nfile = \"/etc/t/c.properties\"\nkey = \"a.b\"\n";
    CHECK_NOTHROW(parse(props + "add = [\"tomcat10-*.jar\"]\n"));
    CHECK_NOTHROW(parse("[[jail.properties]]\nfile = \"/etc/t/logging.properties\"\n"
                        "key = \"org.apache.catalina.core.ContainerBase.[Catalina].[localhost].handlers\"\n"
                        "add = [\"java.util.logging.ConsoleHandler\"]\n"));
    CHECK_THROWS_WITH(parse(props + "add = [\"x.jar,evil.jar\"]\n"), Catch::Contains("jail.properties[0].add[0] 'x.jar,evil.jar'"));
    CHECK_THROWS_WITH(parse(props + "add = [\"a b\"]\n"), Catch::Contains("is not one plain list item"));
    // set: the same items, named as set (a newline or '=' would write another key into the file).
    CHECK_NOTHROW(parse(props + "set = [\"java.util.logging.ConsoleHandler\"]\n"));
    CHECK_THROWS_WITH(parse(props + "set = [\"x\\nevil.key=1\"]\n"), Catch::Contains("jail.properties[0].set[0]"));
    CHECK_THROWS_WITH(parse(props + "set = [\"a=b\"]\n"), Catch::Contains("jail.properties[0].set[0] 'a=b'"));
    // logs = true takes a boolean only.
    CHECK_THROWS_WITH(parse("[jail]\nwritable = [{ path = \"/var/log/t\", logs = \"yes\" }]\n"), Catch::Contains("logs"));
    CHECK_THROWS_WITH(parse(props + "add = []\n"), Catch::Contains("jail.properties entries need file, key, and add or set"));
    CHECK_THROWS_WITH(parse("[[jail.properties]]\nfile = \"c.properties\"\nkey = \"a\"\nadd = [\"x\"]\n"),
                      Catch::Contains("jail.properties[0].file 'c.properties'"));
    CHECK_THROWS_WITH(parse("[[jail.properties]]\nfile = \"/c.properties\"\nkey = \"a=b\"\nadd = [\"x\"]\n"),
                      Catch::Contains("jail.properties[0].key 'a=b' is not a plain key"));
    CHECK_THROWS_WITH(parse(props + "add = [\"x\"]\nmode = 1\n"), Catch::Contains("mode"));
    CHECK_THROWS_WITH(parse("[rlimits]\nnofile = -5\n"), Catch::Contains("rlimits.nofile '-5' is out of range"));
    CHECK_THROWS_WITH(parse("", "Bad Name.toml"), Catch::Contains("the template's name 'Bad Name' (its file name) is not a service name"));
    CHECK_THROWS_WITH(recipe::parse_template("[service]\ncommand = [\"/usr/../bin/sh\"]\n", "t.toml"),
                      Catch::Contains("t.toml:2: service.command[0] '/usr/../bin/sh' is not usable (it is not normalized: it has a '..' component)"));
}

TEST_CASE("the shipped templates pass every check") {
    for (const char* name : {"apache", "tomcat"}) CHECK_NOTHROW(recipe::load_template(name));
}

TEST_CASE("the romlock policy refuses a path that is not one word of one line") {
    appliance::Conf c;
    appliance::Service s;
    s.name = "x";
    s.root = "/jail/x";
    s.mounts.push_back({"tmpfs", "/jail/x/run\nmount tmpfs /etc", "nosuid"});
    c.services.push_back(s);
    std::vector<std::string> p;
    std::string err;
    CHECK_FALSE(appliance::romlock_policy(c, p, err));
    CHECK(p.empty());
    CHECK(err.find("refusing to write a romlock policy line") != std::string::npos);
    c.services[0].mounts[0].target = "/jail/x/a b";
    CHECK_FALSE(appliance::romlock_policy(c, p, err));
    c.services[0].mounts[0].target = "jail/x/run";
    CHECK_FALSE(appliance::romlock_policy(c, p, err));
    c.services[0].mounts[0].target = "/jail/x/../../etc";
    CHECK_FALSE(appliance::romlock_policy(c, p, err));
    c.services[0].mounts[0].target = "/jail/x/run";
    c.services[0].root = "/jail/x y";
    CHECK_FALSE(appliance::romlock_policy(c, p, err));
    c.services[0].root = "/jail/x";
    REQUIRE(appliance::romlock_policy(c, p, err));
    CHECK(p == std::vector<std::string>{"mount tmpfs /jail/x/run nosuid,nodev,noexec", "chroot /jail/x", "seal"});
}
