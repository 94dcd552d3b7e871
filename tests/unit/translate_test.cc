#include <catch2/catch.hpp>

#include <map>

#include "common/error.h"
#include "staging/translate.h"
#include "target/target.h"

using namespace romimg;
using staging::path_candidates;
using trace::FileType;
using trace::FileUse;

namespace {

const target::Target& amd64() { return target::target_named("amd64"); }
const target::Target& i386() { return target::target_named("i386"); }

FileUse entry(FileType t, uint64_t size = 0, const std::string& link = "") {
    FileUse u;
    u.type = t;
    u.size = size;
    u.target = link;
    return u;
}

// An i386 root as a map, and package lists by (host path's package).
struct FakeRoot {
    std::map<std::string, FileUse> files;
    std::map<std::string, std::vector<std::string>> package_of_host;  // host path → the package's target files
    staging::TranslateOracle oracle() const {
        staging::TranslateOracle o;
        o.target_entry = [this](const std::string& p) -> std::optional<FileUse> {
            auto it = files.find(p);
            if (it == files.end()) return std::nullopt;
            return it->second;
        };
        o.package_files = [this](const std::string& host_path, const std::string& name) {
            std::vector<std::string> out;
            auto it = package_of_host.find(host_path);
            if (it == package_of_host.end()) return out;
            for (const auto& p : it->second)
                if (p.substr(p.rfind('/') + 1) == name) out.push_back(p);
            return out;
        };
        return o;
    }
};

}  // namespace

TEST_CASE("translate: a host path's names in the target root") {
    using V = std::vector<std::string>;
    CHECK(path_candidates("/usr/lib/x86_64-linux-gnu/libc.so.6", amd64(), i386()) ==
          V{"/usr/lib/i386-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"});
    CHECK(path_candidates("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", amd64(), i386()) ==
          V{"/usr/lib/jvm/java-17-openjdk-i386/lib/server/libjvm.so",
            "/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so"});
    CHECK(path_candidates("/lib64/ld-linux-x86-64.so.2", amd64(), i386()).front() == "/lib/ld-linux.so.2");
    CHECK(path_candidates("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", amd64(), i386()).front() ==
          "/lib/ld-linux.so.2");
    CHECK(path_candidates("/etc/apache2/apache2.conf", amd64(), i386()) == V{"/etc/apache2/apache2.conf"});
    CHECK(path_candidates("/", amd64(), i386()) == V{"/"});
    // "amd64" inside a name is not an arch suffix.
    CHECK(path_candidates("/srv/amd64x/notes", amd64(), i386()) == V{"/srv/amd64x/notes"});
    CHECK(path_candidates("/opt/amd64/bin", amd64(), i386()) == V{"/opt/i386/bin", "/opt/amd64/bin"});
    CHECK(path_candidates("/etc/java-17-openjdk/jvm-amd64.cfg", amd64(), i386()).front() ==
          "/etc/java-17-openjdk/jvm-i386.cfg");
    CHECK(path_candidates("/srv/x-amd64y", amd64(), i386()) == V{"/srv/x-amd64y"});
}

TEST_CASE("translate: a trace carried over into the i386 root") {
    FakeRoot root;
    root.files["/usr/sbin/apache2"] = entry(FileType::file, 700000);
    root.files["/usr/lib/i386-linux-gnu/libc.so.6"] = entry(FileType::file, 2200000);
    root.files["/lib/ld-linux.so.2"] = entry(FileType::symlink, 0, "i386-linux-gnu/ld-linux.so.2");
    root.files["/etc/apache2/apache2.conf"] = entry(FileType::file, 7000);
    root.files["/usr/lib/jvm/default-java"] = entry(FileType::symlink, 0, "java-1.17.0-openjdk-i386");
    root.files["/usr/lib/jvm/java-17-openjdk-i386/lib/server/libjvm.so"] = entry(FileType::file, 9000000);
    // A file the package ships under another name on i386, found by name in its file list.
    root.files["/usr/lib/i386-linux-gnu/gconv/UTF-16.so"] = entry(FileType::file, 10000);
    root.package_of_host["/usr/lib64/gconv/UTF-16.so"] = {"/usr/lib/i386-linux-gnu/gconv/UTF-16.so",
                                                          "/usr/lib/i386-linux-gnu/gconv/UTF-32.so"};

    trace::TraceResult host;
    host.command = {"/usr/sbin/apache2", "-DFOREGROUND"};
    host.record("/usr/sbin/apache2", FileType::file, trace::Access::exec, true, 0, 650000);
    host.record("/usr/lib/x86_64-linux-gnu/libc.so.6", FileType::file, trace::Access::read, true, 0, 1900000);
    host.record("/lib64/ld-linux-x86-64.so.2", FileType::symlink, trace::Access::follow, true, 0, 0,
                "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    host.record("/etc/apache2/apache2.conf", FileType::file, trace::Access::read, true, 0, 7100);
    host.record("/usr/lib/jvm/default-java", FileType::symlink, trace::Access::follow, true, 0, 0, "java-1.17.0-openjdk-amd64");
    host.record("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", FileType::file, trace::Access::read, true);
    host.record("/usr/lib64/gconv/UTF-16.so", FileType::file, trace::Access::read, true);
    host.record("/usr/lib/x86_64-linux-gnu/libamd64only.so", FileType::file, trace::Access::read, true);
    host.record("/etc/apache2/conf-enabled/none.conf", FileType::missing, trace::Access::stat, false, 2);
    // Made by the service as it ran: not in the target root, made there the same way.
    host.record("/run/apache2/apache2.pid", FileType::file, trace::Access::create, true, 0, 6);
    host.record("/run/apache2", FileType::dir, trace::Access::create, true);
    host.record("/usr/lib/x86_64-linux-gnu/libmissing.so", FileType::missing, trace::Access::read, false, 2);
    host.syscalls = {"openat", "newfstatat", "futex", "mmap", "bind", "no_such_call"};
    host.syscalls_baseline = {"read", "write"};
    trace::ExecRecord e;
    e.path = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
    e.argv = {"/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-version"};
    e.ok = true;
    e.interpreters = {"/lib64/ld-linux-x86-64.so.2"};
    host.execs.push_back(e);
    host.processes[7] = {7, 1, 33, 33, "/usr/sbin/apache2"};

    staging::Translation t = staging::translate_trace(host, amd64(), i386(), root.oracle());
    const auto& f = t.traced.files;
    REQUIRE(f.count("/usr/lib/i386-linux-gnu/libc.so.6"));
    // The target's size and type, the host's uses.
    CHECK(f.at("/usr/lib/i386-linux-gnu/libc.so.6").size == 2200000);
    CHECK(f.at("/usr/lib/i386-linux-gnu/libc.so.6").has(trace::Access::read));
    CHECK(f.at("/usr/sbin/apache2").size == 700000);
    CHECK(f.at("/lib/ld-linux.so.2").target == "i386-linux-gnu/ld-linux.so.2");
    CHECK(f.at("/usr/lib/jvm/default-java").target == "java-1.17.0-openjdk-i386");
    CHECK(f.count("/usr/lib/jvm/java-17-openjdk-i386/lib/server/libjvm.so"));
    CHECK(f.count("/usr/lib/i386-linux-gnu/gconv/UTF-16.so"));
    CHECK(f.count("/etc/apache2/apache2.conf"));
    // Missing stays missing, under the target's name.
    REQUIRE(f.count("/usr/lib/i386-linux-gnu/libmissing.so"));
    CHECK(f.at("/usr/lib/i386-linux-gnu/libmissing.so").type == FileType::missing);
    CHECK(f.at("/etc/apache2/conf-enabled/none.conf").type == FileType::missing);
    CHECK(f.at("/run/apache2/apache2.pid").type == FileType::file);
    CHECK(f.at("/run/apache2").type == FileType::dir);
    // Nothing of the kind on i386: dropped and reported, not invented.
    CHECK(f.count("/usr/lib/x86_64-linux-gnu/libamd64only.so") == 0);
    CHECK(f.count("/usr/lib/i386-linux-gnu/libamd64only.so") == 0);
    CHECK(t.dropped == std::vector<std::string>{"/usr/lib/x86_64-linux-gnu/libamd64only.so"});
    CHECK(std::find(t.moved.begin(), t.moved.end(),
                    std::pair<std::string, std::string>{"/usr/lib/x86_64-linux-gnu/libc.so.6",
                                                        "/usr/lib/i386-linux-gnu/libc.so.6"}) != t.moved.end());
    // Programs and interpreters by the target's names.
    REQUIRE(t.traced.execs.size() == 1);
    CHECK(t.traced.execs[0].path == "/usr/lib/jvm/java-17-openjdk-i386/bin/java");
    CHECK(t.traced.execs[0].argv[0] == "/usr/lib/jvm/java-17-openjdk-i386/bin/java");
    CHECK(t.traced.execs[0].argv[1] == "-version");
    CHECK(t.traced.execs[0].interpreters == std::vector<std::string>{"/lib/ld-linux.so.2"});
    CHECK(t.traced.processes.at(7).exe == "/usr/sbin/apache2");
    // i386 calls for the x86_64 ones.
    const auto& sc = t.traced.syscalls;
    for (const char* n : {"openat", "fstatat64", "statx", "futex", "futex_time64", "mmap", "mmap2", "bind"})
        CHECK(sc.count(n));
    CHECK(sc.count("newfstatat") == 0);
    CHECK(sc.count("statfs64"));  // i386 glibc makes it where amd64 makes none
    CHECK(t.calls_without_equivalent == std::vector<std::string>{"no_such_call"});
    CHECK(t.traced.syscalls_baseline == std::set<std::string>{"read", "write"});
    CHECK(staging::translation_report(t, amd64(), i386()).find("libamd64only.so") != std::string::npos);
}

TEST_CASE("translate: --trace-route values") {
    CHECK(!staging::parse_route("auto", "--trace-route"));
    CHECK(!staging::parse_route("", "--trace-route"));
    CHECK(*staging::parse_route("native", "--trace-route") == staging::TraceRoute::native);
    CHECK(*staging::parse_route("translated", "--trace-route") == staging::TraceRoute::translated);
    CHECK_THROWS_WITH(staging::parse_route("qemu", "--trace-route"),
                      Catch::Contains("--trace-route qemu") && Catch::Contains("auto") && Catch::Contains("translated"));
}
