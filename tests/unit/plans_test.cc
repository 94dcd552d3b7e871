// The pipeline's pure plans (builder/plans.h): appliance.conf and image.json, from the inputs.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "content/content.h"
#include "plans.h"
#include "target/target.h"

using namespace romimg;

namespace {
recipe::ServiceTemplate svc(const std::string& name, int port, bool exec_lock = true) {
    recipe::ServiceTemplate t;
    t.name = name;
    t.command = {"/usr/sbin/" + name};
    t.ports = {port};
    t.ready = "tcp:" + std::to_string(port);
    t.trace_probes = {"GET / 200"};
    t.verify_probes = {"GET /nope 404"};
    t.exec_lock = exec_lock;
    return t;
}
jail::JailPlan plan_for(unsigned uid) {
    jail::JailPlan p;
    p.accounts.uid = uid;
    p.accounts.gid = uid;
    return p;
}
}  // namespace

TEST_CASE("plans: appliance.conf carries the options and each service's content mount points", "[plans]") {
    pipeline::BuildOptions opt;
    opt.hostname = "shop";
    opt.log_to = "udp://10.0.0.1:514";
    opt.log_console = true;
    const std::vector<recipe::ServiceTemplate> ts = {svc("apache", 80), svc("tomcat", 8080)};
    const jail::JailPlan a = plan_for(33), t = plan_for(106);
    const std::vector<content::ContentSpec> contents = {content::parse_content_arg("tomcat:/var/lib/tomcat10/webapps=/x"),
                                                        content::parse_content_arg("apache:/var/www/html=/y"),
                                                        content::parse_content_arg("apache:/srv/docs=/z")};
    const appliance::Conf c = pipeline::appliance_conf_plan(opt, ts, {&a, &t}, contents);
    CHECK(c.hostname == "shop");
    CHECK(c.log_to == "udp://10.0.0.1:514");
    CHECK(c.log_console);
    CHECK_FALSE(c.debug_shell);
    REQUIRE(c.services.size() == 2);
    CHECK(c.services[0].uid == 33);
    CHECK(c.services[1].uid == 106);
    // Numbered per service, in the order given; mounted inside that service's jail.
    REQUIRE(c.services[0].layers.size() == 2);
    CHECK(c.services[0].layers[0].image == "/run/medium/" + content::layer_iso_path("apache", 1));
    CHECK(c.services[0].layers[1].image == "/run/medium/" + content::layer_iso_path("apache", 2));
    CHECK(c.services[0].layers[1].target == content::layer_mount_point(contents[2]));
    REQUIRE(c.services[1].layers.size() == 1);
    CHECK(c.services[1].layers[0].image == "/run/medium/" + content::layer_iso_path("tomcat", 1));
    opt.exec_lock = false;
    CHECK_FALSE(pipeline::appliance_conf_plan(opt, ts, {&a, &t}, contents).services[0].exec_lock);
    CHECK_THROWS(pipeline::appliance_conf_plan(opt, ts, {&a}, contents));  // a service without its jail
}

TEST_CASE("plans: image.json says what the image is", "[plans]") {
    pipeline::BuildOptions opt;
    opt.label = "SHOP42";
    opt.romlock_mode = "permissive";
    const std::vector<recipe::ServiceTemplate> ts = {svc("apache", 80), svc("tomcat", 8080, false)};
    const std::vector<content::ContentSpec> contents = {content::parse_content_arg("apache:/var/www/html=/y")};
    const std::string aa(64, 'a'), bb(64, 'b');
    const image::LayerInfo root{"live/root.sqfs", aa, 1000, "/"};
    const auto& i386 = target::target_named("i386");
    image::ImageInfo info = pipeline::image_info_plan(opt, i386, staging::TraceRoute::translated, "console=ttyS0", 1700000000,
                                                      ts, root, contents, {{"", bb, 200, ""}});
    CHECK(info.label == "SHOP42");
    CHECK(info.cmdline == "console=ttyS0");
    CHECK(info.source_date_epoch == 1700000000);
    CHECK(info.romlock_mode == "permissive");
    CHECK(info.arch == "i386");
    CHECK(info.traced == std::string("translated from ") + target::host_target().name);
    REQUIRE(info.services.size() == 2);
    CHECK(info.services[0].probes == std::vector<std::string>{"GET / 200", "GET /nope 404"});
    CHECK(info.services[0].exec_lock);
    CHECK_FALSE(info.services[1].exec_lock);  // the template's own choice
    REQUIRE(info.layers.size() == 2);
    CHECK(info.layers[0].iso_path == "live/root.sqfs");
    CHECK(info.layers[1].iso_path == content::layer_iso_path("apache", 1));
    CHECK(info.layers[1].sha256 == bb);
    CHECK(info.layers[1].bytes == 200);
    CHECK(info.layers[1].mount == content::layer_mount_point(contents[0]));
    // What it plans is what image.json can hold (validated as a stranger's image would be).
    CHECK_NOTHROW(image::image_info_from_json(image::to_json(info)));
    opt.exec_lock = false;
    info = pipeline::image_info_plan(opt, target::host_target(), staging::TraceRoute::native, "", 0, ts, root, {}, {});
    CHECK(info.traced == "native");
    CHECK_FALSE(info.services[0].exec_lock);
    CHECK(info.layers.size() == 1);
    CHECK_THROWS(pipeline::image_info_plan(opt, i386, staging::TraceRoute::native, "", 0, ts, root, contents, {}));
}
