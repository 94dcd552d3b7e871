// `romimg data-disk FILE --size SIZE`: a fresh data disk image for QEMU and tests (docs/data-disk.md):
// a sparse file holding an empty ext4 filesystem labelled romimg-data. It never formats anything
// that exists: not a file, and never a device.
#include <sys/stat.h>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "data_disk.h"
#include "qemu/data_disk_image.h"
#include "recipe/template_checks.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg data-disk FILE --size SIZE\n"
    "\n"
    "Makes FILE, a disk image holding an empty ext4 filesystem labelled romimg-data: the data\n"
    "disk of an appliance whose services keep state (a template's [data] paths). Attach it with\n"
    "`romimg boot ISO --data FILE`. The appliance that first boots with it writes its hostname\n"
    "on it; another appliance refuses it. FILE must not exist: romimg never formats a file or a\n"
    "disk that holds anything. For a real machine's disk, see docs/data-disk.md\n"
    "(`mkfs.ext4 -L romimg-data DEVICE`).\n"
    "\n"
    "options:\n"
    "  --size SIZE   its size, like 512m or 4g (at least 32m); the file is sparse\n";

constexpr long long kMinSize = 32LL << 20;

int data_disk_main(const GlobalOptions&, const std::vector<std::string>& args) {
    std::string size;
    ArgParser p("data-disk", usage, args);
    p.option("--size", size);
    auto positional = p.parse();
    if (positional.size() != 1) throw UsageError("romimg data-disk takes one FILE (see `romimg data-disk --help`)");
    if (size.empty()) throw UsageError("romimg data-disk needs --size SIZE, like --size 1g");
    const std::string file = positional[0];
    if (names::has_control(file)) throw UsageError(fmt::format("'{}' is not a usable file name", names::printable(file)));
    if (!recipe::size_problem(size).empty() || recipe::size_bytes(size) < kMinSize)
        throw UsageError(fmt::format("--size '{}': give a size of at least 32m, like 512m or 4g", names::printable(size)));
    const long long bytes = recipe::size_bytes(size);
    struct stat st;
    if (lstat(file.c_str(), &st) == 0)
        throw Error(fmt::format("{} exists{}: romimg data-disk never formats anything that exists; give a new file name",
                                file, S_ISBLK(st.st_mode) ? " and is a block device (for a real disk see docs/data-disk.md)" : ""));
    const std::filesystem::path out = std::filesystem::absolute(file);
    if (!std::filesystem::is_directory(out.parent_path()))
        throw Error(fmt::format("{}: its directory {} does not exist", file, out.parent_path().string()));
    qemu::make_data_disk(out, bytes);
    log::info("{}: a data disk of {} (ext4, label {}, empty)", file, size, appliance::kDataLabel);
    log::info("attach it:  romimg boot ISO --data {}", file);
    return 0;
}

}  // namespace

Subcommand data_disk_command() {
    return {"data-disk", "make a data disk image (ext4, label romimg-data) for an appliance's state", usage,
            data_disk_main};
}

}  // namespace romimg::cli
