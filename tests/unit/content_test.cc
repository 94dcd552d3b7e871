// Content layers: --content parsing and validation, the jail plan with replaced subtrees, and
// staging from directories and archives (crafted with libarchive here, bad ones included).
#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "common/error.h"
#include "common/fs.h"
#include "content/content.h"
#include "content/pack.h"

using namespace romimg;
using content::ContentSpec;

namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const UsageError& e) {
        return e.what();
    }
    return "";
}

recipe::ServiceTemplate apache() {
    recipe::ServiceTemplate t;
    t.name = "apache";
    t.command = {"/usr/sbin/apache2", "-DFOREGROUND"};
    t.writable = {{"/run/apache2", "1m"}, {"/var/cache/apache2", "8m"}};
    t.logs = {"/var/log/apache2/access.log"};
    return t;
}

jail::JailNode node(jail::JailNode::Kind k, const std::string& path, closure::Reason r = closure::Reason::traced) {
    jail::JailNode n;
    n.kind = k;
    n.path = path;
    n.source = path;
    n.reason = r;
    return n;
}

struct Entry {
    Entry(std::string n, mode_t t = AE_IFREG, unsigned p = 0644, std::string d = "", std::string h = "")
        : name(std::move(n)), type(t), perm(p), data(std::move(d)), hardlink(std::move(h)) {}
    std::string name;
    mode_t type;
    unsigned perm;
    std::string data;  // file bytes or symlink target
    std::string hardlink;
};

// Writes a tar.gz (or zip) with exactly these entries.
void write_archive(const std::filesystem::path& file, const std::vector<Entry>& entries, bool zip = false) {
    struct archive* a = archive_write_new();
    if (zip) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_gzip(a);
    }
    REQUIRE(archive_write_open_filename(a, file.c_str()) == ARCHIVE_OK);
    for (const auto& e : entries) {
        struct archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_filetype(ae, e.type);
        archive_entry_set_perm(ae, e.perm);
        if (!e.hardlink.empty()) archive_entry_set_hardlink(ae, e.hardlink.c_str());
        if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.data.c_str());
        if (e.type == AE_IFREG && e.hardlink.empty()) archive_entry_set_size(ae, e.data.size());
        if (e.type == AE_IFCHR) archive_entry_set_rdev(ae, makedev(1, 3));
        archive_write_header(a, ae);
        if (e.type == AE_IFREG && e.hardlink.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
}

ContentSpec spec_for(const std::filesystem::path& source) {
    return content::parse_content_arg("apache:/var/www/html=" + source.string());
}

}  // namespace

TEST_CASE("content arguments (SERVICE:PATH=SOURCE) are parsed, and malformed ones are refused with a fix") {
    auto c = content::parse_content_arg("tomcat:/var/lib/tomcat10/webapps/shop=./shop.war");
    CHECK(c.service == "tomcat");
    CHECK(c.path == "/var/lib/tomcat10/webapps/shop");
    CHECK(c.source == "./shop.war");
    CHECK(content::parse_content_arg("a:/x=y=z").source == "y=z");  // only the first '=' splits
    CHECK(error_of([] { content::parse_content_arg("apache/var/www=x"); }) ==
          "--content apache/var/www=x: not SERVICE:PATH=SOURCE (e.g. --content apache:/var/www/html=./release-42/)");
    CHECK(error_of([] { content::parse_content_arg("apache:var/www=x"); }).find("is not absolute") != std::string::npos);
    CHECK(error_of([] { content::parse_content_arg("apache:/=x"); }).find("the jail's root") != std::string::npos);
    CHECK(error_of([] { content::parse_content_arg("apache:/var//www/=x"); }).find("not normalized (write /var/www)") != std::string::npos);
    CHECK(error_of([] { content::parse_content_arg("apache:/var/www/../lib=x"); }).find("write /var/lib") != std::string::npos);
    CHECK(error_of([] { content::parse_content_arg("apache:/var/my www=x"); }).find("space") != std::string::npos);
    CHECK(error_of([] { content::parse_content_arg("apache:/var/www="); }).find("no SOURCE") != std::string::npos);
    CHECK(error_of([] { content::parse_content_arg(":/var/www=x"); }).find("no SERVICE") != std::string::npos);
}

TEST_CASE("contents name services being built and never share or nest a PATH") {
    std::vector<std::string> services = {"apache", "tomcat"};
    auto p = [](const std::string& a) { return content::parse_content_arg(a); };
    CHECK_NOTHROW(content::check_specs({p("apache:/var/www/html=a"), p("tomcat:/var/www/html=b"), p("apache:/srv/x=c")}, services));
    CHECK(error_of([&] { content::check_specs({p("nginx:/var/www=a")}, services); })
              .find("'nginx' is not one of the services being built (apache, tomcat)") != std::string::npos);
    CHECK(error_of([&] { content::check_specs({p("apache:/var/www=a"), p("apache:/var/www=b")}, services);
                   }).find("already replaces /var/www") != std::string::npos);
    CHECK(error_of([&] { content::check_specs({p("apache:/var/www=a"), p("apache:/var/www/html=b")}, services);
                   }).find("nested in --content apache:/var/www=a") != std::string::npos);
    CHECK_NOTHROW(content::check_specs({p("apache:/var/www=a"), p("apache:/var/wwwx=b")}, services));
}

TEST_CASE("a content PATH may not hide the program, accounts, devices, logs or writable areas") {
    auto t = apache();
    auto check = [&](const std::string& path) {
        return error_of([&] { content::check_against_template(content::parse_content_arg("apache:" + path + "=x"), t); });
    };
    CHECK(check("/var/www/html").empty());
    CHECK(check("/usr/sbin").find("hide the service's program /usr/sbin/apache2") != std::string::npos);
    CHECK(check("/etc").find("/etc/passwd") != std::string::npos);
    CHECK(check("/dev").find("/dev") != std::string::npos);
    CHECK(check("/run").find("hide the writable area /run/apache2") != std::string::npos);
    CHECK(check("/var/cache/apache2/mod").find("inside the writable tmpfs area /var/cache/apache2") != std::string::npos);
    CHECK(check("/var/log").find("log FIFO /var/log/apache2/access.log") != std::string::npos);
    CHECK(check("/var/cache").find("hide the writable area") != std::string::npos);
}

TEST_CASE("a content PATH may not hide a library the jail needs while traced files under it are replaced") {
    jail::JailPlan plan;
    plan.nodes = {node(jail::JailNode::dir, "/srv"), node(jail::JailNode::dir, "/srv/app"),
                  node(jail::JailNode::file, "/srv/app/index.html"),
                  node(jail::JailNode::file, "/srv/app/lib/libfoo.so.1", closure::Reason::closure)};
    plan.nodes.back().why = "DT_NEEDED of /usr/sbin/apache2";
    CHECK(error_of([&] { content::check_against_plan(content::parse_content_arg("apache:/srv/app=x"), plan); })
              .find("hide /srv/app/lib/libfoo.so.1, which the service needs (DT_NEEDED of /usr/sbin/apache2)") != std::string::npos);
    plan.nodes.pop_back();
    CHECK_NOTHROW(content::check_against_plan(content::parse_content_arg("apache:/srv/app=x"), plan));
    // A hard link outside PATH to a file the content replaces would dangle.
    auto h = node(jail::JailNode::hardlink, "/srv/other");
    h.source = "/srv/app/index.html";
    plan.nodes.push_back(h);
    CHECK(error_of([&] { content::check_against_plan(content::parse_content_arg("apache:/srv/app=x"), plan); })
              .find("hard link") != std::string::npos);
}

TEST_CASE("replace_subtrees leaves an empty mount point, adds missing parents, keeps order") {
    jail::JailPlan plan;
    plan.nodes = {node(jail::JailNode::dir, "/etc"), node(jail::JailNode::file, "/etc/mime.types"),
                  node(jail::JailNode::dir, "/var"), node(jail::JailNode::dir, "/var/www"),
                  node(jail::JailNode::dir, "/var/www/html"), node(jail::JailNode::file, "/var/www/html/index.html"),
                  node(jail::JailNode::dir, "/var/www/html/img"), node(jail::JailNode::file, "/var/www/html/img/a.png"),
                  node(jail::JailNode::file, "/var/www/htmlx")};
    plan.nodes[4].uid = 33;
    plan.nodes[4].mode = 0700;
    auto out = content::replace_subtrees(plan, {"/var/www/html", "/srv/shop/app"});
    std::vector<std::string> paths;
    for (const auto& n : out.nodes) paths.push_back(n.path);
    CHECK(paths == std::vector<std::string>{"/etc", "/etc/mime.types", "/srv", "/srv/shop", "/srv/shop/app", "/var", "/var/www",
                                            "/var/www/html", "/var/www/htmlx"});
    auto html = std::find_if(out.nodes.begin(), out.nodes.end(), [](const auto& n) { return n.path == "/var/www/html"; });
    CHECK(html->kind == jail::JailNode::dir);
    CHECK(html->mode == 0755);
    CHECK(html->uid == 0);
    // A PATH below a symlink or a file of the jail cannot be a mount point.
    plan.nodes.push_back(node(jail::JailNode::symlink, "/var/lib"));
    CHECK_THROWS_AS(content::replace_subtrees(plan, {"/var/lib/x"}), UsageError);
}

TEST_CASE("layer names and mount points") {
    CHECK(content::layer_iso_path("apache", 2) == "live/content/apache-2.sqfs");
    CHECK(content::layer_mount_point(content::parse_content_arg("apache:/var/www/html=x")) == "/jail/apache/var/www/html");
    auto cmd = content::content_mksquashfs_command("/w/tree", "/c/x.sqfs", "xz", 1700000000, "/w/log");
    for (const char* a : {"-all-root", "-no-xattrs", "-noappend", "-mkfs-time", "-all-time"})
        CHECK(std::find(cmd.argv.begin(), cmd.argv.end(), a) != cmd.argv.end());
    CHECK(content::layer_key("d", "xz", 1) != content::layer_key("d", "zstd", 1));
    CHECK(content::layer_key("d", "xz", 1) != content::layer_key("d", "xz", 2));
}

TEST_CASE("a directory and the same files as tar.gz and zip stage to the same tree and digest") {
    fs::TempDir tmp("/tmp", "romimg-content-test-");
    const auto src = tmp.path() / "src";
    std::filesystem::create_directories(src / "img");
    fs::write_file_atomic(src / "index.html", "<h1>release 42</h1>\n", 0664);  // normalized to 0644
    fs::write_file_atomic(src / "img/run.sh", "#!/bin/sh\n", 0775);             // to 0755
    std::filesystem::create_symlink("index.html", src / "home.html");
    write_archive(tmp.path() / "r.tar.gz", {{"./", AE_IFDIR, 0755, ""}, {"./index.html", AE_IFREG, 0666, "<h1>release 42</h1>\n"},
                                            {"./img/", AE_IFDIR, 0775, ""}, {"./img/run.sh", AE_IFREG, 0705, "#!/bin/sh\n"},
                                            {"./home.html", AE_IFLNK, 0777, "index.html"}});
    write_archive(tmp.path() / "r.war", {{"index.html", AE_IFREG, 0644, "<h1>release 42</h1>\n"},
                                         {"img/run.sh", AE_IFREG, 0755, "#!/bin/sh\n"},
                                         {"home.html", AE_IFLNK, 0777, "index.html"}},
                  true);
    fs::write_file_atomic(tmp.path() / "not-an-archive.tar.gz", "just text\n");

    auto dir = content::stage_content(spec_for(src), tmp.path() / "t1");
    auto tgz = content::stage_content(spec_for(tmp.path() / "r.tar.gz"), tmp.path() / "t2");
    auto war = content::stage_content(spec_for(tmp.path() / "r.war"), tmp.path() / "t3");
    CHECK(dir.files == 2);
    CHECK(dir.digest == tgz.digest);
    CHECK(dir.digest == war.digest);
    struct stat st;
    REQUIRE(lstat((tmp.path() / "t2/index.html").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0644);
    REQUIRE(lstat((tmp.path() / "t2/img/run.sh").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);
    REQUIRE(lstat((tmp.path() / "t2/img").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0755);
    CHECK(std::filesystem::read_symlink(tmp.path() / "t3/home.html") == "index.html");
    CHECK(fs::read_file(tmp.path() / "t3/index.html") == "<h1>release 42</h1>\n");

    // One changed byte is another layer.
    fs::write_file_atomic(src / "index.html", "<h1>release 43</h1>\n");
    CHECK(content::stage_content(spec_for(src), tmp.path() / "t4").digest != dir.digest);

    CHECK(content::check_source(spec_for(src)) == content::SourceKind::directory);
    CHECK(content::check_source(spec_for(tmp.path() / "r.war")) == content::SourceKind::archive);
    CHECK(error_of([&] { content::check_source(spec_for(tmp.path() / "not-an-archive.tar.gz")); })
              .find("is not an archive romimg can read") != std::string::npos);
    CHECK(error_of([&] { content::check_source(spec_for(tmp.path() / "missing")); }).find("does not exist") != std::string::npos);
}

TEST_CASE("archives that would escape, plant devices or setuid files, or write through a symlink are refused") {
    fs::TempDir tmp("/tmp", "romimg-content-test-");
    int n = 0;
    auto refused = [&](const std::vector<Entry>& entries) {
        const auto file = tmp.path() / ("bad" + std::to_string(++n) + ".tar.gz");
        write_archive(file, entries);
        const auto tree = tmp.path() / ("tree" + std::to_string(n));
        std::string e = error_of([&] { content::stage_content(spec_for(file), tree); });
        return e;
    };
    CHECK(refused({{"/etc/cron.d/x", AE_IFREG, 0644, "x"}}).find("absolute path") != std::string::npos);
    CHECK(refused({{"a/../../x", AE_IFREG, 0644, "x"}}).find("'..'") != std::string::npos);
    CHECK(refused({{"null", AE_IFCHR, 0666, ""}}).find("device node, FIFO or socket") != std::string::npos);
    CHECK(refused({{"fifo", AE_IFIFO, 0666, ""}}).find("device node, FIFO or socket") != std::string::npos);
    CHECK(refused({{"su", AE_IFREG, 04755, "x"}}).find("setuid or setgid") != std::string::npos);
    // A symlink to a host directory, then a file "through" it: must not land on the host.
    const auto outside = tmp.path() / "outside";
    std::filesystem::create_directories(outside);
    CHECK(refused({{"evil", AE_IFLNK, 0777, outside.string()}, {"evil/planted", AE_IFREG, 0644, "x"}})
              .find("not a directory (a symlink?)") != std::string::npos);
    CHECK(refused({{"evil", AE_IFLNK, 0777, outside.string()}, {"evil/linked", AE_IFREG, 0644, "", "evil/x"}}) != "");
    CHECK(std::filesystem::is_empty(outside));
    // Symlinks themselves stay, absolute or not: they resolve inside the jail's chroot.
    write_archive(tmp.path() / "ok.tar.gz", {{"abs", AE_IFLNK, 0777, "/etc/hostname"}, {"f", AE_IFREG, 0644, "1"},
                                             {"hl", AE_IFREG, 0644, "", "f"}});
    auto ok = content::stage_content(spec_for(tmp.path() / "ok.tar.gz"), tmp.path() / "ok");
    CHECK(std::filesystem::read_symlink(tmp.path() / "ok/abs") == "/etc/hostname");
    CHECK(std::filesystem::hard_link_count(tmp.path() / "ok/hl") == 2);
}

TEST_CASE("content ships no host secrets, and no private file becomes world-readable unless allowed") {
    fs::TempDir tmp("/tmp", "romimg-content-test-");
    int n = 0;
    auto staged = [&](const std::vector<Entry>& entries, bool allow_private = false, const std::string& path = "/var/www/html") {
        const auto file = tmp.path() / ("c" + std::to_string(++n) + ".tar.gz");
        write_archive(file, entries);
        content::stage_content(content::parse_content_arg("apache:" + path + "=" + file.string()),
                               tmp.path() / ("tree" + std::to_string(n)), allow_private);
        return tmp.path() / ("tree" + std::to_string(n));
    };
    auto refusal = [&](const std::vector<Entry>& entries, bool allow_private = false, const std::string& path = "/var/www/html") {
        return error_of([&] { staged(entries, allow_private, path); });
    };
    const std::string key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
    // The jails' rule, by name wherever the file lies, and by where it lands in the jail.
    CHECK(refusal({{"shadow", AE_IFREG, 0644, "root:x:1::::::\n"}})
              .find("shadow is a host secret (the jails' rule /etc/shadow): it never goes into an image (remove it from SOURCE)") !=
          std::string::npos);
    CHECK(refusal({{"keys/ssh_host_ed25519_key", AE_IFREG, 0644, key}}).find("the jails' rule /etc/ssh/ssh_host_*_key") != std::string::npos);
    CHECK(refusal({{"x/index.html", AE_IFREG, 0644, "x"}}, true, "/root/site").find("the jails' rule /root/**") != std::string::npos);
    CHECK(refusal({{"shadow", AE_IFREG, 0600, "x"}}, true).find("host secret") != std::string::npos);  // no flag admits them
    // A private key, even world-readable.
    CHECK(refusal({{"tls/site.key", AE_IFREG, 0644, key}})
              .find("tls/site.key is a private key, which the layer would make readable to the service and to anyone who reads "
                    "the image (remove it from SOURCE, or pass --content-allow-private") != std::string::npos);
    CHECK(refusal({{".ssh/id_ed25519", AE_IFREG, 0644, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n"}})
              .find(".ssh/id_ed25519 is a private key") != std::string::npos);
    CHECK(refusal({{"cert.pem", AE_IFREG, 0644, "-----BEGIN CERTIFICATE-----\n"}}).empty());
    CHECK(refusal({{"howto.txt", AE_IFREG, 0644, "Keys look like -----BEGIN RSA PRIVATE KEY-----\n"}}).empty());
    // The source's own mode: a 0600 file or a 0700 directory does not silently become readable.
    CHECK(refusal({{"secret.txt", AE_IFREG, 0600, "x"}})
              .find("secret.txt is not world-readable in SOURCE (mode 0600), and the layer would make it readable to the "
                    "service and to anyone who reads the image (chmod o+r it if it is public, remove it, or pass "
                    "--content-allow-private") != std::string::npos);
    CHECK(refusal({{"private/", AE_IFDIR, 0700, ""}, {"private/a.html", AE_IFREG, 0644, "x"}})
              .find("private is not world-readable in SOURCE (mode 0700), and the layer would make it readable to the service and to "
                    "anyone who reads the image (chmod o+rx it if it is public") != std::string::npos);
    CHECK(refusal({{"priv/", AE_IFDIR, 0750, ""}, {"priv/a.html", AE_IFREG, 0644, "x"}}).find("priv is not world-readable in SOURCE (mode 0750)") !=
          std::string::npos);
    // Allowed: kept with its owner and group bits, never widened.
    const auto tree = staged({{"secret.txt", AE_IFREG, 0640, "x"}, {"priv/", AE_IFDIR, 0700, ""}, {"tls/site.key", AE_IFREG, 0600, key}}, true);
    struct stat st;
    REQUIRE(lstat((tree / "secret.txt").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    REQUIRE(lstat((tree / "priv").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
    REQUIRE(lstat((tree / "tls/site.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
}

TEST_CASE("a content source that is a symlink is followed, one holding the work dir or nothing is refused") {
    fs::TempDir tmp("/tmp", "romimg-content-test-");
    std::filesystem::create_directories(tmp.path() / "release-42");
    fs::write_file_atomic(tmp.path() / "release-42/index.html", "<h1>42</h1>\n");
    std::filesystem::create_directory_symlink("release-42", tmp.path() / "current");
    auto via_link = content::stage_content(spec_for(tmp.path() / "current"), tmp.path() / "t1");
    CHECK(via_link.files == 1);
    CHECK(fs::read_file(tmp.path() / "t1/index.html") == "<h1>42</h1>\n");
    CHECK(via_link.digest == content::stage_content(spec_for(tmp.path() / "release-42"), tmp.path() / "t2").digest);

    std::filesystem::create_directories(tmp.path() / "empty/sub");
    CHECK(error_of([&] { content::stage_content(spec_for(tmp.path() / "empty"), tmp.path() / "t3"); })
              .find("holds no files or symlinks: the layer would be empty") != std::string::npos);
    write_archive(tmp.path() / "empty.tar.gz", {{"d/", AE_IFDIR, 0755, ""}});
    CHECK(error_of([&] { content::stage_content(spec_for(tmp.path() / "empty.tar.gz"), tmp.path() / "t4"); })
              .find("the layer would be empty") != std::string::npos);

    // The work dir inside SOURCE (also through the symlink, and before it exists) would copy itself.
    CHECK(error_of([&] { content::check_source_outside(spec_for(tmp.path() / "current"), tmp.path() / "release-42/work"); })
              .find("contains romimg's work directory " + (tmp.path() / "release-42/work").string() + ", so it would copy itself") !=
          std::string::npos);
    CHECK(error_of([&] { content::check_source_outside(spec_for(tmp.path()), tmp.path()); }) != "");
    CHECK(error_of([&] { content::check_source_outside(spec_for(tmp.path() / "release-42"), tmp.path() / "work"); }).empty());
    std::filesystem::create_directories(tmp.path() / "work/content/x");
    CHECK(error_of([&] { content::check_source_outside(spec_for(tmp.path() / "work/content/x"), tmp.path() / "work"); })
              .find("lies inside romimg's work directory " + (tmp.path() / "work").string() + ", which a build clears and rewrites") !=
          std::string::npos);
}
