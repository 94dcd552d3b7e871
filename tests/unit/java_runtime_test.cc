// [java] runtime = "jlink": module declarations read from jars, the modules chosen, the runtime's
// nodes replaced in the plan, and the CDS class list and cache key.
#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>

#include "cache/base_cache.h"
#include "common/error.h"
#include "common/fs.h"
#include "java/cds.h"
#include "java/module_info.h"
#include "java/runtime.h"
#include "recipe/template.h"

using namespace romimg;

namespace {

// A module-info.class as javac writes it: ACC_MODULE, a Module attribute, with a long constant
// (two pool slots) in the pool to prove the slots are counted.
std::string module_info(const std::string& name, const std::vector<std::pair<std::string, unsigned>>& requires_) {
    std::string b;
    auto u1 = [&](unsigned v) { b += char(v & 0xff); };
    auto u2 = [&](unsigned v) { u1(v >> 8); u1(v); };
    auto u4 = [&](uint32_t v) { u2(v >> 16); u2(v & 0xffff); };
    auto utf8 = [&](const std::string& s) { u1(1); u2(s.size()); b += s; };
    u4(0xCAFEBABE);
    u2(0);
    u2(61);
    // #1 "module-info" #2 Class #1 #3 "Module" #4 Long (#5 unusable) #6 name #7 Module #6, then per
    // require: utf8 + Module.
    u2(8 + 2 * requires_.size());
    utf8("module-info");
    u1(7); u2(1);
    utf8("Module");
    u1(5); u4(0); u4(42);
    utf8(name);
    u1(19); u2(6);
    for (size_t i = 0; i < requires_.size(); ++i) {
        utf8(requires_[i].first);
        u1(19); u2(8 + 2 * i);
    }
    u2(0x8000); u2(2); u2(0);  // access, this, super
    u2(0); u2(0); u2(0);       // interfaces, fields, methods
    u2(1);
    u2(3);
    std::string attr;
    std::swap(b, attr);
    u2(7); u2(0); u2(0);
    u2(requires_.size());
    for (size_t i = 0; i < requires_.size(); ++i) { u2(9 + 2 * i); u2(requires_[i].second); u2(0); }
    u2(0); u2(0); u2(0); u2(0);  // exports, opens, uses, provides
    std::swap(b, attr);
    u4(attr.size());
    b += attr;
    u2(0);  // class attributes after Module: none
    return b;
}

void write_zip(const std::filesystem::path& path, const std::vector<std::pair<std::string, std::string>>& files) {
    struct archive* a = archive_write_new();
    archive_write_set_format_zip(a);
    REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
    for (const auto& [name, data] : files) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, data.size());
        REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
        REQUIRE(archive_write_data(a, data.data(), data.size()) == (la_ssize_t)data.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

}  // namespace

TEST_CASE("java: module-info.class gives the module and its requires with their flags") {
    auto d = java::parse_module_info(
        module_info("org.example.app", {{"java.base", 0x8000}, {"java.sql", 0x20}, {"java.xml.ws", 0x40}, {"jdk.crypto.ec", 0}}),
        "t.jar");
    CHECK(d.name == "org.example.app");
    REQUIRE(d.requires_.size() == 4);
    CHECK(d.requires_[1].name == "java.sql");
    CHECK(d.requires_[1].transitive);
    CHECK_FALSE(d.requires_[1].is_static);
    CHECK(d.requires_[2].is_static);
    CHECK(d.requires_[3].name == "jdk.crypto.ec");
}

TEST_CASE("java: a damaged module-info.class is an error naming the jar") {
    std::string good = module_info("a", {{"java.base", 0}});
    CHECK_THROWS_WITH(java::parse_module_info(good.substr(0, good.size() - 9), "x.jar"), Catch::Contains("x.jar") && Catch::Contains("truncated"));
    CHECK_THROWS_WITH(java::parse_module_info("PK\x03\x04 not a class", "x.jar"), Catch::Contains("not a Java class file"));
    std::string bad_tag = good;
    bad_tag[10] = char(99);  // the first constant's tag
    CHECK_THROWS_WITH(java::parse_module_info(bad_tag, "x.jar"), Catch::Contains("unknown constant-pool tag 99"));
}

TEST_CASE("java: a jar's declaration, also from META-INF/versions up to the runtime's version") {
    fs::TempDir tmp(fs::temp_parent());
    const auto dir = tmp.path();
    write_zip(dir / "root.jar", {{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"},
                                 {"module-info.class", module_info("root.mod", {{"java.naming", 0}})}});
    write_zip(dir / "mr.jar", {{"META-INF/versions/11/module-info.class", module_info("v11", {{"java.sql", 0}})},
                               {"META-INF/versions/21/module-info.class", module_info("v21", {{"java.net.http", 0}})},
                               {"a/B.class", "not parsed"}});
    write_zip(dir / "plain.jar", {{"a/B.class", "x"}});
    fs::write_file_atomic(dir / "text.jar", "this is not a zip\n");
    auto r = java::jar_module((dir / "root.jar").string(), 17);
    REQUIRE(r);
    CHECK(r->name == "root.mod");
    auto mr = java::jar_module((dir / "mr.jar").string(), 17);
    REQUIRE(mr);
    CHECK(mr->name == "v11");  // 21 is above the runtime's 17
    CHECK(java::jar_module((dir / "mr.jar").string(), 21)->name == "v21");
    CHECK_FALSE(java::jar_module((dir / "plain.jar").string(), 17));
    CHECK_THROWS_WITH(java::jar_module((dir / "text.jar").string(), 17), Catch::Contains("is not a readable jar"));
}

TEST_CASE("java: the modules chosen and why") {
    std::set<std::string> jmods = {"java.base", "java.sql", "java.naming", "java.xml", "jdk.crypto.ec", "java.compiler"};
    java::ModuleDecl app{"org.app", {{"java.sql", false, true}, {"java.xml.ws", true, false}, {"java.compiler", true, false},
                                     {"org.other", false, false}}};
    auto m = java::choose_modules({{"/usr/share/java/app.jar", app}}, 2, {"java.base", "java.naming"}, {"jdk.crypto.ec"},
                                  jmods, "/t/tomcat.toml");
    std::map<std::string, std::string> got(m.begin(), m.end());
    CHECK(got.size() == 4);
    CHECK(got.at("java.base") == "every Java runtime");
    CHECK(got.at("java.sql") == "required by org.app (/usr/share/java/app.jar)");
    CHECK(got.at("java.naming") == "referenced by the classes of the 2 jars without a module declaration (jdeps)");
    CHECK(got.at("jdk.crypto.ec") == "the template's java.modules");
    CHECK_FALSE(got.count("java.compiler"));  // requires static: optional at run time
    CHECK_FALSE(got.count("org.other"));      // not the JDK's
    CHECK_THROWS_WITH(java::choose_modules({}, 0, {}, {"jdk.nonesuch"}, jmods, "/t/tomcat.toml"),
                      Catch::Contains("/t/tomcat.toml") && Catch::Contains("the JDK has no module 'jdk.nonesuch'"));
}

TEST_CASE("java: the runtime's nodes are the image's, native files only where the service loaded them") {
    const std::string home = "/usr/lib/jvm/java-17-openjdk-amd64";
    jail::JailPlan plan;
    auto node = [](jail::JailNode::Kind k, const std::string& path, const std::string& source = "") {
        jail::JailNode n;
        n.kind = k;
        n.path = path;
        n.source = source;
        return n;
    };
    plan.nodes = {node(jail::JailNode::dir, "/usr/lib/jvm"), node(jail::JailNode::dir, home),
                  node(jail::JailNode::file, home + "/bin/java", home + "/bin/java"),
                  node(jail::JailNode::file, home + "/lib/libjava.so", home + "/lib/libjava.so"),
                  node(jail::JailNode::file, home + "/lib/modules", home + "/lib/modules"),
                  node(jail::JailNode::symlink, home + "/lib/jvm.cfg"),
                  node(jail::JailNode::symlink, "/usr/lib/jvm/default-java"),
                  node(jail::JailNode::file, "/usr/share/java/x.jar", "/usr/share/java/x.jar")};
    plan.nodes[5].target = "/etc/java-17-openjdk/jvm-amd64.cfg";
    using E = java::ImageEntry;
    std::vector<E> image = {{"bin", E::dir, "", 0755, 0, false},          {"bin/java", E::file, "", 0755, 10, true},
                            {"bin/keytool", E::file, "", 0755, 10, true}, {"lib", E::dir, "", 0755, 0, false},
                            {"lib/jvm.cfg", E::file, "", 0644, 5, false}, {"lib/libawt.so", E::file, "", 0644, 9, true},
                            {"lib/libjava.so", E::file, "", 0644, 8, true}, {"lib/modules", E::file, "", 0644, 50, false},
                            {"legal", E::dir, "", 0755, 0, false},         {"legal/LICENSE", E::symlink, "../x/LICENSE", 0777, 0, false}};
    auto out = java::replace_runtime(plan, home, "/w/java/tomcat", image, "jlink'd");
    std::map<std::string, jail::JailNode> by;
    for (const auto& n : out.nodes) by[n.path] = n;
    CHECK(by.count(home + "/bin/java"));
    CHECK(by.at(home + "/bin/java").source == "/w/java/tomcat/bin/java");
    CHECK_FALSE(by.count(home + "/bin/keytool"));    // native, never run
    CHECK_FALSE(by.count(home + "/lib/libawt.so"));  // native, never loaded
    CHECK(by.at(home + "/lib/libjava.so").source == "/w/java/tomcat/lib/libjava.so");
    CHECK(by.at(home + "/lib/jvm.cfg").kind == jail::JailNode::file);  // the image's own, not Debian's symlink
    CHECK(by.at(home + "/lib/modules").size == 50);
    CHECK(by.at(home + "/legal/LICENSE").target == "../x/LICENSE");
    CHECK(by.at(home).why == "jlink'd");
    CHECK(by.at("/usr/share/java/x.jar").source == "/usr/share/java/x.jar");  // outside the runtime: untouched
    CHECK(by.count("/usr/lib/jvm/default-java"));
    for (size_t i = 1; i < out.nodes.size(); ++i) CHECK(out.nodes[i - 1].path < out.nodes[i].path);
}

TEST_CASE("java: the base cache stamps what a runtime was linked from, not the linked files") {
    jail::JailPlan plan;
    jail::JailNode a, b;
    a.kind = b.kind = jail::JailNode::file;
    a.path = "/usr/lib/jvm/j/lib/modules";
    a.source = "/w/java/tomcat/lib/modules";
    b.path = b.source = "/usr/share/java/x.jar";
    plan.nodes = {a, b};
    jail::JavaRuntime rt;
    rt.image = "/w/java/tomcat";
    rt.inputs = {"/usr/lib/jvm/j/jmods/java.base.jmod", "/usr/lib/jvm/j/bin/jlink"};
    plan.java = rt;
    auto s = cache::host_sources(plan);
    CHECK(s == std::vector<std::string>{"/usr/lib/jvm/j/bin/jlink", "/usr/lib/jvm/j/jmods/java.base.jmod", "/usr/share/java/x.jar"});
}

TEST_CASE("java: Debian's JDK package for a runtime home") {
    CHECK(java::jdk_package_for("/usr/lib/jvm/java-17-openjdk-amd64") == "openjdk-17-jdk-headless");
    CHECK(java::jdk_package_for("/usr/lib/jvm/java-17-openjdk-i386") == "openjdk-17-jdk-headless");
    CHECK(java::jdk_package_for("/opt/jdk-17") == "");
    CHECK(java::jdk_package_for("/usr/lib/jvm/java-x-openjdk-amd64") == "");
}

TEST_CASE("java: the CDS list is the JDK's default one plus the plain classes the service loaded") {
    const std::string dflt = "# comment\n@lambda-form-invoker [LF_RESOLVE] java.lang.invoke.X\njava/lang/Object\njava/lang/String\n";
    const std::string loaded = "java/lang/Object\njavax/management/ObjectName\n@lambda-proxy org/app/A run ()V\n"
                               "org/apache/catalina/startup/Bootstrap\njava/util/logging/Logger id: 4\n\n";
    CHECK(java::dump_list(dflt, loaded) == dflt +
                                               "java/util/logging/Logger\njavax/management/ObjectName\n"
                                               "org/apache/catalina/startup/Bootstrap\n");
    CHECK(java::dump_list(dflt, loaded) == java::dump_list(dflt, "javax/management/ObjectName\n" + loaded));  // order-free
}

TEST_CASE("java: the CDS cache key changes with every input") {
    const std::string k = java::archive_key("L", "17.0.15", "m", "j");
    CHECK(k.size() == 64);
    CHECK(k == java::archive_key("L", "17.0.15", "m", "j"));
    CHECK(k != java::archive_key("L2", "17.0.15", "m", "j"));
    CHECK(k != java::archive_key("L", "17.0.21", "m", "j"));
    CHECK(k != java::archive_key("L", "17.0.15", "m2", "j"));
    CHECK(k != java::archive_key("L", "17.0.15", "m", "j2"));
}

TEST_CASE("java: the [java] table of a template") {
    const std::string head = "[service]\ncommand = [\"/usr/bin/java\"]\n";
    auto t = recipe::parse_template(head + "[jail]\nwritable = [\"/tmp\"]\n[java]\nruntime = \"jlink\"\nmodules = [\"jdk.crypto.ec\"]\n",
                                    "/t/svc.toml");
    CHECK(t.java.runtime == "jlink");
    CHECK(t.java.cds == "service");
    CHECK(t.java.modules == std::vector<std::string>{"jdk.crypto.ec"});
    CHECK(recipe::parse_template(head, "/t/svc.toml").java.runtime == "distribution");
    CHECK_THROWS_WITH(recipe::parse_template(head + "[java]\nruntime = \"jre\"\n", "/t/svc.toml"),
                      Catch::Contains("java.runtime must be \"jlink\""));
    CHECK_THROWS_WITH(recipe::parse_template(head + "[java]\nruntime = \"jlink\"\ncds = \"app\"\n", "/t/svc.toml"),
                      Catch::Contains("java.cds must be"));
    CHECK_THROWS_WITH(recipe::parse_template(head + "[java]\nruntime = \"jlink\"\nmodules = [\"Java.Base\"]\n", "/t/svc.toml"),
                      Catch::Contains("is not a JDK module name"));
    CHECK_THROWS_WITH(recipe::parse_template(head + "[java]\nmodules = [\"java.sql\"]\n", "/t/svc.toml"),
                      Catch::Contains("only apply with java.runtime = \"jlink\""));
    // The class list run writes into a writable dir of the jail.
    CHECK_THROWS_WITH(recipe::parse_template(head + "[java]\nruntime = \"jlink\"\n", "/t/svc.toml"),
                      Catch::Contains("needs a writable dir"));
    CHECK(recipe::parse_template(head + "[java]\nruntime = \"jlink\"\ncds = \"default\"\n", "/t/svc.toml").java.cds == "default");
    CHECK_THROWS_WITH(recipe::parse_template(head + "[java]\nruntime = \"jlink\"\nheap = 1\n", "/t/svc.toml"),
                      Catch::Contains("heap"));
}
