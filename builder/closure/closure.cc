// The closure stage: TraceResult + ClosureOptions → FileSet. Reads the host filesystem (lstat,
// readlink, ELF headers, xattrs, ld.so.cache); never writes. The rules are DESIGN.md §6 and
// issue 3: traced paths, their ELF/shebang closure as ld.so and the kernel would load it, every
// symlink hop, parents, basics a service may touch only inside a request, and no secrets.
#include "closure/closure.h"
#include "closure/secrets.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>
#include <unordered_map>

#include <elf.h>
#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/fd.h"
#include "trace/binfmt.h"
#include "trace/paths.h"

namespace romimg::closure {

std::string to_string(Reason r) {
    switch (r) {
    case Reason::traced: return "traced";
    case Reason::closure: return "closure";
    case Reason::include: return "include";
    case Reason::basics: return "basics";
    }
    return "?";
}

uint64_t FileSet::total_bytes() const {
    uint64_t n = 0;
    for (const auto& [p, e] : entries)
        if (e.type == trace::FileType::file && e.hardlink_of.empty()) n += e.size;
    return n;
}

namespace {

// The entries of a directory, sorted (reproducible order), without . and ..
bool sorted_names(const std::string& dir, std::vector<std::string>& names) {
    DIR* d = opendir(dir.c_str());
    if (!d) return false;
    while (dirent* de = readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return true;
}

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

bool match_from(const std::vector<std::string>& pat, size_t pi, const std::vector<std::string>& p,
                size_t i) {
    if (pi == pat.size()) return i == p.size();
    if (pat[pi] == "**") {
        for (size_t k = i; k <= p.size(); ++k)
            if (match_from(pat, pi + 1, p, k)) return true;
        return false;
    }
    if (i == p.size()) return false;
    return fnmatch(pat[pi].c_str(), p[i].c_str(), FNM_PATHNAME) == 0 && match_from(pat, pi + 1, p, i + 1);
}

bool has_wildcard(const std::string& s) { return s.find_first_of("*?[\\") != std::string::npos; }

std::string dirname_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos || s == 0 ? "/" : p.substr(0, s);
}

std::string basename_of(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string read_head(const std::string& path, size_t n) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) return "";
    std::string buf(n, '\0');
    ssize_t got = ::pread(fd.get(), buf.data(), n, 0);
    buf.resize(got > 0 ? size_t(got) : 0);
    return buf;
}

// /etc/passwd and /etc/group are not the host's: the jail stage writes minimal ones holding only
// the users the service runs as or looks up. Their backups hold the full host lists too.
const std::set<std::string> kJailWritten = {"/etc/passwd", "/etc/group", "/etc/passwd-",
                                            "/etc/group-"};

// Debian's multiarch directory and ld.so's $PLATFORM for an ELF machine.
std::string triplet(int machine, int cls) {
    switch (machine) {
    case EM_X86_64: return cls == ELFCLASS32 ? "x86_64-linux-gnux32" : "x86_64-linux-gnu";
    case EM_386: return "i386-linux-gnu";
    case EM_AARCH64: return "aarch64-linux-gnu";
    case EM_ARM: return "arm-linux-gnueabihf";
    case EM_RISCV: return "riscv64-linux-gnu";
    case EM_PPC64: return "powerpc64le-linux-gnu";
    case EM_S390: return "s390x-linux-gnu";
    default: return "";
    }
}

std::string platform(int machine) {
    switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_386: return "i686";
    case EM_AARCH64: return "aarch64";
    default: return "";
    }
}

void expand(const std::vector<std::string>& segs, size_t i, const std::string& dir, std::vector<std::string>& out) {
    if (i == segs.size() || (segs[i] == "**" && i + 1 == segs.size())) {
        struct stat st;
        if (lstat(dir.c_str(), &st) == 0) out.push_back(dir);
        return;
    }
    std::string prefix = dir == "/" ? "" : dir;
    if (!has_wildcard(segs[i])) return expand(segs, i + 1, prefix + "/" + segs[i], out);
    std::vector<std::string> names;
    if (!sorted_names(dir, names)) return;
    for (const auto& n : names) {
        std::string child = prefix + "/" + n;
        if (segs[i] == "**") {
            struct stat st;
            if (lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) expand(segs, i, child, out);
        } else if (fnmatch(segs[i].c_str(), n.c_str(), FNM_PATHNAME) == 0) {
            expand(segs, i + 1, child, out);
        }
    }
    if (segs[i] == "**") expand(segs, i + 1, dir, out);  // "**" matching nothing
}

// Every name below `dir`, depth first in sorted order; symlinked directories are not walked.
void walk(const std::string& dir, std::vector<std::string>& out) {
    std::vector<std::string> names;
    if (!sorted_names(dir, names)) return;
    for (const auto& n : names) {
        const std::string child = (dir == "/" ? "" : dir) + "/" + n;
        out.push_back(child);
        struct stat st;
        if (lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) walk(child, out);
    }
}

struct Work {
    std::string path;       // canonical
    std::string load_path;  // the name it was loaded by ($ORIGIN is its directory, as in ld.so)
    bool script = false;    // exec'd: a shebang line counts
    std::vector<std::string> inherited_rpath;  // expanded DT_RPATH dirs of the loaders (ld.so's l_loader chain)
};

class Closure {
public:
    Closure(const trace::TraceResult& t, const ClosureOptions& o)
        : trace_(t), opt_(o), ldcache_(elf::LdCache::load(o.ld_so_cache)) {}

    FileSet run() {
        add_traced();
        add_includes();
        drain();
        if (opt_.basics) add_basics();
        drain();
        add_legacy_hwcap_baselines();
        drain();
        add_parents();
        finish_entries();
        return std::move(out_);
    }

private:
    struct Host {
        dev_t dev = 0;
        ino_t ino = 0;
        nlink_t nlink = 0;
    };

    const trace::TraceResult& trace_;
    const ClosureOptions& opt_;
    elf::LdCache ldcache_;
    FileSet out_;
    trace::ComponentCache cache_;
    std::map<std::string, Host> host_;
    std::unordered_map<std::string, elf::Info> elf_;
    std::deque<Work> work_;
    std::set<std::string> analysed_, refused_reported_, dirs_walked_;
    std::map<std::string, std::vector<std::string>> hwcaps_;  // DIR/glibc-hwcaps → levels present

    void finding(const std::string& sev, const std::string& path, const std::string& msg) {
        out_.findings.push_back({sev, path, msg});
    }

    const elf::Info& elf_info(const std::string& path) {
        auto it = elf_.find(path);
        if (it == elf_.end()) it = elf_.emplace(path, elf::read_info(path)).first;
        return it->second;
    }

    // A glob list hit for `path` or one of its ancestors ("" if none): a matching directory takes
    // its subtree with it.
    static std::string matching_glob(const std::vector<std::string>& globs, const std::string& path) {
        for (std::string p = path;; p = dirname_of(p)) {
            for (const auto& g : globs)
                if (glob_match(g, p)) return g;
            if (p == "/") return "";
        }
    }

    // Paths that are never an entry. Reports each refused path once when it matters.
    // Runtime objects and files the jail stage writes itself: silently never entries.
    static bool not_copied(const std::string& path) {
        return fs::path_within(path, "/proc") || fs::path_within(path, "/sys")  // mounted, not copied
               || path.compare(0, 11, "/run/romimg") == 0   // romimg's own runtime
               || kJailWritten.count(path);
    }

    bool refused(const std::string& path, Reason reason, bool is_device) {
        if (fs::path_within(path, "/dev") && !is_device) return true;  // the jail stage makes its own /dev
        bool first = refused_reported_.insert(path).second;
        if (!secret_glob(path).empty()) {
            if (first)
                finding("secret", path,
                        reason == Reason::traced
                            ? "the service used this host secret; it is never copied into a jail"
                            : "host secret; never copied into a jail");
            return true;
        }
        std::string ex = matching_glob(opt_.exclude, path);
        if (!ex.empty()) {
            if (first && reason == Reason::traced)
                finding("dropped", path, fmt::format("used by the service but excluded by {}", ex));
            return true;
        }
        refused_reported_.erase(path);
        return false;
    }

    // Adds one object as it is on the host (no following). Returns false if it is not in the set.
    bool add_single(const std::string& path, Reason reason, const std::string& why) {
        if (out_.entries.count(path)) return true;
        if (path == "/") return false;  // the jail directory itself; the jail stage owns it
        if (not_copied(path)) return false;
        struct stat st;
        if (lstat(path.c_str(), &st) != 0) return false;
        bool dev = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
        if (refused(path, reason, dev)) return false;
        if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) return false;  // runtime objects
        FileEntry e;
        e.path = path;
        e.mode = st.st_mode & 07777;
        e.uid = st.st_uid;
        e.gid = st.st_gid;
        e.reason = reason;
        e.why = why;
        if (dev) {
            if (std::find(opt_.allowed_devices.begin(), opt_.allowed_devices.end(), path) ==
                opt_.allowed_devices.end()) {
                if (refused_reported_.insert(path).second)
                    finding("dropped", path,
                            fmt::format("device {}:{} is not on the allowed list", major(st.st_rdev),
                                        minor(st.st_rdev)));
                return false;
            }
            e.type = trace::FileType::device;
            e.rdev = st.st_rdev;
        } else if (S_ISDIR(st.st_mode)) {
            e.type = trace::FileType::dir;
        } else if (S_ISLNK(st.st_mode)) {
            e.type = trace::FileType::symlink;
            char buf[4096];
            ssize_t n = readlink(path.c_str(), buf, sizeof buf);
            if (n <= 0) return false;
            e.target.assign(buf, size_t(n));
        } else if (S_ISREG(st.st_mode)) {
            e.type = trace::FileType::file;
            e.size = uint64_t(st.st_size);
        } else {
            return false;
        }
        host_[path] = {st.st_dev, st.st_ino, st.st_nlink};
        out_.entries.emplace(path, std::move(e));
        return true;
    }

    // Adds `path` with every symlink hop on the way (each stays a symlink). Returns the final
    // canonical path, or "" if it is not in the set.
    std::string add_object(const std::string& path, Reason reason, const std::string& why,
                           bool follow_last) {
        if (path.empty() || path[0] != '/') return "";
        trace::ResolvedPath r = trace::resolve_path(path, follow_last, nullptr, &cache_);
        if (!r.exists) return "";
        for (const auto& [link, text] : r.hops)
            if (!add_single(link, reason, why)) return "";  // a refused hop: the path is unusable
        return add_single(r.path, reason, why) ? r.path : "";
    }

    void queue(const std::string& path, const std::string& load_path, bool script,
               std::vector<std::string> inherited = {}) {
        auto it = out_.entries.find(path);
        if (it == out_.entries.end() || it->second.type != trace::FileType::file) return;
        work_.push_back({path, load_path, script, std::move(inherited)});
    }

    void add_traced() {
        for (const auto& [path, use] : trace_.files) {
            if (!use.ok() || use.type == trace::FileType::missing) continue;
            std::string why;
            for (unsigned a = 0; a < unsigned(trace::Access::count_); ++a)
                if ((use.ok_mask >> a) & 1u)
                    why += (why.empty() ? "" : ", ") + trace::to_string(trace::Access(a));
            std::string final = add_object(path, Reason::traced, why, false);
            if (final.empty()) continue;
            bool exec = (use.ok_mask >> unsigned(trace::Access::exec)) & 1u;
            bool read = (use.ok_mask >> unsigned(trace::Access::read)) & 1u;
            // dlopen'ed libraries show up as plain reads: any read ELF file gets its closure.
            if (exec || read) queue(final, final, exec);
        }
        for (const auto& x : trace_.execs) {
            if (!x.ok) continue;
            std::string final = add_object(x.path, Reason::traced, "exec", true);
            if (!final.empty()) queue(final, final, true);
            // What the kernel loaded for it (shebang interpreters, PT_INTERP), already resolved.
            for (const auto& i : x.interpreters) {
                std::string f = add_object(i, Reason::traced, "interpreter of " + x.path, true);
                if (!f.empty()) queue(f, f, true);
            }
        }
    }

    // Expands one include glob on the host; a trailing "**" yields the directory (added whole).
    // A whole included object: a file (with its ELF/shebang closure), a directory with
    // everything below it. A symlink inside an included directory keeps its chain and target,
    // but a linked directory is not walked: a link to / would otherwise pull in the host.
    void add_tree(const std::string& path, const std::string& why, bool walk_linked_dir) {
        std::string final = add_object(path, Reason::include, why, true);
        if (final.empty()) return;
        const FileEntry& e = out_.entries.at(final);
        if (e.type == trace::FileType::file) {
            queue(final, final, (e.mode & 0111) != 0);
            return;
        }
        if (e.type != trace::FileType::dir) return;
        struct stat st;
        bool linked = lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
        if (linked && !walk_linked_dir) return;
        if (!dirs_walked_.insert(final).second) return;
        std::vector<std::string> names;
        if (!sorted_names(final, names)) return;
        for (const auto& n : names) add_tree((final == "/" ? "" : final) + "/" + n, why, false);
    }

    void add_includes() {
        for (const auto& g : opt_.include) {
            if (g.empty() || g[0] != '/') {
                finding("warning", g, fmt::format("include {} is not an absolute path; ignored", g));
                continue;
            }
            const std::vector<std::string> matches = glob_expand(g);
            if (matches.empty()) finding("warning", g, fmt::format("include {} matches nothing", g));
            for (const auto& m : matches) add_tree(m, "include " + g, true);
        }
    }

    std::string expand_dst(const std::string& s, const std::string& origin, const elf::Info& info) {
        std::string out;
        for (size_t i = 0; i < s.size();) {
            if (s[i] != '$') {
                out += s[i++];
                continue;
            }
            static const std::pair<const char*, int> names[] = {{"ORIGIN", 0}, {"LIB", 1}, {"PLATFORM", 2}};
            bool done = false;
            for (auto [name, which] : names) {
                std::string n = name, braced = "{" + n + "}";
                size_t len = 0;
                if (s.compare(i + 1, braced.size(), braced) == 0) len = braced.size();
                else if (s.compare(i + 1, n.size(), n) == 0 &&
                         (i + 1 + n.size() == s.size() || !(isalnum((unsigned char)s[i + 1 + n.size()]) || s[i + 1 + n.size()] == '_')))
                    len = n.size();
                if (!len) continue;
                if (which == 0) out += origin;
                else if (which == 1) out += "lib/" + triplet(info.machine, info.elf_class);
                else out += platform(info.machine);
                i += 1 + len;
                done = true;
                break;
            }
            if (!done) out += s[i++];
        }
        return out;
    }

    std::vector<std::string> expand_dirs(const std::vector<std::string>& dirs, const std::string& origin,
                                         const elf::Info& info) {
        std::vector<std::string> out;
        for (const auto& d : dirs) {
            std::string x = expand_dst(d, origin, info);
            // An empty entry means the working directory, which ld.so takes relative to wherever
            // the process runs; a jail has no such thing to copy.
            if (!x.empty() && x[0] == '/') out.push_back(trace::join_normalize("/", x));
        }
        return out;
    }

    bool usable(const std::string& candidate, const elf::Info& by) {
        struct stat st;
        if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
        const elf::Info& c = elf_info(candidate);
        // ld.so skips objects of the wrong class or machine and keeps searching.
        return c.is_elf && c.elf_class == by.elf_class && c.machine == by.machine;
    }

    // DT_NEEDED lookup in ld.so's order: DT_RPATH chain (only without DT_RUNPATH),
    // LD_LIBRARY_PATH, DT_RUNPATH, ld.so.cache, default directories (unless DF_1_NODEFLIB).
    std::string search(const std::string& name, const elf::Info& by, const std::vector<std::string>& rpath,
                       const std::vector<std::string>& runpath, bool nodeflib) {
        if (name.find('/') != std::string::npos)
            return name[0] == '/' && usable(name, by) ? name : "";
        auto in_dirs = [&](const std::vector<std::string>& dirs) -> std::string {
            for (const auto& d : dirs) {
                std::string c = (d == "/" ? "" : d) + "/" + name;
                if (usable(c, by)) return c;
            }
            return "";
        };
        std::vector<std::string> ld_path;
        for (const auto& d : opt_.env_library_path)
            if (!d.empty() && d[0] == '/') ld_path.push_back(d);
        const std::vector<std::string>* lists[] = {&rpath, &ld_path, &runpath};
        for (const auto* dirs : lists) {
            std::string c = in_dirs(*dirs);
            if (!c.empty()) return c;
        }
        if (!nodeflib) {
            for (const auto& c : ldcache_.candidates(name))
                if (usable(c, by)) return c;
            std::string t = triplet(by.machine, by.elf_class);
            std::vector<std::string> defaults;
            // Debian's ld.so system search path (`ld.so --help`).
            if (!t.empty()) defaults = {"/lib/" + t, "/usr/lib/" + t};
            defaults.push_back("/lib");
            defaults.push_back("/usr/lib");
            return in_dirs(defaults);
        }
        return "";
    }

    // Some object in the set already answers to this soname (ld.so reuses a loaded object).
    bool loaded(const std::string& soname) {
        for (const auto& [p, e] : out_.entries)
            if (e.type == trace::FileType::file && basename_of(p) == soname) return true;
        return false;
    }

    void analyse(const Work& w) {
        // Read first and exec'd later is analysed again: only an exec makes the shebang count.
        if (!analysed_.insert(w.path + (w.script ? "\x01" : "")).second) return;
        if (w.script) {
            std::string head = read_head(w.path, 256);
            trace::ShebangLine sb = trace::parse_shebang(head);
            if (!sb.interpreter.empty()) {
                std::string interp = add_object(sb.interpreter, Reason::closure,
                                                "shebang interpreter of " + w.path, true);
                if (interp.empty()) {
                    finding("warning", w.path, fmt::format("shebang interpreter {} is not on the host", sb.interpreter));
                    return;
                }
                queue(interp, interp, true);
                // "#!/usr/bin/env prog": env finds prog on its default PATH.
                if (basename_of(interp) == "env" && !sb.argument.empty() && sb.argument[0] != '-' &&
                    sb.argument.find(' ') == std::string::npos) {
                    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
                        std::string c = std::string(dir) + "/" + sb.argument;
                        if (access(c.c_str(), X_OK) != 0) continue;
                        std::string f = add_object(c, Reason::closure, "run by env in " + w.path, true);
                        if (!f.empty()) queue(f, f, true);
                        break;
                    }
                }
                return;
            }
        }
        const elf::Info info = elf_info(w.path);  // copy: the cache may rehash below
        if (!info.is_elf) return;
        if (!info.interp.empty()) {
            std::string i = add_object(info.interp, Reason::closure, "ELF interpreter of " + w.path, true);
            if (i.empty()) finding("warning", w.path, fmt::format("ELF interpreter {} is not on the host", info.interp));
            else queue(i, i, false);
        }
        std::string origin = dirname_of(w.load_path);
        std::vector<std::string> own_rpath = expand_dirs(info.rpath, origin, info);
        std::vector<std::string> runpath = expand_dirs(info.runpath, origin, info);
        std::vector<std::string> chain = own_rpath;
        chain.insert(chain.end(), w.inherited_rpath.begin(), w.inherited_rpath.end());
        std::vector<std::string> rpath_search = info.runpath.empty() ? chain : std::vector<std::string>{};
        for (const auto& need : info.needed) {
            std::string found = search(need, info, rpath_search, runpath, info.nodeflib);
            if (found.empty()) {
                if (!loaded(need))
                    finding("warning", w.path, fmt::format("DT_NEEDED {} of {} not found the way ld.so looks", need, w.path));
                continue;
            }
            std::string f = add_object(found, Reason::closure, "DT_NEEDED of " + w.path, true);
            if (!f.empty()) queue(f, found, false, chain);
            add_hwcaps_variants(found, chain);
        }
    }

    // ld.so prefers DIR/glibc-hwcaps/<level>/NAME when the CPU supports the level. The appliance's
    // CPU is not the build host's, so every variant present goes into the jail.
    void add_hwcaps_variants(const std::string& found, const std::vector<std::string>& chain) {
        std::string hw = dirname_of(found) + "/glibc-hwcaps";
        auto it = hwcaps_.find(hw);
        if (it == hwcaps_.end()) {
            std::vector<std::string> levels;
            if (DIR* d = opendir(hw.c_str())) {
                while (dirent* de = readdir(d))
                    if (de->d_name[0] != '.') levels.push_back(de->d_name);
                closedir(d);
            }
            std::sort(levels.begin(), levels.end());
            it = hwcaps_.emplace(hw, std::move(levels)).first;
        }
        for (const auto& level : it->second) {
            std::string c = hw + "/" + level + "/" + basename_of(found);
            struct stat st;
            if (stat(c.c_str(), &st) != 0) continue;
            std::string f = add_object(c, Reason::closure, "glibc-hwcaps variant of " + found, true);
            if (!f.empty()) queue(f, c, false, chain);
        }
    }

    // glibc 2.36 still searches legacy hwcap subdirectories of each library directory (i686/,
    // sse2/, tls/, ... on i386). A library the trace saw loaded from one of them was chosen for the
    // build host's CPU (SSE2); a Pentium III's ld.so skips that directory and looks for the
    // library itself beside it, so that copy goes into the jail too.
    void add_legacy_hwcap_baselines() {
        static const std::set<std::string> legacy = {"tls", "i686", "i586", "i486", "sse2", "cmov", "mmx", "x86_64"};
        std::vector<std::pair<std::string, std::string>> wanted;  // baseline → variant
        for (const auto& [p, e] : out_.entries) {
            if (e.type != trace::FileType::file) continue;
            std::string dir = dirname_of(p), base = dir;
            bool under = false;
            while (legacy.count(basename_of(base))) {
                base = dirname_of(base);
                under = true;
            }
            if (!under || base == dir) continue;
            if (base.find("/lib") == std::string::npos) continue;  // a library directory
            wanted.emplace_back(base + "/" + basename_of(p), p);
        }
        for (const auto& [c, variant] : wanted) {
            struct stat st;
            if (out_.entries.count(c) || stat(c.c_str(), &st) != 0) continue;
            std::string f = add_object(c, Reason::closure, "baseline of the hwcap variant " + variant, true);
            if (!f.empty()) queue(f, c, false);
        }
    }

    void drain() {
        while (!work_.empty()) {
            Work w = std::move(work_.front());
            work_.pop_front();
            analyse(w);
        }
    }

    bool have_lib(std::initializer_list<const char*> prefixes) const {
        for (const auto& [p, e] : out_.entries) {
            if (e.type != trace::FileType::file) continue;
            std::string b = basename_of(p);
            for (const char* pre : prefixes)
                if (b.compare(0, strlen(pre), pre) == 0) return true;
        }
        return false;
    }

    const elf::Info* libc_info() {
        for (const auto& [p, e] : out_.entries)
            if (e.type == trace::FileType::file && basename_of(p).compare(0, 8, "libc.so.") == 0) {
                const elf::Info& i = elf_info(p);
                if (i.is_elf) return &i;
            }
        return nullptr;
    }

    void add_basic(const std::string& path, const std::string& why) {
        std::string f = add_object(path, Reason::basics, why, true);
        if (!f.empty()) queue(f, f, false);
    }

    // What a service may touch only inside a request (a name lookup, a TLS handshake, a log
    // line's timestamp), so a trace that never made that request would miss it.
    void add_basics() {
        const elf::Info* libc = libc_info();
        if (libc) {
            const elf::Info by = *libc;
            add_basic("/etc/nsswitch.conf", "basics: NSS");
            for (const char* lib : {"libnss_files.so.2", "libnss_dns.so.2"}) {
                // dlopen'ed by libc through the usual search (no RPATH involved).
                std::string p = search(lib, by, {}, {}, false);
                if (!p.empty()) add_basic(p, "basics: NSS");
            }
            for (const char* f : {"/etc/hosts", "/etc/resolv.conf", "/etc/host.conf", "/etc/services",
                                  "/etc/protocols", "/etc/gai.conf"})
                add_basic(f, "basics: name resolution");
            // /etc/localtime stays a link: the JVM takes the zone name from its text.
            add_basic("/etc/localtime", "basics: timezone");
            add_basic("/etc/timezone", "basics: timezone");
            // gconv modules and the locale archive are only what the trace saw: which charsets
            // and locales a service uses depends on its configuration, not on libc.
        }
        // The JVM is its own TLS library: its trust store and security policies are read at the
        // first handshake or permission check, usually inside a request. cacerts is a link into
        // /etc/ssl/certs/java (DESIGN.md §6.7).
        std::set<std::string> java_homes;
        for (const auto& [p, e] : out_.entries)
            if (e.type == trace::FileType::file && basename_of(p) == "libjvm.so")
                java_homes.insert(dirname_of(dirname_of(dirname_of(p))));  // HOME/lib/server/libjvm.so
        for (const auto& home : java_homes)
            for (const char* rel : {"lib/security/cacerts", "lib/security/blocked.certs",
                                    "lib/security/public_suffix_list.dat", "lib/security/default.policy",
                                    "conf/security/java.security", "conf/security/java.policy"})
                add_basic(home + "/" + rel, "basics: Java security (trust store, policies)");
        if (have_lib({"libssl.so", "libcrypto.so", "libgnutls.so"})) {
            add_basic("/etc/ssl/certs/ca-certificates.crt", "basics: CA certificates");
            if (have_lib({"libssl.so", "libcrypto.so"})) {
                // OpenSSL's default CA file and config, both links into /etc/ssl on Debian.
                add_basic("/usr/lib/ssl/cert.pem", "basics: CA certificates");
                add_basic("/usr/lib/ssl/openssl.cnf", "basics: OpenSSL configuration");
            }
        }
    }

    void add_parents() {
        std::vector<std::string> paths;
        for (const auto& [p, e] : out_.entries) paths.push_back(p);
        for (const auto& p : paths) {
            const FileEntry child = out_.entries.at(p);
            // "/" is the jail directory itself; the jail stage owns it.
            for (std::string d = dirname_of(p); d != "/"; d = dirname_of(d)) {
                if (out_.entries.count(d)) break;  // its own parents were added with it
                struct stat st;
                if (lstat(d.c_str(), &st) != 0) break;
                FileEntry e;
                e.path = d;
                e.type = trace::FileType::dir;
                e.mode = st.st_mode & 07777;
                e.uid = st.st_uid;
                e.gid = st.st_gid;
                e.reason = child.reason;
                e.why = "directory of " + p;
                out_.entries.emplace(d, std::move(e));
            }
        }
    }

    static bool private_key_file(const std::string& path, uint64_t size) {
        if (!named_like_private_key(path) || size > kPrivateKeyMaxSize) return false;
        return private_key(path, read_head(path, kPrivateKeyHead));
    }

    void finish_entries() {
        std::map<std::pair<dev_t, ino_t>, std::string> first_link;
        for (auto& [path, e] : out_.entries) {
            if (e.type == trace::FileType::file || e.type == trace::FileType::device) {
                const Host& h = host_[path];
                if (h.nlink > 1) {
                    auto [it, inserted] = first_link.emplace(std::make_pair(h.dev, h.ino), path);
                    if (!inserted) e.hardlink_of = it->second;
                }
            }
            if (e.type != trace::FileType::file) continue;
            if (e.mode & (S_ISUID | S_ISGID)) {
                std::string bits = (e.mode & S_ISUID) && (e.mode & S_ISGID) ? "setuid and setgid"
                                   : (e.mode & S_ISUID)                    ? "setuid"
                                                                           : "setgid";
                if (opt_.keep_setuid) {
                    finding("warning", path, bits + " bit kept (the template keeps setuid bits)");
                } else {
                    finding("dropped", path, bits + " bit dropped");
                    e.mode &= ~unsigned(S_ISUID | S_ISGID);
                }
            }
            if (lgetxattr(path.c_str(), "security.capability", nullptr, 0) >= 0) {
                if (opt_.keep_file_caps) {
                    e.has_file_caps = true;
                    finding("warning", path, "file capabilities kept (the template keeps them)");
                } else {
                    finding("dropped", path, "file capabilities dropped");
                }
            }
            if (private_key_file(path, e.size))
                finding("secret", path,
                        e.reason == Reason::traced
                            ? "private key included because the service read it (" + e.why + ")"
                            : "private key included: " + e.why);
        }
    }
};

}  // namespace

bool glob_match(const std::string& pattern, const std::string& path) {
    return match_from(components(pattern), 0, components(path), 0);
}

std::vector<std::string> glob_expand(const std::string& glob) {
    std::vector<std::string> matches;
    if (glob.empty() || glob[0] != '/') return matches;
    expand(components(glob), 0, "/", matches);
    std::sort(matches.begin(), matches.end());
    matches.erase(std::unique(matches.begin(), matches.end()), matches.end());
    return matches;
}

std::vector<std::string> include_covers(const std::string& glob) {
    std::vector<std::string> out;
    for (const auto& m : glob_expand(glob)) {
        out.push_back(m);
        struct stat st;
        if (stat(m.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) walk(m, out);  // a matched link to a dir is walked, as add_tree does
    }
    return out;
}

FileSet compute_closure(const trace::TraceResult& trace, const ClosureOptions& opt) {
    return Closure(trace, opt).run();
}

}  // namespace romimg::closure
