// dpkg's database read in-process: a fake admindir written by the test (status, info/*.list,
// diversions), and one sanity check against this machine's real /var/lib/dpkg.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>

#include "common/error.h"
#include "common/fs.h"
#include "dpkg/dpkg.h"

using namespace romimg;

namespace {

struct Admin {
    fs::TempDir dir{"/tmp", "romimg-dpkg-"};
    Admin() { std::filesystem::create_directories(dir.path() / "info"); }
    void write(const std::string& rel, const std::string& data) { fs::write_file_atomic(dir.path() / rel, data); }
};

const char kStatus[] = R"(Package: dpkg
Status: install ok installed
Priority: required
Architecture: amd64
Version: 1.21.22
Installed-Size: 6000
Description: Debian package management system
 This package provides the low-level infrastructure for handling the
 installation and removal of Debian software packages.

Package: a
Status: install ok installed
Architecture: amd64
Version: 1.0-1
Installed-Size: 100
Depends: b (>= 1.0), c | d, virt, libx
Description: package a

Package: b
Status: install ok installed
Architecture: all
Version: 2.0
Installed-Size: 20
Pre-Depends: e:any (>= 3)
Depends: missing-pkg

Package: c
Status: install ok installed
Architecture: amd64
Version: 1
Installed-Size: 3

Package: d
Status: deinstall ok config-files
Architecture: amd64
Version: 1
Installed-Size: 4000

Package: e
Status: install ok unpacked
Architecture: amd64
Version: 3
Installed-Size: 5

Package: f
Status: install ok installed
Architecture: amd64
Version: 1
Provides: virt (= 1), other
Installed-Size: 7

Package: g
Status: purge ok not-installed
Architecture: amd64
Version: 1

Package: libx
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 1
Installed-Size: 11

Package: libx
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 1
Installed-Size: 13
)";

}  // namespace

TEST_CASE("dpkg database: status, file lists, merged /usr, diversions", "[dpkg]") {
    Admin ad;
    ad.write("status", kStatus);
    ad.write("info/a.list", "/.\n/usr\n/usr/bin\n/usr/bin/a\n/lib/x86_64-linux-gnu/liba.so.1\n/etc\n");
    ad.write("info/b.list", "/.\n/usr\n/usr/bin\n/usr/bin/a\n/usr/sbin/bd\n");
    ad.write("info/c.list", "/.\n/etc\n/etc/c.conf\n");
    ad.write("info/d.list", "/.\n/etc/d.conf\n");  // config-files only: owns nothing any more
    ad.write("info/libx:amd64.list", "/usr/lib/x86_64-linux-gnu/libx.so.1\n");
    ad.write("info/libx:i386.list", "/usr/lib/i386-linux-gnu/libx.so.1\n");
    // b diverts a's /usr/bin/a away to /usr/bin/a.real; the admin diverted c's config locally.
    ad.write("diversions", "/usr/bin/a\n/usr/bin/a.real\nb\n/etc/c.conf\n/etc/c.conf.orig\n:\n");

    dpkg::Database db = dpkg::Database::load(ad.dir.path());
    CHECK(db.package_count() == 8);  // d (config-files) and g (not-installed) are not installed

    const dpkg::Package* a = db.package("a");
    REQUIRE(a);
    CHECK(a->version == "1.0-1");
    CHECK(a->arch == "amd64");
    CHECK(a->installed_size_kb == 100);
    CHECK(a->depends == std::vector<std::string>{"b", "c", "d", "virt", "libx"});
    CHECK(db.package("b")->depends == std::vector<std::string>{"e", "missing-pkg"});
    CHECK(db.package("d") == nullptr);
    CHECK(db.package("g") == nullptr);
    // Multi-Arch: the bare name is the native package; name:arch reaches the other.
    REQUIRE(db.package("libx"));
    CHECK(db.package("libx")->arch == "amd64");
    REQUIRE(db.package("libx:i386"));
    CHECK(db.package("libx:i386")->installed_size_kb == 11);

    auto owner = [&](const std::string& p) -> std::string {
        const dpkg::Package* o = db.owner_of(p);
        return o ? o->name + ":" + o->arch : "";
    };
    CHECK(owner("/usr/sbin/bd") == "b:all");
    // Merged /usr: listed under /lib, asked under /usr/lib, and the reverse.
    CHECK(owner("/usr/lib/x86_64-linux-gnu/liba.so.1") == "a:amd64");
    CHECK(owner("/lib/x86_64-linux-gnu/liba.so.1") == "a:amd64");
    CHECK(owner("/sbin/bd") == "b:all");
    CHECK(owner("/lib/i386-linux-gnu/libx.so.1") == "libx:i386");
    CHECK(owner("/usr/lib/x86_64-linux-gnu/libx.so.1") == "libx:amd64");
    // Diversions: the diverting package owns the original path, the diverted file is a's.
    CHECK(owner("/usr/bin/a") == "b:all");
    CHECK(owner("/usr/bin/a.real") == "a:amd64");
    CHECK(owner("/etc/c.conf") == "");
    CHECK(owner("/etc/c.conf.orig") == "c:amd64");
    CHECK(owner("/etc/d.conf") == "");
    CHECK(owner("/nowhere") == "");
    CHECK(owner("/.") == "");
    CHECK_FALSE(owner("/usr/bin").empty());  // a shared directory answers with one of its packages

    std::vector<std::string> closure = db.dependency_closure({"a"});
    CHECK(closure == std::vector<std::string>{"a", "b", "c", "e", "f", "libx"});
    CHECK(db.dependency_closure({"other"}) == std::vector<std::string>{"f"});  // a virtual name
    CHECK(db.dependency_closure({"nothing"}).empty());
    CHECK(db.installed_bytes(closure) == (100 + 20 + 3 + 5 + 7 + 13) * 1024ull);
    CHECK(db.installed_bytes({"a", "a", "nothing"}) == 100 * 1024ull);
}

TEST_CASE("dpkg database: a missing status file is an error naming it", "[dpkg]") {
    Admin ad;
    try {
        dpkg::Database::load(ad.dir.path());
        FAIL("no error");
    } catch (const SysError& e) {
        CHECK(std::string(e.what()).find("status") != std::string::npos);
    }
}

TEST_CASE("dpkg database: this machine's /var/lib/dpkg", "[dpkg]") {
    struct stat st;
    if (stat("/var/lib/dpkg/info/apache2.list", &st) != 0) {
        WARN("apache2 is not installed here; nothing to check");
        return;
    }
    dpkg::Database db = dpkg::Database::load();
    // The server binary is apache2-bin's (as `dpkg -S` says); apache2 ships the scripts.
    const dpkg::Package* bin = db.owner_of("/usr/sbin/apache2");
    REQUIRE(bin);
    CHECK(bin->name == "apache2-bin");
    const dpkg::Package* apache = db.owner_of("/usr/sbin/apache2ctl");
    REQUIRE(apache);
    CHECK(apache->name == "apache2");
    // libc6 lists /lib/x86_64-linux-gnu/libc.so.6 or /usr/lib/...: either name finds it.
    const dpkg::Package* libc = db.owner_of("/usr/lib/x86_64-linux-gnu/libc.so.6");
    REQUIRE(libc);
    CHECK(libc->name == "libc6");
    CHECK(db.owner_of("/lib/x86_64-linux-gnu/libc.so.6") == libc);
    std::vector<std::string> deps = db.dependency_closure({"apache2"});
    CHECK(std::find(deps.begin(), deps.end(), "apache2-bin") != deps.end());
    CHECK(std::find(deps.begin(), deps.end(), "libc6") != deps.end());
    CHECK(db.installed_bytes(deps) > db.installed_bytes({"apache2"}));
}
