// What an image contains, for `romimg manifest` and `romimg diff`: besides /romimg/image.json,
// `romimg build` writes into every ISO
//   /romimg/jails/NAME.json    the jail manifest (jail/manifest.h) with the sha256 of every file
//   /romimg/kernel.json        kernel version string, sha256 of its .config, cache key, inputs
//   /romimg/romlock.policy     the policy lines init writes before sealing
//   /romimg/appliance.conf     a copy of /etc/romimg/appliance.conf: what PID 1 does (host name,
//                              logs, debug shell, each service's argv, user, caps, mounts)
// All of it is deterministic: no build paths, no host name, no time but SOURCE_DATE_EPOCH.
// Reading them back and formatting them is pure apart from read_manifest (which reads the ISO).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/image_info.h"
#include "seccomp/filter.h"

namespace romimg::image {

inline constexpr const char* kKernelInfoPath = "romimg/kernel.json";
inline constexpr const char* kPolicyPath = "romimg/romlock.policy";
inline constexpr const char* kJailsDir = "romimg/jails/";
inline constexpr const char* kConfPath = "romimg/appliance.conf";

struct KernelInfo {
    std::string version;        // "6.12.117-romimg (romimg@romimg) #1 SMP 1970-01-01", from the bzImage
    std::string config_sha256;  // of the kernel's final .config
    std::string cache_key;      // kernel::cache_key of its inputs
    std::string source;         // linux-source package version
    std::string compiler;
};

nlohmann::json to_json(const KernelInfo& k);
KernelInfo kernel_info_from_json(const nlohmann::json& j);

// Pure: the version string an x86 bzImage carries in its setup header (the kernel_version field
// at 0x20e points at a NUL-terminated string, 0x200 bytes before where it says). `head` is the
// start of the file (the first 64 KiB is plenty). Throws Error if it is not a bzImage.
std::string bzimage_version(const std::string& head);

// One entry of a jail, as the manifest lists it.
struct JailEntry {
    std::string path;
    std::string type;     // file, dir, symlink, hardlink, device, fifo, generated
    std::string mode;     // "0644"
    unsigned uid = 0, gid = 0;
    uint64_t size = 0;
    std::string sha256;   // files, generated files and hard links
    std::string target;   // symlink text, hard link target or device numbers
    std::string package;  // owning Debian package, "" if none
    std::string version;
    std::string reason;   // traced, closure, include, basics, generated
    std::string why;
};

struct JailRecord {
    std::string service;
    std::vector<JailEntry> entries;              // sorted by path
    std::map<std::string, std::string> packages; // package → version, of the entries
    uint64_t files = 0, bytes = 0;
    std::optional<seccomp::FilterPlan> seccomp;  // none: an image from before per-service filters
    // [java] runtime = "jlink": the linked runtime (the jail manifest's "java"); none: the distribution's.
    struct Java {
        std::string home, version, cds;
        std::vector<std::string> modules;
    };
    std::optional<Java> java;
};

// The jail manifest as it goes into the ISO: `manifest` (jail::manifest_json) plus the sha256 of
// every file, read from the applied jail at `jail_dir`.
nlohmann::json jail_record_json(const nlohmann::json& manifest, const std::filesystem::path& jail_dir);
JailRecord jail_record_from_json(const nlohmann::json& j);  // throws Error naming the bad field

// Everything `romimg manifest` shows.
struct ImageManifest {
    ImageInfo info;
    KernelInfo kernel;
    std::vector<std::string> policy;  // romlock policy lines, "seal" last
    std::vector<JailRecord> jails;    // in the order of info.services
    std::string conf;                 // appliance.conf as written
};

// Pure: appliance.conf as lines that stand alone, for diffing: comments, blank lines and "end"
// dropped, and a service's lines prefixed with its name ("apache: caps cap_net_bind_service").
std::vector<std::string> conf_lines(const std::string& conf);

ImageManifest read_manifest(const std::filesystem::path& iso);

// The content layers: every layer but the root.
std::vector<LayerInfo> content_layers(const ImageInfo& info);

nlohmann::json manifest_json(const ImageManifest& m);
std::string manifest_table(const ImageManifest& m);

}  // namespace romimg::image
