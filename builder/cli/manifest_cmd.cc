// `romimg manifest ISO`: what an image holds, read from the ISO alone (image/manifest.h).
#include <fmt/format.h>

#include "cli/cli.h"
#include "image/manifest.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg manifest ISO [--json]\n"
    "\n"
    "Shows what an image built by `romimg build` holds, read from the ISO alone (its /romimg/\n"
    "files): the kernel's version and .config hash, the kernel command line, the layers with\n"
    "their sha256 and mount points, the services, the romlock policy init seals, and per jail\n"
    "every file with its size, Debian package and version, and why it is there.\n"
    "\n"
    "options:\n"
    "  --json    the same as JSON (every jail entry, with sha256, mode and owner)\n";

int manifest_main(const GlobalOptions&, const std::vector<std::string>& args) {
    bool as_json = false;
    ArgParser p("manifest", usage, args);
    p.flag("--json", as_json);
    auto pos = p.parse();
    if (pos.size() != 1) throw UsageError("romimg manifest takes one ISO (see romimg manifest --help)");
    image::ImageManifest m = image::read_manifest(pos[0]);
    // The ISO's texts need not be UTF-8 (appliance.conf is bytes): bad bytes print as U+FFFD
    // instead of failing the dump (found by tests/hostile/fuzz).
    if (as_json) fmt::print("{}\n", image::manifest_json(m).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    else fmt::print("{}", image::manifest_table(m));
    return 0;
}

}  // namespace

Subcommand manifest_command() {
    return {"manifest", "show what an image holds: jails (files, packages, why), kernel, policy, layers", usage,
            manifest_main};
}

}  // namespace romimg::cli
