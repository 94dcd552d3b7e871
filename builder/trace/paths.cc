#include "trace/paths.h"

#include <deque>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sys.h"

namespace romimg::trace {

namespace {

void split_into(std::deque<std::string>& out, const std::string& path, bool front) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) parts.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    if (front) out.insert(out.begin(), parts.begin(), parts.end());
    else out.insert(out.end(), parts.begin(), parts.end());
}

std::string parent_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos || s == 0 ? "" : p.substr(0, s);
}

bool all_digits(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

std::string join_normalize(const std::string& base, const std::string& path) {
    std::deque<std::string> todo;
    if (path.empty() || path[0] != '/') split_into(todo, base, false);
    split_into(todo, path, false);
    std::string cur;
    for (const auto& c : todo) {
        if (c == ".") continue;
        if (c == "..") cur = parent_of(cur);
        else cur += "/" + c;
    }
    return cur.empty() ? "/" : cur;
}

const ComponentCache::Entry& ComponentCache::lookup(const std::string& path) {
    auto [it, inserted] = map_.try_emplace(path);
    if (!inserted) return it->second;
    Entry& e = it->second;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return e;
    e.exists = true;
    e.is_dir = S_ISDIR(st.st_mode);
    e.is_link = S_ISLNK(st.st_mode);
    if (e.is_link) e.target = sys::readlinkat_or_empty(AT_FDCWD, path);
    return e;
}

ResolvedPath resolve_path(const std::string& abs_path, bool follow_last, const ProcSelfLink& proc,
                          ComponentCache* cache) {
    ResolvedPath r;
    std::deque<std::string> todo;
    split_into(todo, abs_path, false);
    std::string cur;  // "" is the root
    int links = 0;
    bool lexical = false;  // once something is missing, the rest is only normalized

    while (!todo.empty()) {
        std::string c = todo.front();
        todo.pop_front();
        if (c == ".") continue;
        if (c == "..") {
            cur = parent_of(cur);
            continue;
        }
        std::string next = cur + "/" + c;
        bool last = todo.empty();
        if (lexical) {
            cur = next;
            continue;
        }
        if (cur == "/proc" && (c == "self" || c == "thread-self" || all_digits(c))) {
            cur = "/proc/self";
            std::string what;
            size_t used = 0;
            if (todo.size() >= 2 && todo[0] == "fd") what = "fd/" + todo[1], used = 2;
            else if (!todo.empty() && (todo[0] == "cwd" || todo[0] == "root" || todo[0] == "exe"))
                what = todo[0], used = 1;
            if (!what.empty() && (todo.size() > used || follow_last)) {
                std::string target = proc ? proc(what) : "";
                if (!target.empty() && target[0] == '/') {
                    todo.erase(todo.begin(), todo.begin() + used);
                    cur.clear();
                    split_into(todo, target, true);
                }
            }
            // The rest of a /proc/self path is procfs: nothing to lstat on the build host.
            if (cur == "/proc/self") lexical = true;
            continue;
        }
        ComponentCache::Entry own;
        const ComponentCache::Entry* e = &own;
        if (cache && !last) {
            e = &cache->lookup(next);
        } else {
            struct stat st;
            if (lstat(next.c_str(), &st) == 0) {
                own.exists = true;
                own.is_dir = S_ISDIR(st.st_mode);
                own.is_link = S_ISLNK(st.st_mode);
                if (own.is_link && (!last || follow_last)) own.target = sys::readlinkat_or_empty(AT_FDCWD, next);
            }
        }
        if (!e->exists) {
            r.exists = false;
            lexical = true;
            cur = next;
            continue;
        }
        if (e->is_link && (!last || follow_last)) {
            const std::string target = e->target;  // copy: `e` may point into the cache
            if (++links > 40 || target.empty()) {  // ELOOP, or unreadable
                r.exists = false;
                lexical = true;
                cur = next;
                continue;
            }
            r.hops.emplace_back(next, target);
            if (target[0] == '/') cur.clear();
            split_into(todo, target, true);
            continue;
        }
        if (!last && !e->is_dir) {  // ENOTDIR
            r.exists = false;
            lexical = true;
        }
        cur = next;
    }
    r.path = cur.empty() ? "/" : cur;
    return r;
}

}  // namespace romimg::trace
