#include "closure/secrets.h"

#include <fnmatch.h>

#include <vector>

#include "closure/closure.h"

namespace romimg::closure {

namespace {

// Never in a jail, whatever touched them (DESIGN.md §6.17). Matched like exclude globs.
const std::vector<std::string> kSecrets = {
    "/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/ssh/ssh_host_*_key",
    "/root/**", "/etc/sudoers*", "/etc/sudoers.d/**",
};

std::string parent_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos || s == 0 ? "/" : p.substr(0, s);
}

std::string last_component(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace

std::string secret_glob(const std::string& path) {
    for (std::string p = path;; p = parent_of(p)) {
        for (const auto& g : kSecrets)
            if (glob_match(g, p)) return g;
        if (p == "/" || p.empty()) return "";
    }
}

std::string secret_name_glob(const std::string& name) {
    for (const auto& g : kSecrets) {
        const std::string last = last_component(g);
        if (last != "**" && fnmatch(last.c_str(), name.c_str(), 0) == 0) return g;
    }
    return "";
}

bool named_like_private_key(const std::string& path) {
    const std::string b = last_component(path);
    auto ends = [&](std::string_view s) { return b.size() >= s.size() && b.compare(b.size() - s.size(), s.size(), s) == 0; };
    return ends(".key") || ends(".pem") || ("/" + path).find("/private/") != std::string::npos;
}

bool private_key(const std::string& path, std::string_view head) {
    head = head.substr(0, kPrivateKeyHead);
    // A file that opens as a PEM private key is one whatever its name (id_rsa, an OpenSSH key).
    if (head.rfind("-----BEGIN ", 0) == 0 && head.find("PRIVATE KEY-----") < 80) return true;
    return named_like_private_key(path) && head.find("PRIVATE KEY-----") != std::string_view::npos;
}

}  // namespace romimg::closure
