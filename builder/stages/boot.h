// What boots the root: the kernel (stage 2), the initramfs (stage 4) and the hybrid ISO (stage
// 5). Each applies a pure plan of plans.h. Side effects: the kernel cache, work/initramfs.cpio.gz,
// work/image/ (the /romimg/ files), work/iso.stamp and the output ISO.
#pragma once

#include "stages/verity.h"

#include <ctime>
#include <filesystem>

#include "kernel/kernel.h"
#include "stages/base.h"
#include "stages/contents.h"

namespace romimg::pipeline {

// The target's kernel, from the cache when its inputs did not change.
kernel::KernelResult kernel_stage(const BuildOptions& opt, const Request& r);

// The initramfs (the target's romimg-init as /init). Returns its path.
std::filesystem::path initramfs_stage(const Request& r, const Verified& v, time_t epoch);

// The hybrid ISO (BIOS, and UEFI where the target has it), unless the one at the output was
// made from exactly these inputs. Fills result.iso, bytes, iso_unchanged.
void iso_stage(const BuildOptions& opt, const Request& r, const BaseLayer& base, const Contents& packed,
               const Verified& v, const kernel::KernelResult& kernel, const std::filesystem::path& initrd, time_t epoch, BuildResult& result);

}  // namespace romimg::pipeline
