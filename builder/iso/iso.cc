// The ISO stage: boot loader files (isolinux config, GRUB EFI binary in a FAT image), then one
// xorriso run over graft points (ISO path = host path) so that payload files are never copied
// into a staging tree. Layout and reasons: docs/iso.md.
#include "iso/iso.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"

namespace romimg::iso {

namespace sfs = std::filesystem;

uint64_t media_capacity(Media m) {
    switch (m) {
    case Media::cd: return 737280000ULL;    // 700 MB CD-R: 360000 sectors of 2048 bytes
    case Media::dvd: return 4700372992ULL;  // DVD±R single layer: 2295104 sectors
    case Media::any: break;
    }
    return 0;
}

Media parse_media(const std::string& s) {
    if (s.empty()) return Media::any;
    if (s == "cd") return Media::cd;
    if (s == "dvd") return Media::dvd;
    throw UsageError(fmt::format("--media must be cd or dvd, got '{}'", s));
}

static std::string megabytes(uint64_t bytes) {
    return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

void check_media_size(Media m, uint64_t bytes) {
    uint64_t cap = media_capacity(m);
    if (cap == 0 || bytes <= cap) return;
    throw Error(fmt::format(
        "the ISO is {} bytes ({}), which does not fit on a {} ({} bytes, {}); "
        "make the payload smaller{}",
        bytes, megabytes(bytes), m == Media::cd ? "CD" : "DVD", cap, megabytes(cap),
        m == Media::cd ? " or use --media dvd" : ""));
}

void validate_label(const std::string& label) {
    bool ok = !label.empty() && label.size() <= 32;
    for (char c : label) ok &= (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok)
        throw UsageError(fmt::format(
            "volume label '{}' must be 1 to 32 characters of A-Z, 0-9 and _ (ISO9660 "
            "d-characters), because the boot loaders and init find the medium by it",
            label));
}

void validate_cmdline(const std::string& cmdline) {
    // isolinux reads config lines of up to 255 characters after "  APPEND ".
    if (cmdline.size() > 240)
        throw UsageError(fmt::format("kernel command line is {} characters; at most 240 fit "
                                     "on isolinux's APPEND line",
                                     cmdline.size()));
    for (char c : cmdline) {
        if (c < 0x20 || c > 0x7e)
            throw UsageError("kernel command line must be printable ASCII on one line");
        if (std::string("\"'\\$;&|<>{}`").find(c) != std::string::npos)
            throw UsageError(fmt::format(
                "kernel command line contains '{}', which GRUB's config syntax would "
                "interpret; leave it out",
                c));
    }
}

static std::string normalize_iso_path(const std::string& p) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= p.size()) {
        size_t j = p.find('/', i);
        if (j == std::string::npos) j = p.size();
        std::string c = p.substr(i, j - i);
        if (c == "..")
            throw UsageError(fmt::format("ISO path '{}' must not contain '..'", p));
        if (!c.empty() && c != ".") parts.push_back(c);
        i = j + 1;
    }
    if (parts.empty()) throw UsageError(fmt::format("ISO path '{}' names no file", p));
    std::string out;
    for (const auto& c : parts) out += (out.empty() ? "" : "/") + c;
    return out;
}

std::vector<Payload> plan_payload(std::vector<Payload> payload) {
    const std::set<std::string> reserved_files = {kKernelPath, kInitrdPath, kEfiImagePath};
    const std::string reserved_dir = std::string(kIsolinuxDir) + "/";
    for (auto& p : payload) {
        p.iso_path = normalize_iso_path(p.iso_path);
        if (reserved_files.count(p.iso_path) || p.iso_path.rfind(reserved_dir, 0) == 0 ||
            p.iso_path == kIsolinuxDir)
            throw UsageError(fmt::format(
                "ISO path '{}' is where romimg puts its boot files; choose another", p.iso_path));
        if (p.source.empty())
            throw UsageError(fmt::format("no host file given for ISO path '{}'", p.iso_path));
    }
    std::sort(payload.begin(), payload.end(),
              [](const Payload& a, const Payload& b) { return a.iso_path < b.iso_path; });
    for (size_t i = 1; i < payload.size(); ++i) {
        const auto& a = payload[i - 1].iso_path;
        const auto& b = payload[i].iso_path;
        if (a == b) throw UsageError(fmt::format("ISO path '{}' is given twice", a));
        if (b.rfind(a + "/", 0) == 0)
            throw UsageError(fmt::format("ISO path '{}' is a file and also holds '{}'", a, b));
    }
    return payload;
}

std::string iso_timestamp(time_t t) {
    struct tm tm {};
    gmtime_r(&t, &tm);
    return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}00", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string isolinux_cfg(const std::string& cmdline) {
    // No UI and PROMPT 0: the default entry boots at once. SERIAL makes isolinux itself talk on
    // the serial line as well as VGA.
    return fmt::format(
        "SERIAL 0 115200\n"
        "DEFAULT romimg\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL romimg\n"
        "  KERNEL /{}\n"
        "  INITRD /{}\n"
        "  APPEND {}\n",
        kKernelPath, kInitrdPath, cmdline);
}

std::string grub_cfg(const std::string& label, const std::string& cmdline) {
    return fmt::format(
        "serial --unit=0 --speed=115200\n"
        "terminal_input console serial\n"
        "terminal_output console serial\n"
        "set timeout=0\n"
        "set default=0\n"
        "search --no-floppy --set=root --label {0}\n"
        "menuentry \"romimg\" {{\n"
        "  linux /{1} {2}\n"
        "  initrd /{3}\n"
        "}}\n",
        label, kKernelPath, cmdline, kInitrdPath);
}

uint64_t efi_image_kib(uint64_t efi_bytes) {
    // File rounded up to KiB, plus 256 KiB for the FAT, root dir and EFI/BOOT; whole MiB.
    uint64_t kib = (efi_bytes + 1023) / 1024 + 256;
    return (kib + 1023) / 1024 * 1024;
}

Command memdisk_tar_command(const sfs::path& dir, const sfs::path& out, time_t epoch,
                            const sfs::path& log) {
    return Command{{"tar", "--format=ustar", "--sort=name", fmt::format("--mtime=@{}", epoch),
                    "--owner=0", "--group=0", "--numeric-owner", "--mode=go-w", "-C",
                    dir.string(), "-cf", out.string(), "boot"},
                   {},
                   {},
                   log};
}

Command grub_mkimage_command(const sfs::path& memdisk, const sfs::path& out,
                             const sfs::path& log) {
    return Command{{"grub-mkimage", "--format=x86_64-efi", "--prefix=(memdisk)/boot/grub",
                    "--memdisk=" + memdisk.string(), "--output=" + out.string(),
                    // memdisk+tar: read the embedded config; normal: menus; the rest: find the
                    // medium (CD or stick, MBR or GPT) and boot a bzImage through the EFI stub
                    "memdisk", "tar", "normal", "configfile", "search", "search_label",
                    "iso9660", "fat", "part_msdos", "part_gpt", "linux", "serial", "terminal",
                    "efi_gop", "efi_uga", "echo", "test"},
                   {},
                   {},
                   log};
}

Command mkfs_vfat_command(const sfs::path& image, uint64_t kib, const sfs::path& log) {
    // --invariant and a fixed volume id: no random serial, no time-based values.
    return Command{{"mkfs.vfat", "--invariant", "-i", "524f4d49", "-n", "ROMIMG_EFI", "-C",
                    image.string(), std::to_string(kib)},
                   {},
                   {},
                   log};
}

static std::vector<std::pair<std::string, std::string>> mtools_env(time_t epoch) {
    // mtools stamps new directories with "now" unless SOURCE_DATE_EPOCH says otherwise.
    return {{"SOURCE_DATE_EPOCH", std::to_string(epoch)}, {"MTOOLS_SKIP_CHECK", "1"},
            {"TZ", "UTC"}};
}

Command mmd_command(const sfs::path& image, const std::vector<std::string>& dirs, time_t epoch,
                    const sfs::path& log) {
    Command c{{"mmd", "-i", image.string()}, mtools_env(epoch), {}, log};
    for (const auto& d : dirs) c.argv.push_back("::/" + d);
    return c;
}

Command mcopy_command(const sfs::path& image, const sfs::path& src, const std::string& dest,
                      time_t epoch, const sfs::path& log) {
    // -m keeps the source's mtime, which build_iso sets to the epoch.
    return Command{{"mcopy", "-m", "-i", image.string(), src.string(), "::/" + dest},
                   mtools_env(epoch),
                   {},
                   log};
}

Command xorriso_command(const IsoLayout& l, const sfs::path& out, const sfs::path& log,
                        bool print_size) {
    const std::string stamp = iso_timestamp(l.epoch);
    // Native commands first: every file and directory date is the epoch, and so are the volume
    // dates and the volume "uuid" (which GRUB could search by). xorriso reads an
    // all_file_dates of 0 as "not set" and keeps the host's mtimes, so epoch 0 (the default
    // when SOURCE_DATE_EPOCH is unset) stamps files with 1 s past it instead.
    const time_t file_date = l.epoch > 0 ? l.epoch : 1;
    Command c{{"xorriso", "-report_about", "NOTE", "-volume_date", "all_file_dates",
               fmt::format("={}", file_date), "-volume_date", "uuid", stamp, "-as", "mkisofs",
               "-iso-level", "3", "-full-iso9660-filenames", "-joliet", "-joliet-long",
               "-rational-rock", "-volid", l.label, "-appid", "romimg", "-preparer", "romimg",
               "--modification-date=" + stamp,
               // BIOS CD: isolinux as the first El Torito image
               "-eltorito-boot", std::string(kIsolinuxDir) + "/isolinux.bin", "-eltorito-catalog",
               std::string(kIsolinuxDir) + "/boot.cat", "-no-emul-boot", "-boot-load-size", "4",
               "-boot-info-table",
               // BIOS USB: isolinux's hybrid MBR; partition 1 = the ISO from LBA 64 on
               "-isohybrid-mbr", l.isohybrid_mbr.string(), "-partition_offset", "16"},
              {{"SOURCE_DATE_EPOCH", std::to_string(l.epoch)}, {"TZ", "UTC"}},
              {},
              log};
    if (!l.efi_image.empty())
        c.argv.insert(c.argv.end(),
                      {// UEFI USB: the FAT image appended as MBR partition 2, type 0xef (ESP)
                       "-append_partition", "2", "0xef", l.efi_image.string(),
                       // UEFI CD: the same bytes as the second El Torito image (no second copy)
                       "-eltorito-alt-boot", "-e", "--interval:appended_partition_2:all::", "-no-emul-boot"});
    c.argv.push_back("-graft-points");
    if (print_size) c.argv.push_back("-print-size");
    else {
        c.argv.push_back("-output");
        c.argv.push_back(out.string());
    }
    for (const auto& f : l.files) {
        // A graft point's '=' and '\' must be escaped in the ISO path and the host path.
        auto esc = [](const std::string& s) {
            std::string r;
            for (char ch : s) {
                if (ch == '=' || ch == '\\') r += '\\';
                r += ch;
            }
            return r;
        };
        c.argv.push_back("/" + esc(f.iso_path) + "=" + esc(f.source.string()));
    }
    return c;
}

// ---- the stage ----

namespace {

// The temporary ISO beside the output: removed unless committed (renamed into place).
class PendingFile {
public:
    explicit PendingFile(sfs::path final_path)
        : final_(std::move(final_path)),
          tmp_(final_.parent_path() /
               fmt::format(".{}.tmp.{}", final_.filename().string(), ::getpid())) {}
    ~PendingFile() {
        if (!committed_) {
            std::error_code ec;
            sfs::remove(tmp_, ec);
        }
    }
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;
    const sfs::path& path() const { return tmp_; }
    void commit() {
        signals::throw_if_interrupted();  // an interrupted build publishes nothing
        if (::rename(tmp_.c_str(), final_.c_str()) != 0)
            throw SysError("rename", std::vector<std::string>{tmp_.string(), final_.string()},
                           errno);
        committed_ = true;
    }

private:
    sfs::path final_, tmp_;
    bool committed_ = false;
};

void require_file(const sfs::path& p, const std::string& what) {
    if (!sfs::is_regular_file(p))
        throw Error(fmt::format("{} {} is not a regular file", what, p.string()));
}

void set_mtime(const sfs::path& p, time_t t) {
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    if (::utimensat(AT_FDCWD, p.c_str(), ts, 0) != 0) throw SysError("utimensat", p.string(), errno);
}

const sfs::path kIsolinuxBin = "/usr/lib/ISOLINUX/isolinux.bin";
const sfs::path kLdlinux = "/usr/lib/syslinux/modules/bios/ldlinux.c32";

}  // namespace

IsoResult build_iso(const IsoRequest& req) {
    validate_label(req.label);
    validate_cmdline(req.cmdline);
    if (req.output.empty()) throw UsageError("no output path for the ISO");
    if (req.work_dir.empty()) throw Error("internal: the ISO stage needs a work dir");
    require_file(req.kernel, "kernel");
    require_file(req.initramfs, "initramfs");
    std::vector<Payload> payload = plan_payload(req.payload);
    for (const auto& p : payload) require_file(p.source, "payload file");
    for (const auto& f : {kIsolinuxBin, kLdlinux, sfs::path("/usr/lib/ISOLINUX/isohdpfx.bin")})
        if (!sfs::is_regular_file(f))
            throw Error(fmt::format("{} not found; install isolinux and syslinux-common "
                                    "(`make deps`)",
                                    f.string()));
    signals::install_interrupt_handlers();

    const sfs::path out = sfs::absolute(req.output);
    const sfs::path dir = req.work_dir / "iso";
    const sfs::path log = req.log.empty() ? req.work_dir / "logs" / "iso.log" : req.log;
    sfs::remove_all(dir);
    sfs::create_directories(dir / "memdisk" / "boot" / "grub");
    sfs::create_directories(log.parent_path());
    if (!out.parent_path().empty()) sfs::create_directories(out.parent_path());

    IsoLayout layout;
    layout.label = req.label;
    layout.epoch = req.source_date_epoch;
    if (req.uefi) layout.efi_image = dir / "efi.img";
    if (!req.uefi) {
        auto st = log::stage("iso: boot loaders");
        fs::write_file_atomic(dir / "isolinux.cfg", isolinux_cfg(req.cmdline));
        st.detail("isolinux (BIOS only: the target has no UEFI)");
    } else {
        auto st = log::stage("iso: boot loaders");
        fs::write_file_atomic(dir / "isolinux.cfg", isolinux_cfg(req.cmdline));
        fs::write_file_atomic(dir / "memdisk/boot/grub/grub.cfg", grub_cfg(req.label, req.cmdline));
        if (req.efi_binary.empty()) {
            run(memdisk_tar_command(dir / "memdisk", dir / "memdisk.tar", req.source_date_epoch, log));
            run(grub_mkimage_command(dir / "memdisk.tar", dir / "BOOTX64.EFI", log));
        } else {
            sfs::copy_file(req.efi_binary, dir / "BOOTX64.EFI");
        }
        set_mtime(dir / "BOOTX64.EFI", req.source_date_epoch);
        signals::throw_if_interrupted();
        const uint64_t efi_bytes = sfs::file_size(dir / "BOOTX64.EFI");
        const uint64_t kib = efi_image_kib(efi_bytes);
        sfs::remove(layout.efi_image);
        run(mkfs_vfat_command(layout.efi_image, kib, log));
        run(mmd_command(layout.efi_image, {"EFI", "EFI/BOOT"}, req.source_date_epoch, log));
        run(mcopy_command(layout.efi_image, dir / "BOOTX64.EFI", "EFI/BOOT/BOOTX64.EFI",
                          req.source_date_epoch, log));
        signals::throw_if_interrupted();
        st.detail(fmt::format("isolinux (BIOS), {} {} KiB in a {} KiB FAT image (UEFI)",
                              req.efi_binary.empty() ? "GRUB" : "the signed kernel image", efi_bytes / 1024, kib));
    }

    layout.files = payload;
    layout.files.push_back({kIsolinuxBin, std::string(kIsolinuxDir) + "/isolinux.bin"});
    layout.files.push_back({kLdlinux, std::string(kIsolinuxDir) + "/ldlinux.c32"});
    layout.files.push_back({dir / "isolinux.cfg", std::string(kIsolinuxDir) + "/isolinux.cfg"});
    layout.files.push_back({sfs::absolute(req.kernel), kKernelPath});
    layout.files.push_back({sfs::absolute(req.initramfs), kInitrdPath});
    for (auto& f : layout.files) f.source = sfs::absolute(f.source);
    std::sort(layout.files.begin(), layout.files.end(),
              [](const Payload& a, const Payload& b) { return a.iso_path < b.iso_path; });

    IsoResult result;
    result.iso = out;
    {
        auto st = log::stage("iso: xorriso");
        if (req.media != Media::any) {
            // Refuse before writing gigabytes: -print-size computes the layout only.
            std::string blocks = run_capture(xorriso_command(layout, {}, log, true));
            uint64_t n = std::strtoull(blocks.c_str(), nullptr, 10);
            if (n == 0)
                throw Error(fmt::format("xorriso -print-size gave no size ('{}'); see {}",
                                        blocks, log.string()));
            check_media_size(req.media, n * 2048);
        }
        PendingFile pending(out);
        run(xorriso_command(layout, pending.path(), log));
        signals::throw_if_interrupted();
        result.bytes = sfs::file_size(pending.path());
        check_media_size(req.media, result.bytes);  // the written size is the one that counts
        ::chmod(pending.path().c_str(), 0644);
        pending.commit();
        st.detail(fmt::format("{} ({} bytes, {}), label {}", out.string(), result.bytes,
                              megabytes(result.bytes), req.label));
    }
    return result;
}

}  // namespace romimg::iso
