// What the cache holds, and pruning it (inventory.h).
#include "cache/inventory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace romimg::cache {

namespace {

namespace sfs = std::filesystem;

// Bytes of a file, or of every regular file under a directory (not following symlinks: the test
// caches link kernel/ to the real one).
uint64_t size_of(const sfs::path& p) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = sfs::recursive_directory_iterator(p, ec); !ec && it != sfs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
    return total;
}

int64_t mtime_of(const sfs::path& p) {
    struct stat st;
    return lstat(p.c_str(), &st) == 0 ? (int64_t)st.st_mtim.tv_sec : 0;
}

// The value of `name` in a "name value" line of inputs.txt, "" when absent.
std::string line_value(const std::string& text, const std::string& name) {
    for (const auto& line : split(text, '\n', true))
        if (line.rfind(name + " ", 0) == 0) return line.substr(name.size() + 1);
    return "";
}

std::string kernel_stale(const sfs::path& entry, const Current& now) {
    std::error_code ec;
    if (!sfs::is_regular_file(entry / "inputs.txt", ec)) return "";
    const std::string in = fs::read_file(entry / "inputs.txt");
    const std::string src = line_value(in, "source"), cc = line_value(in, "compiler");
    if (!now.kernel_source.empty() && !src.empty() && src != now.kernel_source)
        return fmt::format("built from {}; {} is installed now", src, now.kernel_source);
    if (!now.kernel_compiler.empty() && !cc.empty() && cc != now.kernel_compiler)
        return fmt::format("built with {}; the compiler is {} now", cc, now.kernel_compiler);
    return "";
}

std::string base_stale(const sfs::path& entry, const Current& now) {
    if (now.romimg_sha256.empty()) return "";
    std::error_code ec;
    if (!sfs::is_regular_file(entry / "made-by", ec)) return "made by an older romimg";
    std::string by = fs::read_file(entry / "made-by");
    while (!by.empty() && isspace((unsigned char)by.back())) by.pop_back();
    return by == now.romimg_sha256 ? "" : "made by another romimg binary";
}

// Names romimg uses while writing (".build-…", "….tmp.PID", ".removing-…") are not entries.
bool in_progress(const std::string& name) { return name.empty() || name[0] == '.' || name.find(".tmp") != std::string::npos; }

}  // namespace

std::vector<Entry> entries(const sfs::path& cache, const Current& now) {
    struct Kind {
        const char* name;
        const char* ext;  // file entries: their extension; "" for directory entries
    };
    const Kind kinds[] = {{"kernel", ""}, {"base", ""}, {"content", ".sqfs"}, {"cds", ".jsa"}, {"verity", ""}, {"roots", ""}};
    std::vector<Entry> out;
    for (const auto& k : kinds) {
        std::error_code ec;
        std::vector<sfs::path> paths;
        for (const auto& e : sfs::directory_iterator(cache / k.name, ec)) {
            const std::string n = e.path().filename().string();
            if (in_progress(n) || (std::string(k.name) == "kernel" && n == "logs")) continue;
            const bool dir = e.is_directory(ec) && !e.is_symlink(ec);
            if (*k.ext ? (dir || e.path().extension() != k.ext) : !dir) continue;
            paths.push_back(e.path());
        }
        std::sort(paths.begin(), paths.end());
        for (const auto& p : paths) {
            Entry e{k.name, p, size_of(p), mtime_of(p), ""};
            if (e.kind == "kernel") e.stale = kernel_stale(p, now);
            if (e.kind == "base") e.stale = base_stale(p, now);
            out.push_back(std::move(e));
        }
    }
    return out;
}

void mark_used(const sfs::path& entry) {
    struct timespec t[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    (void)utimensat(AT_FDCWD, entry.c_str(), t, AT_SYMLINK_NOFOLLOW);
}

std::vector<Entry> choose(const std::vector<Entry>& all, const PrunePolicy& policy, int64_t now) {
    std::vector<Entry> gone, left;
    for (const auto& e : all) {
        const bool keep = policy.keep.count(e.path) > 0;
        const bool old = policy.older_than_s && now - e.used >= *policy.older_than_s;
        if (!keep && ((policy.stale && !e.stale.empty()) || old)) gone.push_back(e);
        else left.push_back(e);
    }
    if (policy.max_bytes) {
        uint64_t total = 0;
        for (const auto& e : left) total += e.bytes;
        std::stable_sort(left.begin(), left.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
        for (const auto& e : left) {
            if (total <= *policy.max_bytes) break;
            if (policy.keep.count(e.path)) continue;
            gone.push_back(e);
            total -= e.bytes;
        }
    }
    return gone;
}

uint64_t remove_entries(const std::vector<Entry>& chosen) {
    uint64_t freed = 0;
    for (const auto& e : chosen) {
        // Out of the way in one step: a lookup sees the whole entry or none.
        const sfs::path hidden = e.path.parent_path() / (".removing-" + e.path.filename().string());
        std::error_code ec;
        sfs::rename(e.path, hidden, ec);
        if (ec) throw Error(fmt::format("cannot remove cache entry {}: {}", e.path.string(), ec.message()));
        fs::remove_tree(hidden);
        freed += e.bytes;
    }
    return freed;
}

namespace {

Fd open_lock(const sfs::path& cache) {
    std::error_code ec;
    sfs::create_directories(cache, ec);
    int fd = ::open((cache / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error(fmt::format("cannot open the cache lock {}: {}", (cache / ".lock").string(), strerror(errno)));
    return Fd(fd);
}

}  // namespace

Fd lock_shared(const sfs::path& cache) {
    Fd fd = open_lock(cache);
    if (flock(fd.get(), LOCK_SH) != 0) throw Error(fmt::format("cannot lock the cache {}: {}", cache.string(), strerror(errno)));
    return fd;
}

Fd try_lock_exclusive(const sfs::path& cache) {
    Fd fd = open_lock(cache);
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return Fd();
    return fd;
}

std::string human_bytes(uint64_t b) {
    if (b >= 1000000000ULL) return fmt::format("{:.1f} GB", b / 1e9);
    if (b >= 1000000ULL) return fmt::format("{:.0f} MB", b / 1e6);
    if (b >= 1000ULL) return fmt::format("{:.0f} kB", b / 1e3);
    return fmt::format("{} B", b);
}

}  // namespace romimg::cache
