// libFuzzer target: jail templates and romimg.toml, the files romimg reads from other people.
// Either parser may refuse the input, but only with romimg::Error (a ConfigError naming
// file:line): any other exception, a crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "recipe/appliance_config.h"
#include "recipe/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        romimg::recipe::parse_template(text, "/fuzz/jail-templates/fuzz.toml");
    } catch (const romimg::Error&) {
    }
    try {
        romimg::recipe::parse_config(text, "/fuzz/romimg.toml");
    } catch (const romimg::Error&) {
    }
    return 0;
}
