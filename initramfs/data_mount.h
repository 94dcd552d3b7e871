// What romimg-init does with the data disk, before the seal (docs/data-disk.md): find it by
// label, check it (e2fsck -p), mount it, judge its identity, and bind each service's [data] dirs
// from it (seeded on first use from what the image holds there), or give a service a seeded
// tmpfs instead. It never formats a disk, and never writes to one it refuses.
#pragma once

#include <string>

#include "appliance_conf.h"

namespace romimg::init {

struct DataDisk {
    bool mounted = false;
    std::string device;   // "/dev/vdb"
    std::string why_not;  // when not mounted: why, for the lines of the services that needed it
};

// Waits up to `wait_s` seconds for a disk labelled kDataLabel to appear (USB sticks enumerate
// late), then checks, mounts and judges it (writing this appliance's identity on a fresh one).
DataDisk open_data_disk(const std::string& hostname, double wait_s);

// Service `s`'s data dir `path` (absolute in the appliance's root): its dir on the mounted disk,
// made from the image's copy at `path` on first use, bound over `path` nosuid,nodev,noexec.
// `what` says what was done; false and `error` when it could not be.
bool bind_data_dir(const appliance::Service& s, const std::string& path, std::string& what, std::string& error);

// No data disk, and the template says "tmpfs": a tmpfs of s.data_size holding a copy of the
// image's `path`, moved over `path`.
bool tmpfs_data_dir(const appliance::Service& s, const std::string& path, std::string& what, std::string& error);

}  // namespace romimg::init
