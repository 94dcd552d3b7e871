// The ISO stage: kernel + initramfs + payload files (at least live/root.sqfs) → one hybrid ISO
// that boots as a BIOS CD (isolinux, El Torito), a UEFI CD (GRUB EFI in an El Torito FAT
// image), a BIOS USB stick (isohybrid MBR) and a UEFI USB stick (the same FAT image appended
// as an MBR partition of type 0xef). Reproducible: same inputs and SOURCE_DATE_EPOCH → same
// bytes. Side effects: boot files and logs under the work dir; the ISO is written to a
// temporary name beside the output and renamed only when complete and within --media.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "common/command.h"

namespace romimg::iso {

// One file to put on the medium: host path → path inside the ISO ("live/root.sqfs").
struct Payload {
    std::filesystem::path source;
    std::string iso_path;
};

enum class Media { any, cd, dvd };

struct IsoRequest {
    std::filesystem::path kernel;     // bzImage
    std::filesystem::path initramfs;  // cpio (compressed or not)
    std::vector<Payload> payload;
    std::string label = "ROMIMG";  // ISO9660 volume id: the medium is found by it at boot
    std::string cmdline;           // kernel command line (both boot loaders)
    bool uefi = true;              // GRUB EFI image too (false: isolinux only, BIOS CD and USB)
    // A signed unified kernel image to boot from the EFI image instead of GRUB (signed boot).
    std::filesystem::path efi_binary;
    time_t source_date_epoch = 0;  // every timestamp in the image
    Media media = Media::any;
    std::filesystem::path output;    // the ISO
    std::filesystem::path work_dir;  // boot files under work_dir/iso, tool output in `log`
    std::filesystem::path log;       // empty: work_dir/logs/iso.log
};

struct IsoResult {
    std::filesystem::path iso;
    uint64_t bytes = 0;
};

IsoResult build_iso(const IsoRequest& req);

// ---- pure parts (unit-tested) ----

// Where the generated boot files live inside the ISO.
inline constexpr const char* kKernelPath = "boot/vmlinuz";
inline constexpr const char* kInitrdPath = "boot/initrd.img";
inline constexpr const char* kIsolinuxDir = "isolinux";
inline constexpr const char* kEfiImagePath = "boot/efi.img";  // not a file: appended partition

// Capacity in bytes (CD 700 MB = 737280000, DVD 4.7 GB = 4700372992); 0 for Media::any.
uint64_t media_capacity(Media m);
Media parse_media(const std::string& s);  // "cd" | "dvd" | "" (any); UsageError otherwise
// Throws Error naming the actual size and the limit if `bytes` does not fit.
void check_media_size(Media m, uint64_t bytes);

// ISO9660 volume ids used for booting: 1-32 of A-Z 0-9 _ (d-characters), so that the label
// the firmware, GRUB and romimg-init compare is exactly what was asked for. Throws UsageError.
void validate_label(const std::string& label);
// A kernel command line both boot loaders pass through unchanged: printable ASCII, no
// newline, no '"' (GRUB quoting) and under isolinux's line limit. Throws UsageError.
void validate_cmdline(const std::string& cmdline);

// Normalized ISO paths ("/live//root.sqfs" → "live/root.sqfs"), sorted by ISO path. Rejects
// "..", empty paths, duplicates and the generated boot paths. Throws UsageError.
std::vector<Payload> plan_payload(std::vector<Payload> payload);

// "YYYYMMDDhhmmss00" (UTC), as xorriso's date options take it.
std::string iso_timestamp(time_t t);

std::string isolinux_cfg(const std::string& cmdline);
// GRUB's config, embedded in BOOTX64.EFI: find the medium by label, boot at once.
std::string grub_cfg(const std::string& label, const std::string& cmdline);

// FAT image size in KiB for an EFI binary of `efi_bytes`: room for the file and FAT overhead.
uint64_t efi_image_kib(uint64_t efi_bytes);

// Argv builders (pure).
// A ustar archive of dir/boot/grub/grub.cfg with fixed owners and mtimes (GRUB's memdisk).
Command memdisk_tar_command(const std::filesystem::path& dir, const std::filesystem::path& out,
                            time_t epoch, const std::filesystem::path& log);
// BOOTX64.EFI with the modules built in and the memdisk as its prefix. grub-mkimage rather
// than grub-mkstandalone: mkstandalone packs its modules into a tar stamped with the build
// time (GRUB 2.06 ignores SOURCE_DATE_EPOCH there), so two builds would differ.
Command grub_mkimage_command(const std::filesystem::path& memdisk,
                             const std::filesystem::path& out, const std::filesystem::path& log);
Command mkfs_vfat_command(const std::filesystem::path& image, uint64_t kib,
                          const std::filesystem::path& log);
Command mmd_command(const std::filesystem::path& image, const std::vector<std::string>& dirs,
                    time_t epoch, const std::filesystem::path& log);
Command mcopy_command(const std::filesystem::path& image, const std::filesystem::path& src,
                      const std::string& dest, time_t epoch, const std::filesystem::path& log);

// Everything xorriso needs: the tree as (ISO path → host path) graft points, sorted.
struct IsoLayout {
    std::vector<Payload> files;   // includes boot files; sorted by iso_path
    std::filesystem::path efi_image;  // empty: BIOS only (no EFI El Torito image, no ESP)
    std::filesystem::path isohybrid_mbr = "/usr/lib/ISOLINUX/isohdpfx.bin";
    std::string label;
    time_t epoch = 0;
};
// `print_size`: only ask for the size in 2048-byte blocks (-print-size), write nothing.
Command xorriso_command(const IsoLayout& layout, const std::filesystem::path& out,
                        const std::filesystem::path& log, bool print_size = false);

}  // namespace romimg::iso
