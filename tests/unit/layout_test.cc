// Where romimg finds its data and programs (install/layout): the build tree's marker file, an
// install's share/romimg with a matching VERSION, the overrides, and each refusal.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "install/layout.h"

using namespace romimg;
namespace sfs = std::filesystem;

namespace {

struct Tree {
    fs::TempDir tmp{fs::temp_parent(), "romimg-layout-"};
    sfs::path root() const { return tmp.path(); }
    void write(const std::string& rel, const std::string& text) const {
        sfs::create_directories((root() / rel).parent_path());
        fs::write_file_atomic(root() / rel, text);
    }
    std::string stamp() const { return std::string("romimg ") + install::version() + " " + install::commit() + "\n"; }
};

}  // namespace

TEST_CASE("a build tree is found from its marker beside the binary or a few levels up") {
    Tree t;
    sfs::create_directories(t.root() / "src");
    t.write("build/romimg-build-tree", "source=" + (t.root() / "src").string() + "\nprograms=" +
                                           (t.root() / "build/initramfs").string() + "\n");
    for (const char* exe : {"build/romimg", "build/tests/unit_tests", "build/tests/hostile/fuzz/fuzz_recipe"}) {
        install::Layout l = install::resolve(t.root() / exe, "", "");
        CHECK(l.data == t.root() / "src");
        CHECK(l.programs == t.root() / "build/initramfs");
        CHECK(l.how == "build tree " + (t.root() / "build").string());
    }
}

TEST_CASE("a build tree whose source dir is gone is named") {
    Tree t;
    t.write("build/romimg-build-tree", "source=" + (t.root() / "gone").string() + "\nprograms=/x\n");
    CHECK_THROWS_WITH(install::resolve(t.root() / "build/romimg", "", ""),
                      Catch::Contains("names the source dir " + (t.root() / "gone").string() + ", which is gone"));
}

TEST_CASE("an install uses PREFIX/share/romimg and PREFIX/lib/romimg when VERSION matches") {
    Tree t;
    t.write("usr/share/romimg/VERSION", t.stamp());
    install::Layout l = install::resolve(t.root() / "usr/bin/romimg", "", "");
    CHECK(l.data == t.root() / "usr/share/romimg");
    CHECK(l.programs == t.root() / "usr/lib/romimg");
    CHECK(l.how == "installed in " + (t.root() / "usr").string());
}

TEST_CASE("an install with its data missing or from another version is refused, naming both") {
    Tree t;
    CHECK_THROWS_WITH(install::resolve(t.root() / "usr/bin/romimg", "", ""),
                      Catch::Contains("romimg's data directory " + (t.root() / "usr/share/romimg").string() +
                                      " is missing (this is romimg " + install::version()));
    t.write("usr/share/romimg/jail-templates/apache.toml", "");
    CHECK_THROWS_WITH(install::resolve(t.root() / "usr/bin/romimg", "", ""), Catch::Contains("has no VERSION file"));
    t.write("usr/share/romimg/VERSION", "romimg 0.0.1 0123456789ab\n");
    CHECK_THROWS_WITH(install::resolve(t.root() / "usr/bin/romimg", "", ""),
                      Catch::Contains("holds the data of romimg 0.0.1 0123456789ab, but this is romimg " +
                                      std::string(install::version())) &&
                          Catch::Contains("reinstall romimg"));
}

TEST_CASE("ROMIMG_DATA_DIR and ROMIMG_LIB_DIR override the data and programs") {
    Tree t;
    sfs::create_directories(t.root() / "data");
    install::Layout l = install::resolve(t.root() / "anywhere/romimg", (t.root() / "data").string(), "/opt/progs");
    CHECK(l.data == t.root() / "data");
    CHECK(l.programs == "/opt/progs");
    CHECK_THROWS_WITH(install::resolve(t.root() / "anywhere/romimg", (t.root() / "nodata").string(), ""),
                      Catch::Contains("ROMIMG_DATA_DIR=" + (t.root() / "nodata").string() + " is not a directory"));
}

TEST_CASE("the version line names the version, the commit and the release day") {
    const std::string v = install::version_line();
    CHECK(v.rfind(std::string("romimg ") + install::version() + " (commit " + install::commit() + ", ", 0) == 0);
    CHECK(install::release_time() > 1600000000);  // a real commit time, not 0
}
