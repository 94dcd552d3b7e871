// The data disk (issue 18): the decisions init makes (initramfs/data_disk), the conf lines and
// policy lines for [data] dirs, and the template's [data] table.
#include <catch2/catch.hpp>

#include "appliance_conf.h"
#include "common/error.h"
#include "data_disk.h"
#include "recipe/template.h"

using namespace romimg;
using namespace romimg::appliance;

namespace {

std::string superblock(const std::string& label, bool magic = true) {
    std::string sb(1024, '\0');
    if (magic) {
        sb[56] = '\x53';
        sb[57] = '\xEF';
    }
    sb.replace(120, label.size(), label);
    return sb;
}

Service datastore() {
    Service s;
    s.name = "db";
    s.root = "/jail/db";
    s.argv = {"/usr/sbin/db"};
    s.data = {"/jail/db/var/lib/db"};
    s.data_missing = "tmpfs";
    s.data_size = "32m";
    return s;
}

recipe::ServiceTemplate parse(const std::string& extra) {
    return recipe::parse_template("[service]\ncommand = [\"/bin/sleep\", \"60\"]\n" + extra, "t.toml");
}

}  // namespace

TEST_CASE("ext_volume_label reads an ext superblock's label, and only an ext superblock's") {
    std::string label;
    REQUIRE(ext_volume_label(superblock("romimg-data"), label));
    CHECK(label == "romimg-data");
    REQUIRE(ext_volume_label(superblock("exactly16bytes!!"), label));
    CHECK(label == "exactly16bytes!!");  // no terminating NUL in a full-length label
    REQUIRE(ext_volume_label(superblock(""), label));
    CHECK(label.empty());
    CHECK_FALSE(ext_volume_label(superblock("romimg-data", false), label));  // no magic: not ext
    CHECK_FALSE(ext_volume_label(superblock("romimg-data").substr(0, 100), label));  // short read
}

TEST_CASE("judge_disk: fresh, ours, another appliance's, not romimg's") {
    CHECK(judge_disk({}, false, "", "web1") == DiskVerdict::fresh);
    CHECK(judge_disk({"lost+found"}, false, "", "web1") == DiskVerdict::fresh);
    CHECK(judge_disk({"lost+found", ".romimg-appliance", "db"}, true, "web1", "web1") == DiskVerdict::ours);
    CHECK(judge_disk({".romimg-appliance"}, true, "web2", "web1") == DiskVerdict::foreign);
    CHECK(judge_disk({"lost+found", "notes.txt"}, false, "", "web1") == DiskVerdict::not_romimg);
}

TEST_CASE("fsck_allows_mount: clean or corrected mounts, uncorrected errors or a failed run do not") {
    CHECK(fsck_allows_mount(0));
    CHECK(fsck_allows_mount(1));
    CHECK(fsck_allows_mount(2));
    for (int bad : {-1, 4, 8, 12, 16, 32, 128}) CHECK_FALSE(fsck_allows_mount(bad));
}

TEST_CASE("data dirs: on the disk under the service's name, in the conf, and in the policy") {
    Service s = datastore();
    CHECK(data_dir_on_disk(s, "/jail/db/var/lib/db") == "/run/romimg-data/db/var/lib/db");
    Conf c;
    c.services = {s};
    Conf back;
    std::string err;
    REQUIRE(parse_conf(format_conf(c), back, err));
    REQUIRE(back.services.size() == 1);
    CHECK(back.services[0].data == s.data);
    CHECK(back.services[0].data_missing == "tmpfs");
    CHECK(back.services[0].data_size == "32m");
    std::vector<std::string> p;
    REQUIRE(romlock_policy(c, p, err));
    CHECK(std::find(p.begin(), p.end(), "mount ext4 /jail/db/var/lib/db nosuid,nodev,noexec") != p.end());
    CHECK(std::find(p.begin(), p.end(), "mount tmpfs /jail/db/var/lib/db nosuid,nodev,noexec") != p.end());
    c.services[0].data_missing = "refuse";
    REQUIRE(romlock_policy(c, p, err));
    CHECK(std::find(p.begin(), p.end(), "mount tmpfs /jail/db/var/lib/db nosuid,nodev,noexec") == p.end());
}

TEST_CASE("parse_conf refuses data lines outside the service's root or not plain") {
    const std::string head = "service db\nroot /jail/db\nargv /x\n";
    Conf c;
    std::string err;
    CHECK_FALSE(parse_conf(head + "data /jail/other/x\nend\n", c, err));
    CHECK(err.find("inside the service's root") != std::string::npos);
    CHECK_FALSE(parse_conf(head + "data /jail/db/../etc\nend\n", c, err));
    CHECK_FALSE(parse_conf(head + "data relative\nend\n", c, err));
    CHECK_FALSE(parse_conf(head + "data_missing maybe 1m\nend\n", c, err));
    CHECK_FALSE(parse_conf(head + "data_missing tmpfs 50%\nend\n", c, err));
    CHECK(parse_conf(head + "data /jail/db/var/lib/db\ndata_missing refuse 64m\nend\n", c, err));
}

TEST_CASE("a template's [data]: paths, what to do without a disk, and what is refused") {
    auto t = parse("[data]\npaths = [\"/var/lib/mysql\"]\nmissing = \"tmpfs\"\nsize = \"128m\"\n");
    CHECK(t.data.paths == std::vector<std::string>{"/var/lib/mysql"});
    CHECK(t.data.missing == "tmpfs");
    CHECK(t.data.size == "128m");
    CHECK(recipe::jail_includes(t) == std::vector<std::string>{"/var/lib/mysql"});  // the seed, whole
    CHECK(parse("").data.missing == "refuse");
    CHECK_THROWS_WITH(parse("[data]\npaths = [\"/etc\"]\n"), Catch::Contains("data.paths[0] '/etc' is a system directory"));
    CHECK_THROWS_WITH(parse("[data]\npaths = [\"/run/db\"]\n"), Catch::Contains("is in /run or /tmp"));
    CHECK_THROWS_WITH(parse("[data]\npaths = [\"/var/lib/a\", \"/var/lib/a/b\"]\n"),
                      Catch::Contains("data.paths[1] '/var/lib/a/b' overlaps data.paths[0] /var/lib/a"));
    CHECK_THROWS_WITH(parse("[jail]\nwritable = [\"/var/lib/a\"]\n[data]\npaths = [\"/var/lib/a\"]\n"),
                      Catch::Contains("overlaps the writable dir /var/lib/a"));
    CHECK_THROWS_WITH(parse("[jail]\nlogs = [\"/var/lib/a/x.log\"]\n[data]\npaths = [\"/var/lib/a\"]\n"),
                      Catch::Contains("holds the log /var/lib/a/x.log"));
    CHECK_THROWS_WITH(parse("[data]\npaths = [\"/var/lib/a\"]\nmissing = \"format\"\n"),
                      Catch::Contains("data.missing 'format' is not refuse or tmpfs"));
    CHECK_THROWS_WITH(parse("[data]\npaths = [\"/var/lib/a\"]\nsize = \"1m,exec\"\n"), Catch::Contains("data.size"));
    CHECK_THROWS_WITH(parse("[data]\npaths = [\"/var/lib/a\"]\nsize = \"4m\"\n"), Catch::Contains("data.size '4m' is below 8m"));
    // Whatever the template check lets through, init's reading of appliance.conf takes.
    for (const char* size : {"8m", "64m", "8192k", "2g"}) {
        auto ok = parse(std::string("[data]\npaths = [\"/var/lib/a\"]\nsize = \"") + size + "\"\n");
        Service s = datastore();
        s.data_size = ok.data.size;
        Conf c, back;
        c.services = {s};
        std::string err;
        CHECK(parse_conf(format_conf(c), back, err));
    }
    CHECK_THROWS_WITH(parse("[data]\npath = [\"/var/lib/a\"]\n"), Catch::Contains("path"));  // a typo is an error
}
