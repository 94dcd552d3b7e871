// The subcommand table: `romimg --help` lists these in this order. Each command's file defines
// its factory (name, summary, usage, entry point).
#include "cli/cli.h"

namespace romimg::cli {

Subcommand build_command();
Subcommand trace_command();
Subcommand templates_command();
Subcommand jail_command();
Subcommand kernel_command();
Subcommand iso_command();
Subcommand boot_command();
Subcommand data_disk_command();
Subcommand verify_command();
Subcommand manifest_command();
Subcommand diff_command();
Subcommand cache_command();

const std::vector<Subcommand>& subcommands() {
    static const std::vector<Subcommand> table = {
        build_command(),
        trace_command(),
        jail_command(),
        templates_command(),
        kernel_command(),
        iso_command(),
        boot_command(),
        data_disk_command(),
        verify_command(),
        manifest_command(),
        diff_command(),
        cache_command(),
    };
    return table;
}

}  // namespace romimg::cli
