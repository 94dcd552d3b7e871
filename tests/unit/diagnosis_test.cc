#include <catch2/catch.hpp>

#include <cerrno>
#include <set>

#include "trace/diagnosis.h"

using namespace romimg::trace;

namespace {
const char* kTemplate = R"(# a template
description = "x"
[service]
command = ["/usr/sbin/lighttpd", "-D"]
[jail]
include = ["/etc/lighttpd/**"]
  writable = [
  { path = "/var/cache/lighttpd", size = "8m" },
]
[[jail.properties]]
file = "/etc/x.properties"
)";

bool nowhere(const std::string&) { return false; }
}  // namespace

TEST_CASE("toml_key_line finds a key of a table, not of another table or an array of tables") {
    CHECK(toml_key_line(kTemplate, "jail", "writable") == 7);
    CHECK(toml_key_line(kTemplate, "jail", "include") == 6);
    CHECK(toml_key_line(kTemplate, "service", "command") == 4);
    CHECK(toml_key_line(kTemplate, "", "description") == 2);
    CHECK(toml_key_line(kTemplate, "jail", "file") == 0);      // in [[jail.properties]]
    CHECK(toml_key_line(kTemplate, "service", "include") == 0);
    CHECK(toml_key_line(kTemplate, "jail", "logs") == 0);
    CHECK(toml_key_line("[jail]\nincluded = 1\n", "jail", "include") == 0);  // a longer key
}

TEST_CASE("diagnose names a refused write outside the writable dirs and the template line to add one") {
    TraceResult r;
    r.record("/run/lighttpd.pid", FileType::missing, Access::create, false, EACCES);
    r.record("/var/cache/lighttpd/x", FileType::missing, Access::create, false, EACCES);  // inside a writable dir
    r.record("/etc/lighttpd/lighttpd.conf", FileType::file, Access::read, true);
    r.record("/usr/lib/nothing.so", FileType::missing, Access::read, false, ENOENT);
    r.record("/proc/self/oom_score_adj", FileType::file, Access::write, false, EACCES);   // the kernel's
    r.record("/work/w/logs/x", FileType::missing, Access::create, false, EACCES);          // romimg's own
    DiagnosisContext ctx{"/t/lighttpd.toml", kTemplate, {"/var/cache/lighttpd"}, false, "/work/w"};
    std::string d = diagnose(r, ctx, nowhere);
    CHECK(d.find("it was refused a write outside its writable dirs:\n    /run/lighttpd.pid (EACCES)\n") != std::string::npos);
    CHECK(d.find("fix: in /t/lighttpd.toml line 7, [jail] writable, add { path = \"/run\", size = \"1m\" }") != std::string::npos);
    CHECK(d.find("/var/cache/lighttpd/x") == std::string::npos);
    CHECK(d.find("oom_score_adj") == std::string::npos);
    CHECK(d.find("/work/w") == std::string::npos);
    CHECK(d.find("nothing.so") == std::string::npos);  // not in a jail: the host lacks it too
}

TEST_CASE("diagnose: a write that later succeeded, or failed for another reason, explains nothing") {
    TraceResult r;
    r.record("/run/a", FileType::file, Access::write, false, EACCES);
    r.record("/run/a", FileType::file, Access::write, true);
    r.record("/run/b", FileType::missing, Access::create, false, ENOENT);
    r.record("/run/c", FileType::file, Access::read, false, EACCES);  // a read, not a write
    DiagnosisContext ctx{"/t/x.toml", kTemplate, {}, false, ""};
    CHECK(diagnose(r, ctx, nowhere).empty());
}

TEST_CASE("diagnose in a jail: EROFS, the dirs to make writable once each, and files only the host has") {
    TraceResult r;
    r.record("/var/lib/app/a.db", FileType::missing, Access::create, false, EROFS);
    r.record("/var/lib/app/b.db", FileType::missing, Access::create, false, EROFS);
    r.record("/state", FileType::missing, Access::create, false, EROFS);  // in "/": the path itself
    r.record("/usr/lib/x/plugin.so", FileType::missing, Access::read, false, ENOENT);
    r.record("/usr/lib/y.so", FileType::missing, Access::read, false, ENOENT);
    r.record("/var/log/app.log", FileType::missing, Access::create, false, ENOENT);  // no /var/log in the jail
    std::set<std::string> host = {"/usr/lib/x/plugin.so", "/var/log/app.log"};
    DiagnosisContext ctx{"/t/app.toml", "[jail]\nexec_lock = true\n", {"/tmp"}, true, "/w"};
    std::string d = diagnose(r, ctx, [&](const std::string& p) { return host.count(p) > 0; });
    CHECK(d.find("it was refused writes outside its writable dirs (the jail's root is read-only):\n"
                 "    /state (EROFS)\n    /var/lib/app/a.db (EROFS)\n    /var/lib/app/b.db (EROFS)\n"
                 "    /var/log/app.log (ENOENT: its dir is not in the jail)\n") != std::string::npos);
    // No writable key yet: the whole key is the fix, in [jail].
    CHECK(d.find("fix: in /t/app.toml, [jail], add writable = [{ path = \"/state\", size = \"1m\" }, "
                 "{ path = \"/var/lib/app\", size = \"1m\" }, { path = \"/var/log\", size = \"1m\" }]") != std::string::npos);
    CHECK(d.find("it looked for a file the jail lacks and the host has:\n    /usr/lib/x/plugin.so\n") != std::string::npos);
    CHECK(d.find("fix: in /t/app.toml, [jail], add include = [\"/usr/lib/x/plugin.so\"]") != std::string::npos);
    CHECK(d.find("y.so") == std::string::npos);
    CHECK(d.find("add include = [\"/usr/lib/x/plugin.so\"]") != std::string::npos);  // not the log: a write
}

TEST_CASE("diagnose: a failed create outside a jail is only refused for want of permission") {
    TraceResult r;
    r.record("/var/lib/nodir/x", FileType::missing, Access::create, false, ENOENT);
    CHECK(diagnose(r, DiagnosisContext{"/t/a.toml", "", {}, false, ""}, nowhere).empty());
}

TEST_CASE("diagnose without a template says how romimg trace gives a writable dir") {
    TraceResult r;
    r.record("/run/x.pid", FileType::missing, Access::create, false, EACCES);
    std::string d = diagnose(r, DiagnosisContext{}, nowhere);
    CHECK(d.find("fix: romimg trace --writable /run") != std::string::npos);
}
