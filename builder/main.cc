// romimg: argv → global options → one subcommand. The only place errors are caught.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "install/layout.h"

using namespace romimg;

static void print_help() {
    std::string out =
        "usage: romimg [-v|-q] COMMAND [ARGS...]\n"
        "\n"
        "Turns a configured Linux server into a read-only, tamper-proof bootable appliance.\n"
        "\n"
        "commands:\n";
    for (const auto& c : cli::subcommands()) out += fmt::format("  {:<12}{}\n", c.name, c.summary);
    out +=
        "\n"
        "options:\n"
        "  -v, --verbose   more detail (every stage's start, every tool's command line)\n"
        "  -q, --quiet     only errors and the final result\n"
        "  -h, --help      this text; `romimg COMMAND --help` for a command\n"
        "      --version   the version and the commit it was built from (with -v: where its data is)\n"
        "\n"
        "exit status: 0 ok, 1 error, 2 usage error\n";
    std::fputs(out.c_str(), stdout);
}

static int print_version(bool verbose) {
    fmt::print("{}\n", install::version_line());
    if (!verbose) return 0;
    try {
        const auto& l = install::layout();
        fmt::print("data: {}\nprograms: {}\n({})\n", l.data.string(), l.programs.string(), l.how);
    } catch (const std::exception& e) {
        fmt::print(stderr, "romimg: error: {}\n", names::printable_text(e.what()));
        return 1;
    }
    return 0;
}

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    cli::GlobalOptions global;
    size_t i = 0;
    for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
        if (args[i] == "-v" || args[i] == "--verbose") global.verbosity = 2;
        else if (args[i] == "-q" || args[i] == "--quiet") global.verbosity = 0;
        else if (args[i] == "-h" || args[i] == "--help") {
            print_help();
            return 0;
        } else if (args[i] == "--version") {
            return print_version(global.verbosity > 1 || (i + 1 < args.size() && (args[i + 1] == "-v" || args[i + 1] == "--verbose")));
        } else {
            fmt::print(stderr, "romimg: error: unknown option {}\n  (see `romimg --help`)\n", args[i]);
            return 2;
        }
    }
    if (i == args.size()) {
        print_help();
        return 2;
    }
    const std::string name = args[i];
    std::vector<std::string> rest(args.begin() + i + 1, args.end());
    // -v / -q are accepted after the subcommand too.
    std::vector<std::string> sub_args;
    for (const auto& a : rest) {
        if (a == "--") { sub_args.insert(sub_args.end(), rest.begin() + (&a - rest.data()), rest.end()); break; }
        if (a == "-v" || a == "--verbose") global.verbosity = 2;
        else if (a == "-q" || a == "--quiet") global.verbosity = 0;
        else sub_args.push_back(a);
    }
    log::set_level(static_cast<log::Level>(global.verbosity));

    for (const auto& c : cli::subcommands()) {
        if (c.name != name) continue;
        try {
            return c.run(global, sub_args);
        } catch (const cli::HelpShown&) {
            return 0;
        } catch (const Interrupted& e) {
            fmt::print(stderr, "romimg: error: {}\n", names::printable_text(e.what()));
            return 130;
        } catch (const UsageError& e) {
            fmt::print(stderr, "romimg: error: {}\n", names::printable_text(e.what()));
            return 2;
        } catch (const std::exception& e) {
            fmt::print(stderr, "romimg: error: {}\n", names::printable_text(e.what()));
            return 1;
        }
    }
    fmt::print(stderr, "romimg: error: unknown command '{}'\n  (see `romimg --help`)\n", name);
    return 2;
}
