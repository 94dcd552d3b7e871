#include "common/log.h"

#include <cstdio>
#include <exception>
#include <unistd.h>

namespace romimg::log {

static Level g_level = Level::normal;

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }

void write_line(const std::string& line) {
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
}

void write_err(const std::string& line) {
    std::fflush(stdout);
    std::fputs((line + "\n").c_str(), stderr);
}

Stage::Stage(std::string name)
    : name_(std::move(name)), start_(std::chrono::steady_clock::now()),
      uncaught_(std::uncaught_exceptions()) {
    if (level() >= Level::verbose) write_line("--> " + name_);
}

double Stage::seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

Stage::~Stage() {
    bool failed = std::uncaught_exceptions() > uncaught_;
    if (level() < Level::normal && !failed) return;
    std::string line = fmt::format("==> {}{}{} ({:.1f} s)", name_, detail_.empty() ? "" : ": ",
                                   detail_, seconds());
    if (failed) line = fmt::format("==> {} FAILED ({:.1f} s)", name_, seconds());
    write_line(line);
}

}  // namespace romimg::log
