// [java] runtime = "jlink": a Java runtime of only the modules a service needs, in place of the
// distribution's JDK in its jail. The modules come from the service's jars: those with a module
// declaration (module-info.class) say what they require; for those without one, jdeps reads
// their class references. The template can add modules found by name at run time
// (jdk.crypto.ec, ...). jlink links them from the JDK's jmods (openjdk-N-jdk-headless, a
// build-host package) with the same JVM, so the ELF closure the trace saw still holds.
// Input: a jail plan and its template, in the build's root. Output: the plan with the runtime's
// nodes replaced and plan.java saying which modules and why.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "java/module_info.h"
#include "jail/jail.h"
#include "recipe/template.h"

namespace romimg::java {

struct Jdk {
    std::string home;         // /usr/lib/jvm/java-17-openjdk-amd64 (no symlink in it)
    std::string version;      // "17.0.15", from home/release
    int feature = 0;          // 17
    std::string jdk_package;  // "openjdk-17-jdk-headless": where its jmods come from
};

// The JDK whose bin/java `argv0` is (through symlinks), in this process's root; nullopt when it
// is not one (a wrapper script, another program).
std::optional<Jdk> jdk_of(const std::string& argv0);

// Pure: "openjdk-17-jdk-headless" for a home named java-17-openjdk-ARCH ("" if not Debian's).
std::string jdk_package_for(const std::string& home);

// Pure: the modules to link, each with why. `declared`: jar → its declaration; `referenced`: what
// jdeps found in the jars without one (`undeclared` of them); `jmods`: the JDK's modules (names).
// Requires of modules the JDK lacks (the service's own, other libraries') and `requires static`
// ones (optional at run time) are left out. Throws ConfigError (naming the template) for a
// template module the JDK does not have.
std::vector<std::pair<std::string, std::string>> choose_modules(
    const std::vector<std::pair<std::string, ModuleDecl>>& declared, size_t undeclared,
    const std::vector<std::string>& referenced, const std::vector<std::string>& template_modules,
    const std::set<std::string>& jmods, const std::filesystem::path& template_file);

// One entry of a linked image, relative to it.
struct ImageEntry {
    std::string rel;  // "lib/modules"
    enum Kind { file, dir, symlink } kind = file;
    std::string target;  // symlink text
    unsigned mode = 0644;
    uint64_t size = 0;
    bool elf = false;  // a native program or library
};

// Pure: `plan` with every node under `home` replaced by the image's entries (sources under
// `image_dir`). Native files are kept only where the plan had them (what the service was seen to
// load, with their libraries in the plan): jlink copies them byte for byte from the same JDK, so
// the closure computed from the trace still holds. `why` goes on every new node.
jail::JailPlan replace_runtime(jail::JailPlan plan, const std::string& home, const std::string& image_dir,
                               const std::vector<ImageEntry>& image, const std::string& why);

// Links the runtime for `t` (t.java.runtime == "jlink") in this process's root and puts it in the
// plan: jdeps, jlink into WORK/java/SERVICE, and unless cds = "off" a CDS archive of the JDK's
// default class list (java/cds.h; `cds_cache` as there). Throws Error naming the fix when the
// command is not a JDK's java or its jmods are missing.
jail::JailPlan link_runtime(jail::JailPlan plan, const recipe::ServiceTemplate& t, const std::filesystem::path& work,
                            const std::filesystem::path& cds_cache);

}  // namespace romimg::java
