// The base layer: one jail per service (stage 1) and the read-only root squashfs (stage 3), or
// both from the base cache when nothing they depend on changed.
// Input: the request, the root the services come from. Output: BaseLayer. Side effects: jails,
// logs and the root tree under the work dir; a staging root and the base entry in the cache.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "stages/epoch.h"

namespace romimg::pipeline {

// The root the services are traced and jailed in.
struct BuildRoot {
    std::filesystem::path dir;  // "" = the build host's own /
    bool staged = false;        // a staging root romimg made: this host's [site] files go over it
};

// --root, else / for the build host's own arch, else a staging root of the target's arch (made
// and cached here).
BuildRoot choose_root(const BuildOptions& opt, const Request& r);

struct BaseLayer {
    std::filesystem::path root_sqfs;
    std::string root_sha256;
    uint64_t root_bytes = 0;
    std::vector<std::pair<std::string, std::string>> manifests;  // service → its manifest (with sha256s)
    std::string conf_text;  // /etc/romimg/appliance.conf in the root
    Newest epoch;           // what root.sqfs is stamped with, and why
    bool cached = false;
};

BaseLayer build_base(const BuildOptions& opt, const Request& r, const BuildRoot& root, const Newest& pre);

}  // namespace romimg::pipeline
