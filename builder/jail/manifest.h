// The jail manifest: every path in a jail with its type, size, owning Debian package and why it
// is there; totals per package and overall; what the service's packages occupy when installed.
// Pure given the plan and the package database.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "dpkg/dpkg.h"
#include "jail/jail.h"

namespace romimg::jail {

nlohmann::json manifest_json(const JailPlan& plan, const dpkg::Database& db,
                             const std::vector<std::string>& template_packages);

// The same as a table a person reads.
std::string manifest_table(const nlohmann::json& manifest);

}  // namespace romimg::jail
