// The target as a value (builder/target), the staging root's pure parts (builder/staging), and
// how the target reaches the ISO, QEMU and image.json.
#include <catch2/catch.hpp>

#include <elf.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "image/image_info.h"
#include "qemu/qemu.h"
#include "recipe/template.h"
#include "staging/root_view.h"
#include "staging/staging.h"
#include "target/target.h"

using namespace romimg;

TEST_CASE("targets: amd64 and i386, each with its kernel, seccomp arch, init and QEMU", "[target]") {
    const target::Target& a = target::target_named("amd64");
    CHECK(a.kernel_arch == "x86_64");
    CHECK(a.seccomp_arch == "x86_64");
    CHECK(a.elf_machine == EM_X86_64);
    CHECK(a.uefi);
    CHECK(a.qemu == "qemu-system-x86_64");
    const target::Target& i = target::target_named("i386");
    CHECK(i.kernel_arch == "i386");
    CHECK(i.seccomp_arch == "x86");
    CHECK(i.multiarch == "i386-linux-gnu");
    CHECK(i.elf_class == ELFCLASS32);
    CHECK(i.init == "romimg-init-i386");
    CHECK_FALSE(i.uefi);  // the PowerEdge 1550 has a BIOS only
    CHECK(i.linux32);
    CHECK(i.qemu == "qemu-system-i386");
    CHECK(i.qemu_cpu == "pentium3");
    CHECK(i.qemu_nic == "i82559er");
    CHECK(target::target_names() == "amd64, i386");
    CHECK(target::host_target().name == "amd64");  // the build machines are x86_64
    CHECK(target::target_for_kernel_arch("i386") == &i);
    CHECK(target::target_for_name("arm64") == nullptr);
}

TEST_CASE("targets: an unknown arch is a usage error that lists the supported ones", "[target]") {
    CHECK_THROWS_WITH(target::target_named("arm64"), Catch::Contains("use one of amd64, i386"));
    CHECK_THROWS_WITH(target::target_named("x86_64"), Catch::Contains("Debian calls x86_64 amd64"));
    CHECK_THROWS_WITH(target::target_named("i686", "romimg.toml arch"),
                      Catch::StartsWith("romimg.toml arch 'i686'") && Catch::Contains("32-bit x86 i386"));
    CHECK_THROWS_AS(target::target_named(""), UsageError);
}

TEST_CASE("targets: QEMU boots an i386 image on a Pentium III with an i82559 NIC, no virtio", "[target]") {
    qemu::QemuSpec s;
    s.iso = "/x.iso";
    qemu::apply_target(s, target::target_named("i386"));
    const auto argv = qemu::qemu_command(s).argv;
    CHECK(argv.front() == "qemu-system-i386");
    auto has = [&](const std::string& a, const std::string& b) {
        for (size_t k = 0; k + 1 < argv.size(); ++k)
            if (argv[k] == a && argv[k + 1] == b) return true;
        return false;
    };
    CHECK(has("-cpu", "pentium3"));
    CHECK(has("-device", "i82559er,netdev=net0,romfile="));
    for (const auto& a : argv) CHECK(a.find("virtio") == std::string::npos);
    qemu::QemuSpec d;
    d.iso = "/x.iso";
    const auto dargv = qemu::qemu_command(d).argv;
    CHECK(dargv.front() == "qemu-system-x86_64");
    CHECK(std::find(dargv.begin(), dargv.end(), "-cpu") == dargv.end());
}

TEST_CASE("image.json: arch is recorded, defaults to amd64 for older images, and must be known", "[target]") {
    image::ImageInfo info;
    info.label = "ROMIMG";
    info.cmdline = "console=ttyS0";
    info.arch = "i386";
    nlohmann::json j = image::to_json(info);
    CHECK(j["arch"] == "i386");
    CHECK(image::image_info_from_json(j).arch == "i386");
    j.erase("arch");
    CHECK(image::image_info_from_json(j).arch == "amd64");
    j["arch"] = "sparc";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("arch 'sparc'"));
}

TEST_CASE("image.json: how the services were traced, native for older images", "[target]") {
    image::ImageInfo info;
    info.label = "ROMIMG";
    info.cmdline = "console=ttyS0";
    info.arch = "i386";
    info.traced = "translated from amd64";
    nlohmann::json j = image::to_json(info);
    CHECK(image::image_info_from_json(j).traced == "translated from amd64");
    j.erase("traced");
    CHECK(image::image_info_from_json(j).traced == "native");
    for (const char* bad : {"translated from sparc", "emulated", "translated from amd64\nx"}) {
        j["traced"] = bad;
        CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("traced"));
    }
}

TEST_CASE("staging: a binfmt_misc entry claims i386 programs when it is enabled and its magic matches", "[staging]") {
    const auto& i = target::target_named("i386");
    const std::string qemu =
        "enabled\ninterpreter /usr/libexec/qemu-binfmt/i386-binfmt-P\nflags: POCF\noffset 0\n"
        "magic 7f454c46010101000000000000000000020003\nmask fffffffffffefcfffffffffffffffffffeffff\n";
    CHECK(staging::binfmt_entry_emulator(qemu, i) == "/usr/libexec/qemu-binfmt/i386-binfmt-P");
    std::string off = qemu;
    off.replace(0, 7, "disabled");
    CHECK(staging::binfmt_entry_emulator(off, i).empty());
    // An arm entry (e_machine 0x28) does not claim i386 programs.
    const std::string arm =
        "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\noffset 0\n"
        "magic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
    CHECK(staging::binfmt_entry_emulator(arm, i).empty());
    CHECK(staging::binfmt_entry_emulator("enabled\ninterpreter /x\n", i).empty());  // no magic
    CHECK(staging::binfmt_emulator(i, "/nonexistent-binfmt-dir").empty());
}

TEST_CASE("staging: packages are the templates' and the host owners', without arch, once each", "[staging]") {
    recipe::ServiceTemplate a, t;
    a.packages = {"apache2"};
    t.packages = {"tomcat10", "default-jre-headless"};
    CHECK(staging::staging_packages({a, t}, {"tomcat10-examples", "apache2:amd64", "libapache2-mod-php8.2:amd64"}) ==
          std::vector<std::string>{"apache2", "default-jre-headless", "libapache2-mod-php8.2", "tomcat10", "tomcat10-examples"});
}

TEST_CASE("staging: the key changes with the arch and the package list only", "[staging]") {
    const auto& i = target::target_named("i386");
    const auto& a = target::target_named("amd64");
    CHECK(staging::staging_key(i, {"apache2"}) == staging::staging_key(i, {"apache2"}));
    CHECK(staging::staging_key(i, {"apache2"}) != staging::staging_key(a, {"apache2"}));
    CHECK(staging::staging_key(i, {"apache2"}) != staging::staging_key(i, {"apache2", "tomcat10"}));
}

TEST_CASE("staging: the mmdebstrap command makes a Debian 12 root of the target's arch", "[staging]") {
    const auto c = staging::mmdebstrap_command(target::target_named("i386"), {"apache2", "tomcat10"}, "/c/r", "/w/log");
    CHECK(c.argv == std::vector<std::string>{"mmdebstrap", "--mode=root", "--format=directory", "--variant=apt", "--arch=i386",
                                             "--include=apache2,tomcat10", "bookworm", "/c/r"});
    CHECK(c.log == "/w/log");
}

TEST_CASE("staging: a failed mmdebstrap is explained as the fix", "[staging]") {
    const auto& i = target::target_named("i386");
    CHECK_THAT(staging::explain_mmdebstrap_failure("E: Unable to locate package nosuchpkg\n", i),
               Catch::Contains("the package nosuchpkg does not exist for i386 in Debian 12"));
    CHECK_THAT(staging::explain_mmdebstrap_failure("E: Package 'foo' has no installation candidate\n", i),
               Catch::Contains("the package foo does not exist"));
    CHECK_THAT(staging::explain_mmdebstrap_failure("E: i386 can neither be executed natively nor via qemu user emulation with binfmt_misc", i),
               Catch::Contains("this host cannot run i386 programs"));
    CHECK_THAT(staging::explain_mmdebstrap_failure("W: Failed to fetch http://deb.debian.org/...", i),
               Catch::Contains("could not be reached"));
    CHECK(staging::explain_mmdebstrap_failure("something else", i).empty());
}

TEST_CASE("staging: this host runs i386 programs (the build machines have IA32 emulation)", "[staging]") {
    std::string why;
    const bool runs = staging::host_runs(target::target_named("i386"), why);
    if (!runs) WARN("this host cannot run i386 programs: " << why);
    CHECK(staging::host_runs(target::target_named("amd64"), why));
}

TEST_CASE("root view: a root path overlayfs cannot take is refused", "[staging]") {
    CHECK(staging::overlay_path_problem("/var/cache/romimg/roots/x/root").empty());
    CHECK_FALSE(staging::overlay_path_problem("relative/root").empty());
    CHECK_THAT(staging::overlay_path_problem("/a,b"), Catch::Contains("','"));
    CHECK_THAT(staging::overlay_path_problem("/a:b"), Catch::Contains("':'"));
    CHECK_FALSE(staging::overlay_path_problem("/a b").empty());
}

TEST_CASE("root view: --root must be a Debian root of the target's arch", "[staging]") {
    const auto& i = target::target_named("i386");
    CHECK_THROWS_WITH(staging::check_root("/nonexistent-root", i, "--root"), Catch::Contains("not a directory"));
    CHECK_THROWS_WITH(staging::check_root("/usr", i, "--root"), Catch::Contains("not a Debian root"));
    // The build host itself is an amd64 Debian system.
    CHECK_THROWS_WITH(staging::check_root("/", i, "--root"), Catch::Contains("is an amd64 system, but the image is for i386"));
    CHECK_NOTHROW(staging::check_root("/", target::target_named("amd64"), "--root"));
    CHECK(staging::dpkg_arch_of("/") == "amd64");
}

TEST_CASE("templates: [site] paths are absolute and never programs or libraries", "[staging]") {
    auto parse = [](const std::string& site) {
        return recipe::parse_template("description = \"x\"\n[service]\ncommand = [\"/bin/true\"]\n[site]\npaths = " + site + "\n",
                                      "/t/x.toml");
    };
    CHECK(parse("[\"/etc/x\", \"/var/www\"]").site == std::vector<std::string>{"/etc/x", "/var/www"});
    CHECK_THROWS_WITH(parse("[\"/usr/lib/x\"]"), Catch::Contains("is in /usr"));
    CHECK_THROWS_WITH(parse("[\"etc/x\"]"), Catch::Contains("site.paths"));
    CHECK_THROWS_WITH(parse("[\"/\"]"), Catch::Contains("whole tree"));
    CHECK_THROWS_WITH(parse("[\"/proc/x\"]"), Catch::Contains("/proc"));
}
