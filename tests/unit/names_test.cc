// Checking and escaping names from outside (common/names), and creating files beneath a
// directory whatever the name says (fs::create_beneath).
#include <catch2/catch.hpp>

#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/names.h"

using namespace romimg;

TEST_CASE("relative_path_problem accepts plain names only") {
    CHECK(names::relative_path_problem("live/root.sqfs").empty());
    CHECK(names::relative_path_problem("romimg/jails/apache.json").empty());
    CHECK(names::relative_path_problem("/etc/passwd") == "it is absolute");
    CHECK(names::relative_path_problem("") == "it is empty");
    CHECK(names::relative_path_problem("romimg/../x") == "it has a '..' component");
    CHECK(names::relative_path_problem("..") == "it has a '..' component");
    CHECK(names::relative_path_problem("./x") == "it has a '.' component");
    CHECK(names::relative_path_problem("a//b") == "it has an empty component");
    CHECK(names::relative_path_problem("a/") == "it has an empty component");
    CHECK(names::relative_path_problem("a\nb") == "it contains a control character");
    CHECK(names::relative_path_problem("a\x7f") == "it contains a control character");
}

TEST_CASE("absolute_path_problem wants absolute normalized paths without whitespace") {
    CHECK(names::absolute_path_problem("/run/apache2").empty());
    CHECK(names::absolute_path_problem("/").empty());
    CHECK(names::absolute_path_problem("run") == "it is not absolute");
    CHECK(names::absolute_path_problem("/run/../etc").find("'..'") != std::string::npos);
    CHECK(names::absolute_path_problem("/run/./x").find("'.'") != std::string::npos);
    CHECK(names::absolute_path_problem("/run//x").find("empty") != std::string::npos);
    CHECK(names::absolute_path_problem("/run/") == "it ends with '/'");
    CHECK(names::absolute_path_problem("/run x") == "it contains whitespace");
    CHECK(names::absolute_path_problem("/run\tx") == "it contains a control character");
    CHECK(names::absolute_path_problem("/run\nmount tmpfs /etc") == "it contains a control character");
}

TEST_CASE("printable escapes control characters and backslashes") {
    CHECK(names::printable("plain /path") == "plain /path");
    CHECK(names::printable("a\nb") == "a\\x0ab");
    CHECK(names::printable("\x1b[2J") == "\\x1b[2J");
    CHECK(names::printable("a\\x0a") == "a\\\\x0a");
    CHECK(names::printable_text("line 1\nline\x1b 2\t") == "line 1\nline\\x1b 2\t");
}

TEST_CASE("create_beneath creates parents and refuses names that would leave the directory") {
    fs::TempDir dir("/tmp", "romimg-unit-");
    {
        Fd fd = fs::create_beneath(dir.path(), "a/b/c.txt");
        CHECK(write(fd.get(), "x", 1) == 1);
    }
    CHECK(fs::read_file(dir.path() / "a/b/c.txt") == "x");
    CHECK_THROWS_WITH(fs::create_beneath(dir.path(), "a/b/c.txt"), Catch::Contains("File exists"));
    CHECK_THROWS_WITH(fs::create_beneath(dir.path(), "../escape"), Catch::Contains("'..' component"));
    CHECK_THROWS_WITH(fs::create_beneath(dir.path(), "/tmp/escape"), Catch::Contains("absolute"));
    // A symlink planted on the way is not followed, even to a directory inside.
    std::filesystem::create_directories(dir.path() / "outside");
    std::filesystem::create_directory_symlink(dir.path() / "outside", dir.path() / "link");
    CHECK_THROWS_WITH(fs::create_beneath(dir.path(), "link/x"), Catch::Contains("openat2"));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "outside/x"));
    std::filesystem::create_symlink("/tmp/romimg-unit-never", dir.path() / "file-link");
    CHECK_THROWS(fs::create_beneath(dir.path(), "file-link"));
    CHECK_FALSE(std::filesystem::exists("/tmp/romimg-unit-never"));
}

TEST_CASE("temp_parent refuses a TMPDIR that does not exist instead of creating it") {
    const char* old = getenv("TMPDIR");
    std::string saved = old ? old : "";
    setenv("TMPDIR", "/tmp/romimg-unit-no-such-tmpdir", 1);
    CHECK_THROWS_WITH(fs::temp_parent(), Catch::Contains("TMPDIR=/tmp/romimg-unit-no-such-tmpdir is not an existing directory"));
    CHECK_FALSE(std::filesystem::exists("/tmp/romimg-unit-no-such-tmpdir"));
    unsetenv("TMPDIR");
    CHECK(fs::temp_parent() == "/tmp");
    if (old) setenv("TMPDIR", saved.c_str(), 1);
}
