// SOURCE_DATE_EPOCH: explicit value, then the environment, then the newest input.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "pipeline.h"

using namespace romimg;

namespace {
void set_mtime(const std::filesystem::path& p, time_t t) {
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    REQUIRE(utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}
}  // namespace

TEST_CASE("newest_input_time: the newest file or symlink, not directories nor missing paths") {
    fs::TempDir tmp(std::filesystem::temp_directory_path(), "romimg-epoch-test-");
    auto a = tmp.path() / "a", b = tmp.path() / "b", link = tmp.path() / "link", dir = tmp.path() / "d";
    fs::write_file_atomic(a, "a");
    fs::write_file_atomic(b, "b");
    std::filesystem::create_symlink("a", link);
    std::filesystem::create_directory(dir);
    set_mtime(a, 1000);
    set_mtime(b, 2000);
    set_mtime(link, 1500);
    set_mtime(dir, 9000);
    CHECK(pipeline::newest_input_time({a, link}) == 1500);
    std::filesystem::path which;
    CHECK(pipeline::newest_input_time({a, b, link, dir, tmp.path() / "missing"}, &which) == 2000);
    CHECK(which == b);
    CHECK(pipeline::newest_input_time({}) == 0);
}

TEST_CASE("choose_source_date_epoch: flag over environment over the newest input") {
    CHECK(pipeline::choose_source_date_epoch(5, "7", 9) == 5);
    CHECK(pipeline::choose_source_date_epoch(std::nullopt, "7", 9) == 7);
    CHECK(pipeline::choose_source_date_epoch(std::nullopt, "0", 9) == 0);
    CHECK(pipeline::choose_source_date_epoch(std::nullopt, nullptr, 9) == 9);
    CHECK(pipeline::choose_source_date_epoch(std::nullopt, "", 9) == 9);
    CHECK_THROWS_AS(pipeline::choose_source_date_epoch(std::nullopt, "yesterday", 9), UsageError);
    CHECK_THROWS_AS(pipeline::choose_source_date_epoch(std::nullopt, "-1", 9), UsageError);
    CHECK_THROWS_AS(pipeline::choose_source_date_epoch(-1, nullptr, 9), UsageError);
}
