// `romimg diff OLD.iso NEW.iso`: what changed between two releases, so a release can be reviewed
// before it is burnt. Input: two ImageManifests. Output: ImageDiff. Pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/manifest.h"

namespace romimg::image {

// One value that differs: "kernel version", "cmdline", "live/root.sqfs sha256", ...
struct ValueChange {
    std::string what;
    std::string old_value, new_value;
};

struct FileChange {
    std::string path;
    std::vector<ValueChange> changes;  // "sha256", "size", "mode", "type", "owner", "target"
};

struct PackageChange {
    std::string package;
    std::string old_version, new_version;  // "" = not in that image
};

struct JailDiff {
    std::string service;
    std::vector<JailEntry> added, removed;  // entries, by path
    std::vector<FileChange> changed;
    std::vector<PackageChange> packages;
    std::vector<ValueChange> seccomp;  // "mode", "allow <name>" (old/new: its why, or "" when absent), "kill <name>"
    std::vector<ValueChange> java;     // "runtime", "version", "modules", "cds"
    bool empty() const {
        return added.empty() && removed.empty() && changed.empty() && packages.empty() && seccomp.empty() && java.empty();
    }
};

struct ImageDiff {
    std::vector<ValueChange> image;   // label, cmdline, romlock mode, SOURCE_DATE_EPOCH
    std::vector<ValueChange> kernel;  // version, .config sha256, cache key, source, compiler
    std::vector<std::string> services_added, services_removed;
    std::vector<JailDiff> jails;      // services in both, only those that changed
    std::vector<std::string> policy_added, policy_removed;
    std::vector<std::string> conf_added, conf_removed;  // conf_lines of appliance.conf
    std::vector<ValueChange> layers;  // per layer: added, removed, sha256, bytes, mount
    bool empty() const;
};

ImageDiff diff_images(const ImageManifest& old_image, const ImageManifest& new_image);

nlohmann::json diff_json(const ImageDiff& d);
// "images are identical" when empty; else one section per kind of change.
std::string diff_table(const ImageDiff& d);

}  // namespace romimg::image
