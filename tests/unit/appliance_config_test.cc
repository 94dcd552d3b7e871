// romimg.toml: every key, the shipped example, strict errors with file:line, and how the build
// command layers defaults, the file and its flags.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "cli/build_options.h"
#include "common/error.h"
#include "common/fs.h"
#include "pipeline.h"
#include "recipe/appliance_config.h"

using namespace romimg;
using namespace romimg::recipe;

namespace {

std::string error_of(const std::string& text) {
    try {
        parse_config(text, "/etc/shop/romimg.toml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("romimg.toml: every key, relative paths against the file's directory") {
    ApplianceConfig c = parse_config(R"(
services = ["apache"]
hostname = "www1"
label = "SHOP_1"
media = "dvd"
compression = "zstd"
romlock_mode = "permissive"
log_to = "udp://10.0.0.5:514"
log_console = true
output = "out/shop.iso"
work = "/var/tmp/w"
source_date_epoch = 1700000000
[net]
address = "192.0.2.10/24"
gateway = "192.0.2.1"
[[content]]
service = "apache"
path = "/var/www/html"
source = "site"
)", "/etc/shop/romimg.toml");
    CHECK(c.services == std::vector<std::string>{"apache"});
    CHECK(*c.hostname == "www1");
    CHECK(*c.label == "SHOP_1");
    CHECK(*c.media == "dvd");
    CHECK(*c.compression == "zstd");
    CHECK(*c.romlock_mode == "permissive");
    CHECK(*c.log_to == "udp://10.0.0.5:514");
    CHECK(*c.log_console);
    CHECK(*c.output == "/etc/shop/out/shop.iso");
    CHECK(*c.work == "/var/tmp/w");
    CHECK(*c.source_date_epoch == 1700000000);
    CHECK(*c.net == "static:192.0.2.10/24,192.0.2.1");
    CHECK(c.content == std::vector<std::string>{"apache:/var/www/html=/etc/shop/site"});
}

TEST_CASE("romimg.toml: net = dhcp, content as the CLI's strings, unset keys stay unset") {
    ApplianceConfig c = parse_config("net = \"dhcp\"\ncontent = [\"tomcat:/var/lib/tomcat10/webapps=/srv/wars\"]\n",
                                     "/x/romimg.toml");
    CHECK(*c.net == "dhcp");
    CHECK(c.content == std::vector<std::string>{"tomcat:/var/lib/tomcat10/webapps=/srv/wars"});
    CHECK_FALSE(c.services);
    CHECK_FALSE(c.hostname);
    CHECK_FALSE(c.log_console);
    CHECK_FALSE(c.output);
}

TEST_CASE("romimg.toml.example parses and says what it documents") {
    std::filesystem::path example = std::filesystem::path(ROMIMG_SOURCE_DIR) / "romimg.toml.example";
    ApplianceConfig c = load_config(example);
    CHECK(c.services == std::vector<std::string>{"apache", "tomcat"});
    CHECK(*c.net == "static:192.0.2.10/24,192.0.2.1,192.0.2.53");
    REQUIRE(c.content.size() == 1);
    CHECK(c.content[0] == "apache:/var/www/html=" + (example.parent_path() / "site").string());
    CHECK(c.seccomp.at("tomcat") == "enforce");
}

TEST_CASE("romimg.toml: unknown keys and bad values name file and line") {
    CHECK(error_of("hostname = \"a\"\nhostnmae = \"b\"\n") == "/etc/shop/romimg.toml:2: unknown key 'hostnmae'");
    CHECK(error_of("\n\nmedia = \"floppy\"") == "/etc/shop/romimg.toml:3: media is cd or dvd, got 'floppy'");
    CHECK(error_of("compression = \"gzip\"").find(":1: compression is xz or zstd") != std::string::npos);
    CHECK(error_of("label = \"my label\"").find(":1: volume label 'my label'") != std::string::npos);
    CHECK(error_of("services = []").find(":1: services must name at least one") != std::string::npos);
    CHECK(error_of("services = [\"../etc\"]").find("not a template name") != std::string::npos);
    CHECK(error_of("log_to = \"tcp://x:1\"").find(":1: log_to takes udp://") != std::string::npos);
    CHECK(error_of("log_console = \"yes\"").find(":1: log_console must be true or false") != std::string::npos);
    CHECK(error_of("net = \"static\"").find(":1: net is \"dhcp\" or a [net] table") != std::string::npos);
    CHECK(error_of("[net]\naddress = \"192.0.2.10\"\ngateway = \"192.0.2.1\"").find(":2: net.address") !=
          std::string::npos);
    CHECK(error_of("[net]\naddress = \"192.0.2.10/24\"\ngateway = \"gw\"").find(":3: net.gateway") != std::string::npos);
    CHECK(error_of("[net]\naddress = \"192.0.2.10/24\"\ngateway = \"192.0.2.1\"\nmask = 1").find(
              ":4: unknown key 'net.mask'") != std::string::npos);
    CHECK(error_of("[[content]]\nservice = \"apache\"\npath = \"var/www\"\nsource = \"s\"")
              .find("path must be absolute") != std::string::npos);
    CHECK(error_of("content = [\"apache/var/www\"]").find("SERVICE:PATH=SOURCE") != std::string::npos);
    CHECK(error_of("source_date_epoch = -1").find(":1: source_date_epoch must be") != std::string::npos);
    CHECK(error_of("verity_fec = 1").find(":1: verity_fec is 0 (no error correction) or 2 to 24") != std::string::npos);
    CHECK(error_of("verity_fec = 100").find(":1: verity_fec is 0") != std::string::npos);
    CHECK(error_of("sign_key = 3").find("sign_key") != std::string::npos);
    CHECK(error_of("hostname = \"a b\"").find(":1: hostname must be") != std::string::npos);
    CHECK(error_of("services = [\"apache\"").find("/etc/shop/romimg.toml:1:") != std::string::npos);  // syntax
}

TEST_CASE("romimg build: defaults, then romimg.toml, then flags") {
    fs::TempDir tmp(std::filesystem::temp_directory_path(), "romimg-config-test-");
    const std::filesystem::path& dir = tmp.path();
    fs::write_file_atomic(dir / "romimg.toml",
                          "services = [\"apache\"]\nhostname = \"www1\"\ncompression = \"zstd\"\nlabel = \"SHOP\"\n"
                          "output = \"shop.iso\"\nsource_date_epoch = 5\n");
    cli::BuildFlags none;
    pipeline::BuildOptions o = cli::build_options(none, dir);  // ./romimg.toml found in cwd
    CHECK(o.services == std::vector<std::string>{"apache"});
    CHECK(o.hostname == "www1");
    CHECK(o.fast);
    CHECK(o.label == "SHOP");
    CHECK(o.net == "dhcp");  // default kept
    CHECK(*o.source_date_epoch == 5);
    CHECK(o.output.filename() == "shop.iso");

    cli::BuildFlags flags;
    flags.services = {"tomcat"};
    flags.hostname = "cli";
    flags.epoch = "7";
    o = cli::build_options(flags, dir);
    CHECK(o.services == std::vector<std::string>{"tomcat"});
    CHECK(o.hostname == "cli");
    CHECK(o.label == "SHOP");
    CHECK(*o.source_date_epoch == 7);

    flags.no_config = true;
    o = cli::build_options(flags, dir);
    CHECK(o.label == "ROMIMG");
    CHECK_FALSE(o.fast);

    cli::BuildFlags missing;
    missing.config = (dir / "nope.toml").string();
    CHECK_THROWS_AS(cli::build_options(missing, dir), UsageError);
    cli::BuildFlags bad_epoch;
    bad_epoch.no_config = true;
    bad_epoch.epoch = "yesterday";
    CHECK_THROWS_AS(cli::build_options(bad_epoch, dir), UsageError);
}

TEST_CASE("seccomp modes: romimg.toml's [seccomp], --seccomp over it, each value checked") {
    ApplianceConfig c = parse_config("[seccomp]\ntomcat = \"log\"\n\"*\" = \"off\"\n", "/x/romimg.toml");
    CHECK(c.seccomp.at("tomcat") == "log");
    CHECK(c.seccomp.at("*") == "off");
    pipeline::BuildOptions o;
    pipeline::apply_config(c, o);
    CHECK(pipeline::seccomp_override(o, "tomcat") == "log");
    CHECK(pipeline::seccomp_override(o, "apache") == "off");  // "*"
    CHECK_THROWS_WITH(parse_config("[seccomp]\ntomcat = \"strict\"\n", "/x/romimg.toml"),
                      Catch::Contains("romimg.toml:2") && Catch::Contains("\"enforce\", \"log\" or \"off\""));
    CHECK_THROWS_WITH(parse_config("[seccomp]\n\"../x\" = \"log\"\n", "/x/romimg.toml"),
                      Catch::Contains("not a service name"));
    auto dir = std::filesystem::temp_directory_path();
    cli::BuildFlags f;
    f.no_config = true;
    f.seccomp = {"log", "apache=enforce"};
    pipeline::BuildOptions b = cli::build_options(f, dir);
    CHECK(pipeline::seccomp_override(b, "apache") == "enforce");
    CHECK(pipeline::seccomp_override(b, "tomcat") == "log");
    f.seccomp = {"apache=maybe"};
    CHECK_THROWS_WITH(cli::build_options(f, dir), Catch::Contains("--seccomp takes [SERVICE=]enforce|log|off"));
    pipeline::BuildOptions none;
    CHECK_FALSE(pipeline::seccomp_override(none, "apache"));
}
