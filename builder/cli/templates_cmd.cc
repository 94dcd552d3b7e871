// `romimg templates`: the jail templates romimg can find, with their descriptions.
#include <fmt/format.h>

#include "cli/cli.h"
#include "common/names.h"
#include "recipe/template.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg templates\n"
    "\n"
    "Lists the jail templates found in $ROMIMG_TEMPLATES and the source tree's jail-templates/.\n"
    "Any template can also be given as a path to its .toml file.\n";

int templates_main(const GlobalOptions&, const std::vector<std::string>& args) {
    ArgParser p("templates", usage, args);
    if (!p.parse().empty()) throw UsageError("romimg templates takes no arguments");
    for (const auto& [name, desc] : recipe::list_templates()) fmt::print("{:<12}{}\n", names::printable(name), names::printable(desc));
    std::vector<std::string> dirs;
    for (const auto& d : recipe::template_dirs()) dirs.push_back(d.string());
    fmt::print("\nsearched: {}\n", fmt::join(dirs, ", "));
    return 0;
}

}  // namespace

Subcommand templates_command() {
    return {"templates", "list the jail templates (services romimg knows how to jail)", usage,
            templates_main};
}

}  // namespace romimg::cli
