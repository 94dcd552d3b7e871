// `romimg templates`: the jail templates romimg can find, where each comes from, and which file
// wins when two directories on the search path hold the same name.
#include <fmt/format.h>

#include "cli/cli.h"
#include "common/names.h"
#include "recipe/template.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg templates\n"
    "\n"
    "Lists the jail templates romimg finds, with where each comes from. The search path, first\n"
    "wins: $ROMIMG_TEMPLATES (colon-separated directories), /etc/romimg/templates (system),\n"
    "~/.config/romimg/templates or $XDG_CONFIG_HOME/romimg/templates (user), then the templates\n"
    "romimg ships. A template can always be given as a path to its .toml file instead.\n";

int templates_main(const GlobalOptions&, const std::vector<std::string>& args) {
    ArgParser p("templates", usage, args);
    if (!p.parse().empty()) throw UsageError("romimg templates takes no arguments");
    const auto path = recipe::template_dirs();
    const auto found = recipe::find_templates(path);
    fmt::print("{:<12}{:<18}{}\n", "NAME", "FROM", "DESCRIPTION");
    for (const auto& t : found) {
        fmt::print("{:<12}{:<18}{}\n", names::printable(t.name), t.origin,
                   names::printable(recipe::describe_template(t.file)));
        fmt::print("{:<12}{:<18}{}\n", "", "", names::printable(t.file.string()));
        for (const auto& h : t.hidden)
            fmt::print("{:<12}{:<18}hides {} ({}): {} wins\n", "", "", names::printable(h.file.string()), h.origin,
                       t.origin);
    }
    fmt::print("\nsearched, first wins:\n");
    for (const auto& d : path) {
        std::error_code ec;
        const bool there = std::filesystem::is_directory(d.dir, ec);
        fmt::print("  {:<18}{}{}\n", d.origin, names::printable(d.dir.string()), there ? "" : " (absent)");
    }
    return 0;
}

}  // namespace

Subcommand templates_command() {
    return {"templates", "list the jail templates (services romimg knows how to jail) and where each comes from",
            usage, templates_main};
}

}  // namespace romimg::cli
