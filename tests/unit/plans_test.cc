// The pipeline's pure plans (builder/plans.h): appliance.conf and image.json, from the inputs.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "content/content.h"
#include "plans.h"
#include "target/target.h"
#include "appliance_conf.h"
#include "image/manifest.h"

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
    const image::LayerInfo root{"live/root.sqfs", aa, 1000, "/", "", 0};
    const auto& i386 = target::target_named("i386");
    image::ImageInfo info = pipeline::image_info_plan(opt, i386, staging::TraceRoute::translated, "console=ttyS0", 1700000000,
                                                      ts, root, contents, {{"", bb, 200, "", "", 0}});
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

TEST_CASE("plans: the kernel is the target's, built with --jobs or every core", "[plans]") {
    pipeline::BuildOptions opt;
    const auto& i386 = target::target_named("i386");
    kernel::KernelOptions k = pipeline::kernel_plan(opt, i386, "/src/kernel-config", "/cache", 2);
    CHECK(k.arch == "i386");
    CHECK(k.config_dir == "/src/kernel-config");
    CHECK(k.cache_dir == "/cache");
    CHECK(k.jobs == 2);
    CHECK(pipeline::kernel_plan(opt, target::target_named("amd64"), "/k", "/c", 2).arch == "x86_64");
    CHECK(pipeline::kernel_plan(opt, i386, "/k", "/c", 0).jobs == 1);  // an unknown core count still builds
    opt.jobs = 7;
    CHECK(pipeline::kernel_plan(opt, i386, "/k", "/c", 2).jobs == 7);
}

TEST_CASE("plans: the initramfs is romimg-init as /init, what early boot mounts on, and the verity params", "[plans]") {
    const auto entries = pipeline::initramfs_plan("/build/romimg-init-i386", "ROOT\n", "SELFTEST\n");
    std::vector<std::string> paths;
    for (const auto& e : entries) paths.push_back(e.path);
    CHECK(paths == std::vector<std::string>{"dev", "dev/console", "init", "proc", "sys", "verity", "verity/root.params",
                                            "verity/selftest.params"});
    CHECK(entries[6].data == "ROOT\n");
    CHECK(entries[7].data == "SELFTEST\n");
    CHECK(entries[6].mode == 0444);
    // --no-verity (benchmarking): no root params, so init mounts the root unchecked and says so;
    // the self-test is still verified.
    std::vector<std::string> bare;
    for (const auto& e : pipeline::initramfs_plan("/build/romimg-init", "", "S\n")) bare.push_back(e.path);
    CHECK(bare == std::vector<std::string>{"dev", "dev/console", "init", "proc", "sys", "verity", "verity/selftest.params"});
    const auto& init = entries[2];
    CHECK(init.type == initramfs::Entry::Type::File);
    CHECK(init.host_source == "/build/romimg-init-i386");
    CHECK(init.mode == 0755);
    CHECK(entries[1].type == initramfs::Entry::Type::CharDev);
    CHECK(entries[1].major == 5);
    CHECK(entries[1].minor == 1);
}

namespace {
// A small image: one service with a content layer, its appliance.conf and manifest.
struct SmallImage {
    pipeline::BuildOptions opt;
    image::ImageInfo info;
    std::string conf;
    SmallImage() {
        opt.output = "/out/shop.iso";
        const std::vector<recipe::ServiceTemplate> ts = {svc("apache", 80)};
        const jail::JailPlan a = plan_for(33);
        const std::vector<content::ContentSpec> contents = {content::parse_content_arg("apache:/var/www/html=/y")};
        conf = appliance::format_conf(pipeline::appliance_conf_plan(opt, ts, {&a}, contents));
        info = pipeline::image_info_plan(opt, target::host_target(), staging::TraceRoute::native, "console=ttyS0", 1700000000,
                                         ts, {"live/root.sqfs", std::string(64, 'a'), 1000, "/", std::string(64, 'c'), 2},
                                         contents, {{"", std::string(64, 'b'), 200, "", std::string(64, 'd'), 2}});
    }
    pipeline::IsoInputs inputs() const {
        pipeline::IsoInputs in;
        in.kernel = "/cache/bzImage";
        in.initramfs = "/w/initramfs.cpio.gz";
        in.root_sqfs = "/cache/base/root.sqfs";
        in.layers = {"/cache/content/apache-1.sqfs"};
        in.root_tree = "/cache/verity/r/tree";
        in.layer_trees = {"/cache/verity/a/tree"};
        in.layer_params = {"format 1\n"};
        in.romimg_sha256 = "r";
        in.kernel_sha256 = "k";
        in.initramfs_sha256 = "i";
        in.description = pipeline::image_description_plan(info, image::KernelInfo{}, conf, {{"apache", "{\"files\":[]}\n"}});
        return in;
    }
};
}  // namespace

TEST_CASE("plans: /romimg/ describes the image, its kernel, policy, config and jails", "[plans]") {
    const SmallImage s;
    const auto files = pipeline::image_description_plan(s.info, image::KernelInfo{}, s.conf, {{"apache", "M\n"}});
    std::vector<std::string> paths;
    for (const auto& [p, text] : files) paths.push_back(p);
    CHECK(paths == std::vector<std::string>{image::kInfoPath, image::kKernelInfoPath, image::kPolicyPath, image::kConfPath,
                                            std::string(image::kJailsDir) + "apache.json"});
    CHECK(image::image_info_from_json(nlohmann::json::parse(files[0].second)).label == s.info.label);
    CHECK(files[2].second.find("chroot /jail/apache\n") != std::string::npos);  // the policy comes from the conf
    CHECK(files[2].second.find("seal\n") != std::string::npos);
    CHECK(files[3].second == s.conf);
    CHECK(files[4].second == "M\n");
    CHECK_THROWS_AS(pipeline::image_description_plan(s.info, image::KernelInfo{}, "no such line\n", {}), Error);
}

TEST_CASE("plans: the ISO carries every layer where image.json says, and its key covers every input", "[plans]") {
    const SmallImage s;
    const pipeline::IsoInputs in = s.inputs();
    const auto& host = target::host_target();
    const pipeline::IsoPlan p = pipeline::iso_plan(s.opt, host, s.info, "console=ttyS0", iso::Media::cd, 1700000000, "/w", in);
    const iso::IsoRequest& r = p.request;
    CHECK(r.kernel == "/cache/bzImage");
    CHECK(r.initramfs == "/w/initramfs.cpio.gz");
    CHECK(r.output == "/out/shop.iso");
    CHECK(r.log == "/w/logs/50-iso.log");
    CHECK(r.uefi == host.uefi);
    CHECK(r.media == iso::Media::cd);
    CHECK(r.source_date_epoch == 1700000000);
    // root, its tree, the content layer, its tree and params, then the /romimg/ files
    REQUIRE(r.payload.size() == 5 + in.description.size());
    CHECK(r.payload[0].source == "/cache/base/root.sqfs");
    CHECK(r.payload[0].iso_path == "live/root.sqfs");
    CHECK(r.payload[1].source == "/cache/verity/r/tree");
    CHECK(r.payload[1].iso_path == "live/root.sqfs.verity");
    CHECK(r.payload[2].source == "/cache/content/apache-1.sqfs");
    CHECK(r.payload[2].iso_path == s.info.layers[1].iso_path);
    CHECK(r.payload[3].source == "/cache/verity/a/tree");
    CHECK(r.payload[3].iso_path == s.info.layers[1].iso_path + ".verity");
    CHECK(r.payload[4].iso_path == s.info.layers[1].iso_path + ".verity.params");
    // The params and the /romimg/ files are written under work/image first, then laid onto the medium.
    REQUIRE(p.files.size() == 1 + in.description.size());
    CHECK(p.files[0].first == std::filesystem::path("/w/image") / (s.info.layers[1].iso_path + ".verity.params"));
    CHECK(p.files[0].second == "format 1\n");
    CHECK(r.payload[4].source == p.files[0].first);
    for (size_t i = 0; i < in.description.size(); ++i) {
        CHECK(p.files[1 + i].first == std::filesystem::path("/w/image") / in.description[i].first);
        CHECK(p.files[1 + i].second == in.description[i].second);
        CHECK(r.payload[5 + i].source == p.files[1 + i].first);
        CHECK(r.payload[5 + i].iso_path == in.description[i].first);
    }
    CHECK_FALSE(pipeline::iso_plan(s.opt, target::target_named("i386"), s.info, "c", iso::Media::any, 0, "/w", in).request.uefi);

    // Equal inputs, equal keys; any input changed, another key (the output's place is not an input).
    auto key = [&](pipeline::BuildOptions o, pipeline::IsoInputs i, std::string cmdline = "console=ttyS0", time_t epoch = 1) {
        return pipeline::iso_plan(o, host, s.info, cmdline, iso::Media::any, epoch, "/w", i).inputs_key;
    };
    const std::string k0 = key(s.opt, in);
    CHECK(k0.size() == 64);
    pipeline::BuildOptions moved = s.opt;
    moved.output = "/elsewhere.iso";
    CHECK(key(moved, in) == k0);
    CHECK(key(s.opt, in, "console=tty0") != k0);
    CHECK(key(s.opt, in, "console=ttyS0", 2) != k0);
    pipeline::BuildOptions relabeled = s.opt;
    relabeled.label = "OTHER";
    CHECK(key(relabeled, in) != k0);
    for (std::string pipeline::IsoInputs::*digest : {&pipeline::IsoInputs::romimg_sha256, &pipeline::IsoInputs::kernel_sha256,
                                                     &pipeline::IsoInputs::initramfs_sha256}) {
        pipeline::IsoInputs changed = in;
        changed.*digest += "x";
        CHECK(key(s.opt, changed) != k0);
    }
    pipeline::IsoInputs reparamed = in;
    reparamed.layer_params[0] += "x";
    CHECK(key(s.opt, reparamed) != k0);
    pipeline::IsoInputs redescribed = in;
    redescribed.description.back().second += " ";
    CHECK(key(s.opt, redescribed) != k0);
    // image.json and the squashfs files must agree.
    pipeline::IsoInputs missing = in;
    missing.layers.clear();
    CHECK_THROWS_AS(pipeline::iso_plan(s.opt, host, s.info, "c", iso::Media::any, 0, "/w", missing), Error);
    pipeline::IsoInputs unverified = in;  // --no-verity: no trees, no params on the medium
    unverified.root_tree.clear();
    unverified.layer_trees.clear();
    unverified.layer_params.clear();
    CHECK(pipeline::iso_plan(s.opt, host, s.info, "c", iso::Media::any, 0, "/w", unverified).request.payload.size() ==
          2 + in.description.size());
    pipeline::IsoInputs treeless = in;
    treeless.layer_trees.clear();
    CHECK_THROWS_AS(pipeline::iso_plan(s.opt, host, s.info, "c", iso::Media::any, 0, "/w", treeless), Error);
}

TEST_CASE("plans: the ISO stamp names the key and the ISO's identity", "[plans]") {
    struct timespec t {1700000000, 5};
    const std::string a = pipeline::iso_stamp_text("key", 1, 2, 3, t);
    CHECK(a == "key\n1 2 3 1700000000.5\n");
    t.tv_nsec = 6;  // the ISO was rewritten since
    CHECK(pipeline::iso_stamp_text("key", 1, 2, 3, t) != a);
}
