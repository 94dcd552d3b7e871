#include "util.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace romimg::init {

void say(const std::string& msg) {
    std::string line = "romimg-init: " + msg + "\n";
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, line.data(), line.size());
        close(fd);
    } else {
        (void)!write(2, line.data(), line.size());
    }
}

bool say_nowait(const std::string& msg) {
    const std::string line = "romimg-init: " + msg + "\n";
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    const ssize_t n = write(fd, line.data(), line.size());
    close(fd);
    return n > 0;  // a short write ends the line early; the next one starts on a new line anyway
}

void fatal(const std::string& msg) {
    say("FATAL: " + msg);
    say("the appliance cannot start; it stays halted (power-cycle to retry)");
    sync();
    for (;;) pause();
}

bool read_file(const std::string& path, std::string& out) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out.clear();
    char buf[8192];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, n);
    }
    close(fd);
    return true;
}

bool write_file(const std::string& path, const std::string& data) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, data.data(), data.size()) == (ssize_t)data.size();
    close(fd);
    return ok;
}

bool mkdir_p(const std::string& path, mode_t mode) {
    for (size_t i = 1; i <= path.size(); ++i) {
        if (i != path.size() && path[i] != '/') continue;
        std::string p = path.substr(0, i);
        if (mkdir(p.c_str(), mode) < 0 && errno != EEXIST) return false;
    }
    return true;
}

bool do_mount(const std::string& src, const std::string& target, const std::string& type,
              unsigned long flags, const std::string& data) {
    if (mount(src.c_str(), target.c_str(), type.empty() ? nullptr : type.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) == 0)
        return true;
    say("mount " + type + " on " + target + " (" + data + ") failed: " + strerror(errno));
    return false;
}

std::string cmdline_value(const std::string& cmdline, const std::string& key) {
    size_t i = 0;
    while (i < cmdline.size()) {
        while (i < cmdline.size() && (cmdline[i] == ' ' || cmdline[i] == '\n')) ++i;
        size_t j = i;
        while (j < cmdline.size() && cmdline[j] != ' ' && cmdline[j] != '\n') ++j;
        std::string word = cmdline.substr(i, j - i);
        if (word.rfind(key + "=", 0) == 0) return word.substr(key.size() + 1);
        i = j;
    }
    return "";
}

double monotonic_seconds() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Attaches `file` to a free loop device, read-only; returns its path and leaves the device
// open in `keep`: with LO_FLAGS_AUTOCLEAR the device detaches on its last close, so it must stay
// open until the mount holds it.
std::string attach_loop(const std::string& file, int& keep) {
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) return "";
    int n = ioctl(ctl, LOOP_CTL_GET_FREE);
    close(ctl);
    if (n < 0) return "";
    std::string dev = "/dev/loop" + std::to_string(n);
    int backing = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    int loop = open(dev.c_str(), O_RDONLY | O_CLOEXEC);
    if (backing < 0 || loop < 0) return "";
    struct loop_config cfg {};
    cfg.fd = backing;
    cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
    int rc = ioctl(loop, LOOP_CONFIGURE, &cfg);
    close(backing);
    if (rc != 0) {
        close(loop);
        return "";
    }
    keep = loop;
    return dev;
}

}  // namespace romimg::init
