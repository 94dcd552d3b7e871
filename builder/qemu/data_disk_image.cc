#include "qemu/data_disk_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/command.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/sys.h"
#include "data_disk.h"

namespace romimg::qemu {

void make_data_disk(const std::filesystem::path& file, long long bytes) {
    const std::string mke2fs = find_program("mke2fs");
    if (mke2fs.empty()) throw Error("a data disk needs mke2fs: apt-get install e2fsprogs (or `make deps`)");
    const std::string tmp = fmt::format("{}.romimg-{}.tmp", file.string(), getpid());
    try {
        {
            Fd fd = sys::open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (ftruncate(fd.get(), bytes) != 0) throw SysError("ftruncate", tmp, errno);
        }
        // -m 0: no blocks reserved for root (the services are not root); root_owner: the top dir is
        // root's, whoever runs this; the appliance makes each service's dir.
        Command c;
        c.argv = {mke2fs, "-q", "-F", "-t", "ext4", "-L", appliance::kDataLabel, "-m", "0", "-E", "root_owner=0:0", tmp};
        run(c);
        if (rename(tmp.c_str(), file.c_str()) != 0) throw SysError("rename", tmp, errno);
    } catch (...) {
        unlink(tmp.c_str());
        throw;
    }
}

}  // namespace romimg::qemu
