#include "content/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "closure/secrets.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/signals.h"
#include "common/strings.h"
#include "cache/inventory.h"

namespace romimg::content {

namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

ArchivePtr open_archive(const std::filesystem::path& file) {
    ArchivePtr a(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_format_zip(a.get());
    if (archive_read_open_filename(a.get(), file.c_str(), 65536) != ARCHIVE_OK) a.reset();
    return a;
}

const char* const kKinds = "a directory or a tar, tar.gz, tar.xz, zip or .war file";

}  // namespace

SourceKind check_source(const ContentSpec& c) {
    struct stat st;
    if (stat(c.source.c_str(), &st) != 0)
        reject(c, "SOURCE " + c.source.string() + " does not exist", std::string("give ") + kKinds);
    if (S_ISDIR(st.st_mode)) return SourceKind::directory;
    if (!S_ISREG(st.st_mode)) reject(c, "SOURCE is neither a directory nor a file", std::string("give ") + kKinds);
    ArchivePtr a = open_archive(c.source);
    struct archive_entry* e = nullptr;
    int rc = a ? archive_read_next_header(a.get(), &e) : ARCHIVE_FATAL;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN && rc != ARCHIVE_EOF)
        reject(c, "SOURCE " + c.source.string() + " is not an archive romimg can read" +
                      (a ? std::string(": ") + archive_error_string(a.get()) : std::string()),
               std::string("give ") + kKinds);
    return SourceKind::archive;
}

namespace {

// The staging writer: one entry at a time, never following a symlink it (or the archive) made.
class Stager {
public:
    Stager(const ContentSpec& c, std::filesystem::path tree, bool allow_private)
        : c_(c), tree_(std::move(tree)), allow_private_(allow_private) {}

    // Validates NAME (archive-relative) into components; "" for the root entry.
    std::string clean_name(std::string name) {
        std::vector<std::string> parts;
        if (!name.empty() && name[0] == '/') reject(c_, "the archive entry " + quote(name) + " has an absolute path", "pack it with relative names");
        for (const auto& p : split(name, '/', true)) {
            if (p == ".") continue;
            if (p == "..") reject(c_, "the entry " + quote(name) + " contains '..'", "pack it without parent references");
            parts.push_back(p);
        }
        return fmt::format("{}", fmt::join(parts, "/"));
    }

    void add(struct archive* a, struct archive_entry* e, const std::string& name) {
        const std::string rel = clean_name(name);
        if (rel.empty()) return;  // the root itself
        const mode_t type = archive_entry_filetype(e);
        const mode_t perm = archive_entry_perm(e);
        const char* hardlink = archive_entry_hardlink(e);
        if (perm & 06000)
            reject(c_, rel + " is setuid or setgid", "remove the bit (chmod u-s,g-s): content is data, mounted nosuid");
        if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
            reject(c_, rel + " is a device node, FIFO or socket", "content holds files, directories and symlinks only: remove it");
        if (!hardlink && type != AE_IFLNK) check_private(rel, type, perm);
        const std::filesystem::path dst = tree_ / rel;
        make_parents(rel);
        if (type == AE_IFDIR && !hardlink) {
            const unsigned dmode = world_readable(type, perm) ? 0755 : perm & 0770;
            struct stat st;
            if (lstat(dst.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) replace_error(rel);
            if (mkdir(dst.c_str(), 0755) != 0 && errno != EEXIST) throw SysError("mkdir", dst.string(), errno);
            if (chmod(dst.c_str(), dmode) != 0) throw SysError("chmod", dst.string(), errno);
            record(rel, fmt::format("d {:o}", dmode));
            return;
        }
        remove_existing(rel, dst);
        if (hardlink) {
            const std::string target = clean_name(hardlink);
            if (!target.empty()) make_parents(target);  // first: refuses a target reached through a symlink
            struct stat st;
            const std::filesystem::path src = tree_ / target;
            if (target.empty() || lstat(src.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
                reject(c_, rel + " is a hard link to " + quote(hardlink) + ", not to an earlier file of the archive", "pack it as a file");
            if (link(src.c_str(), dst.c_str()) != 0) throw SysError("link", {src.string(), dst.string()}, errno);
            record(rel, "h " + target);
            return;
        }
        if (type == AE_IFLNK) {
            const char* target = archive_entry_symlink(e);
            if (!target || !*target) reject(c_, rel + " is a symlink without a target", "fix the source");
            if (symlink(target, dst.c_str()) != 0) throw SysError("symlink", {target, dst.string()}, errno);
            record(rel, std::string("l ") + target);
            return;
        }
        const unsigned mode = !world_readable(type, perm) ? perm & 0770 : (perm & 0111) ? 0755 : 0644;
        std::string head;  // the first bytes, for the private-key rule
        int fd = open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0) throw SysError("open", dst.string(), errno);
        EVP_MD_CTX* md = EVP_MD_CTX_new();
        EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
        uint64_t size = 0;
        const void* buf;
        size_t len;
        la_int64_t off;
        int rc;
        while ((rc = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
            // Sparse files: fill the hole so the digest sees the bytes the file holds.
            if ((uint64_t)off > size) {
                std::string zeros((size_t)off - size, '\0');
                EVP_DigestUpdate(md, zeros.data(), zeros.size());
            }
            if (pwrite(fd, buf, len, off) != (ssize_t)len) {
                int err = errno;
                close(fd);
                EVP_MD_CTX_free(md);
                throw SysError("write", dst.string(), err);
            }
            EVP_DigestUpdate(md, buf, len);
            if (off < (la_int64_t)closure::kPrivateKeyHead) {
                head.resize((size_t)off, '\0');
                head.append((const char*)buf, std::min(len, closure::kPrivateKeyHead - (size_t)off));
            }
            size = off + len;
        }
        const uint64_t want = std::max<uint64_t>(size, (uint64_t)std::max<la_int64_t>(0, archive_entry_size(e)));
        const bool sized = rc != ARCHIVE_EOF || (ftruncate(fd, (off_t)want) == 0 && fchmod(fd, mode) == 0);
        const int err = errno;
        close(fd);
        if (!sized) throw SysError("ftruncate", dst.string(), err);
        unsigned char out[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(md, out, &n);
        EVP_MD_CTX_free(md);
        if (rc != ARCHIVE_EOF) reject(c_, "cannot read " + rel + ": " + archive_error_string(a), "check that the archive is complete");
        if (!allow_private_ && closure::private_key(rel, head))
            reject(c_, rel + " is a private key, which the layer would make readable to the service and to anyone who reads the image",
                   "remove it from SOURCE, or pass --content-allow-private to ship it root-owned with its own mode");
        std::string hex;
        for (unsigned i = 0; i < n; ++i) hex += fmt::format("{:02x}", out[i]);
        record(rel, fmt::format("f {:o} {} {}", mode, size, hex));
        ++result.files;
        result.bytes += size;
    }

    // Over what the tree holds, whichever way the source listed it (a zip may omit directories).
    std::string digest() {
        std::string all;
        for (const auto& [rel, what] : lines_) all += rel + "\t" + what + "\n";
        return fs::sha256_hex(all);
    }

    StagedContent result;

    bool empty() const {
        for (const auto& [rel, what] : lines_)
            if (what[0] != 'd') return false;
        return true;
    }

private:
    void record(const std::string& rel, const std::string& what) { lines_[rel] = what; }

    static bool world_readable(mode_t type, unsigned perm) {
        return (perm & 04) && (type != AE_IFDIR || (perm & 01));
    }

    // The jails' secret rule, applied to where the entry lands in the jail and to its name (a
    // copy of /etc/shadow is a secret wherever it lies); then the source's own mode: a file only
    // its owner could read must not become readable to every user of the image.
    void check_private(const std::string& rel, mode_t type, unsigned perm) {
        const std::string last = rel.substr(rel.rfind('/') + 1);
        std::string glob = closure::secret_glob(c_.path + "/" + rel);
        if (glob.empty() && type == AE_IFREG) glob = closure::secret_name_glob(last);
        if (!glob.empty())
            reject(c_, rel + " is a host secret (the jails' rule " + glob + "): it never goes into an image", "remove it from SOURCE");
        if (world_readable(type, perm) || allow_private_) return;
        reject(c_, fmt::format("{} is not world-readable in SOURCE (mode {:04o}), and the layer would make it readable to the service "
                               "and to anyone who reads the image",
                               rel, perm),
               type == AE_IFDIR ? "chmod o+rx it if it is public, remove it, or pass --content-allow-private to ship it root-owned with its own mode"
                                : "chmod o+r it if it is public, remove it, or pass --content-allow-private to ship it root-owned with its own mode");
    }

    [[noreturn]] void replace_error(const std::string& rel) {
        reject(c_, rel + " appears twice in SOURCE, once as a directory", "fix the source");
    }

    // Every parent must be a real directory made here: an archive that plants a symlink "a"
    // and then "a/x" would otherwise write through it onto the build host.
    void make_parents(const std::string& rel) {
        std::filesystem::path cur = tree_;
        auto parts = split(rel, '/', true);
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
            cur /= parts[i];
            struct stat st;
            if (lstat(cur.c_str(), &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                    reject(c_, rel + " lies under " + parts[i] + ", which is not a directory (a symlink?)",
                           "content may not write through a symlink");
                continue;
            }
            if (mkdir(cur.c_str(), 0755) != 0 || chmod(cur.c_str(), 0755) != 0) throw SysError("mkdir", cur.string(), errno);
            record(fmt::format("{}", fmt::join(parts.begin(), parts.begin() + i + 1, "/")), "d 755");
        }
    }

    void remove_existing(const std::string& rel, const std::filesystem::path& dst) {
        struct stat st;
        if (lstat(dst.c_str(), &st) != 0) return;
        if (S_ISDIR(st.st_mode)) replace_error(rel);
        // A later entry with the same name wins, as with tar -x.
        if (unlink(dst.c_str()) != 0) throw SysError("unlink", dst.string(), errno);
        lines_.erase(rel);
    }

    const ContentSpec& c_;
    std::filesystem::path tree_;
    bool allow_private_;
    std::map<std::string, std::string> lines_;  // relative path → what it is
};

}  // namespace

void check_source_outside(const ContentSpec& c, const std::filesystem::path& work) {
    std::error_code ec;
    const std::filesystem::path src = std::filesystem::canonical(c.source, ec);
    const std::filesystem::path w = std::filesystem::weakly_canonical(std::filesystem::absolute(work), ec);
    if (!src.empty() && !w.empty() && fs::path_within(w.string(), src.string()))
        reject(c, "SOURCE " + src.string() + " contains romimg's work directory " + w.string() + ", so it would copy itself",
               "give a SOURCE outside the work directory, or --work DIR outside SOURCE");
    if (!src.empty() && !w.empty() && fs::path_within(src.string(), w.string()))
        reject(c, "SOURCE " + src.string() + " lies inside romimg's work directory " + w.string() + ", which a build clears and rewrites",
               "copy the release out of the work directory first");
}

StagedContent stage_content(const ContentSpec& c, const std::filesystem::path& tree, bool allow_private) {
    const SourceKind kind = check_source(c);
    std::filesystem::create_directories(tree.parent_path());
    if (mkdir(tree.c_str(), 0755) != 0 || chmod(tree.c_str(), 0755) != 0) throw SysError("mkdir", tree.string(), errno);
    Stager s(c, tree, allow_private);
    struct archive_entry* e = nullptr;
    if (kind == SourceKind::archive) {
        ArchivePtr a = open_archive(c.source);
        int rc;
        while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
            signals::throw_if_interrupted();
            const char* name = archive_entry_pathname(e);
            s.add(a.get(), e, name ? name : "");
        }
        if (rc != ARCHIVE_EOF)
            reject(c, std::string("cannot read the archive: ") + archive_error_string(a.get()), "check that it is complete");
    } else {
        // The same entry stream from the directory: libarchive's disk reader, symlinks not followed.
        ArchivePtr a(archive_read_disk_new(), archive_read_free);
        archive_read_disk_set_symlink_physical(a.get());
        archive_read_disk_set_behavior(a.get(), ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS);
        // Resolved: the disk reader does not follow symlinks, so `current -> release-42` would be
        // one symlink entry and an empty layer.
        const std::string root = std::filesystem::canonical(c.source).string();
        const std::string base = root.back() == '/' ? root.substr(0, root.size() - 1) : root;
        if (archive_read_disk_open(a.get(), base.c_str()) != ARCHIVE_OK)
            reject(c, std::string("cannot read the directory: ") + archive_error_string(a.get()), "check its permissions");
        int rc;
        std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(archive_entry_new(), archive_entry_free);
        while ((rc = archive_read_next_header2(a.get(), entry.get())) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
            signals::throw_if_interrupted();
            std::string name = archive_entry_sourcepath(entry.get());
            archive_read_disk_descend(a.get());
            if (!fs::path_within(name, base)) continue;
            s.add(a.get(), entry.get(), name.substr(base.size()).empty() ? "" : name.substr(base.size() + 1));
        }
        if (rc != ARCHIVE_EOF)
            reject(c, std::string("cannot read the directory: ") + archive_error_string(a.get()), "check its permissions");
    }
    if (s.empty())
        reject(c, "SOURCE " + c.source.string() + " holds no files or symlinks: the layer would be empty",
               "give the directory or archive that holds the release");
    StagedContent out = s.result;
    out.tree = tree;
    out.digest = s.digest();
    return out;
}

Command content_mksquashfs_command(const std::filesystem::path& tree, const std::filesystem::path& out,
                                   const std::string& compression, time_t epoch, const std::filesystem::path& log) {
    Command c;
    c.argv = {"mksquashfs", tree.string(), out.string(), "-noappend", "-comp", compression, "-all-root", "-no-xattrs",
              "-mkfs-time", std::to_string(epoch), "-all-time", std::to_string(epoch), "-no-progress", "-quiet"};
    if (compression == "zstd") c.argv.insert(c.argv.end(), {"-Xcompression-level", "3"});
    c.log = log;
    return c;
}

std::string layer_key(const std::string& digest, const std::string& compression, time_t epoch) {
    return fs::sha256_hex(fmt::format("romimg content layer v1\n{}\n{}\n{}\n", digest, compression, (long long)epoch));
}

PackedLayer pack_content(const ContentSpec& c, const std::string& name, const PackRequest& req) {
    const std::filesystem::path stage_dir = req.work / "content" / name;
    fs::remove_tree(stage_dir);
    StagedContent staged;
    try {
        staged = stage_content(c, stage_dir / "tree", req.allow_private);
    } catch (...) {
        fs::remove_tree(stage_dir);  // bad input leaves nothing behind
        throw;
    }
    PackedLayer out;
    out.files = staged.files;
    const std::string key = layer_key(staged.digest, req.compression, req.epoch);
    const std::filesystem::path dir = req.cache_dir / "content";
    out.squashfs = dir / (key + ".sqfs");
    out.cached = std::filesystem::exists(out.squashfs);
    if (out.cached) cache::mark_used(out.squashfs);
    if (!out.cached) {
        std::filesystem::create_directories(dir);
        const std::filesystem::path tmp = dir / fmt::format(".tmp-{}-{}.sqfs", key.substr(0, 16), getpid());
        try {
            run(content_mksquashfs_command(stage_dir / "tree", tmp, req.compression, req.epoch, req.log));
        } catch (...) {
            std::filesystem::remove(tmp);
            throw;
        }
        if (signals::interrupted()) std::filesystem::remove(tmp);
        signals::throw_if_interrupted();  // an interrupted build publishes nothing
        if (rename(tmp.c_str(), out.squashfs.c_str()) != 0) throw SysError("rename", {tmp.string(), out.squashfs.string()}, errno);
    }
    if (!req.keep_tree) fs::remove_tree(stage_dir);
    out.sha256 = fs::sha256_file(out.squashfs);
    out.bytes = std::filesystem::file_size(out.squashfs);
    return out;
}

}  // namespace romimg::content
