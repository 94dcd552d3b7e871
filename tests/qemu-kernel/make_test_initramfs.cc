// make_test_initramfs OUT.cpio INIT: the romlock test initramfs — INIT as /init plus the
// device nodes PID 1 needs for its console. Uses the same writer as the real initramfs.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "initramfs/cpio.h"

using namespace romimg::initramfs;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: make_test_initramfs OUT.cpio INIT\n");
        return 2;
    }
    try {
        auto plan = plan_archive({
            file_from_host("/init", argv[2], 0755),
            char_device("/dev/console", 5, 1, 0600),
            char_device("/dev/null", 1, 3, 0666),
            directory("/proc", 0555),
            directory("/sys", 0555),
        });
        write_archive(plan, argv[1], archive_mtime(std::getenv("SOURCE_DATE_EPOCH")));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_test_initramfs: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
