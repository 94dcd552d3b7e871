// romimg verify's pure parts: reading the self-test's console lines, the report.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "verify/verify.h"

using namespace romimg;

TEST_CASE("self-test console lines become checks; kernel noise and CRs are ignored") {
    std::string console =
        "romimg-init: all services ready: starting the self-test (pid 90)\r\n"
        "romimg-selftest: BEGIN 2 service(s)\r\n"
        "romimg-selftest: CHECK PASS jail:apache exec-binary | execve its own program /usr/sbin/apache2 | "
        "expected: refused, romlock DENY logged | got: EPERM; romlock: DENY exec /usr/sbin/apache2 (exec-locked) pid=99 comm=selftest\r\n"
        "[   12.3] some kernel line\r\n"
        "romimg-selftest: CHECK FAIL root tmpfs-over-etc | mount a tmpfs over /etc | expected: refused, romlock DENY logged | "
        "got: succeeded (mounted on /etc); only romlock: WOULD-DENY mount tmpfs on /etc (not in policy) pid=120 comm=selftest\r\n";
    bool done = true;
    auto checks = verify::parse_selftest(console, done);
    CHECK_FALSE(done);
    REQUIRE(checks.size() == 2);
    CHECK(checks[0].pass);
    CHECK(checks[0].what == "self-test jail:apache exec-binary: execve its own program /usr/sbin/apache2");
    CHECK(checks[0].expected == "refused, romlock DENY logged");
    CHECK(checks[0].got.rfind("EPERM; romlock: DENY exec", 0) == 0);
    CHECK(checks[0].got.back() == 't');  // no trailing \r
    CHECK_FALSE(checks[1].pass);
    CHECK(checks[1].got.find("WOULD-DENY") != std::string::npos);
    verify::parse_selftest(console + "romimg-selftest: DONE 2 checks, 1 failed\r\n", done);
    CHECK(done);
}

TEST_CASE("the report: one line per check, JSON says passed only with checks and no failures") {
    verify::Report r;
    r.iso = "/x.iso";
    CHECK_FALSE(verify::report_json(r)["passed"].get<bool>());  // nothing checked is not a pass
    r.checks.push_back({"apache answers: GET / 200", "HTTP 200", "HTTP 200", true});
    CHECK(verify::report_json(r)["passed"].get<bool>());
    r.checks.push_back({"apache is exec-locked once ready", "exec-locked", "off", false});
    auto j = verify::report_json(r);
    CHECK_FALSE(j["passed"].get<bool>());
    CHECK(j["failed"] == 1);
    CHECK(j["checks"][1]["what"] == "apache is exec-locked once ready");
    CHECK(verify::format_check(r.checks[1]) == "FAIL  apache is exec-locked once ready | expected: exec-locked | got: off");
}

TEST_CASE("a dead service's last lines print one per line, each line escaped") {
    verify::Check c{"crasher is ready", "ready", "not ready; its last lines:\n  [crasher-console] \x1b[2Jgone", false};
    CHECK(verify::format_check(c) ==
          "FAIL  crasher is ready | expected: ready | got: not ready; its last lines:\n  [crasher-console] \\x1b[2Jgone");
}

TEST_CASE("the verify copy carries over every file but the ones the ISO stage makes") {
    CHECK(verify::generated_by_iso_stage("boot/vmlinuz"));
    CHECK(verify::generated_by_iso_stage("boot/initrd.img"));
    CHECK(verify::generated_by_iso_stage("isolinux/isolinux.cfg"));
    CHECK_FALSE(verify::generated_by_iso_stage("live/root.sqfs"));
    CHECK_FALSE(verify::generated_by_iso_stage("romimg/image.json"));
    CHECK_FALSE(verify::generated_by_iso_stage("isolinuxfoo/x"));
}

TEST_CASE("last_words: what init said when a service last died") {
    std::string console =
        "romimg-init: started lighttpd (pid 90)\r\n"
        "romimg-init: [lighttpd] lighttpd exited with status 255 before it was ready; its last lines:\r\n"
        "romimg-init: [lighttpd-console] old\r\n"
        "romimg-init: lighttpd exited with status 255; restarting in 1 s\r\n"
        "romimg-init: [lighttpd] lighttpd exited with status 255 before it was ready; its last lines:\r\n"
        "romimg-init: [lighttpd-console] (server.c.1411) opening /dev/null failed: Permission denied\r\n"
        "[    3.1] a kernel message in between\r\n"
        "romimg-init: [lighttpd-error.log] second\r\n"
        "romimg-init: lighttpd exited with status 255; restarting in 2 s\r\n"
        "romimg-init: [tomcat] tomcat was killed by signal Killed; it wrote nothing\r\n";
    CHECK(verify::last_words(console, "lighttpd") ==
          "lighttpd exited with status 255 before it was ready; its last lines:\n"
          "  [lighttpd-console] (server.c.1411) opening /dev/null failed: Permission denied\n"
          "  [lighttpd-error.log] second");
    CHECK(verify::last_words(console, "tomcat") == "tomcat was killed by signal Killed; it wrote nothing");
    CHECK(verify::last_words(console, "apache").empty());
    CHECK(verify::last_words(console, "light").empty());  // a prefix of another service's name
}

TEST_CASE("verify: init must report each seccomp kill the self-test caused, naming service and pid") {
    std::vector<verify::Check> st = {
        {"self-test seccomp:apache never: from inside the jail, keyctl (never-list) kills the caller", "killed by SIGSYS",
         "killed by Bad system call (pid 812)", true},
        {"self-test seccomp:tomcat never: from inside the jail, keyctl (never-list) kills the caller", "killed by SIGSYS",
         "killed by Bad system call (pid 900)", true},
        {"self-test jail:apache exec: exec its program", "refused", "EPERM", true}};
    std::string console =
        "romimg-init: [apache] seccomp killed pid 812 romimg-selftest of apache: it made keyctl, which its filter never allows\r\n"
        "romimg-init: [apache] seccomp killed pid 900 romimg-selftest of apache: it made keyctl, which its filter never allows\r\n";
    auto checks = verify::init_seccomp_reports(st, console);
    REQUIRE(checks.size() == 2);
    CHECK(checks[0].pass);
    CHECK(checks[0].got.find("[apache] seccomp killed pid 812") != std::string::npos);
    CHECK_FALSE(checks[1].pass);  // pid 900 was tomcat's attacker: a line naming apache does not count
}
