#include "verity.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/keyctl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <vector>

#include "util.h"

namespace romimg::init {

namespace {

// One device-mapper ioctl with `extra` bytes after the header (a table or nothing).
struct DmRequest {
    std::vector<char> buf;
    dm_ioctl* io() { return reinterpret_cast<dm_ioctl*>(buf.data()); }
    DmRequest(const std::string& name, size_t extra) : buf(sizeof(dm_ioctl) + extra + 4096, 0) {
        io()->version[0] = DM_VERSION_MAJOR;
        io()->version[1] = 0;
        io()->version[2] = 0;
        io()->data_size = buf.size();
        io()->data_start = sizeof(dm_ioctl);
        strncpy(io()->name, name.c_str(), sizeof io()->name - 1);
    }
};

bool dm_call(int control, unsigned long cmd, DmRequest& r, const char* what, std::string& error) {
    if (ioctl(control, cmd, r.buf.data()) == 0) return true;
    error = std::string(what) + ": " + strerror(errno);
    return false;
}

bool dm_remove(int control, const std::string& name) {
    DmRequest r(name, 0);
    std::string ignored;
    return dm_call(control, DM_DEV_REMOVE, r, "remove", ignored);
}

std::string majmin(dev_t d) { return std::to_string(major(d)) + ":" + std::to_string(minor(d)); }

long add_user_key(const std::string& desc, const std::string& payload) {
    return syscall(SYS_add_key, "user", desc.c_str(), payload.data(), payload.size(), KEY_SPEC_USER_KEYRING);
}

}  // namespace

bool verity_map(const std::string& name, const std::string& layer, const verity::Params& p,
                const std::string& signature, VerityDevice& dev, std::string& error) {
    int keep_data = -1, keep_tree = -1;
    std::string data = attach_loop(layer, keep_data);
    if (data.empty()) {
        error = "cannot attach " + layer + " to a loop device: " + strerror(errno);
        return false;
    }
    struct stat dst, tst;
    fstat(keep_data, &dst);
    const std::string data_dev = majmin(dst.st_rdev);
    std::string tree_dev = data_dev;  // a one-block layer has no tree to read (0 levels)
    if (p.hash_blocks > 0) {
        std::string tree = attach_loop(layer + verity::kTreeSuffix, keep_tree);
        if (tree.empty()) {
            error = "cannot attach its hash tree " + layer + verity::kTreeSuffix + ": " + strerror(errno);
            close(keep_data);
            return false;
        }
        fstat(keep_tree, &tst);
        tree_dev = majmin(tst.st_rdev);
    }
    struct stat lst;
    if (stat(layer.c_str(), &lst) == 0 && (uint64_t)lst.st_size != p.data_blocks * verity::kBlockSize) {
        error = layer + " is " + std::to_string(lst.st_size) + " bytes, its verity parameters say " +
                std::to_string(p.data_blocks * verity::kBlockSize);
        close(keep_data);
        if (keep_tree >= 0) close(keep_tree);
        return false;
    }

    std::string key;
    long key_id = -1;
    if (!signature.empty()) {
        key = "romimg:" + name;
        key_id = add_user_key(key, signature);
        if (key_id < 0) {
            error = std::string("cannot load the root hash signature as a key: ") + strerror(errno);
            close(keep_data);
            if (keep_tree >= 0) close(keep_tree);
            return false;
        }
    }
    auto cleanup_key = [&] {
        if (key_id >= 0) syscall(SYS_keyctl, KEYCTL_UNLINK, key_id, KEY_SPEC_USER_KEYRING);
    };

    mkdir_p("/dev/mapper");
    int control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (control < 0) {
        struct stat cst;
        // devtmpfs names it mapper/control; create it if this kernel's devtmpfs did not
        if (stat("/dev/mapper/control", &cst) != 0) mknod("/dev/mapper/control", S_IFCHR | 0600, makedev(10, 236));
        control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    }
    if (control < 0) {
        error = std::string("cannot open /dev/mapper/control (is device-mapper in the kernel?): ") + strerror(errno);
        cleanup_key();
        close(keep_data);
        if (keep_tree >= 0) close(keep_tree);
        return false;
    }
    bool ok = false;
    {
        DmRequest create(name, 0);
        create.io()->flags = DM_READONLY_FLAG;
        if (dm_call(control, DM_DEV_CREATE, create, "create the device", error)) {
            const dev_t devno = create.io()->dev;
            const std::string params = verity::table_params(p, data_dev, tree_dev, key);
            DmRequest load(name, sizeof(dm_target_spec) + params.size() + 1);
            load.io()->flags = DM_READONLY_FLAG;
            load.io()->target_count = 1;
            auto* spec = reinterpret_cast<dm_target_spec*>(load.buf.data() + sizeof(dm_ioctl));
            spec->sector_start = 0;
            spec->length = verity::sectors(p);
            strncpy(spec->target_type, "verity", sizeof spec->target_type - 1);
            memcpy(load.buf.data() + sizeof(dm_ioctl) + sizeof(dm_target_spec), params.c_str(), params.size() + 1);
            DmRequest resume(name, 0);
            if (dm_call(control, DM_TABLE_LOAD, load, "load the verity table", error) &&
                dm_call(control, DM_DEV_SUSPEND, resume, "activate the device", error)) {
                dev.path = "/dev/dm-" + std::to_string(minor(devno));
                struct stat nst;
                if (stat(dev.path.c_str(), &nst) != 0) mknod(dev.path.c_str(), S_IFBLK | 0600, devno);
                dev.data_dev = data_dev;
                ok = true;
            } else {
                dm_remove(control, name);
            }
        }
    }
    close(control);
    cleanup_key();
    // The device-mapper table holds both loop devices now (LO_FLAGS_AUTOCLEAR frees them with it).
    close(keep_data);
    if (keep_tree >= 0) close(keep_tree);
    return ok;
}

bool verity_unmap(const std::string& name) {
    int control = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (control < 0) return false;
    bool ok = dm_remove(control, name);
    close(control);
    return ok;
}

bool read_params(const std::string& file, verity::Params& p, std::string& error) {
    std::string text;
    if (!read_file(file, text)) {
        error = "cannot read " + file + ": " + strerror(errno);
        return false;
    }
    if (!verity::parse_params(text, p, error)) {
        error = file + ": " + error;
        return false;
    }
    return true;
}

bool secure_boot_enabled() {
    const char* dir = "/sys/firmware/efi/efivars";
    const std::string var = std::string(dir) + "/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
    struct stat st;
    if (stat("/sys/firmware/efi", &st) != 0) return false;  // not a UEFI boot
    bool mounted = false;
    if (stat(var.c_str(), &st) != 0 &&
        mount("efivarfs", dir, "efivarfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0)
        mounted = true;
    std::string value;
    bool on = read_file(var, value) && value.size() == 5 && value[4] == 1;  // 4 bytes attributes, then the byte
    if (mounted) umount(dir);
    return on;
}

}  // namespace romimg::init
