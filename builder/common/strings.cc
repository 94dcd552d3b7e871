#include "common/strings.h"

#include <fmt/format.h>

namespace romimg {

std::vector<std::string> split(const std::string& s, char sep, bool skip_empty) {
    std::vector<std::string> out;
    size_t i = 0;
    for (;;) {
        size_t j = s.find(sep, i);
        std::string part = s.substr(i, j == std::string::npos ? std::string::npos : j - i);
        if (!skip_empty || !part.empty()) out.push_back(std::move(part));
        if (j == std::string::npos) return out;
        i = j + 1;
    }
}

std::string human_bytes(uint64_t b) {
    if (b >= 10ull << 20) return fmt::format("{:.1f} MB", b / 1048576.0);
    if (b >= 10ull << 10) return fmt::format("{:.1f} kB", b / 1024.0);
    return fmt::format("{} B", b);
}

}  // namespace romimg
