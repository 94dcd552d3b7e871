#include "common/names.h"

#include <fmt/format.h>

#include "common/strings.h"

namespace romimg::names {

namespace {

bool is_control(char c) { return (unsigned char)c < 0x20 || c == 0x7f; }

}  // namespace

bool has_control(const std::string& s) {
    for (char c : s)
        if (is_control(c)) return true;
    return false;
}

bool is_simple_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    return true;
}

std::string relative_path_problem(const std::string& p) {
    if (p.empty()) return "it is empty";
    if (p[0] == '/') return "it is absolute";
    if (has_control(p)) return "it contains a control character";
    for (const auto& c : split(p, '/')) {
        if (c.empty()) return "it has an empty component";
        if (c == "." || c == "..") return "it has a '" + c + "' component";
    }
    return "";
}

std::string absolute_path_problem(const std::string& p) {
    if (p.empty() || p[0] != '/') return "it is not absolute";
    if (has_control(p)) return "it contains a control character";
    if (p.find_first_of(" \t\v\f") != std::string::npos) return "it contains whitespace";
    if (p == "/") return "";
    if (p.back() == '/') return "it ends with '/'";
    for (const auto& c : split(p.substr(1), '/')) {
        if (c.empty()) return "it has an empty component ('//')";
        if (c == "." || c == "..") return "it is not normalized: it has a '" + c + "' component";
    }
    return "";
}

namespace {

std::string escape(const std::string& s, bool keep_lines) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (keep_lines && (c == '\n' || c == '\t')) out += c;
        else if (c == '\\' && !keep_lines) out += "\\\\";
        else if (is_control(c)) out += fmt::format("\\x{:02x}", (unsigned char)c);
        else out += c;
    }
    return out;
}

}  // namespace

std::string printable(const std::string& s) { return escape(s, false); }
std::string printable_text(const std::string& s) { return escape(s, true); }

}  // namespace romimg::names
