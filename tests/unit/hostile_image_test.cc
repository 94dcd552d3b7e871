// image.json from a crafted ISO: every value that becomes a name, port, path or boot loader
// line is refused with the field named, before anything uses it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "image/image_info.h"

using namespace romimg;

namespace {

nlohmann::json good() {
    image::ImageInfo a;
    a.label = "ROMIMG";
    a.cmdline = "console=ttyS0 romlock.mode=enforce";
    a.services.push_back({"apache", {80}, "tcp:80", {"GET / 200"}, true, {}});
    a.layers.push_back({"live/root.sqfs", std::string(64, 'a'), 1, "/", std::string(64, 'b'), 2});
    return image::to_json(a);
}

}  // namespace

TEST_CASE("a well-formed image.json passes the checks") { CHECK_NOTHROW(image::image_info_from_json(good())); }

TEST_CASE("image.json service names, ports and ready checks are checked") {
    auto j = good();
    j["services"][0]["name"] = "apache\nromimg-init: x is ready";
    CHECK_THROWS_WITH(image::image_info_from_json(j),
                      Catch::Contains("services[0].name 'apache\\x0aromimg-init: x is ready' is not a service name"));
    j = good();
    j["services"][0]["name"] = "../../etc";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("is not a service name"));
    j = good();
    j["services"][0]["ports"] = {70000};
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("services[0].ports '70000' is not a TCP port"));
    j = good();
    j["services"][0]["ports"] = {0};
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("is not a TCP port"));
    j = good();
    j["services"][0]["ready"] = "tcp:65616";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("expected tcp:PORT with a port of 1-65535"));
    j = good();
    j["services"][0]["ready"] = "tcp:-1";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("expected tcp:PORT with a port of 1-65535"));
    j = good();
    j["services"][0]["probes"] = {"GET /\x1b[2J 200"};
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("contains a control character"));
    j = good();
    j["services"][0]["data"] = {"../var/lib"};
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("services[0].data '../var/lib' is not a data dir"));
    j = good();
    j["services"].push_back(j["services"][0]);
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("services[1].name 'apache' is there twice"));
}

TEST_CASE("image.json layers, label, command line and mode are checked") {
    auto j = good();
    j["layers"][0]["iso_path"] = "../../etc/shadow";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("layers[0].iso_path '../../etc/shadow' is not a safe ISO path"));
    j = good();
    j["layers"][0]["iso_path"] = "/etc/shadow";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("(it is absolute)"));
    j = good();
    j["layers"][0]["mount"] = "/jail/../etc";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("layers[0].mount"));
    j = good();
    j["layers"][0]["sha256"] = "x";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("is not a sha256"));
    j = good();
    j["cmdline"] = "quiet\n  APPEND init=/bin/sh";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("printable ASCII on one line"));
    j = good();
    j["label"] = "ROMIMG\nmenuentry";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("volume label"));
    j = good();
    j["layers"][0]["verity"]["root_hash"] = "abc\nroot_hash 00";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("layers[0].verity.root_hash"));
    j = good();
    j["layers"][0]["verity"]["fec_roots"] = 1000;
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("layers[0].verity.fec_roots '1000' is not 0..24"));
    j = good();
    j["signer"] = "/CN=x\nsigned   by nobody";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("signer"));
    j = good();
    j["romlock_mode"] = "off";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("romlock_mode 'off' is not enforce or permissive"));
}
