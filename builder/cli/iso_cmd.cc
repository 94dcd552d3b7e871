// `romimg iso`: the ISO stage on its own: a kernel, an initramfs and payload files → one hybrid
// (BIOS/UEFI, CD/USB) ISO. `romimg build` runs the same stage as part of the pipeline.
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "initramfs/cpio.h"
#include "iso/iso.h"
#include "workdir/workdir.h"

namespace romimg::cli {

namespace {

const char* const iso_usage =
    "usage: romimg iso --kernel BZIMAGE --initramfs CPIO [--add SRC=ISOPATH]... [--label L]\n"
    "                  [--cmdline TEXT] [--media cd|dvd] [--work-dir DIR] -o OUT.iso\n"
    "\n"
    "Writes one hybrid ISO that boots as a BIOS CD (isolinux), a UEFI CD (GRUB EFI), a BIOS\n"
    "USB stick (isohybrid MBR) and a UEFI USB stick (EFI system partition), straight into the\n"
    "kernel with the given command line (no menu, no timeout; serial console and VGA).\n"
    "Reproducible: every timestamp is $SOURCE_DATE_EPOCH (0 if unset), so the same inputs give\n"
    "the same bytes. The ISO is written to a temporary name and renamed when complete.\n"
    "\n"
    "options:\n"
    "  --kernel PATH       the bzImage (see `romimg kernel`)\n"
    "  --initramfs PATH    the initramfs (cpio)\n"
    "  --add SRC=ISOPATH   put host file SRC at ISOPATH on the medium (repeatable), e.g.\n"
    "                      --add out/root.sqfs=live/root.sqfs\n"
    "  --label L           volume label, A-Z 0-9 _ (default ROMIMG)\n"
    "  --cmdline TEXT      kernel command line (default: console=tty0 console=ttyS0,115200)\n"
    "  --media cd|dvd      refuse an ISO larger than a CD (700 MB) or DVD (4.7 GB)\n"
    "  --work-dir DIR      boot files and logs (default: a temporary directory beside the\n"
    "                      output, removed on success, kept on failure)\n"
    "  -o, --output PATH   the ISO to write\n";

int iso_main(const GlobalOptions&, const std::vector<std::string>& args) {
    std::string kernel, initramfs, label = "ROMIMG", cmdline = "console=tty0 console=ttyS0,115200";
    std::string media, work_dir, output;
    std::vector<std::string> adds;
    ArgParser p("iso", iso_usage, args);
    p.option("--kernel", kernel);
    p.option("--initramfs", initramfs);
    p.repeated("--add", adds);
    p.option("--label", label);
    p.option("--cmdline", cmdline);
    p.option("--media", media);
    p.option("--work-dir", work_dir);
    p.option("-o", output);
    p.option("--output", output);
    auto positional = p.parse();
    auto usage = [](const std::string& msg) {
        return UsageError(msg + "\n  (see `romimg iso --help`)");
    };
    if (!positional.empty())
        throw usage(fmt::format("romimg iso takes no arguments, got '{}'", positional[0]));
    if (kernel.empty()) throw usage("--kernel is required");
    if (initramfs.empty()) throw usage("--initramfs is required");
    if (output.empty()) throw usage("-o OUT.iso is required");

    iso::IsoRequest req;
    req.kernel = kernel;
    req.initramfs = initramfs;
    for (const auto& a : adds) {
        auto eq = a.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == a.size())
            throw usage(fmt::format("--add takes SRC=ISOPATH, got '{}'", a));
        req.payload.push_back({a.substr(0, eq), a.substr(eq + 1)});
    }
    req.label = label;
    req.cmdline = cmdline;
    req.media = iso::parse_media(media);
    req.source_date_epoch = initramfs::archive_mtime(std::getenv("SOURCE_DATE_EPOCH"));
    req.output = output;
    // Check the cheap things before creating anything.
    iso::validate_label(req.label);
    iso::validate_cmdline(req.cmdline);
    req.payload = iso::plan_payload(req.payload);

    std::filesystem::path out_dir = std::filesystem::absolute(output).parent_path();
    std::filesystem::create_directories(out_dir);
    std::optional<fs::TempDir> tmp;
    if (work_dir.empty()) {
        tmp.emplace(out_dir, ".romimg-iso-");
        req.work_dir = tmp->path();
    } else {
        req.work_dir = work_dir;
        workdir::claim(work_dir, "--work-dir");  // the ISO stage empties WORK/iso: it must be ours
    }
    // Keep the temporary work dir (and its log) when the stage fails.
    struct KeepOnFailure {
        std::optional<fs::TempDir>& dir;
        int uncaught = std::uncaught_exceptions();
        ~KeepOnFailure() {
            if (dir && std::uncaught_exceptions() != uncaught) {
                dir->keep();
                log::write_err("romimg: iso work dir kept at " + dir->path().string());
            }
        }
    } keep{tmp};

    auto result = iso::build_iso(req);
    fmt::print("{}\n", result.iso.string());
    return 0;
}

}  // namespace

Subcommand iso_command() {
    return {"iso", "write a hybrid BIOS/UEFI CD/USB ISO from a kernel, initramfs and files",
            iso_usage, iso_main};
}

}  // namespace romimg::cli
