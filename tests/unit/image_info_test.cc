// /romimg/image.json round trip, bad input, and reading files out of a real ISO (xorriso).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/json_int.h"
#include "image/image_info.h"

using namespace romimg;

TEST_CASE("image.json round-trips every field") {
    image::ImageInfo a;
    a.label = "SHOP_42";
    a.cmdline = "console=ttyS0 romlock.mode=enforce";
    a.source_date_epoch = 1700000000;
    a.romlock_mode = "permissive";
    a.services.push_back({"apache", {80, 443}, "tcp:80", {"GET / 200", "GET /x 404"}, false, {}});
    a.layers.push_back({"live/root.sqfs", std::string(64, 'a'), 123456, "/", std::string(64, 'c'), 2});
    image::ImageInfo b = image::image_info_from_json(image::to_json(a));
    CHECK(image::to_json(b) == image::to_json(a));
    CHECK(b.services.at(0).ports == std::vector<int>{80, 443});
    CHECK_FALSE(b.services.at(0).exec_lock);
    CHECK(b.layers.at(0).bytes == 123456);
    // [data] paths: written only for a service that has them (older images read the same).
    CHECK_FALSE(image::to_json(a)["services"][0].contains("data"));
    a.services.push_back({"mariadb", {3306}, "tcp:3306", {}, true, {"/var/lib/mysql"}});
    image::ImageInfo c = image::image_info_from_json(image::to_json(a));
    CHECK(c.services.at(1).data == std::vector<std::string>{"/var/lib/mysql"});
    CHECK(c.services.at(0).data.empty());
}

TEST_CASE("image.json with a missing field or another format is refused, naming it") {
    image::ImageInfo a;
    nlohmann::json j = image::to_json(a);
    j.erase("cmdline");
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("'cmdline'"));
    j = image::to_json(a);
    j["format"] = 99;
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("format 99"));
}

TEST_CASE("image.json numbers must be integers in range (a stranger's ISO)", "[hostile]") {
    image::ImageInfo a;
    a.services.push_back({"apache", {80}, "tcp:80", {"GET / 200"}, true, {}});
    a.layers.push_back({"live/root.sqfs", std::string(64, 'a'), 123456, "/", std::string(64, 'c'), 2});
    // Found by hostile.fuzz-image: a float far out of range was converted to int64_t (UB).
    nlohmann::json j = image::to_json(a);
    j["source_date_epoch"] = nlohmann::json::parse("17044444444444444444444444444444444444444444444444444444440000000");
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("'source_date_epoch'") && Catch::Contains("integer"));
    j = image::to_json(a);
    j["source_date_epoch"] = 1.5;
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("'source_date_epoch'"));
    j = image::to_json(a);
    j["services"][0]["ports"] = nlohmann::json::parse("[4294967376]");  // not 80 once wrapped to 32 bits
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("'services'") && Catch::Contains("4294967376"));
    j = image::to_json(a);
    j["layers"][0]["bytes"] = -1;
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("'layers'"));
    j = image::to_json(a);
    j["format"] = "1";
    CHECK_THROWS_WITH(image::image_info_from_json(j), Catch::Contains("'format'"));
}

TEST_CASE("json_int: a JSON integer within the type's range, nothing else", "[hostile]") {
    using nlohmann::json;
    CHECK(json_int<int>(json(80)) == 80);
    CHECK(json_int<int64_t>(json::parse("-5")) == -5);
    CHECK(json_int<uint64_t>(json::parse("18446744073709551615")) == UINT64_MAX);
    CHECK(json_int<unsigned>(json(4294967295u)) == 4294967295u);
    CHECK_THROWS_AS(json_int<unsigned>(json(4294967296ull)), json::out_of_range);
    CHECK_THROWS_AS(json_int<unsigned>(json(-1)), json::out_of_range);
    CHECK_THROWS_AS(json_int<int>(json(2147483648ll)), json::out_of_range);
    CHECK_THROWS_AS(json_int<int>(json(-2147483649ll)), json::out_of_range);
    CHECK_THROWS_AS(json_int<int64_t>(json::parse("1e300")), json::type_error);
    CHECK_THROWS_AS(json_int<int>(json(3.0)), json::type_error);
    CHECK_THROWS_AS(json_int<int>(json("80")), json::type_error);
    CHECK_THROWS_AS(json_int<int>(json(true)), json::type_error);
}

TEST_CASE("files are read out of an ISO; a file that is not an ISO is named") {
    fs::TempDir dir("/tmp", "romimg-unit-");
    std::filesystem::create_directories(dir.path() / "tree/romimg");
    std::filesystem::create_directories(dir.path() / "tree/live");
    fs::write_file_atomic(dir.path() / "tree/romimg/image.json", "{}\n");
    fs::write_file_atomic(dir.path() / "tree/live/a.txt", "hello");
    auto iso = dir.path() / "t.iso";
    run(Command{{"xorriso", "-as", "mkisofs", "-quiet", "-V", "UNIT_LABEL", "-R", "-o", iso.string(),
                 (dir.path() / "tree").string()},
                {}, {}, dir.path() / "x.log"});
    CHECK(image::iso_volume_label(iso) == "UNIT_LABEL");
    CHECK(image::iso_files(iso) == std::vector<std::string>{"live/a.txt", "romimg/image.json"});
    CHECK(image::read_iso_file(iso, "live/a.txt") == "hello");
    CHECK_THROWS_WITH(image::read_iso_file(iso, "live/none"), Catch::Contains("has no /live/none"));
    CHECK_THROWS_WITH(image::read_image_info(iso), Catch::Contains("'format'"));
    CHECK_THROWS_WITH(image::iso_volume_label(dir.path() / "tree/live/a.txt"), Catch::Contains("not an ISO 9660 image"));
}
