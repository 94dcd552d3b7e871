#include "common/fs.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strings.h"
#include "common/sys.h"

namespace romimg::fs {

void write_file_atomic(const std::filesystem::path& path, const std::string& data, unsigned mode) {
    std::filesystem::path tmp = path;
    tmp += fmt::format(".tmp.{}", getpid());
    {
        Fd fd = sys::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
        try {
            sys::write_all(fd.get(), data);
            if (fsync(fd.get()) < 0) throw SysError("fsync", tmp.string(), errno);
        } catch (...) {
            unlink(tmp.c_str());
            throw;
        }
    }
    if (rename(tmp.c_str(), path.c_str()) < 0) {
        int e = errno;
        unlink(tmp.c_str());
        throw SysError("rename", {tmp.string(), path.string()}, e);
    }
}

std::string read_file(const std::filesystem::path& path) {
    Fd fd = sys::open(path, O_RDONLY);
    return sys::read_all(fd.get());
}

TempDir::TempDir(const std::filesystem::path& parent, const std::string& prefix) {
    std::filesystem::create_directories(parent);
    std::string tmpl = (parent / (prefix + "XXXXXX")).string();
    if (!mkdtemp(tmpl.data())) throw SysError("mkdtemp", tmpl, errno);
    path_ = tmpl;
}

TempDir::~TempDir() {
    if (keep_) return;
    try {
        remove_tree(path_);
    } catch (const std::exception& e) {
        log::warn("could not remove {}: {}", path_.string(), e.what());
    }
}

std::filesystem::path temp_parent() {
    const char* t = getenv("TMPDIR");
    std::filesystem::path dir = t && *t ? t : "/tmp";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        throw Error(fmt::format("TMPDIR={} is not an existing directory: create it, or unset TMPDIR to use /tmp",
                                dir.string()));
    return dir;
}

void remove_tree(const std::filesystem::path& path) {
    struct stat root;
    if (lstat(path.c_str(), &root) < 0) return;
    // FTW_MOUNT: stay on this filesystem; FTW_DEPTH: children before parents.
    static thread_local dev_t dev;
    dev = root.st_dev;
    auto cb = [](const char* p, const struct stat* st, int type, struct FTW*) -> int {
        if (st->st_dev != dev) return 0;
        if (type == FTW_DP) rmdir(p);
        else unlink(p);
        return 0;
    };
    nftw(path.c_str(), cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (access(path.c_str(), F_OK) == 0)
        throw Error(fmt::format("{} is not empty after removal (a mount inside it?)", path.string()));
}

Fd create_beneath(const std::filesystem::path& dir, const std::string& rel, unsigned mode) {
    if (std::string why = names::relative_path_problem(rel); !why.empty())
        throw Error(fmt::format("refusing to create '{}' under {}: {}", names::printable(rel), dir.string(), why));
    std::vector<std::string> parts = split(rel, '/');
    Fd cur = sys::open(dir, O_PATH | O_DIRECTORY);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        sys::mkdirat_existing_ok(cur.get(), parts[i], 0755);
        cur = sys::openat_beneath(cur.get(), parts[i], O_PATH | O_DIRECTORY);
    }
    return sys::openat_beneath(cur.get(), parts.back(), O_WRONLY | O_CREAT | O_EXCL, mode);
}

bool path_within(const std::string& path, const std::string& dir) {
    if (dir == "/") return !path.empty() && path[0] == '/';
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
}

static std::string hex(const unsigned char* md, unsigned len) {
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
}

std::string sha256_hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    return hex(md, len);
}

std::string sha256_file(const std::filesystem::path& path) {
    Fd fd = sys::open(path, O_RDONLY);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            EVP_MD_CTX_free(ctx);
            throw SysError("read", path.string(), errno);
        }
        if (n == 0) break;
        EVP_DigestUpdate(ctx, buf, n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    return hex(md, len);
}

}  // namespace romimg::fs
