// dm-verity: the params format init reads, the table it loads, the tree sizes, veritysetup's
// command and output, and (when veritysetup is installed) a real tree made and found again in
// the cache.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "verity/tree.h"
#include "verity_params.h"

using namespace romimg;

namespace {
verity::Params sample() {
    verity::Params p;
    p.data_blocks = 2442;
    p.hash_blocks = 21;
    p.salt = std::string(64, 'a');
    p.root_hash = std::string(64, 'b');
    p.fec_roots = 2;
    return p;
}
}  // namespace

TEST_CASE("verity: tree and parity sizes are what veritysetup writes", "[verity]") {
    CHECK(verity::hash_tree_blocks(0) == 0);
    CHECK(verity::hash_tree_blocks(1) == 0);  // its own hash is the root hash
    CHECK(verity::hash_tree_blocks(2) == 1);
    CHECK(verity::hash_tree_blocks(128) == 1);
    CHECK(verity::hash_tree_blocks(129) == 3);  // 2 leaves + 1 top
    CHECK(verity::hash_tree_blocks(2442) == 21);  // veritysetup 2.6.1: "Hash blocks: 21"
    CHECK(verity::hash_tree_blocks(13070) == 104);  // a 53 MB root squashfs: "Hash blocks: 104"
    CHECK(verity::fec_blocks(2442 + 21, 2) == 20);  // "FEC blocks: 20"
    CHECK(verity::fec_blocks(13070 + 104, 2) == 106);
    CHECK(verity::fec_blocks(100, 0) == 0);
}

TEST_CASE("verity: params round-trip and anything else is refused with the line", "[verity]") {
    const verity::Params p = sample();
    const std::string text = verity::format_params(p);
    CHECK(text == "format 1\ndata_blocks 2442\nhash_blocks 21\nsalt " + std::string(64, 'a') + "\nroot_hash " +
                      std::string(64, 'b') + "\nfec_roots 2\n");
    verity::Params q;
    std::string error;
    REQUIRE(verity::parse_params(text, q, error));
    CHECK(verity::format_params(q) == text);

    auto refused = [&](const std::string& t, const std::string& why) {
        verity::Params r;
        std::string e;
        CHECK_FALSE(verity::parse_params(t, r, e));
        CHECK_THAT(e, Catch::Contains(why));
    };
    auto replace = [&](const std::string& from, const std::string& to) {
        std::string t = text;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    refused(replace("format 1", "format 2"), "only format 1");
    refused(replace("data_blocks 2442", "data_blocks -1"), "line 2 (data_blocks)");
    refused(replace("hash_blocks 21", "hash_blocks 20"), "not the tree size of 2442");
    refused(replace("root_hash " + std::string(64, 'b'), "root_hash " + std::string(63, 'b')), "not a sha256");
    refused(replace("root_hash " + std::string(64, 'b'), "root_hash " + std::string(64, 'B')), "not a sha256");
    refused(replace("fec_roots 2", "fec_roots 1"), "not 0 or 2..24");
    refused(replace("fec_roots 2", "fec_roots 25"), "not 0 or 2..24");
    refused(text + "mode panic\n", "unknown key");
    refused(replace("salt " + std::string(64, 'a') + "\n", ""), "a field is missing");
    refused("", "a field is missing");
}

TEST_CASE("verity: the table has the tree, the parity and the signature key where the kernel wants them", "[verity]") {
    verity::Params p = sample();
    CHECK(verity::table_params(p, "7:0", "7:1", "") ==
          "1 7:0 7:1 4096 4096 2442 0 sha256 " + std::string(64, 'b') + " " + std::string(64, 'a') +
              " 8 use_fec_from_device 7:1 fec_roots 2 fec_blocks 2463 fec_start 21");
    CHECK(verity::table_params(p, "7:0", "7:1", "romimg:x") ==
          "1 7:0 7:1 4096 4096 2442 0 sha256 " + std::string(64, 'b') + " " + std::string(64, 'a') +
              " 10 use_fec_from_device 7:1 fec_roots 2 fec_blocks 2463 fec_start 21 root_hash_sig_key_desc romimg:x");
    p.fec_roots = 0;
    CHECK(verity::table_params(p, "7:0", "7:1", "") ==
          "1 7:0 7:1 4096 4096 2442 0 sha256 " + std::string(64, 'b') + " " + std::string(64, 'a'));
    CHECK(verity::sectors(p) == 2442 * 8);
}

TEST_CASE("verity: the kernel's corruption line names the device and the block", "[verity]") {
    std::string dev, what;
    REQUIRE(verity::parse_corruption("device-mapper: verity: 7:2: data block 113 is corrupted", dev, what));
    CHECK(dev == "7:2");
    CHECK(what == "data block 113");
    REQUIRE(verity::parse_corruption("device-mapper: verity: 7:0: metadata block 5 is corrupted", dev, what));
    CHECK(what == "metadata block 5");
    CHECK_FALSE(verity::parse_corruption("device-mapper: verity-fec: 7:0: FEC 5: corrected 3 errors", dev, what));
    CHECK_FALSE(verity::parse_corruption("romlock: DENY mount", dev, what));
}

TEST_CASE("verity: veritysetup is asked for a reproducible tree, and its root hash is read", "[verity]") {
    verity::Params p = verity::plan_params(2442 * 4096, std::string(64, 'e'), 2, "x");
    CHECK(p.data_blocks == 2442);
    CHECK(p.hash_blocks == 21);
    CHECK(p.salt == std::string(64, 'e'));  // the layer's own sha256: no random salt
    CHECK(verity::plan_params(4096, std::string(64, 'e'), 2, "x").fec_roots == 0);  // veritysetup fails on one block
    CHECK(verity::plan_params(8192, std::string(64, 'e'), 2, "x").fec_roots == 2);
    CHECK_THROWS_AS(verity::plan_params(4097, std::string(64, 'e'), 2, "x"), Error);
    CHECK_THROWS_AS(verity::plan_params(0, std::string(64, 'e'), 2, "x"), Error);
    CHECK_THROWS_AS(verity::plan_params(4096, std::string(64, 'e'), 1, "x"), UsageError);
    const Command c = verity::format_command("/l.sqfs", "/l.verity", p);
    CHECK(c.argv == std::vector<std::string>{"veritysetup", "format", "--no-superblock", "--hash=sha256",
                                             "--data-block-size=4096", "--hash-block-size=4096", "--data-blocks=2442",
                                             "--salt=" + std::string(64, 'e'), "--fec-device=/l.verity",
                                             "--fec-offset=86016", "--fec-roots=2", "/l.sqfs", "/l.verity"});
    CHECK(verity::parse_root_hash("Salt:  \tab\nRoot hash:      \t" + std::string(64, 'f') + "\n") == std::string(64, 'f'));
    CHECK_THROWS_AS(verity::parse_root_hash("nothing"), Error);
    CHECK_THROWS_AS(verity::parse_root_hash("Root hash: xyz\n"), Error);
    CHECK(verity::cache_key("a", 2) != verity::cache_key("a", 0));
    CHECK(verity::cache_key("a", 2) != verity::cache_key("b", 2));
}

TEST_CASE("verity: a real tree is made once, then found in the cache", "[verity]") {
    if (find_program("veritysetup").empty()) {
        WARN("veritysetup (cryptsetup-bin) is not installed: not making a real tree");
        return;
    }
    fs::TempDir tmp(fs::temp_parent(), "romimg-verity-test-");
    const auto data = tmp.path() / "layer";
    std::string bytes(300 * 4096, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = (char)(i * 7 % 251);
    fs::write_file_atomic(data, bytes);
    const std::string sha = fs::sha256_file(data);
    const verity::Tree a = verity::make_tree(data, sha, 2, tmp.path() / "cache", "layer");
    CHECK_FALSE(a.cached);
    CHECK(a.params.data_blocks == 300);
    CHECK(a.params.hash_blocks == 4);
    CHECK(a.params.root_hash.size() == 64);
    CHECK(std::filesystem::file_size(a.file) == (4 + verity::fec_blocks(304, 2)) * 4096);
    const verity::Tree b = verity::make_tree(data, sha, 2, tmp.path() / "cache", "layer");
    CHECK(b.cached);
    CHECK(b.params.root_hash == a.params.root_hash);
    CHECK(fs::read_file(b.file) == fs::read_file(a.file));
    // A damaged entry is made again, not used.
    fs::write_file_atomic(a.file.parent_path() / "params", "format 1\n");
    const verity::Tree again = verity::make_tree(data, sha, 2, tmp.path() / "cache", "layer");
    CHECK_FALSE(again.cached);
    CHECK(again.params.root_hash == a.params.root_hash);
    // A second cache, the same bytes: reproducible.
    const verity::Tree c = verity::make_tree(data, sha, 2, tmp.path() / "cache2", "layer");
    CHECK_FALSE(c.cached);
    CHECK(fs::read_file(c.file) == fs::read_file(a.file));
    CHECK(c.params.root_hash == a.params.root_hash);
    const verity::Tree d = verity::make_tree(data, sha, 0, tmp.path() / "cache", "layer");
    CHECK(std::filesystem::file_size(d.file) == 4 * 4096);
    CHECK(d.params.root_hash == a.params.root_hash);  // parity does not change the tree
    // A one-block layer (a tiny content layer): made, without parity.
    fs::write_file_atomic(tmp.path() / "tiny", std::string(4096, 'x'));
    const verity::Tree e = verity::make_tree(tmp.path() / "tiny", fs::sha256_file(tmp.path() / "tiny"), 2, tmp.path() / "cache", "tiny");
    CHECK(e.params.fec_roots == 0);
    CHECK(e.params.hash_blocks == 0);
    CHECK(std::filesystem::file_size(e.file) == 0);
}
