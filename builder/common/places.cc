#include "common/places.h"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/names.h"

namespace romimg::places {

namespace sfs = std::filesystem;

namespace {

sfs::path normal(const sfs::path& p) {
    std::error_code ec;
    sfs::path abs = sfs::weakly_canonical(sfs::absolute(p), ec);
    if (ec) abs = sfs::absolute(p).lexically_normal();
    std::string s = abs.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

bool is_system_dir(const std::string& p) {
    static const char* const dirs[] = {"/",    "/etc",  "/usr", "/bin",  "/sbin", "/boot", "/var", "/run", "/tmp",
                                       "/home", "/root", "/opt", "/srv", "/mnt",  "/media", "/jail", "/usr/local"};
    for (const char* d : dirs)
        if (p == d) return true;
    if (p.rfind("/lib", 0) == 0 && p.find('/', 1) == std::string::npos) return true;  // /lib, /lib64, /libx32
    return p.rfind("/usr/lib", 0) == 0 && p.find('/', 5) == std::string::npos;     // /usr/lib, /usr/lib64
}

// The nearest existing ancestor of `p` (p itself if it exists).
sfs::path existing_ancestor(sfs::path p) {
    std::error_code ec;
    while (!sfs::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
    return p;
}

}  // namespace

std::string dangerous_dir(const sfs::path& dir, const std::vector<sfs::path>& protect) {
    const std::string p = normal(dir).string();
    std::string lexical = sfs::absolute(dir).lexically_normal().string();
    while (lexical.size() > 1 && lexical.back() == '/') lexical.pop_back();
    if (is_system_dir(p) || is_system_dir(lexical)) return "is a system directory";
    for (const char* k : {"/proc", "/sys", "/dev"})
        if (fs::path_within(p, k)) return fmt::format("is inside {}", k);
    for (const auto& q : protect) {
        if (q.empty()) continue;
        const std::string keep = normal(q).string();
        if (p == keep) return fmt::format("is {} itself", keep);
        if (fs::path_within(keep, p)) return fmt::format("holds {}", keep);
    }
    return "";
}

void check_claimable(const sfs::path& dir, const std::string& marker, const std::string& option,
                     const std::vector<sfs::path>& protect) {
    if (std::string why = dangerous_dir(dir, protect); !why.empty())
        throw UsageError(fmt::format("{} {}: refusing, it {} and romimg deletes things in its work directory; give a "
                                     "new or empty directory of its own",
                                     option, names::printable(dir.string()), why));
    std::error_code ec;
    const bool exists = sfs::exists(dir, ec);
    if (exists && !sfs::is_directory(dir, ec))
        throw UsageError(fmt::format("{} {} is not a directory", option, names::printable(dir.string())));
    if (exists && !sfs::is_empty(dir, ec) && !sfs::exists(dir / marker, ec))
        throw UsageError(fmt::format("{} {} is an existing directory romimg did not make (no {} in it): refusing to "
                                     "use it, since romimg replaces its subdirectories; give a new or empty directory "
                                     "(or remove it, if it is an old romimg work directory)",
                                     option, names::printable(dir.string()), marker));
    check_writable_dir(dir, option + " " + dir.string());
}

void claim_dir(const sfs::path& dir, const std::string& marker, const std::string& option,
               const std::vector<sfs::path>& protect) {
    check_claimable(dir, marker, option, protect);
    std::error_code ec;
    sfs::create_directories(dir);
    if (!sfs::exists(dir / marker, ec)) fs::write_file_atomic(dir / marker, "made by romimg; it may empty this directory\n");
}

void check_output_file(const sfs::path& file, const std::string& option) {
    const std::string shown = names::printable(file.string());
    if (file.empty() || file.filename().empty()) throw UsageError(fmt::format("{} '{}' names no file", option, shown));
    const std::string p = normal(file).string();
    for (const char* k : {"/proc", "/sys", "/dev"})
        if (fs::path_within(p, k)) throw UsageError(fmt::format("{} {} is inside {}: give a file on a real filesystem", option, shown, k));
    struct stat st;
    if (stat(file.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode))
            throw UsageError(fmt::format("{} {} is a directory: give a file name (like {}/romimg.iso)", option, shown, shown));
        if (!S_ISREG(st.st_mode)) throw UsageError(fmt::format("{} {} exists and is not a regular file", option, shown));
    }
    const sfs::path parent = sfs::absolute(file).parent_path();
    const sfs::path near = existing_ancestor(parent);
    std::error_code ec;
    if (!sfs::is_directory(near, ec))
        throw UsageError(fmt::format("{} {}: {} is not a directory", option, shown, near.string()));
    check_writable_dir(parent, option + " " + file.string());
}

void check_writable_dir(const sfs::path& dir, const std::string& what) {
    const sfs::path near = existing_ancestor(sfs::absolute(dir));
    if (access(near.c_str(), W_OK | X_OK) != 0)
        throw Error(fmt::format("{}: {} is not writable ({}): choose a writable place", names::printable(what),
                                near.string(), strerror(errno)));
}

}  // namespace romimg::places
