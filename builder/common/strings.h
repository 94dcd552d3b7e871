// String helpers that know nothing of romimg.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace romimg {

// "a::b" split on ':' is {"a", "", "b"}; with skip_empty, {"a", "b"}. "" gives {""} / {}.
std::vector<std::string> split(const std::string& s, char sep, bool skip_empty = false);

// A size a person reads: "12.3 MB", "45.6 kB", "789 B" (binary units, kept short).
std::string human_bytes(uint64_t bytes);

}  // namespace romimg
