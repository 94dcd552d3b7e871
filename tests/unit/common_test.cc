#include <catch2/catch.hpp>

#include "common/fs.h"
#include "common/strings.h"

using namespace romimg;

TEST_CASE("split keeps or skips empty fields") {
    CHECK(split("a::b", ':') == std::vector<std::string>{"a", "", "b"});
    CHECK(split("a::b", ':', true) == std::vector<std::string>{"a", "b"});
    CHECK(split("", ':') == std::vector<std::string>{""});
    CHECK(split("", ':', true).empty());
    CHECK(split("x,", ',') == std::vector<std::string>{"x", ""});
}

TEST_CASE("path_within compares whole components") {
    CHECK(fs::path_within("/a/b", "/a/b"));
    CHECK(fs::path_within("/a/b/c", "/a/b"));
    CHECK_FALSE(fs::path_within("/a/bc", "/a/b"));
    CHECK_FALSE(fs::path_within("/a", "/a/b"));
    CHECK(fs::path_within("/x", "/"));
    CHECK(fs::path_within("/", "/"));
}
