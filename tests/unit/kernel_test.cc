// Pure parts of the kernel stage: cache key, input selection, fragment/.config parsing and
// verification, cache dir resolution, argv builders.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "kernel/kernel.h"

using namespace romimg::kernel;

static KernelInputs sample_inputs() {
    KernelInputs in;
    in.recipe = recipe("x86_64");
    in.source_version = "linux-source-6.12 6.12.117-1~deb12u1";
    in.compiler = "gcc (Debian 12.2.0-14+deb12u1) 12.2.0";
    in.files["common.config"] = "CONFIG_SMP=y\n";
    in.files["x86_64.config"] = "CONFIG_64BIT=y\n";
    in.files["romlock/lsm.c"] = "int x;\n";
    in.files["patches/0001-a.patch"] = "--- a\n+++ b\n";
    return in;
}

TEST_CASE("cache key is stable and covers every input") {
    const KernelInputs base = sample_inputs();
    const std::string key = cache_key(base);
    CHECK(key.size() == 64);
    CHECK(cache_key(sample_inputs()) == key);

    auto changed = [&](auto mutate) {
        KernelInputs in = sample_inputs();
        mutate(in);
        return cache_key(in);
    };
    CHECK(changed([](KernelInputs& in) { in.source_version += "+1"; }) != key);
    CHECK(changed([](KernelInputs& in) { in.compiler = "gcc 13"; }) != key);
    CHECK(changed([](KernelInputs& in) { in.recipe += " v2"; }) != key);
    CHECK(changed([](KernelInputs& in) { in.files["common.config"] += "CONFIG_X=y\n"; }) != key);
    CHECK(changed([](KernelInputs& in) { in.files["x86_64.config"] += "CONFIG_X=y\n"; }) != key);
    // The arch is in the recipe text, so an i386 kernel never shares an x86_64 key.
    CHECK(changed([](KernelInputs& in) { in.recipe = recipe("i386"); }) != key);
    CHECK(changed([](KernelInputs& in) { in.files["romlock/lsm.c"] = "int y;\n"; }) != key);
    CHECK(changed([](KernelInputs& in) { in.files["patches/0002-b.patch"] = ""; }) != key);
    // Renaming a file (same bytes) is a change too: patch order depends on names.
    CHECK(changed([](KernelInputs& in) {
              in.files["patches/0009-a.patch"] = in.files["patches/0001-a.patch"];
              in.files.erase("patches/0001-a.patch");
          }) != key);
}

TEST_CASE("cache key fields cannot run into each other") {
    KernelInputs a = sample_inputs(), b = sample_inputs();
    a.files.clear();
    b.files.clear();
    a.files["ab"] = "c";
    b.files["a"] = "bc";
    CHECK(cache_key(a) != cache_key(b));
}

TEST_CASE("only the arch's fragments, romlock sources and patches are build inputs") {
    CHECK(is_build_input("common.config", "x86_64"));
    CHECK(is_build_input("x86_64.config", "x86_64"));
    // Another arch's fragment is not used, so it must not change this arch's key.
    CHECK_FALSE(is_build_input("i386.config", "x86_64"));
    CHECK(is_build_input("i386.config", "i386"));
    CHECK_FALSE(is_build_input("x86_64.config", "i386"));
    CHECK_FALSE(is_build_input("appliance.config", "x86_64"));
    CHECK(is_build_input("romlock/mount.c", "x86_64"));
    CHECK(is_build_input("romlock/Kconfig", "x86_64"));
    CHECK(is_build_input("patches/0001-x.patch", "x86_64"));
    CHECK_FALSE(is_build_input("README.md", "x86_64"));
    CHECK_FALSE(is_build_input("hardening.tsv", "x86_64"));
    CHECK_FALSE(is_build_input("patches/notes.txt", "x86_64"));
    CHECK_FALSE(is_build_input("romlock/sub/x.c", "x86_64"));
    CHECK_FALSE(is_build_input("other/a.config", "x86_64"));
}

TEST_CASE("fragments merge common first, then the arch's") {
    CHECK(fragment_names("x86_64") == std::vector<std::string>{"common.config", "x86_64.config"});
    CHECK(fragment_names("i386") == std::vector<std::string>{"common.config", "i386.config"});
}

TEST_CASE("the arch names its source directory; an unknown arch is a usage error") {
    CHECK(arch_source_dir("x86_64") == "x86");
    CHECK(arch_source_dir("i386") == "x86");
    CHECK_THROWS_AS(arch_source_dir("amd64"), romimg::UsageError);
    CHECK_THROWS_AS(arch_source_dir(""), romimg::UsageError);
}

TEST_CASE("fragments parse y/string values and 'is not set'") {
    auto opts = parse_fragment("# comment\n\nCONFIG_A=y\nCONFIG_S=\"x y\"\n# CONFIG_B is not set\n",
                               "f.config");
    REQUIRE(opts.size() == 3);
    CHECK(opts[0].name == "CONFIG_A");
    CHECK(opts[0].value == "y");
    CHECK(opts[0].where == "f.config:3");
    CHECK(opts[1].value == "\"x y\"");
    CHECK(opts[2].name == "CONFIG_B");
    CHECK(opts[2].value == "n");
}

TEST_CASE("bad fragment lines are configuration errors with file:line") {
    CHECK_THROWS_AS(parse_fragment("CONFIG_A=n\n", "f"), romimg::ConfigError);
    CHECK_THROWS_AS(parse_fragment("FOO=y\n", "f"), romimg::ConfigError);
    CHECK_THROWS_AS(parse_fragment("CONFIG_A\n", "f"), romimg::ConfigError);
    CHECK_THROWS_AS(parse_fragment("CONFIG_A=y\nCONFIG_A=y\n", "f"), romimg::ConfigError);
    try {
        parse_fragment("CONFIG_A=y\nCONFIG_B=n\n", "frag.config");
        FAIL("no exception");
    } catch (const romimg::ConfigError& e) {
        CHECK(std::string(e.what()).find("frag.config:2") != std::string::npos);
    }
}

TEST_CASE("config verification names every option that did not end up as asked") {
    auto wanted = parse_fragment(
        "CONFIG_A=y\n# CONFIG_B is not set\n# CONFIG_GONE is not set\nCONFIG_C=y\nCONFIG_D=y\n"
        "CONFIG_S=\"x\"\n",
        "f.config");
    auto dot = parse_dotconfig("CONFIG_A=y\n# CONFIG_B is not set\n# CONFIG_C is not set\n"
                               "CONFIG_S=\"y\"\n");
    auto bad = config_mismatches(wanted, dot);
    REQUIRE(bad.size() == 3);
    CHECK(bad[0].find("CONFIG_C=y") != std::string::npos);
    CHECK(bad[0].find("not set") != std::string::npos);
    CHECK(bad[0].find("f.config:4") != std::string::npos);
    CHECK(bad[1].find("CONFIG_D=y") != std::string::npos);
    CHECK(bad[1].find("does not have it") != std::string::npos);
    CHECK(bad[2].find("CONFIG_S") != std::string::npos);

    CHECK(config_mismatches(parse_fragment("CONFIG_A=y\n", "f"), dot).empty());
}

TEST_CASE("cache dir: --cache-dir, then ROMIMG_CACHE, then ~/.cache/romimg") {
    CHECK(resolve_cache_dir(std::string("/c"), "/e", "/h") == "/c");
    CHECK(resolve_cache_dir(std::nullopt, "/e", "/h") == "/e");
    CHECK(resolve_cache_dir(std::nullopt, "", "/h") == "/h/.cache/romimg");
    CHECK(resolve_cache_dir(std::nullopt, nullptr, "/h") == "/h/.cache/romimg");
    CHECK_THROWS_AS(resolve_cache_dir(std::nullopt, nullptr, nullptr), romimg::Error);
}

TEST_CASE("argv builders") {
    auto u = unpack_command("/usr/src/l.tar.xz", "/t", "/t/log");
    CHECK(u.argv == std::vector<std::string>{"tar", "-xJf", "/usr/src/l.tar.xz", "-C", "/t"});
    CHECK(u.log == "/t/log");

    auto p = patch_command("/t/linux", "/k/patches/0001.patch", "/t/log");
    CHECK(p.cwd == "/t/linux");
    CHECK(p.argv.front() == "patch");
    CHECK(p.argv.back() == "/k/patches/0001.patch");
    CHECK(std::find(p.argv.begin(), p.argv.end(), "-p1") != p.argv.end());

    auto m = merge_config_command("/t/linux", "x86_64", {"/k/a.config", "/k/b.config"}, "/t/log");
    CHECK(m.argv == std::vector<std::string>{"/t/linux/scripts/kconfig/merge_config.sh", "-n",
                                             "/k/a.config", "/k/b.config"});
    CHECK(m.env == std::vector<std::pair<std::string, std::string>>{{"ARCH", "x86_64"}});
    CHECK(m.cwd == "/t/linux");

    auto k = make_bzimage_command("/t/linux", "x86_64", 3, "/t/log");
    CHECK(k.argv == std::vector<std::string>{"make", "ARCH=x86_64", "-j3", "bzImage"});
    CHECK(make_bzimage_command("/t/linux", "i386", 1, "/t/log").argv[1] == "ARCH=i386");
    CHECK(merge_config_command("/t/linux", "i386", {}, "/t/log").env ==
          std::vector<std::pair<std::string, std::string>>{{"ARCH", "i386"}});
    CHECK(k.cwd == "/t/linux");
    bool has_user = false;
    for (const auto& [name, value] : k.env) has_user |= name == "KBUILD_BUILD_USER";
    CHECK(has_user);
}

TEST_CASE("a missing source tarball is an error that says how to fix it") {
    KernelOptions opt;
    opt.source_tarball = "/nonexistent/linux-source-6.12.tar.xz";
    opt.config_dir = ROMIMG_SOURCE_DIR "/kernel-config";
    try {
        read_inputs(opt);
        FAIL("no exception");
    } catch (const romimg::Error& e) {
        std::string msg = e.what();
        CHECK(msg.find("/nonexistent/linux-source-6.12.tar.xz") != std::string::npos);
        CHECK(msg.find("make deps") != std::string::npos);
    }
}

TEST_CASE("a config dir without the arch's fragment is an error naming the file") {
    romimg::fs::TempDir dir(std::filesystem::temp_directory_path(), "kernel-test-");
    romimg::fs::write_file_atomic(dir.path() / "common.config", "CONFIG_SMP=y\n");
    KernelOptions opt;
    opt.source_tarball = ROMIMG_SOURCE_DIR "/kernel-config/README.md";  // exists; never unpacked
    opt.config_dir = dir.path();
    opt.arch = "i386";
    try {
        read_inputs(opt);
        FAIL("no exception");
    } catch (const romimg::Error& e) {
        std::string msg = e.what();
        CHECK(msg.find("i386.config not found") != std::string::npos);
        CHECK(msg.find("common.config + i386.config") != std::string::npos);
    }
}

TEST_CASE("a --jobs value below 1 is a usage error before anything is read") {
    KernelOptions opt;
    opt.jobs = 0;
    opt.cache_dir = "/nonexistent-cache";
    CHECK_THROWS_AS(build_kernel(opt), romimg::UsageError);
}
