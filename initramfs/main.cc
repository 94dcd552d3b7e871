// romimg-init: one program, two stages (DESIGN.md §3). As /init in the initramfs it finds the
// medium and switches root; as /sbin/init in the image it is PID 1 for the appliance's life.
#include <unistd.h>

#include <cstring>

#include "util.h"

namespace romimg::init {
[[noreturn]] void early_main();
[[noreturn]] void pid1_main();
}  // namespace romimg::init

int main(int, char** argv) {
    using namespace romimg::init;
    if (getpid() != 1) {
        say("romimg-init runs only as PID 1 (it is the appliance's init)");
        return 1;
    }
    // The initramfs runs it as /init; the image as /sbin/init.
    if (strcmp(argv[0], "/init") == 0) early_main();
    pid1_main();
}
