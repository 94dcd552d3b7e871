// The base-layer cache: the key moves with every input, stamps catch edited host files, and an
// entry is only ever seen complete.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <fcntl.h>
#include <utime.h>

#include "cache/base_cache.h"
#include "common/fs.h"

using namespace romimg;

TEST_CASE("the base key depends on every named input and nothing else") {
    std::map<std::string, std::string> in = {{"template:apache", "aa"}, {"option:compression", "xz"}};
    const std::string k = cache::input_key(in);
    CHECK(k.size() == 64);
    CHECK(cache::input_key(in) == k);
    auto changed = in;
    changed["option:compression"] = "zstd";
    CHECK(cache::input_key(changed) != k);
    changed = in;
    changed["content-paths:apache"] = "/var/www/html";
    CHECK(cache::input_key(changed) != k);
    // A name/value boundary cannot be shifted to fake another input.
    CHECK(cache::input_key({{"ab", "c"}}) != cache::input_key({{"a", "bc"}}));
}

TEST_CASE("host_sources lists what a jail took from the host") {
    jail::JailPlan p;
    auto n = [&](jail::JailNode::Kind k, const std::string& path, const std::string& src = "") {
        jail::JailNode x;
        x.kind = k;
        x.path = path;
        x.source = src;
        p.nodes.push_back(x);
    };
    n(jail::JailNode::dir, "/etc");
    n(jail::JailNode::file, "/etc/apache2/apache2.conf", "/etc/apache2/apache2.conf");
    n(jail::JailNode::symlink, "/lib");
    n(jail::JailNode::generated, "/etc/passwd");
    n(jail::JailNode::device, "/dev/null");
    n(jail::JailNode::hardlink, "/usr/bin/b", "/usr/bin/a");
    n(jail::JailNode::generated, "/etc/tomcat10/catalina.properties", "/srv/root/etc/tomcat10/catalina.properties");
    // An edited copy (jail.properties) still depends on the host file it was made from.
    CHECK(cache::host_sources(p) == std::vector<std::string>{"/etc", "/etc/apache2/apache2.conf", "/lib",
                                                             "/srv/root/etc/tomcat10/catalina.properties"});
}

TEST_CASE("stamps round-trip and catch an edited, re-moded or removed file") {
    fs::TempDir tmp("/tmp", "romimg-cache-test-");
    const auto conf = tmp.path() / "apache2 conf\tx", link = tmp.path() / "link", dir = tmp.path() / "d";
    fs::write_file_atomic(conf, "Listen 80\n");
    std::filesystem::create_symlink("target text", link);
    std::filesystem::create_directories(dir);
    std::vector<std::string> paths = {conf.string(), link.string(), dir.string(), (tmp.path() / "gone").string()};
    auto before = cache::stamp_files(paths);
    std::vector<cache::FileStamp> back;
    REQUIRE(cache::parse_stamps(cache::format_stamps(before), back));
    CHECK(back == before);
    CHECK(before[1].link == "target text");
    CHECK(before[3].type == '-');
    CHECK(cache::changed(before, cache::stamp_files(paths)).empty());

    // A new file in a directory moves its mtime but is not a change to the jail's copy of it.
    fs::write_file_atomic(dir / "sibling", "x");
    CHECK(cache::changed(before, cache::stamp_files(paths)).empty());

    fs::write_file_atomic(conf, "Listen 81\n");  // same size, new mtime
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1, 0}};
    utimensat(AT_FDCWD, conf.c_str(), ts, 0);
    CHECK(cache::changed(before, cache::stamp_files(paths)) == std::vector<std::string>{conf.string()});
    chmod(dir.c_str(), 0700);
    CHECK(cache::changed(before, cache::stamp_files(paths)).size() == 2);
    CHECK_FALSE(cache::parse_stamps("f\tonly-two-fields\n", back));
}

TEST_CASE("publish then lookup: a hit while stamps hold, a miss with a reason once a file changed") {
    fs::TempDir tmp("/tmp", "romimg-cache-test-");
    const auto cache_dir = tmp.path() / "cache", host = tmp.path() / "host.conf", sqfs = tmp.path() / "root.sqfs";
    fs::write_file_atomic(host, "a");
    fs::write_file_atomic(sqfs, "squashfs bytes");
    fs::write_file_atomic(tmp.path() / "apache.manifest.json", "{}");
    fs::write_file_atomic(tmp.path() / "apache.manifest.txt", "table");
    const std::string key(64, 'a');
    std::string why;
    CHECK_FALSE(cache::lookup(cache_dir, key, why).has_value());
    CHECK(why.empty());
    auto e = cache::publish(cache_dir, key, sqfs, {{"apache", tmp.path() / "apache.manifest.json"}},
                            cache::stamp_files({host.string()}), "hostname romimg\n");
    CHECK(e.root_sha256 == fs::sha256_hex("squashfs bytes"));
    auto hit = cache::lookup(cache_dir, key, why);
    REQUIRE(hit.has_value());
    CHECK(fs::read_file(hit->root_sqfs) == "squashfs bytes");
    CHECK(hit->appliance_conf == "hostname romimg\n");
    REQUIRE(hit->stamps.size() == 1);
    CHECK(hit->stamps[0].path == host.string());
    CHECK(hit->manifests.at("apache") == cache_dir / "base" / key / "manifests/apache.manifest.json");
    CHECK(std::filesystem::exists(cache_dir / "base" / key / "manifests/apache.manifest.txt"));
    // No temporary entry is left beside the published one.
    int entries = 0;
    for (const auto& d : std::filesystem::directory_iterator(cache_dir / "base")) entries += !d.path().empty();
    CHECK(entries == 1);

    fs::write_file_atomic(host, "bb");
    CHECK_FALSE(cache::lookup(cache_dir, key, why).has_value());
    CHECK(why.find("1 host file(s) or include glob(s) changed since, e.g. " + host.string()) != std::string::npos);
    // Republishing replaces the stale entry.
    cache::publish(cache_dir, key, sqfs, {}, cache::stamp_files({host.string()}), "");
    CHECK(cache::lookup(cache_dir, key, why).has_value());
    // A valid entry is kept (a parallel build of the same inputs), unless told to replace it.
    fs::write_file_atomic(sqfs, "other bytes");
    CHECK(fs::read_file(cache::publish(cache_dir, key, sqfs, {}, cache::stamp_files({host.string()}), "").root_sqfs) == "squashfs bytes");
    CHECK(fs::read_file(cache::publish(cache_dir, key, sqfs, {}, cache::stamp_files({host.string()}), "", true).root_sqfs) == "other bytes");
    int left = 0;
    for (const auto& d : std::filesystem::directory_iterator(cache_dir / "base")) left += !d.path().empty();
    CHECK(left == 1);  // no temporary or old entry left behind
}

TEST_CASE("tree_digest follows bytes, names and modes of overlays/") {
    fs::TempDir tmp("/tmp", "romimg-cache-test-");
    CHECK(cache::tree_digest(tmp.path() / "none").empty());
    std::filesystem::create_directories(tmp.path() / "etc");
    fs::write_file_atomic(tmp.path() / "etc/hosts", "127.0.0.1 localhost\n");
    const std::string d = cache::tree_digest(tmp.path());
    fs::write_file_atomic(tmp.path() / "etc/hosts", "127.0.0.1 localhost \n");
    CHECK(cache::tree_digest(tmp.path()) != d);
}

TEST_CASE("an include glob's stamp changes when a file it would now pick up appears or goes") {
    fs::TempDir tmp("/tmp", "romimg-cache-test-");
    const auto conf = tmp.path() / "sites";
    std::filesystem::create_directories(conf / "lib");
    fs::write_file_atomic(conf / "a.conf", "a\n");
    fs::write_file_atomic(conf / "lib/x.jar", "x\n");
    const std::vector<std::string> globs = {(conf / "*.conf").string(), (conf / "lib").string()};
    auto before = cache::stamp_globs(globs);
    REQUIRE(before.size() == 2);
    CHECK(before[0].type == 'g');
    CHECK(before[0].path == globs[0]);
    CHECK(before[0].size == 1);
    CHECK(before[1].size == 2);  // the directory and the jar below it
    std::vector<cache::FileStamp> back;
    REQUIRE(cache::parse_stamps(cache::format_stamps(before), back));
    CHECK(back == before);
    CHECK(cache::changed(before, cache::restamp(before)).empty());
    // Editing a matched file is the file stamps' business, not the glob's.
    fs::write_file_atomic(conf / "a.conf", "edited\n");
    CHECK(cache::changed(before, cache::restamp(before)).empty());
    // A new match, a new file below a matched directory, a file that does not match.
    fs::write_file_atomic(conf / "b.conf", "b\n");
    CHECK(cache::changed(before, cache::restamp(before)) == std::vector<std::string>{globs[0]});
    fs::write_file_atomic(conf / "lib/y.jar", "y\n");
    CHECK(cache::changed(before, cache::restamp(before)) == globs);
    auto now = cache::restamp(before);
    fs::write_file_atomic(conf / "b.txt", "not matched\n");
    CHECK(cache::changed(now, cache::restamp(now)).empty());
    std::filesystem::remove(conf / "b.conf");
    CHECK(cache::changed(now, cache::restamp(now)) == std::vector<std::string>{globs[0]});
    // Mixed with file stamps, each is re-taken its own way.
    auto mixed = cache::stamp_files({(conf / "a.conf").string()});
    mixed.push_back(cache::stamp_globs({globs[1]})[0]);
    CHECK(cache::changed(mixed, cache::restamp(mixed)).empty());
}

TEST_CASE("lookup misses when an include glob covers a new file") {
    fs::TempDir tmp("/tmp", "romimg-cache-test-");
    const auto cache_dir = tmp.path() / "cache", inc = tmp.path() / "inc";
    std::filesystem::create_directories(inc);
    fs::write_file_atomic(inc / "a.conf", "a\n");
    fs::write_file_atomic(tmp.path() / "root.sqfs", "sqfs");
    const std::string key(64, 'a');
    cache::publish(cache_dir, key, tmp.path() / "root.sqfs", {}, cache::stamp_globs({(inc / "*.conf").string()}), "conf\n");
    std::string why;
    CHECK(cache::lookup(cache_dir, key, why).has_value());
    fs::write_file_atomic(inc / "b.conf", "b\n");
    CHECK_FALSE(cache::lookup(cache_dir, key, why).has_value());
    CHECK(why == "1 host file(s) or include glob(s) changed since, e.g. " + (inc / "*.conf").string());
}
