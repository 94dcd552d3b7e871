// What the cache holds and what pruning removes (cache/inventory): entries of every kind, their
// last use, stale ones, the policy's order, the keep set, removal, and the lock.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <algorithm>
#include <filesystem>

#include "cache/inventory.h"
#include "common/fs.h"
#include "recipe/appliance_config.h"

using namespace romimg;
namespace sfs = std::filesystem;

namespace {

struct FakeCache {
    fs::TempDir tmp{fs::temp_parent(), "romimg-cache-"};
    sfs::path dir() const { return tmp.path(); }
    sfs::path put(const std::string& rel, const std::string& text) const {
        const sfs::path p = dir() / rel;
        sfs::create_directories(p.parent_path());
        fs::write_file_atomic(p, text);
        return p;
    }
    static void set_used(const sfs::path& p, int64_t t) {
        struct timespec ts[2] = {{t, 0}, {t, 0}};
        REQUIRE(utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
    }
};

const cache::Entry* find(const std::vector<cache::Entry>& es, const std::string& name) {
    for (const auto& e : es)
        if (e.path.filename() == name) return &e;
    return nullptr;
}

}  // namespace

TEST_CASE("the inventory finds every kind of entry, sizes it, and skips what is being written") {
    FakeCache c;
    c.put("kernel/k1/bzImage", std::string(1000, 'k'));
    c.put("kernel/k1/inputs.txt", "source linux-source-6.12 1\ncompiler gcc 12\n");
    c.put("kernel/logs/x.failed.log", "log");
    c.put("kernel/.build-1234/partial", "x");
    c.put("base/b1/root.sqfs", std::string(500, 'b'));
    c.put("base/b1/made-by", "SELF\n");
    c.put("base/b2/root.sqfs", "b");
    c.put("content/c1.sqfs", "cc");
    c.put("content/c2.sqfs.tmp.99", "partial");
    c.put("cds/j1.jsa", "jsa");
    c.put("verity/v1/tree", "t");
    c.put("roots/debian12-i386-x/made-by.txt", "native");
    for (const char* d : {"kernel/k1", "base/b1", "base/b2", "verity/v1", "roots/debian12-i386-x"}) FakeCache::set_used(c.dir() / d, 1000);
    for (const char* f : {"content/c1.sqfs", "cds/j1.jsa"}) FakeCache::set_used(c.dir() / f, 2000);

    cache::Current now{"SELF", "linux-source-6.12 1", "gcc 12"};
    const auto es = cache::entries(c.dir(), now);
    std::vector<std::string> names;
    for (const auto& e : es) names.push_back(e.kind + ":" + e.path.filename().string());
    CHECK(names == std::vector<std::string>{"kernel:k1", "base:b1", "base:b2", "content:c1.sqfs", "cds:j1.jsa", "verity:v1",
                                            "roots:debian12-i386-x"});
    CHECK(find(es, "k1")->bytes == 1000 + std::string("source linux-source-6.12 1\ncompiler gcc 12\n").size());
    CHECK(find(es, "k1")->used == 1000);
    CHECK(find(es, "c1.sqfs")->used == 2000);
    CHECK(find(es, "k1")->stale.empty());
    CHECK(find(es, "b1")->stale.empty());
    CHECK(find(es, "b2")->stale == "made by an older romimg");

    SECTION("another binary's base, another linux-source or gcc's kernel are stale") {
        const auto other = cache::entries(c.dir(), {"OTHER", "linux-source-6.12 2", "gcc 12"});
        CHECK(find(other, "b1")->stale == "made by another romimg binary");
        CHECK(find(other, "k1")->stale == "built from linux-source-6.12 1; linux-source-6.12 2 is installed now");
        const auto newgcc = cache::entries(c.dir(), {"SELF", "linux-source-6.12 1", "gcc 13"});
        CHECK(find(newgcc, "k1")->stale == "built with gcc 12; the compiler is gcc 13 now");
    }
    SECTION("mark_used moves the last use to now") {
        cache::mark_used(c.dir() / "base/b1");
        CHECK(find(cache::entries(c.dir(), now), "b1")->used >= time(nullptr) - 5);
    }
    SECTION("removal takes whole entries and nothing else") {
        std::vector<cache::Entry> gone = {*find(es, "b2"), *find(es, "c1.sqfs")};
        CHECK(cache::remove_entries(gone) == find(es, "b2")->bytes + 2);
        CHECK(!sfs::exists(c.dir() / "base/b2"));
        CHECK(!sfs::exists(c.dir() / "content/c1.sqfs"));
        CHECK(sfs::exists(c.dir() / "base/b1/root.sqfs"));
        CHECK(cache::entries(c.dir(), now).size() == es.size() - 2);
    }
}

TEST_CASE("the prune policy: stale, then unused for long, then least recently used to fit, never kept ones") {
    auto e = [](const std::string& name, uint64_t bytes, int64_t used, const std::string& stale = "") {
        return cache::Entry{"base", "/c/base/" + name, bytes, used, stale};
    };
    const std::vector<cache::Entry> all = {e("a", 100, 10), e("b", 100, 20, "made by another romimg binary"), e("c", 100, 30),
                                           e("d", 100, 40)};
    auto names = [](const std::vector<cache::Entry>& es) {
        std::vector<std::string> n;
        for (const auto& x : es) n.push_back(x.path.filename().string());
        return n;
    };
    cache::PrunePolicy p;
    CHECK(cache::choose(all, p, 100).empty());
    p.stale = true;
    CHECK(names(cache::choose(all, p, 100)) == std::vector<std::string>{"b"});
    p.older_than_s = 75;  // used at 10 and 20: 90 and 80 s ago
    CHECK(names(cache::choose(all, p, 100)) == std::vector<std::string>{"a", "b"});
    p.older_than_s.reset();
    p.max_bytes = 150;  // after b: a, c, d = 300; drop the oldest until 150 or less
    CHECK(names(cache::choose(all, p, 100)) == std::vector<std::string>{"b", "a", "c"});
    p.keep = {"/c/base/a"};
    CHECK(names(cache::choose(all, p, 100)) == std::vector<std::string>{"b", "c", "d"});
    p.keep = {"/c/base/b"};
    p.stale = true;
    const auto kept_b = names(cache::choose(all, p, 100));
    CHECK(std::count(kept_b.begin(), kept_b.end(), "b") == 0);
}

TEST_CASE("a build's shared hold of the cache keeps prune out") {
    FakeCache c;
    {
        Fd shared = cache::lock_shared(c.dir());
        CHECK(!cache::try_lock_exclusive(c.dir()));
        Fd second = cache::lock_shared(c.dir());  // two builds at once are fine
        CHECK(second);
    }
    CHECK(cache::try_lock_exclusive(c.dir()));
}

TEST_CASE("romimg.toml's cache_limit is a size of 1g or more") {
    CHECK(*recipe::parse_config("cache_limit = \"20g\"\n", "/x/romimg.toml").cache_limit == 20ULL << 30);
    CHECK_THROWS_WITH(recipe::parse_config("cache_limit = \"20 GB\"\n", "/x/romimg.toml"),
                      Catch::Contains("/x/romimg.toml:1: cache_limit '20 GB' is not a size"));
    CHECK_THROWS_WITH(recipe::parse_config("cache_limit = \"100m\"\n", "/x/romimg.toml"),
                      Catch::Contains("cache_limit '100m' is below 1g"));
}

TEST_CASE("sizes read the way du --si prints them") {
    CHECK(cache::human_bytes(999) == "999 B");
    CHECK(cache::human_bytes(12000) == "12 kB");
    CHECK(cache::human_bytes(640000000) == "640 MB");
    CHECK(cache::human_bytes(1900000000) == "1.9 GB");
}
