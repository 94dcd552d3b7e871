// Where romimg may write and delete (common/places): dangerous locations, claiming a work dir
// with a marker, output files checked before any work.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "common/places.h"

using namespace romimg;

TEST_CASE("dangerous_dir names system directories, kernel filesystems and protected trees") {
    const std::vector<std::filesystem::path> keep = {"/home/alice", "/src/romimg"};
    CHECK(places::dangerous_dir("/", keep) == "is a system directory");
    CHECK(places::dangerous_dir("/etc", keep) == "is a system directory");
    CHECK(places::dangerous_dir("/usr/", keep) == "is a system directory");
    CHECK(places::dangerous_dir("/lib64", keep) == "is a system directory");
    CHECK(places::dangerous_dir("/run/../etc", keep) == "is a system directory");
    CHECK(places::dangerous_dir("/proc/self", keep) == "is inside /proc");
    CHECK(places::dangerous_dir("/home/alice", keep) == "is /home/alice itself");
    CHECK(places::dangerous_dir("/src", keep) == "holds /src/romimg");
    CHECK(places::dangerous_dir("/src/romimg", keep) == "is /src/romimg itself");
    CHECK(places::dangerous_dir("/src/romimg/work", keep).empty());
    CHECK(places::dangerous_dir("/home/alice/build/work", keep).empty());
    CHECK(places::dangerous_dir("/var/tmp/romimg-work", keep).empty());
}

TEST_CASE("claim_dir marks a new or empty directory and refuses someone else's") {
    fs::TempDir tmp("/tmp", "romimg-unit-");
    const auto work = tmp.path() / "work";
    places::claim_dir(work, ".mark", "--work", {});
    CHECK(std::filesystem::exists(work / ".mark"));
    std::filesystem::create_directories(work / "rootfs");
    CHECK_NOTHROW(places::claim_dir(work, ".mark", "--work", {}));  // ours: reused
    std::filesystem::create_directories(tmp.path() / "empty");
    CHECK_NOTHROW(places::claim_dir(tmp.path() / "empty", ".mark", "--work", {}));
    const auto theirs = tmp.path() / "theirs";
    std::filesystem::create_directories(theirs / "iso");
    fs::write_file_atomic(theirs / "iso/precious", "x");
    CHECK_THROWS_WITH(places::claim_dir(theirs, ".mark", "--work", {}),
                      Catch::Contains("is an existing directory romimg did not make (no .mark in it)"));
    CHECK_FALSE(std::filesystem::exists(theirs / ".mark"));
    CHECK_THROWS_WITH(places::claim_dir("/", ".mark", "--work", {}), Catch::Contains("--work /: refusing, it is a system directory"));
    CHECK_THROWS_WITH(places::claim_dir(tmp.path(), ".mark", "--work", {tmp.path() / "work"}), Catch::Contains("holds"));
}

TEST_CASE("check_output_file refuses directories, kernel filesystems and unwritable places up front") {
    fs::TempDir tmp("/tmp", "romimg-unit-");
    CHECK_NOTHROW(places::check_output_file(tmp.path() / "new/dir/out.iso", "-o"));
    CHECK_THROWS_WITH(places::check_output_file(tmp.path(), "-o"), Catch::Contains("is a directory: give a file name"));
    CHECK_THROWS_WITH(places::check_output_file("/proc/romimg.iso", "-o"), Catch::Contains("is inside /proc"));
    CHECK_THROWS_WITH(places::check_output_file("/dev/null", "-o"), Catch::Contains("is inside /dev"));
    fs::write_file_atomic(tmp.path() / "file", "x");
    CHECK_THROWS_WITH(places::check_output_file(tmp.path() / "file/out.iso", "-o"), Catch::Contains("is not a directory"));
}
