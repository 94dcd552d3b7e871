// String helpers that know nothing of romimg.
#pragma once

#include <string>
#include <vector>

namespace romimg {

// "a::b" split on ':' is {"a", "", "b"}; with skip_empty, {"a", "b"}. "" gives {""} / {}.
std::vector<std::string> split(const std::string& s, char sep, bool skip_empty = false);

}  // namespace romimg
