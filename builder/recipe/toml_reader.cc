#include "recipe/toml_reader.h"

namespace romimg::recipe {

toml::table parse_toml(const std::string& text, const std::filesystem::path& file) {
    try {
        return toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
        throw ConfigError(file, (long)e.source().begin.line, std::string(e.description()));
    }
}

}  // namespace romimg::recipe
