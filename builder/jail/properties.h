// [[jail.properties]]: a template's additions to (or replacements of) comma-separated lists in Java
// .properties files of its jail (Tomcat's jarsToSkip, so that Debian's versioned jar names are not scanned at each
// start). The jail gets an edited copy, a generated node; the host's file is never changed.
#pragma once

#include <string>
#include <vector>

#include "jail/jail.h"
#include "recipe/template.h"

namespace romimg::jail {

// Pure. `text` with `items` put in front of `key`'s value, the way java.util.Properties reads the
// file: the last definition of the key counts, values continue over lines ending in '\', '#' and
// '!' start comments, '=', ':' or blanks end a key. A key the file lacks is appended.
std::string add_to_property_list(const std::string& text, const std::string& key, const std::vector<std::string>& items);

// Pure. `text` with `key`'s value replaced by `items` (comma-separated), the rest of the file as it
// was; a key the file lacks is appended.
std::string set_property(const std::string& text, const std::string& key, const std::vector<std::string>& items);

// The plan with each edit applied: the file's node becomes a generated one (same owner and mode)
// whose `why` names the items added. Throws ConfigError when the file is not a regular file of
// the jail (a missing file, or a path through a symlink: name the file itself).
JailPlan apply_property_edits(JailPlan plan, const std::vector<recipe::PropertyEdit>& edits,
                              const std::filesystem::path& template_file);

}  // namespace romimg::jail
