// libFuzzer target: what romimg reads back from an ISO it did not necessarily make (/romimg/:
// image.json, kernel.json, jails/NAME.json, appliance.conf), and the tables it prints from them.
// A refusal must be romimg::Error naming the bad field: any other exception, a crash or a
// sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "appliance_conf.h"
#include "common/error.h"
#include "image/diff.h"
#include "image/image_info.h"
#include "image/manifest.h"

using namespace romimg;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    image::ImageManifest m;
    m.conf = text;
    appliance::Conf conf;
    std::string error;
    if (appliance::parse_conf(text, conf, error)) {
        std::vector<std::string> policy;
        std::string why;
        if (appliance::romlock_policy(conf, policy, why)) m.policy = policy;
        // What init accepts, the builder writes back the same way: format and parse agree.
        const std::string written = appliance::format_conf(conf);
        appliance::Conf again;
        if (!appliance::parse_conf(written, again, error) || appliance::format_conf(again) != written) __builtin_trap();
    }
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) {
        try {
            m.info = image::image_info_from_json(j);
        } catch (const Error&) {
        }
        try {
            m.kernel = image::kernel_info_from_json(j);
        } catch (const Error&) {
        }
        try {
            m.jails.push_back(image::jail_record_from_json(j));
        } catch (const Error&) {
        }
    }
    image::manifest_table(m);
    constexpr auto replace = nlohmann::json::error_handler_t::replace;  // as manifest_cmd and diff_cmd print
    image::manifest_json(m).dump(2, ' ', false, replace);
    image::content_layers(m.info);
    const image::ImageDiff d = image::diff_images(image::ImageManifest{}, m);
    image::diff_table(d);
    image::diff_json(d).dump(2, ' ', false, replace);
    return 0;
}
