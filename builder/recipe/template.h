// Jail templates (jail-templates/NAME.toml, format in jail-templates/README.md) → plain structs.
// Input: a template name or path. Output: ServiceTemplate. No side effects.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "seccomp/filter.h"

namespace romimg::recipe {

struct WritableArea {
    std::string path;
    std::string size = "16m";
    // A dir of log files the service names itself (dated, rotated: no FIFO can stand in for
    // them): init drains each file into the service's bounded log and empties it once it has
    // grown past 256 KiB or gone 10 minutes without a write, so the tmpfs does not fill under load
    // or over time (docs/limits.md).
    bool logs = false;
};

// [[jail.properties]]: items added in front of a comma-separated list in a Java .properties
// file of the jail (the copy: the host's file is not changed), e.g. Tomcat's jarsToSkip; or the
// list replaced (`set`), e.g. JULI's handlers without its file handlers.
struct PropertyEdit {
    std::string file;               // absolute, the file itself (not a path through a symlink)
    std::string key;                // "tomcat.util.scan.StandardJarScanFilter.jarsToSkip"
    std::vector<std::string> add;   // "tomcat10-*.jar"
    bool set = false;               // `set = [...]`: `add` holds the key's whole new value
};

// [java]: the Java runtime of a Java service's jail (builder/java/runtime.h).
struct JavaSpec {
    std::string runtime = "distribution";  // "jlink": a runtime of only the modules it needs
    std::vector<std::string> modules;      // JDK modules beyond what its jars say (found by name at run time)
    // With jlink, the class-data-sharing archive: "service" (the JDK classes the service loaded in
    // its jail), "default" (the JDK's own class list) or "off".
    std::string cds = "service";
    // The JVM's heap as a share of the service's memory limit at boot ("40%"); "" leaves it to
    // the JVM (a quarter of the machine's RAM, which it sees, not the limit). Init then also tells
    // the JVM the limit (-XX:MaxRAM), from which it sizes the rest (docs/limits.md).
    std::string heap;
};

// [limits]: what the service may take from the machine. Init puts it in a cgroup of its own
// (memory.max, pids.max, memory.oom.group) and gives it RLIMIT_NOFILE; docs/limits.md.
struct Limits {
    // memory.max: a size ("256m") or a share of the RAM the machine has at boot ("75%").
    std::string memory = "75%";
    int tasks = 1024;     // pids.max: processes and threads together
    long files = 4096;    // RLIMIT_NOFILE (rlimits.nofile, when given, is the same limit)
    // Restarts in a row (each after a run shorter than a minute) before init gives up on it.
    int restarts = 10;
    // The least memory (a size, "96m") the service works in: where its limit comes out lower
    // (a share of a small machine's RAM), init does not start it and says why. "": no floor.
    std::string memory_needed;
};

// [data]: the service's state, kept on the appliance's data disk (docs/data-disk.md).
struct DataSpec {
    std::vector<std::string> paths;  // dirs of the service ("/var/lib/mysql"), seeded from this host's
    std::string missing = "refuse";  // no data disk: "refuse" to start, or run on a "tmpfs"
    std::string size = "64m";        // that tmpfs's size
};

struct ServiceTemplate {
    std::filesystem::path file;  // where it was read from
    std::string name;            // file name without .toml
    std::string description;
    std::vector<std::string> packages;  // Debian packages the service comes from

    std::vector<std::string> command;  // argv; argv[0] absolute
    std::map<std::string, std::string> environment;
    std::string cwd = "/";
    std::string user;   // "" = root
    std::string group;  // "" = the user's primary group
    std::vector<std::string> capabilities;  // "CAP_NET_BIND_SERVICE"
    std::vector<int> ports;
    std::string stop_signal = "TERM";
    int stop_timeout = 10;

    std::string ready;  // "tcp:80" or a URL ("" = none)
    int ready_timeout = 60;
    std::vector<std::string> trace_probes;
    std::vector<std::string> verify_probes;

    std::vector<std::string> include, exclude;  // globs
    // [site] paths: this host's configuration and content of the service (directories or files),
    // copied over a staging root's own (a build for another arch) so the image serves the same site.
    std::vector<std::string> site;
    std::vector<WritableArea> writable;
    std::vector<std::string> logs;
    std::vector<std::string> devices;  // beyond /dev/null, zero, random, urandom: e.g. "/dev/full"
    bool proc = false;
    bool exec_lock = true;
    bool keep_setuid = false;     // keep setuid/setgid bits of jailed files (dropped by default)
    bool keep_file_caps = false;  // keep file capabilities (dropped by default)
    std::vector<PropertyEdit> properties;  // [[jail.properties]]
    std::map<std::string, long> rlimits;  // "nofile" → 1024
    Limits limits;                        // [limits]
    JavaSpec java;                        // [java]
    DataSpec data;                        // [data]
    seccomp::TemplateRules seccomp;       // [seccomp]: mode, allow, allow_never
};

// One directory searched for NAME.toml, and where it comes from.
struct TemplateDir {
    std::filesystem::path dir;
    std::string origin;  // "ROMIMG_TEMPLATES", "system", "user", "shipped"
};

// The search path, first wins: $ROMIMG_TEMPLATES (colon-separated), /etc/romimg/templates
// (system), $XDG_CONFIG_HOME or ~/.config, /romimg/templates (user), then the templates romimg
// ships. Pure: the caller passes the environment ("" when unset).
std::vector<TemplateDir> template_search_path(const std::string& env_templates, const std::filesystem::path& etc,
                                              const std::string& xdg_config_home, const std::string& home,
                                              const std::filesystem::path& shipped);
// The search path of this process (its environment, /etc, the installed templates).
std::vector<TemplateDir> template_dirs();

// A template found on the search path: the file that wins, and the files of the same name that
// it hides (later on the path).
struct FoundTemplate {
    std::string name;
    std::filesystem::path file;
    std::string origin;
    struct Hidden {
        std::filesystem::path file;
        std::string origin;
    };
    std::vector<Hidden> hidden;
};
std::vector<FoundTemplate> find_templates(const std::vector<TemplateDir>& path);

// NAME (searched in template_dirs(); when it is not the shipped one, or hides others, the build
// log says which file it took) or a path to a .toml file. Throws ConfigError with
// file:line for syntax errors, unknown keys and wrong types; Error if not found.
ServiceTemplate load_template(const std::string& name_or_path);

// Parses template text (pure; `file` is only used in messages).
ServiceTemplate parse_template(const std::string& text, const std::filesystem::path& file);

// What the jail holds beyond the trace: jail.include, and each [data] path whole (its content on
// this host is the seed of the data disk's copy).
std::vector<std::string> jail_includes(const ServiceTemplate& t);

// NAME → description for every template found.
std::map<std::string, std::string> list_templates();
// A template file's description, or "(invalid: why)".
std::string describe_template(const std::filesystem::path& file);

}  // namespace romimg::recipe
