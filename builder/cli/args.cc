#include "cli/cli.h"

#include <cerrno>
#include <climits>
#include <cstdio>

#include <fmt/format.h>

namespace romimg::cli {

ArgParser::ArgParser(std::string command, const std::string& usage, std::vector<std::string> args)
    : command_(std::move(command)), usage_(usage), args_(std::move(args)) {}

void ArgParser::flag(const std::string& n, bool& t) { specs_.push_back({n, Spec::Flag, &t}); }
void ArgParser::option(const std::string& n, std::string& t) { specs_.push_back({n, Spec::Str, &t}); }
void ArgParser::option(const std::string& n, int& t) { specs_.push_back({n, Spec::Int, &t}); }
void ArgParser::repeated(const std::string& n, std::vector<std::string>& t) {
    specs_.push_back({n, Spec::Repeat, &t});
}
void ArgParser::rest_after_dashdash(std::vector<std::string>& t) { rest_ = &t; }

std::vector<std::string> ArgParser::parse() {
    std::vector<std::string> positional;
    auto usage_error = [&](const std::string& msg) {
        return UsageError(fmt::format("{}\n  (see `romimg {} --help`)", msg, command_));
    };
    for (size_t i = 0; i < args_.size(); ++i) {
        const std::string& a = args_[i];
        if (a == "--help" || a == "-h") {
            std::fputs(usage_.c_str(), stdout);
            throw HelpShown{};
        }
        if (a == "--") {
            if (!rest_) throw usage_error(fmt::format("romimg {} takes no command after --", command_));
            rest_->assign(args_.begin() + i + 1, args_.end());
            return positional;
        }
        if (a.size() < 2 || a[0] != '-') {
            positional.push_back(a);
            continue;
        }
        std::string name = a, value;
        bool has_value = false;
        if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            has_value = true;
        }
        const Spec* spec = nullptr;
        for (const auto& s : specs_)
            if (s.name == name) spec = &s;
        if (!spec) throw usage_error(fmt::format("unknown option {} for romimg {}", name, command_));
        if (spec->kind == Spec::Flag) {
            if (has_value) throw usage_error(fmt::format("{} takes no value", name));
            *static_cast<bool*>(spec->target) = true;
            continue;
        }
        if (!has_value) {
            if (i + 1 >= args_.size()) throw usage_error(fmt::format("{} needs a value", name));
            value = args_[++i];
        }
        switch (spec->kind) {
        case Spec::Str: *static_cast<std::string*>(spec->target) = value; break;
        case Spec::Repeat: static_cast<std::vector<std::string>*>(spec->target)->push_back(value); break;
        case Spec::Int: {
            char* end = nullptr;
            errno = 0;
            long v = strtol(value.c_str(), &end, 10);
            if (value.empty() || *end)
                throw usage_error(fmt::format("{} needs a number, got '{}'", name, value));
            // Never wrapped: 4294967808 must not become 512.
            if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                throw usage_error(fmt::format("{} {} is out of range", name, value));
            *static_cast<int*>(spec->target) = (int)v;
            break;
        }
        case Spec::Flag: break;
        }
    }
    return positional;
}

}  // namespace romimg::cli
