// What an ISO says about itself: /romimg/image.json, written by `romimg build` and read back by
// `romimg verify`, `romimg manifest` and `romimg diff`, so that an image can be checked and
// compared without the build host or the work dir. Also: reading files out of an ISO
// (libarchive's ISO 9660 reader) and its volume label.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace romimg::image {

inline constexpr const char* kInfoPath = "romimg/image.json";
inline constexpr int kFormat = 1;

struct ServiceInfo {
    std::string name;
    std::vector<int> ports;             // TCP ports it listens on inside the appliance
    std::string ready;                  // "tcp:80" or ""
    std::vector<std::string> probes;    // the template's trace and verify probes ("GET / 200")
    bool exec_lock = true;
    std::vector<std::string> data;      // its [data] paths: it needs the data disk (none: absent)
};

struct LayerInfo {
    std::string iso_path;  // "live/root.sqfs"
    std::string sha256;
    uint64_t bytes = 0;
    std::string mount;     // where init mounts it: "/" for the root
    // dm-verity (images made before it have none: ""/0): the root hash init maps the layer with,
    // and the Reed-Solomon parity bytes of its tree (0: none). The tree is ISO_PATH.verity.
    std::string verity_root_hash;
    unsigned fec_roots = 0;
};

struct ImageInfo {
    int format = kFormat;
    std::string label;
    std::string cmdline;
    int64_t source_date_epoch = 0;
    std::string romlock_mode = "enforce";
    // The target (target::Target's name): which QEMU verify and boot use. Images made before the
    // i386 target have no "arch" and are amd64.
    std::string arch = "amd64";
    // How its services were traced: "native" (as the arch's own programs; images made before
    // the translated route say nothing and are native) or "translated from ARCH" (traced as the
    // build host's ARCH services, carried over by path and package: staging/translate.h).
    std::string traced = "native";
    std::vector<ServiceInfo> services;
    std::vector<LayerInfo> layers;
    // Signed boot: the signing certificate, "SUBJECT (sha256 FINGERPRINT)"; "" for an unsigned
    // image (its UEFI path is GRUB, and nothing anchors any boot).
    std::string signer;
};

nlohmann::json to_json(const ImageInfo& info);
// Throws Error naming the bad field: a missing or mistyped one, and any value that is not safe to
// use (service names, ports, ready checks, layer paths, label, command line, romlock mode).
ImageInfo image_info_from_json(const nlohmann::json& j);

// ---- reading an ISO ----

// The ISO 9660 volume id (primary volume descriptor). Throws Error if `iso` is not an ISO.
std::string iso_volume_label(const std::filesystem::path& iso);
// Throws Error unless `iso` is an ISO 9660 image with an El Torito boot record (what BIOS and
// UEFI firmware boot from): `romimg boot` on anything else would sit at a firmware prompt.
void check_bootable_iso(const std::filesystem::path& iso);
// Every regular file in the ISO, "boot/vmlinuz" style, sorted.
std::vector<std::string> iso_files(const std::filesystem::path& iso);
// The contents of one file; throws Error naming the ISO and the path if it is not there.
std::string read_iso_file(const std::filesystem::path& iso, const std::string& path);
// Copies one file out of the ISO to `dest`.
void extract_iso_file(const std::filesystem::path& iso, const std::string& path, const std::filesystem::path& dest);
// Copies one file out of the ISO to `dir`/`path`, creating its parents; the destination is proven
// to stay inside `dir` (fs::create_beneath), whatever the ISO's names say.
void extract_iso_file_beneath(const std::filesystem::path& iso, const std::string& path, const std::filesystem::path& dir);
// /romimg/image.json, parsed; the error says the ISO was not made by romimg if it is missing.
ImageInfo read_image_info(const std::filesystem::path& iso);

}  // namespace romimg::image
