// Small helpers for romimg-init: console output, files, mounts. No exceptions anywhere in init:
// every call reports failure with a bool and a log line (DESIGN.md §5).
#pragma once

#include <string>
#include <sys/types.h>

namespace romimg::init {

// "romimg-init: ..." on the console (and in the kernel log when /dev/kmsg is there).
void say(const std::string& msg);
// say() without waiting for a slow console (a 115200-baud serial line takes ~11 KB/s): false,
// and nothing written, when the console's buffer is full.
bool say_nowait(const std::string& msg);
// Prints the message and stops here for good: no shell, no reboot loop (DESIGN.md §3).
[[noreturn]] void fatal(const std::string& msg);

bool read_file(const std::string& path, std::string& out);
bool write_file(const std::string& path, const std::string& data);
bool mkdir_p(const std::string& path, mode_t mode = 0755);
// mount(2) with a log line on failure.
bool do_mount(const std::string& src, const std::string& target, const std::string& type,
              unsigned long flags, const std::string& data);
// Kernel command line value of KEY=VALUE ("" if absent).
std::string cmdline_value(const std::string& cmdline, const std::string& key);
double monotonic_seconds();
// Attaches `file` to a free loop device, read-only; returns its path ("" on failure, errno set)
// and leaves the device open in `keep` until the mount holds it (LO_FLAGS_AUTOCLEAR).
std::string attach_loop(const std::string& file, int& keep);

}  // namespace romimg::init
