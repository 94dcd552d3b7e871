// The command line: global options, the subcommand table, and a small argument parser that
// subcommands use to read their own options. Parsing only builds values; it never acts.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace romimg::cli {

struct GlobalOptions {
    int verbosity = 1;  // 0 = -q, 1 = normal, 2 = -v
};

struct Subcommand {
    std::string name;
    std::string summary;  // one line for `romimg --help`
    std::string usage;    // full text for `romimg NAME --help`
    int (*run)(const GlobalOptions&, const std::vector<std::string>& args);
};

const std::vector<Subcommand>& subcommands();

// Thrown by a subcommand that was asked for --help after printing its usage: exit 0.
struct HelpShown {};

// Reads "--name VALUE", "--name=VALUE", flags and positionals in one pass. Unknown options
// throw UsageError naming the option and the subcommand's --help.
class ArgParser {
public:
    ArgParser(std::string command, const std::string& usage, std::vector<std::string> args);

    void flag(const std::string& name, bool& target);
    void option(const std::string& name, std::string& target);
    void option(const std::string& name, int& target);
    void repeated(const std::string& name, std::vector<std::string>& target);
    // Stops option parsing at "--": everything after it lands in `target` (may be empty).
    void rest_after_dashdash(std::vector<std::string>& target);

    // Parses; positionals are returned in order. Throws UsageError or HelpShown.
    std::vector<std::string> parse();

private:
    struct Spec {
        std::string name;
        enum { Flag, Str, Int, Repeat } kind;
        void* target;
    };
    std::string command_, usage_;
    std::vector<std::string> args_;
    std::vector<Spec> specs_;
    std::vector<std::string>* rest_ = nullptr;
};

}  // namespace romimg::cli
