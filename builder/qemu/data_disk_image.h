// A fresh data disk image (docs/data-disk.md): a sparse file holding an empty ext4 filesystem
// labelled romimg-data, for QEMU (`romimg data-disk`, and the scratch disk `romimg verify` attaches).
#pragma once

#include <filesystem>

namespace romimg::qemu {

// Makes `file` (which must not exist) of `bytes`, aside and renamed into place: an interrupted
// run leaves no half-made disk under its name. Throws Error naming what is missing (mke2fs).
void make_data_disk(const std::filesystem::path& file, long long bytes);

}  // namespace romimg::qemu
