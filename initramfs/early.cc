// Early boot, as PID 1 of the initramfs: mount proc/sys/dev, find the boot medium by its volume
// label (CD, USB stick or disk; slow devices get time), mount it, map the squashfs root through
// dm-verity with the parameters this initramfs carries and mount it read-only, put tmpfs on
// /var, /tmp and /run, switch root and exec romimg-init from the image.
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "util.h"
#include "verity.h"

namespace romimg::init {

namespace {

// The ISO 9660 primary volume descriptor: sector 16, "\1CD001", volume id at offset 40.
std::string iso_label(const std::string& dev) {
    int fd = open(dev.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    char pvd[2048];
    ssize_t n = pread(fd, pvd, sizeof pvd, 16 * 2048);
    close(fd);
    if (n != (ssize_t)sizeof pvd || memcmp(pvd, "\001CD001", 6) != 0) return "";
    std::string label(pvd + 40, 32);
    while (!label.empty() && label.back() == ' ') label.pop_back();
    return label;
}

std::string find_medium(const std::string& label, int wait_s) {
    double deadline = monotonic_seconds() + wait_s;
    bool told = false;
    for (;;) {
        if (DIR* d = opendir("/sys/class/block")) {
            std::vector<std::string> names;
            while (dirent* e = readdir(d))
                if (e->d_name[0] != '.' && strncmp(e->d_name, "loop", 4) != 0 && strncmp(e->d_name, "ram", 3) != 0)
                    names.push_back(e->d_name);
            closedir(d);
            for (const auto& n : names)
                if (iso_label("/dev/" + n) == label) return "/dev/" + n;
        }
        if (monotonic_seconds() > deadline) return "";
        if (!told) {
            say("waiting for the boot medium labelled " + label + " ...");
            told = true;
        }
        usleep(250000);
    }
}

bool write_new(const std::string& path, const std::string& text) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = write(fd, text.data(), text.size()) == (ssize_t)text.size();
    close(fd);
    return ok;
}

// live/root.sqfs through dm-verity, with the parameters in this initramfs. Only an initramfs
// without them (an image built --no-verity, for benchmarks; `romimg verify` fails it) mounts it
// unchecked: what the medium holds never decides that.
VerityDevice map_root(const std::string& medium) {
    verity::Params p;
    std::string error;
    VerityDevice root;
    struct stat st;
    if (stat(verity::kInitrdRootParams, &st) != 0 && errno == ENOENT) {
        // An image built --no-verity (benchmarking only): the initramfs decides, never the medium.
        for (int i = 0; i < 3; ++i)
            say("*** NO VERITY: this image was built --no-verity (benchmarking only): its layers are mounted UNCHECKED ***");
        root.path = attach_loop("/medium/live/root.sqfs", root.keep);
        if (root.path.empty()) fatal(std::string("cannot attach /live/root.sqfs to a loop device: ") + strerror(errno));
        fstat(root.keep, &st);
        root.data_dev = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
        return root;  // LO_FLAGS_AUTOCLEAR: keep it open until the mount holds it
    }
    if (!read_params(verity::kInitrdRootParams, p, error)) fatal("this initramfs has no usable verity parameters for the root: " + error);
    if (!verity_map("romimg-root", "/medium/live/root.sqfs", p, "", root, error))
        fatal("cannot set up dm-verity for the root filesystem on " + medium + ": " + error);
    say("root: dm-verity over live/root.sqfs (data " + root.data_dev + ", root hash " + p.root_hash.substr(0, 16) +
        "..., " + (p.fec_roots ? "error correction with " + std::to_string(p.fec_roots) + " parity bytes" : std::string("no error correction")) + ")");
    return root;
}

// What PID 1 needs to know of this boot, in the new root's /run (root only).
void write_boot_facts(const VerityDevice& root) {
    const bool sb = secure_boot_enabled();
    struct stat st;
    const bool verity = stat(verity::kInitrdRootParams, &st) == 0;
    const std::string facts = std::string("secure_boot ") + (sb ? "1" : "0") + "\nroot_dev " + root.data_dev +
                              "\nverity " + (verity ? "1" : "0") + "\n";
    std::string selftest;
    mkdir_p("/newroot/run/romimg-init", 0700);
    if (!write_new("/newroot" + std::string(verity::kBootFacts), facts) ||
        (read_file(verity::kInitrdSelftestParams, selftest) && !write_new("/newroot" + std::string(verity::kSelftestParams), selftest)))
        fatal(std::string("cannot write the boot facts for PID 1: ") + strerror(errno));
    say(sb ? "Secure Boot is on: the firmware checked the kernel, this initramfs and the command line; content layers must be signed"
           : verity ? "Secure Boot is off: nothing anchors the kernel, the initramfs or the command line (verity still refuses a changed or damaged layer)"
                    : "Secure Boot is off: nothing anchors the kernel, the initramfs or the command line, and nothing checks the layers");
}

}  // namespace

[[noreturn]] void early_main() {
    mkdir_p("/proc");
    mkdir_p("/sys");
    mkdir_p("/dev");
    if (!do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "") ||
        !do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "") ||
        !do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755"))
        fatal("cannot mount /proc, /sys or /dev");
    std::string cmdline;
    read_file("/proc/cmdline", cmdline);
    std::string label = cmdline_value(cmdline, "romimg.label");
    if (label.empty()) label = "ROMIMG";
    std::string wait = cmdline_value(cmdline, "romimg.wait");
    int wait_s = wait.empty() ? 30 : atoi(wait.c_str());
    say("early boot: looking for the medium labelled " + label);

    std::string dev = find_medium(label, wait_s);
    if (dev.empty()) fatal("no boot medium labelled " + label + " appeared within " + std::to_string(wait_s) + " s");
    mkdir_p("/medium");
    if (!do_mount(dev, "/medium", "iso9660", MS_RDONLY | MS_NOSUID | MS_NODEV, ""))
        fatal("cannot mount the boot medium " + dev);
    const VerityDevice root = map_root(dev);
    mkdir_p("/newroot");
    if (!do_mount(root.path, "/newroot", "squashfs", MS_RDONLY | MS_NODEV, ""))
        fatal(errno == EIO && root.path.rfind("/dev/dm-", 0) == 0 ? "verity refused the root filesystem: live/root.sqfs or its hash tree on " + dev +
                                 " does not match the root hash this initramfs carries (the kernel's "
                                 "\"device-mapper: verity\" line above names the block); the medium was changed or is damaged"
                           : "cannot mount the root filesystem from " + dev);
    if (root.keep >= 0) close(root.keep);  // the mount holds the loop device now
    struct Area { const char* path; const char* options; };
    const Area areas[] = {{"/newroot/var", "mode=0755,size=64m"},
                          {"/newroot/tmp", "mode=1777,size=64m"},
                          {"/newroot/run", "mode=0755,size=16m"}};
    for (const auto& a : areas)
        if (!do_mount("tmpfs", a.path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, a.options))
            fatal(std::string("cannot mount tmpfs on ") + (a.path + 8));
    write_boot_facts(root);
    mkdir_p("/newroot/run/medium");
    // The medium stays mounted (the loop device reads from it); /dev, /proc, /sys move along.
    if (!do_mount("/medium", "/newroot/run/medium", "", MS_MOVE, "") ||
        !do_mount("/dev", "/newroot/dev", "", MS_MOVE, "") ||
        !do_mount("/proc", "/newroot/proc", "", MS_MOVE, "") ||
        !do_mount("/sys", "/newroot/sys", "", MS_MOVE, ""))
        fatal("cannot move the early mounts into the new root");
    if (chdir("/newroot") < 0 || mount(".", "/", nullptr, MS_MOVE, nullptr) < 0 || chroot(".") < 0 || chdir("/") < 0)
        fatal(std::string("cannot switch to the new root: ") + strerror(errno));
    say("root is the read-only image from " + dev + "; starting PID 1");
    char* argv[] = {const_cast<char*>("/sbin/init"), nullptr};
    execv("/sbin/init", argv);
    fatal(std::string("cannot execute /sbin/init in the image: ") + strerror(errno));
}

}  // namespace romimg::init
