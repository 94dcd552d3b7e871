// The hardening table (kernel-config/hardening.tsv): parsing, the checks made against it, and
// the repository's own table against the fragments and kernel_cmdline() (pure, no kernel).
#include <algorithm>
#include <catch2/catch.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "iso/iso.h"
#include "kernel/hardening.h"
#include "pipeline.h"

using namespace romimg::kernel;

static const char* const kSample =
    "# comment\n"
    "\n"
    "kconfig\tall\tCONFIG_A\ty\tbecause A\n"
    "kconfig\tall\tCONFIG_OFF\tn\tbecause off\n"
    "kconfig\tx86_64\tCONFIG_X\t32\tx86 only\n"
    "cmdline\tall\tslab_nomerge\t-\ta flag\n"
    "cmdline\tx86_64\tvsyscall\tnone\tx86 only\n"
    "leftout\tall\tCONFIG_L\ty\tclang only\n";

TEST_CASE("the hardening table parses rows and filters them by arch") {
    auto rows = parse_hardening_table(kSample, "t.tsv");
    REQUIRE(rows.size() == 6);
    CHECK(rows[0].name == "CONFIG_A");
    CHECK(rows[0].why == "because A");
    CHECK(rows[0].where == "t.tsv:3");
    CHECK(rows_for(rows, "kconfig", "x86_64").size() == 3);
    CHECK(rows_for(rows, "kconfig", "i386").size() == 2);
    CHECK(cmdline_token(rows[3]) == "slab_nomerge");
    CHECK(cmdline_token(rows[4]) == "vsyscall=none");
}

TEST_CASE("a malformed hardening table row is an error naming its line") {
    CHECK_THROWS_AS(parse_hardening_table("kconfig\tall\tCONFIG_A\ty\n", "t"), romimg::ConfigError);
    CHECK_THROWS_AS(parse_hardening_table("option\tall\tCONFIG_A\ty\twhy\n", "t"), romimg::ConfigError);
    CHECK_THROWS_AS(parse_hardening_table("kconfig\tall\tA\ty\twhy\n", "t"), romimg::ConfigError);
    CHECK_THROWS_AS(parse_hardening_table("kconfig\tall\tCONFIG_A\ty\t\n", "t"), romimg::ConfigError);
    try {
        parse_hardening_table("# x\nkconfig all CONFIG_A y why\n", "t.tsv");
        FAIL("no exception");
    } catch (const romimg::ConfigError& e) {
        CHECK(std::string(e.what()).find("t.tsv:2") != std::string::npos);
    }
}

TEST_CASE("a .config is checked against every kconfig row of its arch") {
    auto rows = parse_hardening_table(kSample, "t.tsv");
    std::map<std::string, std::string> good{{"CONFIG_A", "y"}, {"CONFIG_X", "32"}};
    CHECK(dotconfig_table_mismatches(rows, "x86_64", good).empty());  // CONFIG_OFF absent = n
    auto bad = good;
    bad["CONFIG_X"] = "28";
    bad["CONFIG_OFF"] = "y";
    auto m = dotconfig_table_mismatches(rows, "x86_64", bad);
    REQUIRE(m.size() == 2);
    CHECK(m[0].find("CONFIG_OFF should be n") != std::string::npos);
    CHECK(m[1].find("CONFIG_X should be 32 (x86 only), the .config has 28") != std::string::npos);
    CHECK(dotconfig_table_mismatches(rows, "i386", bad).size() == 1);  // CONFIG_X is x86_64's
    std::map<std::string, std::string> none;
    CHECK(dotconfig_table_mismatches(rows, "x86_64", none).size() == 2);  // A and X missing
}

TEST_CASE("the fragments must ask for every kconfig row, and not for a left-out one") {
    auto rows = parse_hardening_table(kSample, "t.tsv");
    std::vector<FragmentOption> frag{{"CONFIG_A", "y", "c:1"}, {"CONFIG_OFF", "n", "c:2"},
                                     {"CONFIG_X", "32", "x:1"}};
    CHECK(fragment_table_mismatches(rows, "x86_64", frag).empty());
    frag[2].value = "28";
    frag.push_back({"CONFIG_L", "y", "c:3"});
    auto m = fragment_table_mismatches(rows, "x86_64", frag);
    REQUIRE(m.size() == 2);
    CHECK(m[0].find("x:1 asks for 28") != std::string::npos);
    CHECK(m[1].find("CONFIG_L=y is listed as left out") != std::string::npos);
    frag.erase(frag.begin());
    CHECK(fragment_table_mismatches(rows, "x86_64", frag).size() == 3);
}

TEST_CASE("missing command-line parameters are whole words") {
    CHECK(missing_cmdline_params("a=1 slab_nomerge b", {"slab_nomerge", "a=1"}).empty());
    CHECK(missing_cmdline_params("a=10 slab_nomergex", {"a=1", "slab_nomerge"}) ==
          std::vector<std::string>{"a=1", "slab_nomerge"});
}

static std::vector<HardeningRow> repo_table() {
    const std::string file = ROMIMG_SOURCE_DIR "/kernel-config/hardening.tsv";
    return parse_hardening_table(romimg::fs::read_file(file), file);
}

TEST_CASE("kernel-config's fragments ask for every row of hardening.tsv") {
    for (const std::string arch : {"x86_64", "i386"}) {
        std::vector<FragmentOption> asked;
        for (const auto& name : fragment_names(arch)) {
            const std::string file = std::string(ROMIMG_SOURCE_DIR "/kernel-config/") + name;
            auto opts = parse_fragment(romimg::fs::read_file(file), file);
            asked.insert(asked.end(), opts.begin(), opts.end());
        }
        auto rows = repo_table();
        CHECK(rows_for(rows, "kconfig", arch).size() > 50);
        for (const auto& m : fragment_table_mismatches(rows, arch, asked)) FAIL_CHECK(m);
    }
}

TEST_CASE("the image's command line carries exactly the cmdline rows of hardening.tsv") {
    for (const std::string arch : {"x86_64", "i386"}) {
        INFO(arch);
        std::vector<std::string> table;
        for (const auto& r : rows_for(repo_table(), "cmdline", arch)) table.push_back(cmdline_token(r));
        std::vector<std::string> code = hardening_cmdline(arch);
        std::sort(table.begin(), table.end());
        std::sort(code.begin(), code.end());
        CHECK(table == code);
        romimg::pipeline::BuildOptions o;
        for (const auto& p : missing_cmdline_params(romimg::pipeline::kernel_cmdline(o, arch), table)) FAIL_CHECK(p);
        CHECK(missing_cmdline_params(romimg::pipeline::kernel_cmdline(o, arch), {"pti=on"}).empty());
        o.hardening_cmdline = false;  // the benchmark's "previous kernel" boots without them
        CHECK(missing_cmdline_params(romimg::pipeline::kernel_cmdline(o, arch), table) == table);
    }
}

TEST_CASE("the hardening parameters leave room on isolinux's APPEND line for the longest settings") {
    romimg::pipeline::BuildOptions o;
    o.label = std::string(32, 'L');  // the longest label validate_label takes
    o.net = "static:255.255.255.255/32,255.255.255.255,255.255.255.255";
    o.romlock_mode = "permissive";
    const std::string cl = romimg::pipeline::kernel_cmdline(o, "x86_64");
    INFO(cl.size() << " characters: " << cl);
    CHECK_NOTHROW(romimg::iso::validate_cmdline(cl));
}
