// Integers read from JSON that someone else may have written (an ISO's /romimg/ files, cached
// traces). nlohmann's get<int>() converts whatever number it finds: a float out of the type's
// range is undefined behaviour (hostile.fuzz-image found 1.7e64 as source_date_epoch), and a
// large unsigned silently wraps. json_int<T> takes only a JSON integer within T's range.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace romimg {

// `v` as a T; else the nlohmann exception get<T>() throws for a wrong type (type_error 302) or
// out_of_range 406, so callers' existing json::exception handling names the field.
template <class T>
T json_int(const nlohmann::json& v) {
    static_assert(std::numeric_limits<T>::is_integer);
    if (!v.is_number_integer())
        throw nlohmann::json::type_error::create(302, std::string("type must be an integer, but is ") + v.type_name(), &v);
    const auto too_big = [&] {
        return nlohmann::json::out_of_range::create(
            406, "integer " + v.dump() + " is outside " + std::to_string(std::numeric_limits<T>::min()) + ".." +
                     std::to_string(std::numeric_limits<T>::max()),
            &v);
    };
    if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) throw too_big();
        return static_cast<T>(u);
    }
    const int64_t s = v.get<int64_t>();
    if (s < 0 ? (!std::numeric_limits<T>::is_signed || s < static_cast<int64_t>(std::numeric_limits<T>::min()))
              : static_cast<uint64_t>(s) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        throw too_big();
    return static_cast<T>(s);
}

}  // namespace romimg
