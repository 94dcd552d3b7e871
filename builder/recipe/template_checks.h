// Every template string and number that reaches the romlock policy, a mount, a command line,
// appliance.conf or a file name, checked after parsing (templates given by path included), so
// that a template can only say what its keys mean. Throws ConfigError with file:line naming the
// key, the value and the fix. Pure apart from nothing: `root` is the parsed TOML, for lines.
#pragma once

#include <string>

#include <toml++/toml.h>

#include "recipe/template.h"

namespace romimg::recipe {

void check_template(const ServiceTemplate& t, const toml::table& root);

// The pure rules, for tests and other callers: "" if fine, else what is wrong.
std::string writable_path_problem(const std::string& path);
// A [site] path: absolute, normal (no "." or ".." component, no doubled or trailing "/"), not "/"
// and not a system tree a site never is (/usr, /lib*, /bin, /sbin, /proc, /sys, /dev, /run, /boot).
std::string site_path_problem(const std::string& path);  // absolute, normal, not a system dir
std::string size_problem(const std::string& size);           // "16m": digits and one of k, m, g
std::string memory_limit_problem(const std::string& s);  // "256m" or "75%" (limits.memory)
std::string heap_share_problem(const std::string& s);    // "40%", 5% to 90% (java.heap)
long long size_bytes(const std::string& size);            // of a size without a problem: "16m" → 16777216
std::string account_name_problem(const std::string& name);   // a user or group name
std::string env_key_problem(const std::string& key);
std::string glob_problem(const std::string& glob);           // include/exclude
std::string property_key_problem(const std::string& key);    // [[jail.properties]] key
std::string property_item_problem(const std::string& item);  // one item of its add list

}  // namespace romimg::recipe
