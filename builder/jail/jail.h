// The jail stage. plan_jail: FileSet + template + accounts → JailPlan (pure, unit-tested).
// apply_jail: JailPlan → a directory tree (files copied from the host, owners and modes set on
// the copies), written beside and renamed into place so a failure leaves nothing half-written.
// Device nodes are never created on disk: they stay in the plan (the image stage makes them
// through mksquashfs pseudo-definitions as mount points; init and --verify bind the real devices
// over them, so they work although the root is nodev).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "closure/closure.h"
#include "jail/accounts.h"
#include "recipe/template.h"
#include "seccomp/filter.h"

namespace romimg::jail {

struct JailNode {
    enum Kind { dir, file, symlink, hardlink, device, fifo, generated } kind = dir;
    std::string path;     // absolute, inside the jail
    std::string source;   // file: host path to copy; hardlink: the jail path it links to;
                          // generated: the host file it was made from, if any (jail.properties)
    std::string target;   // symlink text
    std::string content;  // generated files (passwd, group)
    unsigned mode = 0755; // permission bits
    unsigned uid = 0, gid = 0;
    unsigned major = 0, minor = 0;  // character devices
    uint64_t size = 0;
    closure::Reason reason = closure::Reason::traced;
    std::string why;
};

// A mount init makes inside the jail at run time (and --verify makes on the build host).
struct JailMount {
    std::string type;     // "tmpfs" or "proc"
    std::string target;   // inside the jail
    std::string options;  // tmpfs: "size=8m,mode=0755,uid=33,gid=33"; proc: "ro"
};

// [java] runtime = "jlink": the runtime that replaced the distribution's (builder/java/runtime.h).
struct JavaRuntime {
    std::string home;                 // in the jail: /usr/lib/jvm/java-17-openjdk-amd64
    std::string version;              // the JDK's, e.g. 17.0.21
    std::string jmods;                // where it was linked from
    std::vector<std::pair<std::string, std::string>> modules;  // module → why
    std::string cds;                  // what its classes.jsa holds ("" = none)
    std::string image;                // the linked image in the work dir (its files are the nodes' sources)
    // The host files it was made from (jmods, the jlink tool), for the base cache's stamps.
    std::vector<std::string> inputs;
};

struct JailPlan {
    std::string service;
    std::vector<JailNode> nodes;    // sorted by path: every parent comes before its children
    std::vector<JailMount> mounts;  // writable tmpfs areas, /proc
    std::vector<std::string> devices;  // device nodes bound in at run time (appliance::allowed_devices)
    std::vector<std::string> start_execs;  // programs it may start before it is ready (start_execs())
    std::vector<closure::Finding> findings;
    JailAccounts accounts;
    std::vector<std::string> capabilities;
    // The service's seccomp filter, planned from the trace (build_jail); mode off = none.
    seccomp::FilterPlan seccomp;
    std::optional<JavaRuntime> java;
};

// "/dev/null, /dev/zero, ..." for messages.
std::string allowed_device_list();

// Pure. Throws ConfigError for a template that contradicts itself (a log file under a writable
// dir would be hidden by the tmpfs).
JailPlan plan_jail(const closure::FileSet& files, const recipe::ServiceTemplate& t,
                   const JailAccounts& accounts);

// Pure: what the service was seen to exec after its own first exec (shells and scripts a
// configuration runs, piped loggers), if the plan holds them as files: the only programs romlock's
// start lock lets it start before it is ready. Paths with blanks are left out (reported).
std::vector<std::string> start_execs(const trace::TraceResult& traced, const JailPlan& plan,
                                     std::vector<closure::Finding>* left_out = nullptr);

// Writes the plan's tree at `dir` (created; an existing `dir` is replaced only if it is a jail
// romimg made). Returns the bytes copied.
uint64_t apply_jail(const JailPlan& plan, const std::filesystem::path& dir);

}  // namespace romimg::jail
