// The appliance's data disk (docs/data-disk.md): an ext4 filesystem labelled kDataLabel on any
// disk, checked, mounted nosuid,nodev,noexec by init before the seal, each service's [data] dirs
// bound from it into that service's jail. This file: the pure decisions (shared with the builder
// and unit-tested), then what init does with them (data_mount.cc, init only).
#pragma once

#include <string>
#include <vector>

#include "appliance_conf.h"

namespace romimg::appliance {

// Pure: the volume label of an ext2/3/4 filesystem from its superblock (the 1024 bytes at byte
// 1024 of the device); false if `sb` is not one (short, or no 0xEF53 magic).
bool ext_volume_label(const std::string& sb, std::string& label);

// Pure: where service `s`'s data dir `path` (absolute in the appliance's root, under s.root)
// lives on the mounted data disk: kDataMount/NAME/PATH-IN-ITS-JAIL.
std::string data_dir_on_disk(const Service& s, const std::string& path);

// Pure: what a data disk is, from the names at its root (lost+found aside) and its identity file
// (kDataIdentity: the hostname of the appliance that first used it; has_identity false if absent).
enum class DiskVerdict {
    fresh,       // empty: this appliance takes it (writes its identity)
    ours,        // it names this appliance
    foreign,     // it names another appliance: refused
    not_romimg,  // it holds files and no identity: refused (never formatted, never written)
};
DiskVerdict judge_disk(const std::vector<std::string>& root_entries, bool has_identity, const std::string& identity,
                       const std::string& hostname);

// Pure: what e2fsck -p's exit status means for mounting (0 clean, 1 fixed: mount; 2 fixed,
// reboot wanted: mount, this is no root fs; 4 and up: left uncorrected or failed: do not).
bool fsck_allows_mount(int status);

// Where the builder puts a static e2fsck in the image's root (outside every jail).
inline constexpr const char* kE2fsck = "/usr/lib/romimg/e2fsck";

}  // namespace romimg::appliance
