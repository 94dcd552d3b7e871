// The builder's exception hierarchy. Thrown at the boundaries, caught only in main(), printed as
// "romimg: error: <what()>". Every message names the problem and, where there is one, the fix.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace romimg {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Bad command-line usage: main() prints the message and exits 2.
class UsageError : public Error {
public:
    using Error::Error;
};

// The user interrupted romimg (Ctrl-C, SIGTERM): main() exits 130 after the guards cleaned up.
class Interrupted : public Error {
public:
    Interrupted() : Error("interrupted; everything romimg started was stopped and nothing was written") {}
};

// A failed system call: the call, its quoted arguments and errno.
class SysError : public Error {
public:
    SysError(const std::string& call, const std::vector<std::string>& args, int err);
    SysError(const std::string& call, const std::string& arg, int err)
        : SysError(call, std::vector<std::string>{arg}, err) {}
    int err() const { return err_; }

private:
    int err_;
};

// An external tool that failed: argv, exit status and where its output went (with the last
// lines of that log in the message, so the user sees the cause without opening it).
class ToolError : public Error {
public:
    ToolError(const std::vector<std::string>& argv, int status, const std::filesystem::path& log);
    const std::filesystem::path& log() const { return log_; }
    int status() const { return status_; }

private:
    int status_;
    std::filesystem::path log_;
};

// A problem in a configuration file, located as file:line.
class ConfigError : public Error {
public:
    ConfigError(const std::filesystem::path& file, long line, const std::string& msg);
};

// Quote a string for an error message or a shell-like rendering of argv.
std::string quote(const std::string& s);
std::string quote_argv(const std::vector<std::string>& argv);

// Last `n` lines of a text file ("" if it cannot be read).
std::string tail_lines(const std::filesystem::path& file, int n);

}  // namespace romimg
