#include "common/error.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace romimg {

std::string quote(const std::string& s) {
    bool plain = !s.empty();
    for (unsigned char c : s)
        if (!(isalnum(c) || strchr("/._-+=:,@%", c))) plain = false;
    if (plain) return s;
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

std::string quote_argv(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty()) out += ' ';
        out += quote(a);
    }
    return out;
}

static std::string format_sys(const std::string& call, const std::vector<std::string>& args,
                              int err) {
    std::string a;
    for (const auto& s : args) {
        if (!a.empty()) a += ", ";
        a += '"' + s + '"';
    }
    return fmt::format("{}({}): {}", call, a, strerror(err));
}

SysError::SysError(const std::string& call, const std::vector<std::string>& args, int err)
    : Error(format_sys(call, args, err)), err_(err) {}

std::string tail_lines(const std::filesystem::path& file, int n) {
    std::ifstream in(file);
    if (!in) return "";
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
        if ((int)lines.size() > n) lines.erase(lines.begin());
    }
    std::string out;
    for (const auto& l : lines) out += "  | " + l + "\n";
    return out;
}

static std::string format_tool(const std::vector<std::string>& argv, int status,
                               const std::filesystem::path& log) {
    std::string what = status >= 0 ? fmt::format("exited with status {}", status)
                                   : fmt::format("was killed by signal {}", -status);
    std::string msg = fmt::format("{} {}", argv.empty() ? "?" : argv[0], what);
    msg += fmt::format("\n  command: {}", quote_argv(argv));
    if (!log.empty()) {
        std::string tail = tail_lines(log, 15);
        if (!tail.empty()) msg += "\n  last lines of the log:\n" + tail;
        msg += fmt::format("  full log: {}", log.string());
    }
    return msg;
}

ToolError::ToolError(const std::vector<std::string>& argv, int status,
                     const std::filesystem::path& log)
    : Error(format_tool(argv, status, log)), status_(status), log_(log) {}

ConfigError::ConfigError(const std::filesystem::path& file, long line, const std::string& msg)
    : Error(line > 0 ? fmt::format("{}:{}: {}", file.string(), line, msg)
                     : fmt::format("{}: {}", file.string(), msg)) {}

}  // namespace romimg
