// romimg manifest / diff: the bzImage version, the jail record with hashes, the table and JSON,
// and every kind of change diff_images reports (and that identical images report none).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "image/diff.h"
#include "image/manifest.h"

using namespace romimg;
using namespace romimg::image;
using nlohmann::json;

namespace {

std::string fake_bzimage(const std::string& version, unsigned offset = 0x3000) {
    std::string b(offset + 0x200 + version.size() + 64, 'x');
    b.replace(0x202, 4, "HdrS");
    b[0x20e] = (char)(offset & 0xff);
    b[0x20f] = (char)(offset >> 8);
    b.replace(offset + 0x200, version.size() + 1, version + '\0');
    return b;
}

JailEntry file(const std::string& path, uint64_t size, const std::string& sha, const std::string& pkg = "",
               const std::string& ver = "") {
    JailEntry e;
    e.path = path;
    e.type = "file";
    e.mode = "0644";
    e.size = size;
    e.sha256 = sha;
    e.package = pkg;
    e.version = ver;
    e.reason = "traced";
    e.why = "read";
    return e;
}

JailRecord jail(const std::string& name, std::vector<JailEntry> entries) {
    JailRecord r;
    r.service = name;
    for (const auto& e : entries) {
        if (!e.package.empty()) r.packages[e.package] = e.version;
        r.files++;
        r.bytes += e.size;
    }
    r.entries = std::move(entries);
    return r;
}

ImageManifest sample() {
    ImageManifest m;
    m.info.label = "ROMIMG";
    m.info.cmdline = "console=ttyS0 romimg.label=ROMIMG ip=dhcp";
    m.info.source_date_epoch = 1700000000;
    m.info.services.push_back({"apache", {80}, "tcp:80", {"GET / 200"}, true, {}});
    m.info.layers.push_back({"live/root.sqfs", std::string(64, 'a'), 1000, "/", std::string(64, 'f'), 2});
    m.kernel = {"6.12.117-romimg #1", std::string(64, 'c'), std::string(64, 'k'), "6.12.117-1", "gcc 12"};
    m.policy = {"chroot /jail/apache", "mount tmpfs /jail/apache/run nosuid,nodev,noexec", "seal"};
    m.conf = "# generated\nhostname www1\nlog_console no\ndebug_shell no\n\nservice apache\nuid 33\n"
             "caps cap_net_bind_service\nend\n";
    m.jails.push_back(jail("apache", {file("/usr/sbin/apache2", 700000, "11", "apache2-bin", "2.4.65-1"),
                                      file("/etc/apache2/apache2.conf", 7000, "22", "apache2", "2.4.65-1"),
                                      file("/lib/x86_64-linux-gnu/libc.so.6", 1900000, "33", "libc6", "2.36-9")}));
    return m;
}

}  // namespace

TEST_CASE("bzimage_version reads the setup header's version string") {
    CHECK(bzimage_version(fake_bzimage("6.12.117-romimg (romimg@romimg) #1 SMP 1970-01-01")) ==
          "6.12.117-romimg (romimg@romimg) #1 SMP 1970-01-01");
    CHECK_THROWS_AS(bzimage_version(std::string(4096, 'x')), Error);  // no HdrS
    std::string no_nul = fake_bzimage("6.12");
    no_nul.resize(0x3000 + 0x200 + 2);
    CHECK_THROWS_AS(bzimage_version(no_nul), Error);
    CHECK_THROWS_AS(bzimage_version(fake_bzimage("6.12").substr(0, 0x300)), Error);  // points past the end
}

TEST_CASE("jail_record_json adds the sha256 of files read from the jail, and the record reads it back") {
    fs::TempDir dir(std::filesystem::temp_directory_path(), "romimg-manifest-test-");
    std::filesystem::create_directories(dir.path() / "etc");
    fs::write_file_atomic(dir.path() / "etc/passwd", "www-data:x:33:33::/:/nonexistent\n");
    json m = {{"service", "apache"},
              {"entries",
               {{{"path", "/etc"}, {"type", "dir"}, {"mode", "0755"}, {"uid", 0}, {"gid", 0}, {"reason", "closure"},
                 {"why", "parent directory"}, {"package", ""}},
                {{"path", "/etc/passwd"}, {"type", "generated"}, {"mode", "0644"}, {"uid", 0}, {"gid", 0},
                 {"size", 34}, {"reason", "generated"}, {"why", "accounts"}, {"package", ""}},
                {{"path", "/etc/localtime"}, {"type", "symlink"}, {"mode", "0777"}, {"uid", 0}, {"gid", 0},
                 {"target", "/usr/share/zoneinfo/Etc/UTC"}, {"reason", "traced"}, {"why", "follow"},
                 {"package", "tzdata"}, {"version", "2025b"}}}}};
    json with = jail_record_json(m, dir.path());
    CHECK(with["entries"][1]["sha256"] == fs::sha256_hex("www-data:x:33:33::/:/nonexistent\n"));
    CHECK_FALSE(with["entries"][0].contains("sha256"));
    JailRecord r = jail_record_from_json(with);
    CHECK(r.service == "apache");
    REQUIRE(r.entries.size() == 3);
    CHECK(r.entries[0].path == "/etc");  // sorted by path
    CHECK(r.entries[1].target == "/usr/share/zoneinfo/Etc/UTC");
    CHECK(r.files == 1);
    CHECK(r.bytes == 34);
    CHECK(r.packages.at("tzdata") == "2025b");
    json broken = with;
    broken["entries"][1].erase("why");
    CHECK_THROWS_AS(jail_record_from_json(broken), Error);
}

TEST_CASE("conf_lines: appliance.conf lines that stand alone, service lines named after their service") {
    CHECK(conf_lines(sample().conf) == std::vector<std::string>{"hostname www1", "log_console no", "debug_shell no",
                                                                 "service apache", "apache: uid 33",
                                                                 "apache: caps cap_net_bind_service"});
    CHECK(conf_lines("").empty());
}

TEST_CASE("manifest shows each service's limits as init applies them") {
    ImageManifest m = sample();
    CHECK(manifest_table(m).find("limits: not recorded (its appliance.conf is unreadable)") != std::string::npos);
    m.conf = "hostname www1\n\nservice apache\nroot /jail/apache\nargv /usr/sbin/apache2\nrlimit nofile 8192\n"
             "limits 40% 300 4\nend\n";
    CHECK(manifest_table(m).find("limits: memory 40% of the machine's RAM, 300 tasks, 8192 open files; restarted at most 4 "
                                 "times in a row after quick deaths") != std::string::npos);
    m.conf = "service apache\nroot /jail/apache\nargv /usr/sbin/apache2\nlimits 96m 64 10\nend\n";
    CHECK(manifest_table(m).find("limits: memory 96m, 64 tasks, the kernel's default open files") != std::string::npos);
    CHECK(manifest_json(m)["appliance_conf"].dump().find("apache: limits 96m 64 10") != std::string::npos);
}

TEST_CASE("manifest table and JSON show kernel, cmdline, layers, policy and every file with its package") {
    ImageManifest m = sample();
    m.info.layers.push_back({"live/content/apache-www.sqfs", std::string(64, 'd'), 4096, "/jail/apache/var/www/html", "", 0});
    std::string t = manifest_table(m);
    CHECK(t.find("kernel   6.12.117-romimg #1") != std::string::npos);
    CHECK(t.find(".config sha256 " + std::string(64, 'c')) != std::string::npos);
    CHECK(t.find("cmdline  console=ttyS0 romimg.label=ROMIMG ip=dhcp") != std::string::npos);
    CHECK(t.find("live/content/apache-www.sqfs") != std::string::npos);
    CHECK(t.find("on /jail/apache/var/www/html") != std::string::npos);
    CHECK(t.find("dm-verity root hash " + std::string(64, 'f') + ", error correction 2 parity bytes") != std::string::npos);
    CHECK(t.find("no dm-verity (an image made before it)") != std::string::npos);  // the content layer here has none
    CHECK(t.find("signed   no: no boot of this image is anchored") != std::string::npos);
    m.info.signer = "/CN=x (sha256 ab)";
    CHECK(manifest_table(m).find("signed   by /CN=x (sha256 ab): the UEFI path boots one signed kernel image") != std::string::npos);
    CHECK(manifest_json(m)["signer"] == "/CN=x (sha256 ab)");
    m.info.signer.clear();
    CHECK(t.find("  mount tmpfs /jail/apache/run nosuid,nodev,noexec\n") != std::string::npos);
    CHECK(t.find("jail apache: 3 entries, 3 files") != std::string::npos);
    CHECK(t.find("apache2-bin              2.4.65-1               /usr/sbin/apache2 (read)") != std::string::npos);
    CHECK(t.find("2023-11-14T22:13:20Z") != std::string::npos);
    CHECK(t.find("init     hostname www1\n") != std::string::npos);
    CHECK(t.find("apache: uid") == std::string::npos);  // only the appliance-wide settings
    m.conf = "debug_shell yes\n";
    CHECK(manifest_table(m).find("A ROOT SHELL ON THE CONSOLE") != std::string::npos);
    json j = manifest_json(m);
    CHECK(j["content_layers"].size() == 1);
    CHECK(j["content_layers"][0]["mount"] == "/jail/apache/var/www/html");
    CHECK(j["root"]["sha256"] == std::string(64, 'a'));
    CHECK(j["root"]["verity_root_hash"] == std::string(64, 'f'));
    CHECK(j["kernel"]["version"] == "6.12.117-romimg #1");
    CHECK(j["romlock_policy"].back() == "seal");
    CHECK(j["jails"][0]["entries"].size() == 3);
    CHECK(j["jails"][0]["packages"]["libc6"] == "2.36-9");
}

TEST_CASE("diff of an image with itself is empty, and exit-worthy differences are all reported") {
    ImageManifest a = sample();
    ImageDiff same = diff_images(a, a);
    CHECK(same.empty());
    CHECK(diff_table(same).find("identical") != std::string::npos);
    CHECK(diff_json(same)["identical"] == true);

    ImageManifest b = sample();
    b.kernel.version = "6.12.118-romimg #1";
    b.info.cmdline += " quiet";
    b.info.signer = "/CN=y (sha256 cd)";
    b.policy.insert(b.policy.begin() + 1, "mount tmpfs /jail/apache/tmp nosuid,nodev,noexec");
    b.info.layers[0].sha256 = std::string(64, 'b');
    b.info.layers[0].verity_root_hash = std::string(64, '9');
    b.info.layers.push_back({"live/content/site.sqfs", std::string(64, 'e'), 10, "/jail/apache/var/www/html", "", 0});
    auto& e = b.jails[0].entries;
    e.erase(e.begin() + 1);                                                  // apache2.conf removed
    e[0].sha256 = "44";                                                      // apache2 changed
    e[0].version = "2.4.66-1";
    e[1].mode = "0755";                                                      // libc mode
    e.push_back(file("/usr/lib/apache2/modules/mod_ssl.so", 300000, "55", "apache2-bin", "2.4.66-1"));
    b.jails[0] = jail("apache", e);
    b.conf = "# generated\nhostname www1\nlog_console no\ndebug_shell yes\n\nservice apache\nuid 33\nend\n";
    b.info.services.push_back({"tomcat", {8080}, "tcp:8080", {}, true, {}});
    b.jails.push_back(jail("tomcat", {}));

    ImageDiff d = diff_images(a, b);
    CHECK_FALSE(d.empty());
    REQUIRE(d.kernel.size() == 1);
    CHECK(d.kernel[0].what == "version");
    CHECK(d.kernel[0].new_value == "6.12.118-romimg #1");
    REQUIRE(d.image.size() == 2);
    CHECK(d.image[0].what == "cmdline");
    CHECK(d.image[1].what == "signer");
    CHECK(d.image[1].new_value == "/CN=y (sha256 cd)");
    CHECK(d.policy_added == std::vector<std::string>{"mount tmpfs /jail/apache/tmp nosuid,nodev,noexec"});
    CHECK(d.policy_removed.empty());
    CHECK(d.services_added == std::vector<std::string>{"tomcat"});
    CHECK(d.conf_removed == std::vector<std::string>{"debug_shell no", "apache: caps cap_net_bind_service"});
    CHECK(d.conf_added == std::vector<std::string>{"debug_shell yes"});
    REQUIRE(d.layers.size() == 3);
    CHECK(d.layers[0].what == "live/root.sqfs sha256");
    CHECK(d.layers[1].what == "live/root.sqfs verity root hash");
    CHECK(d.layers[1].new_value == std::string(64, '9'));
    CHECK(d.layers[2].what == "live/content/site.sqfs");
    CHECK(d.layers[2].old_value == "(added)");
    REQUIRE(d.jails.size() == 1);
    const JailDiff& j = d.jails[0];
    REQUIRE(j.removed.size() == 1);
    CHECK(j.removed[0].path == "/etc/apache2/apache2.conf");
    REQUIRE(j.added.size() == 1);
    CHECK(j.added[0].path == "/usr/lib/apache2/modules/mod_ssl.so");
    REQUIRE(j.changed.size() == 2);
    CHECK(j.changed[0].path == "/lib/x86_64-linux-gnu/libc.so.6");
    CHECK(j.changed[0].changes.at(0).what == "mode");
    CHECK(j.changed[1].path == "/usr/sbin/apache2");
    CHECK(j.changed[1].changes.at(0).what == "sha256");
    // apache2 (the package) is gone with its only file; apache2-bin changed version.
    REQUIRE(j.packages.size() == 2);
    CHECK(j.packages[0].package == "apache2");
    CHECK(j.packages[0].new_version == "");
    CHECK(j.packages[1].package == "apache2-bin");
    CHECK(j.packages[1].old_version == "2.4.65-1");
    CHECK(j.packages[1].new_version == "2.4.66-1");

    std::string t = diff_table(d);
    CHECK(t.find("  version: 6.12.117-romimg #1 -> 6.12.118-romimg #1") != std::string::npos);
    CHECK(t.find("  + mount tmpfs /jail/apache/tmp nosuid,nodev,noexec") != std::string::npos);
    CHECK(t.find("  - file /etc/apache2/apache2.conf (7000 B) [apache2 2.4.65-1]") != std::string::npos);
    CHECK(t.find("  ~ /usr/sbin/apache2: content") != std::string::npos);
    CHECK(t.find("  ~ /lib/x86_64-linux-gnu/libc.so.6: mode 0644 -> 0755") != std::string::npos);
    CHECK(t.find("  package apache2-bin: 2.4.65-1 -> 2.4.66-1") != std::string::npos);
    CHECK(t.find("service tomcat: added") != std::string::npos);
    CHECK(t.find("appliance.conf (what init does):\n  - debug_shell no\n  - apache: caps cap_net_bind_service\n"
                 "  + debug_shell yes\n") != std::string::npos);
    json dj = diff_json(d);
    CHECK(dj["identical"] == false);
    CHECK(dj["jails"][0]["removed"][0]["path"] == "/etc/apache2/apache2.conf");

    // Removing is the mirror image.
    ImageDiff back = diff_images(b, a);
    CHECK(back.services_removed == std::vector<std::string>{"tomcat"});
    CHECK(back.policy_removed == d.policy_added);
}

TEST_CASE("manifest shows each jail's seccomp filter by why; diff shows mode and syscall changes") {
    ImageManifest a = sample();
    seccomp::FilterPlan f;
    f.service = "apache";
    f.mode = seccomp::Mode::enforce;
    f.allow = {{"accept4", "trace"}, {"exit", "baseline"}, {"sendfile", "template"}};
    f.kill = {"bpf", "ptrace"};
    a.jails[0].seccomp = f;
    std::string t = manifest_table(a);
    CHECK(t.find("seccomp enforce (x86_64): 3 allowed, 2 killed, every other call fails with ENOSYS") != std::string::npos);
    CHECK(t.find("allowed, trace (1): accept4\n") != std::string::npos);
    CHECK(t.find("killed (2): bpf ptrace\n") != std::string::npos);
    CHECK(manifest_json(a)["jails"][0]["seccomp"]["allow"].size() == 3);

    ImageManifest b = a;
    b.jails[0].seccomp->mode = seccomp::Mode::log;
    b.jails[0].seccomp->allow.push_back({"mremap", "trace"});
    b.jails[0].seccomp->kill = {"bpf"};
    b.jails[0].seccomp->allow.push_back({"ptrace", "template: crash reports"});
    ImageDiff d = diff_images(a, b);
    REQUIRE(d.jails.size() == 1);
    std::string dt = diff_table(d);
    CHECK(dt.find("seccomp mode: enforce -> log") != std::string::npos);
    CHECK(dt.find("seccomp allow mremap: (not allowed) -> trace") != std::string::npos);
    CHECK(dt.find("seccomp allow ptrace: (not allowed) -> template: crash reports") != std::string::npos);
    CHECK(dt.find("seccomp kill ptrace: killed -> (not killed)") != std::string::npos);
    CHECK(diff_json(d)["jails"][0]["seccomp"].size() == 4);
    // An image from before the filters: reported as such, not as a crash.
    ImageManifest old = a;
    old.jails[0].seccomp.reset();
    CHECK(manifest_table(old).find("seccomp: not recorded") != std::string::npos);
    CHECK(diff_table(diff_images(old, a)).find("seccomp mode: (not recorded) -> enforce") != std::string::npos);
}
