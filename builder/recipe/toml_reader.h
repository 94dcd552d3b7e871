// Strict reading of TOML tables for romimg's own files (jail templates, romimg.toml): typed
// getters that remember which keys were read, so that a key nobody read (a typo) is an error
// with file:line instead of a silently ignored setting.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/error.h"

namespace romimg::recipe {

// Parses `text`; a syntax error becomes ConfigError(file, line, what).
toml::table parse_toml(const std::string& text, const std::filesystem::path& file);

class Reader {
public:
    Reader(const toml::table& t, const std::filesystem::path& file, std::string prefix)
        : t_(t), file_(file), prefix_(std::move(prefix)) {}

    ConfigError error(const toml::node* n, const std::string& msg) const {
        long line = n ? (long)n->source().begin.line : 0;
        return ConfigError(file_, line, msg);
    }
    std::string key(const std::string& k) const { return prefix_.empty() ? k : prefix_ + "." + k; }

    void str(const std::string& k, std::string& out) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return;
        if (!n->is_string()) throw error(n, fmt::format("{} must be a string", key(k)));
        out = n->as_string()->get();
    }
    void integer(const std::string& k, int& out) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return;
        if (!n->is_integer()) throw error(n, fmt::format("{} must be an integer", key(k)));
        out = (int)n->as_integer()->get();
    }
    void boolean(const std::string& k, bool& out) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return;
        if (!n->is_boolean()) throw error(n, fmt::format("{} must be true or false", key(k)));
        out = n->as_boolean()->get();
    }
    void strings(const std::string& k, std::vector<std::string>& out) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return;
        const toml::array* a = n->as_array();
        if (!a) throw error(n, fmt::format("{} must be an array of strings", key(k)));
        for (const auto& e : *a) {
            if (!e.is_string()) throw error(&e, fmt::format("{} must contain only strings", key(k)));
            out.push_back(e.as_string()->get());
        }
    }
    void ints(const std::string& k, std::vector<int>& out) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return;
        const toml::array* a = n->as_array();
        if (!a) throw error(n, fmt::format("{} must be an array of integers", key(k)));
        for (const auto& e : *a) {
            if (!e.is_integer()) throw error(&e, fmt::format("{} must contain only integers", key(k)));
            out.push_back((int)e.as_integer()->get());
        }
    }
    const toml::table* table(const std::string& k) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return nullptr;
        if (!n->is_table()) throw error(n, fmt::format("{} must be a table", key(k)));
        return n->as_table();
    }
    const toml::array* array(const std::string& k) {
        seen_.insert(k);
        const toml::node* n = t_.get(k);
        if (!n) return nullptr;
        if (!n->is_array()) throw error(n, fmt::format("{} must be an array", key(k)));
        return n->as_array();
    }
    // Unknown keys are errors: a typo must not silently drop a setting.
    void reject_unknown() const {
        for (const auto& [k, v] : t_)
            if (!seen_.count(std::string(k.str())))
                throw error(&v, fmt::format("unknown key '{}'", key(std::string(k.str()))));
    }

private:
    const toml::table& t_;
    std::filesystem::path file_;
    std::string prefix_;
    std::set<std::string> seen_;
};

}  // namespace romimg::recipe
