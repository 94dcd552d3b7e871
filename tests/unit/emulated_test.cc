// The qemu-user way to make a staging root (builder/staging/emulated): the choice, the
// binfmt_misc registration, and the private namespace it runs in.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "staging/emulated.h"
#include "staging/staging.h"
#include "target/target.h"

using namespace romimg;

TEST_CASE("emulated root: --staging-route values", "[staging]") {
    CHECK(!staging::parse_root_maker("auto", "--staging-route"));
    CHECK(!staging::parse_root_maker("", "--staging-route"));
    CHECK(*staging::parse_root_maker("native", "--staging-route") == staging::RootMaker::native);
    CHECK(*staging::parse_root_maker("qemu-user", "--staging-route") == staging::RootMaker::qemu_user);
    CHECK_THROWS_WITH(staging::parse_root_maker("qemu", "--staging-route"),
                      Catch::Contains("--staging-route qemu") && Catch::Contains("qemu-user"));
    CHECK(std::string(staging::to_string(staging::RootMaker::qemu_user)) == "qemu-user");
}

TEST_CASE("emulated root: the binfmt_misc entry is qemu's own for i386", "[staging]") {
    const auto& i = target::target_named("i386");
    CHECK(staging::qemu_user_program(i) == "qemu-i386-static");
    // As qemu's scripts/qemu-binfmt-conf.sh registers i386 (executables and shared objects).
    CHECK(staging::binfmt_register_line(i, "/usr/bin/qemu-i386-static") ==
          ":qemu-i386:M::"
          "\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00:"
          "\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:"
          "/usr/bin/qemu-i386-static:OPF");
    // An amd64 one would claim 64-bit programs (class 2, machine 62), never i386 ones.
    const std::string a = staging::binfmt_register_line(target::target_named("amd64"), "/x");
    CHECK(a.find("\\x46\\x02\\x01\\x01") != std::string::npos);
    CHECK(a.find("\\x02\\x00\\x3e\\x00:") != std::string::npos);
}

TEST_CASE("emulated root: a root made under qemu-user is cached apart; the native key is unchanged", "[staging]") {
    const auto& i = target::target_named("i386");
    CHECK(staging::staging_key(i, {"apache2"}) == staging::staging_key(i, {"apache2"}, staging::RootMaker::native));
    CHECK(staging::staging_key(i, {"apache2"}) != staging::staging_key(i, {"apache2"}, staging::RootMaker::qemu_user));
    // The key roots were cached under before qemu-user existed (so no cache is rebuilt).
    CHECK(staging::staging_key(i, {"apache2"}) ==
          fs::sha256_hex("romimg staging root v1\nsuite bookworm\narch i386\nvariant apt\npackages apache2\n"));
}

TEST_CASE("emulated root: the choice follows what this host can do", "[staging]") {
    const auto& i = target::target_named("i386");
    std::string why, failed;
    const bool runs = staging::host_runs(i, failed);
    if (runs) {
        CHECK(staging::choose_root_maker(i, std::nullopt, why) == staging::RootMaker::native);
        CHECK(staging::choose_root_maker(i, staging::RootMaker::native, why) == staging::RootMaker::native);
    } else {
        CHECK_THROWS_WITH(staging::choose_root_maker(i, staging::RootMaker::native, why),
                          Catch::Contains("cannot run i386 programs") && Catch::Contains("qemu-user"));
    }
    if (!find_program("qemu-i386-static").empty()) {
        why.clear();
        CHECK(staging::choose_root_maker(i, staging::RootMaker::qemu_user, why) == staging::RootMaker::qemu_user);
        CHECK_THAT(why, Catch::Contains("--staging-route qemu-user"));
    }
}

// Root only: a namespace of its own, whose binfmt_misc hands i386 programs to qemu, while the
// host's binfmt_misc is left as it was.
TEST_CASE("emulated root: the private binfmt_misc exists only inside", "[staging][privileged]") {
    if (geteuid() != 0 || find_program("qemu-i386-static").empty()) return;
    const auto& i = target::target_named("i386");
    const std::filesystem::path host_entry = "/proc/sys/fs/binfmt_misc/qemu-i386";
    const bool host_had = std::filesystem::exists(host_entry);
    fs::TempDir tmp(std::filesystem::temp_directory_path(), "romimg-emulated-test-");
    const std::filesystem::path out = tmp.path() / "out";
    const Command cmd{{"sh", "-c", "cat /proc/sys/fs/binfmt_misc/qemu-i386; id -u; cat /proc/self/uid_map"}, {}, {}, out};
    const int st = staging::run_with_private_binfmt(cmd, staging::binfmt_register_line(i, find_program("qemu-i386-static")));
    const std::string text = fs::read_file(out);
    CHECK(st == 0);
    CHECK_THAT(text, Catch::Contains("enabled") && Catch::Contains("interpreter " + find_program("qemu-i386-static")));
    CHECK_THAT(text, Catch::Contains("flags: POF"));
    CHECK_THAT(text, Catch::Contains("4294967295"));  // every id mapped to itself
    CHECK(std::filesystem::exists(host_entry) == host_had);
    // The command's own status comes back.
    CHECK(staging::run_with_private_binfmt(Command{{"sh", "-c", "exit 3"}, {}, {}, out},
                                           staging::binfmt_register_line(i, find_program("qemu-i386-static"))) == 3);
    // A registration the kernel refuses is an error naming the step.
    CHECK_THROWS_WITH(staging::run_with_private_binfmt(Command{{"true"}, {}, {}, out}, ":bad"),
                      Catch::Contains("registering the emulator"));
}
