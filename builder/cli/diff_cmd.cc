// `romimg diff OLD.iso NEW.iso`: what changed between two releases (image/diff.h).
#include <fmt/format.h>

#include "cli/cli.h"
#include "image/diff.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg diff OLD.iso NEW.iso [--json]\n"
    "\n"
    "Compares two images built by `romimg build`, from their /romimg/ files: per jail the files\n"
    "added, removed and changed (content by sha256, size, mode, owner, link target), Debian\n"
    "package versions, romlock policy lines, the kernel (version, .config hash) and command line,\n"
    "and the layers. Review a release with it before burning it.\n"
    "\n"
    "options:\n"
    "  --json    the same as JSON\n"
    "\n"
    "exit status: 0 identical, 3 different, 1 error, 2 usage (not diff(1)'s 1: romimg's 1 is an\n"
    "error, and a script must be able to tell the two apart).\n";

constexpr int kDifferent = 3;

int diff_main(const GlobalOptions&, const std::vector<std::string>& args) {
    bool as_json = false;
    ArgParser p("diff", usage, args);
    p.flag("--json", as_json);
    auto pos = p.parse();
    if (pos.size() != 2) throw UsageError("romimg diff takes two ISOs, OLD and NEW (see romimg diff --help)");
    image::ImageDiff d = image::diff_images(image::read_manifest(pos[0]), image::read_manifest(pos[1]));
    // As in manifest: bytes that are not UTF-8 print as U+FFFD instead of failing the dump.
    if (as_json) fmt::print("{}\n", image::diff_json(d).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    else fmt::print("{}", image::diff_table(d));
    return d.empty() ? 0 : kDifferent;
}

}  // namespace

Subcommand diff_command() {
    return {"diff", "what changed between two images (files per jail, packages, policy, kernel)", usage, diff_main};
}

}  // namespace romimg::cli
