// Output a person reads: one line per stage with its duration, -v/-q. Nothing romimg-specific.
#pragma once

#include <chrono>
#include <string>

#include <fmt/format.h>

namespace romimg::log {

enum class Level { quiet = 0, normal = 1, verbose = 2 };
void set_level(Level l);
Level level();

void write_line(const std::string& line);          // stdout, normal and above
void write_err(const std::string& line);           // stderr, always

template <typename... A>
void info(fmt::format_string<A...> f, A&&... a) {
    if (level() >= Level::normal) write_line(fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void verbose(fmt::format_string<A...> f, A&&... a) {
    if (level() >= Level::verbose) write_line(fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void warn(fmt::format_string<A...> f, A&&... a) {
    write_err("romimg: warning: " + fmt::format(f, std::forward<A>(a)...));
}

// RAII: prints "==> name: detail (1.2 s)" when it ends (or "... FAILED" during unwinding).
class Stage {
public:
    explicit Stage(std::string name);
    ~Stage();
    Stage(const Stage&) = delete;
    Stage& operator=(const Stage&) = delete;
    void detail(std::string d) { detail_ = std::move(d); }
    double seconds() const;

private:
    std::string name_, detail_;
    std::chrono::steady_clock::time_point start_;
    int uncaught_;
};

inline Stage stage(std::string name) { return Stage(std::move(name)); }

}  // namespace romimg::log
