// libFuzzer target: the jars of a Java service ([java] runtime = "jlink" reads each one's
// module-info.class: java/module_info.h). The input is tried as a class file and as a jar (zip);
// either may be refused, but only with romimg::Error: any other exception, a crash or a sanitizer
// report is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "java/module_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    try {
        romimg::java::parse_module_info(bytes, "fuzz.jar");
    } catch (const romimg::Error&) {
    }
    static int fd = memfd_create("fuzz.jar", 0);
    if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    try {
        romimg::java::jar_module("/proc/self/fd/" + std::to_string(fd), 17);
    } catch (const romimg::Error&) {
    }
    return 0;
}
