// [java] cds = "service": the linked runtime's class-data-sharing archive (lib/server/classes.jsa,
// which the JVM maps by default) holds the JDK classes the service loaded when the build ran it
// in its jail, not only the JDK's default list: they are parsed and verified once, at build time.
// Only classes of the runtime image go in (never the service's class path), so the archive
// depends on the runtime's bytes alone and no jar's mtime can invalidate it.
//
// JDK 17's -Xshare:dump is not deterministic (two dumps of the same list differ in header CRCs
// and archived heap objects), so archives are kept in a cache keyed by the list and the runtime:
// the same inputs give the same bytes on this machine (and a rebuild stays reproducible).
#pragma once

#include <filesystem>
#include <string>

#include "jail/jail.h"

namespace romimg::java {

// Pure: the list to dump. The JDK's default list first (its @lambda-form-invoker and
// @lambda-proxy lines pre-generate the JDK's own lambda forms), then each plain class name of
// `loaded` (a -XX:DumpLoadedClassList file) it lacks, sorted. `loaded`'s @ lines are dropped:
// they are about the service's own lambdas and classes.
std::string dump_list(const std::string& default_list, const std::string& loaded);

// Pure: the cache key of an archive: the list, the JDK version, the runtime's lib/modules and
// libjvm.so digests.
std::string archive_key(const std::string& list, const std::string& version, const std::string& modules_sha256,
                        const std::string& libjvm_sha256);

// Puts the archive for `list` at rt.image/lib/server/classes.jsa: from `cache` (a directory;
// empty = none) or dumped with the runtime's own java -Xshare:dump, in this process's root, then
// kept in the cache. Returns what the archive holds ("N classes: `source`"), for the manifest.
// Throws ToolError if the dump fails: the image never ships an archive the JVM did not write.
std::string share_classes(const jail::JavaRuntime& rt, const std::string& list, const std::string& source,
                          const std::filesystem::path& cache, const std::filesystem::path& work, const std::string& service);

}  // namespace romimg::java
