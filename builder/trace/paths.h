// Path resolution as the kernel does it, seen from the tracer: a traced path (relative to a
// dirfd or the cwd) becomes an absolute, normalized host path, and every symlink traversed on
// the way is reported, so a jail can keep each hop as a symlink (DESIGN.md §6 items 3 and 10).
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace romimg::trace {

// Lexical join and normalization: collapses "//", "." and ".." (".." at / stays at /).
// `base` must be absolute; an absolute `path` ignores it. Pure.
std::string join_normalize(const std::string& base, const std::string& path);

struct ResolvedPath {
    std::string path;  // absolute; the final object (or where it would be, if missing)
    std::vector<std::pair<std::string, std::string>> hops;  // (symlink path, its text), in order
    bool exists = true;  // false if some component was missing (or a loop/too long)
};

// Resolves the magic links under /proc/self: what = "fd/3", "cwd", "root" or "exe"; returns the
// absolute target, or "" if it is not a path (a socket, a pipe, a deleted file).
using ProcSelfLink = std::function<std::string(const std::string& what)>;

// What lstat/readlink said about a directory-path component. A tracer resolves thousands of
// paths that share prefixes (/usr/lib/x86_64-linux-gnu/...); the cache answers for components
// that are not the last one. The caller clears it whenever the traced tree may have changed.
class ComponentCache {
public:
    struct Entry {
        bool exists = false, is_dir = false, is_link = false;
        std::string target;
    };
    const Entry& lookup(const std::string& path);
    void clear() { map_.clear(); }

private:
    std::unordered_map<std::string, Entry> map_;
};

// Walks `abs_path` component by component with lstat/readlink, following symlinks (the last
// one only if `follow_last`). /proc/<pid>, /proc/self and /proc/thread-self are reported as
// /proc/self; its fd/N, cwd, root and exe links are followed through `proc`. With a cache,
// components other than the last are looked up there.
ResolvedPath resolve_path(const std::string& abs_path, bool follow_last, const ProcSelfLink& proc,
                          ComponentCache* cache = nullptr);

}  // namespace romimg::trace
