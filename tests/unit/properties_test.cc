// [[jail.properties]]: items put in front of a .properties list, read the way java.util.Properties
// reads the file, and the plan transform that makes the jail's copy.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "jail/properties.h"
#include "recipe/template.h"

using romimg::jail::add_to_property_list;
using romimg::jail::set_property;

namespace {
const std::string kKey = "tomcat.util.scan.StandardJarScanFilter.jarsToSkip";
const std::vector<std::string> kAdd = {"tomcat10-*.jar", "eclipse-jdt-core*.jar"};
}  // namespace

TEST_CASE("properties: items go in front of a value continued over lines") {
    const std::string in = "# jars\n" + kKey + "=\\\nannotations-api.jar,\\\nant*.jar\nother=1\n";
    CHECK(add_to_property_list(in, kKey, kAdd) ==
          "# jars\n" + kKey + "=tomcat10-*.jar,eclipse-jdt-core*.jar,\\\nannotations-api.jar,\\\nant*.jar\nother=1\n");
}

TEST_CASE("properties: separators, blanks and an empty value") {
    CHECK(add_to_property_list("a = x,y\n", "a", {"z"}) == "a = z,x,y\n");
    CHECK(add_to_property_list("a:x\n", "a", {"z"}) == "a:z,x\n");
    CHECK(add_to_property_list("  a x\n", "a", {"z"}) == "  a z,x\n");
    CHECK(add_to_property_list("a=\n", "a", {"z", "w"}) == "a=z,w\n");
    CHECK(add_to_property_list("a=\\\n\nb=1\n", "a", {"z"}) == "a=z\\\n\nb=1\n");
    CHECK(add_to_property_list("a=x\r\nb=y\r\n", "b", {"z"}) == "a=x\r\nb=z,y\r\n");
}

TEST_CASE("properties: comments, other keys and continued lines are not the key") {
    // A commented definition, a longer key, and a continuation line that looks like the key.
    const std::string in = "#a=commented\nab=1\nc=1,\\\na=inside-c\n";
    CHECK(add_to_property_list(in, "a", {"z"}) == in + "a=z\n");
    // A comment line ending in a backslash does not continue: the next line is a definition.
    CHECK(add_to_property_list("# note \\\na=x\n", "a", {"z"}) == "# note \\\na=z,x\n");
    // An escaped backslash at the end does not continue either.
    CHECK(add_to_property_list("c=x\\\\\na=y\n", "a", {"z"}) == "c=x\\\\\na=z,y\n");
}

TEST_CASE("properties: the last definition counts, a missing key is appended") {
    CHECK(add_to_property_list("a=1\na=2\n", "a", {"z"}) == "a=1\na=z,2\n");
    CHECK(add_to_property_list("b=1", "a", {"z"}) == "b=1\na=z\n");
    CHECK(add_to_property_list("", "a", {"z"}) == "a=z\n");
}

TEST_CASE("properties: set replaces the whole value, continuations included") {
    // JULI's handlers without its file handlers: only the console, which init drains.
    const std::string in = "handlers = 1catalina.org.apache.juli.AsyncFileHandler, \\\n    java.util.logging.ConsoleHandler\nx=1\n";
    CHECK(set_property(in, "handlers", {"java.util.logging.ConsoleHandler"}) ==
          "handlers = java.util.logging.ConsoleHandler\nx=1\n");
    CHECK(set_property("a=1\nb=2\na=3\n", "a", {"z"}) == "a=1\nb=2\na=z\n");  // the last definition
    CHECK(set_property("a=\n", "a", {"z", "w"}) == "a=z,w\n");
    CHECK(set_property("a=x\r\nb=y\r\n", "a", {"z"}) == "a=z\r\nb=y\r\n");
    CHECK(set_property("b=1", "a", {"z"}) == "b=1\na=z\n");  // missing: appended
    CHECK(set_property("#a=1\n", "a", {"z"}) == "#a=1\na=z\n");
}

TEST_CASE("properties: the jail gets an edited copy, the host file is unchanged") {
    namespace sfs = std::filesystem;
    romimg::fs::TempDir tmp(sfs::temp_directory_path(), "romimg-props-");
    const sfs::path host = tmp.path() / "catalina.properties";
    romimg::fs::write_file_atomic(host, kKey + "=\\\ncatalina.jar\n", 0640);
    romimg::jail::JailPlan plan;
    plan.service = "tomcat";
    romimg::jail::JailNode n;
    n.kind = romimg::jail::JailNode::file;
    n.path = "/etc/tomcat10/catalina.properties";
    n.source = host.string();
    n.mode = 0640;
    n.gid = 91;
    n.why = "traced";
    plan.nodes.push_back(n);
    romimg::recipe::PropertyEdit e{"/etc/tomcat10/catalina.properties", kKey, kAdd};
    auto out = romimg::jail::apply_property_edits(plan, {e}, "tomcat.toml");
    const auto& got = out.nodes[0];
    CHECK(got.kind == romimg::jail::JailNode::generated);
    CHECK(got.content == kKey + "=tomcat10-*.jar,eclipse-jdt-core*.jar,\\\ncatalina.jar\n");
    CHECK(got.size == got.content.size());
    CHECK(got.mode == 0640);
    CHECK(got.gid == 91);
    CHECK(got.source == host.string());
    CHECK(got.why.find("romimg added tomcat10-*.jar,eclipse-jdt-core*.jar to " + kKey) != std::string::npos);
    CHECK(romimg::fs::read_file(host) == kKey + "=\\\ncatalina.jar\n");

    romimg::recipe::PropertyEdit missing{"/etc/tomcat10/nope.properties", kKey, kAdd};
    CHECK_THROWS_WITH(romimg::jail::apply_property_edits(plan, {missing}, "tomcat.toml"),
                      Catch::Contains("/etc/tomcat10/nope.properties is not in the jail of tomcat"));
    plan.nodes[0].kind = romimg::jail::JailNode::symlink;
    CHECK_THROWS_WITH(romimg::jail::apply_property_edits(plan, {e}, "tomcat.toml"),
                      Catch::Contains("is not a regular file in the jail of tomcat: name the .properties file itself"));
}
