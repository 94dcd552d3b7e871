// romimg-init's side of dm-verity: map a layer file (and its tree file) through a read-only
// verity device before anything is mounted from it, and name the layer when the kernel later
// reports a corrupted block. See docs/verity.md.
#pragma once

#include <string>

#include "verity_params.h"

namespace romimg::init {

struct VerityDevice {
    std::string path;      // /dev/dm-N, what to mount
    std::string data_dev;  // "7:N": the loop device of the layer, as the kernel's messages name it
    int keep = -1;         // an unmapped loop device's fd, to close once mounted (--no-verity only)
};

// Attaches `layer` and `layer`.verity to loop devices and creates the device-mapper device
// `name` (romimg-root, romimg-content-...) with a verity table from `p`; when `signature` is not
// empty it is loaded as the user key "romimg:NAME" and the kernel checks it (PKCS#7 over the
// root hash) against its trusted and platform keyrings before the device exists. false with
// `error` (the step and errno) on any failure; nothing is left mapped then.
bool verity_map(const std::string& name, const std::string& layer, const verity::Params& p,
                const std::string& signature, VerityDevice& dev, std::string& error);

// Removes the device-mapper device `name` (its loop devices go with it).
bool verity_unmap(const std::string& name);

// Reads LAYER.verity.params beside a content layer; false with `error` naming the file.
bool read_params(const std::string& file, verity::Params& p, std::string& error);

// Secure Boot as the firmware reports it (efivarfs mounted briefly if needed): 1 on, 0 off or
// not a UEFI boot.
bool secure_boot_enabled();

}  // namespace romimg::init
