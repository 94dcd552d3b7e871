// The cpio writer's planning (pure) and the bytes it writes.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "common/error.h"
#include "initramfs/cpio.h"

using namespace romimg::initramfs;
using Type = Entry::Type;

static std::vector<std::string> paths(const std::vector<Entry>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.path);
    return out;
}

TEST_CASE("normalize_path strips slashes and dots and refuses ..") {
    CHECK(normalize_path("/a//b/./c/") == "a/b/c");
    CHECK(normalize_path("init") == "init");
    CHECK_THROWS_AS(normalize_path("/"), romimg::Error);
    CHECK_THROWS_AS(normalize_path(""), romimg::Error);
    CHECK_THROWS_AS(normalize_path("a/../b"), romimg::Error);
}

TEST_CASE("plan sorts, adds parents first and keeps explicit directory modes") {
    auto plan = plan_archive({
        file_from_bytes("/usr/bin/x", "x", 0755),
        char_device("/dev/console", 5, 1),
        directory("/usr", 0700),
        symlink_to("/bin", "usr/bin"),
        file_from_bytes("/init", "#!/bin/sh\n", 0755),
    });
    CHECK(paths(plan) ==
          std::vector<std::string>{"bin", "dev", "dev/console", "init", "usr", "usr/bin",
                                   "usr/bin/x"});
    CHECK(plan[1].type == Type::Dir);
    CHECK(plan[1].mode == 0755);  // implied
    CHECK(plan[4].mode == 0700);  // explicit, even though given after its child
    CHECK(plan[2].major == 5);
    CHECK(plan[0].target == "usr/bin");
    for (const auto& e : plan) {
        CHECK(e.uid == 0);
        CHECK(e.gid == 0);
    }
}

TEST_CASE("plan rejects conflicts and merges identical duplicates") {
    CHECK_THROWS_AS(plan_archive({file_from_bytes("a", "1"), file_from_bytes("a", "2")}),
                    romimg::Error);
    CHECK_THROWS_AS(plan_archive({file_from_bytes("a", "1"), file_from_bytes("a/b", "2")}),
                    romimg::Error);
    CHECK_THROWS_AS(plan_archive({symlink_to("a", "")}), romimg::Error);
    CHECK_THROWS_AS(plan_archive({file_from_bytes("a", "", 0100644)}), romimg::Error);
    CHECK(plan_archive({file_from_bytes("/a", "1"), file_from_bytes("a", "1")}).size() == 1);
}

TEST_CASE("uid/gid are kept when given") {
    Entry e = file_from_bytes("etc/x", "y");
    e.uid = 33;
    e.gid = 34;
    auto plan = plan_archive({e});
    CHECK(plan.back().uid == 33);
    CHECK(plan.back().gid == 34);
}

TEST_CASE("archive mtime comes from SOURCE_DATE_EPOCH or is 0") {
    CHECK(archive_mtime(nullptr) == 0);
    CHECK(archive_mtime("") == 0);
    CHECK(archive_mtime("1700000000") == 1700000000);
    CHECK(archive_mtime("junk") == 0);
    CHECK(archive_mtime("-5") == 0);
}

static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST_CASE("written archive is newc, byte-identical for identical input, and carries the data") {
    auto dir = std::filesystem::temp_directory_path() /
               ("romimg-cpio-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream(dir / "host.txt") << "from the host\n";
    }
    auto plan = plan_archive({file_from_host("/etc/host.txt", dir / "host.txt"),
                              file_from_bytes("/etc/mem.txt", "in memory\n"),
                              symlink_to("/etc/link", "mem.txt"), char_device("/dev/null", 1, 3)});
    write_archive(plan, dir / "a.cpio", 0);
    write_archive(plan, dir / "b.cpio", 0);
    write_archive(plan, dir / "c.cpio", 1700000000);
    std::string a = slurp(dir / "a.cpio");
    CHECK(a == slurp(dir / "b.cpio"));
    CHECK(a != slurp(dir / "c.cpio"));
    CHECK(a.rfind("070701", 0) == 0);  // newc magic
    CHECK(a.find("from the host\n") != std::string::npos);
    CHECK(a.find("in memory\n") != std::string::npos);
    CHECK(a.find("TRAILER!!!") != std::string::npos);
    // No temporary file left behind.
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
    CHECK(files == 4);
    std::filesystem::remove_all(dir);
}
