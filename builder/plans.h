// The pipeline's pure plans: what a build writes, decided from its inputs alone, before (and
// apart from) the stage that writes it (the stages under stages/ apply them; pipeline.cc lists
// the stages). Nothing here touches the disk. Unit-tested in tests/unit/plans_test.cc.
#pragma once

#include <ctime>
#include <filesystem>
#include <sys/types.h>
#include <string>
#include <utility>
#include <vector>

#include "appliance_conf.h"
#include "content/content.h"
#include "image/image_info.h"
#include "image/manifest.h"
#include "initramfs/cpio.h"
#include "iso/iso.h"
#include "jail/jail.h"
#include "kernel/kernel.h"
#include "pipeline.h"
#include "recipe/template.h"
#include "staging/translate.h"
#include "target/target.h"

namespace romimg::pipeline {

// /etc/romimg/appliance.conf of the root: the options init needs, and per service (in
// `templates` order, with its jail's plan) its entry and its content layers' mount points.
appliance::Conf appliance_conf_plan(const BuildOptions& opt, const std::vector<recipe::ServiceTemplate>& templates,
                                    const std::vector<const jail::JailPlan*>& plans,
                                    const std::vector<content::ContentSpec>& contents);

// /romimg/image.json: what the image is (target, how it was traced, services with their probes,
// and its layers: `root`, then one per content spec with `packed`'s hash and size at the ISO
// path init mounts it from).
image::ImageInfo image_info_plan(const BuildOptions& opt, const target::Target& tgt, staging::TraceRoute route,
                                 const std::string& cmdline, time_t epoch, const std::vector<recipe::ServiceTemplate>& templates,
                                 const image::LayerInfo& root, const std::vector<content::ContentSpec>& contents,
                                 const std::vector<image::LayerInfo>& packed);

// The appliance's view of a service's content layers: which image (on the medium, as init sees
// it) over which directory of its jail, numbered per service in the order given.
std::vector<appliance::Layer> layers_of(const std::vector<content::ContentSpec>& contents, const std::string& service);

// Stage 2: how the target's kernel is built: kernel ARCH, config dir (--kernel-config-dir or the
// source's), the cache, and make's jobs (--jobs, else `cores`, at least 1).
kernel::KernelOptions kernel_plan(const BuildOptions& opt, const target::Target& tgt,
                                  const std::filesystem::path& config_dir, const std::filesystem::path& cache_dir,
                                  unsigned cores);

// Stage 4: the initramfs's entries (planned: sorted, parents first): the target's romimg-init
// as /init, the mount points early boot needs and /dev/console.
std::vector<initramfs::Entry> initramfs_plan(const std::filesystem::path& init, const std::string& root_params,
                                             const std::string& selftest_params);

// The /romimg/ files (ISO path → contents): image.json, kernel.json, the romlock policy made
// from `conf_text` (which must parse: Error otherwise), appliance.conf itself, and one manifest
// per jail (service → its manifest's text, in that order).
std::vector<std::pair<std::string, std::string>> image_description_plan(
    const image::ImageInfo& info, const image::KernelInfo& kernel, const std::string& conf_text,
    const std::vector<std::pair<std::string, std::string>>& manifest_texts);

// What the ISO is made of, beyond the options: the files, and the digests that stand for them
// in the ISO's inputs key (the payload is described by image.json's hashes).
struct IsoInputs {
    std::filesystem::path kernel, initramfs, root_sqfs;
    std::vector<std::filesystem::path> layers;  // one squashfs per content spec, in info.layers[1..] order
    // Their dm-verity trees (ISO_PATH.verity; image.json has their root hashes), and each content
    // layer's params text (ISO_PATH.verity.params; the root's are in the initramfs).
    std::filesystem::path root_tree;
    std::vector<std::filesystem::path> layer_trees;
    std::vector<std::string> layer_params;
    // Signed boot: each content layer's PKCS#7 of its root hash (ISO_PATH.verity.p7s), and the
    // signed unified kernel image (BOOTX64.EFI) with its sha256; all empty when unsigned.
    std::vector<std::string> layer_signatures;
    std::filesystem::path efi_binary;
    std::string efi_sha256;
    std::string romimg_sha256, kernel_sha256, initramfs_sha256;
    std::vector<std::pair<std::string, std::string>> description;  // image_description_plan()
};

// Stage 5: the request for iso::build_iso, the /romimg/ files to write first (host path → text,
// all under work/image), and the key of every input: equal keys make equal ISOs.
struct IsoPlan {
    iso::IsoRequest request;
    std::vector<std::pair<std::filesystem::path, std::string>> files;
    std::string inputs_key;
};
IsoPlan iso_plan(const BuildOptions& opt, const target::Target& tgt, const image::ImageInfo& info, const std::string& cmdline,
                 iso::Media media, time_t epoch, const std::filesystem::path& work, const IsoInputs& in);

// What work/iso.stamp says of an ISO made from `inputs_key`: the key and the ISO's identity
// (device, inode, size, mtime, as stat(2) gives them); the ISO stage rebuilds when they differ.
std::string iso_stamp_text(const std::string& inputs_key, dev_t dev, ino_t ino, off_t size, const struct timespec& mtime);

}  // namespace romimg::pipeline
