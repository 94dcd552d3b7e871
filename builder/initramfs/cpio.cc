// Deterministic newc cpio: plan (pure) and write (libarchive). See cpio.h.
#include "initramfs/cpio.h"

#include <archive.h>
#include <archive_entry.h>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <exception>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"

namespace romimg::initramfs {

namespace sfs = std::filesystem;

Entry file_from_host(std::string path, sfs::path source, unsigned mode) {
    Entry e;
    e.type = Entry::Type::File;
    e.path = std::move(path);
    e.host_source = std::move(source);
    e.mode = mode;
    return e;
}

Entry file_from_bytes(std::string path, std::string data, unsigned mode) {
    Entry e;
    e.type = Entry::Type::File;
    e.path = std::move(path);
    e.data = std::move(data);
    e.mode = mode;
    return e;
}

Entry directory(std::string path, unsigned mode) {
    Entry e;
    e.type = Entry::Type::Dir;
    e.path = std::move(path);
    e.mode = mode;
    return e;
}

Entry symlink_to(std::string path, std::string target) {
    Entry e;
    e.type = Entry::Type::Symlink;
    e.path = std::move(path);
    e.target = std::move(target);
    e.mode = 0777;
    return e;
}

Entry char_device(std::string path, unsigned major, unsigned minor, unsigned mode) {
    Entry e;
    e.type = Entry::Type::CharDev;
    e.path = std::move(path);
    e.major = major;
    e.minor = minor;
    e.mode = mode;
    return e;
}

std::string normalize_path(const std::string& path) {
    std::string out;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        std::string part = path.substr(i, j - i);
        i = j + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..")
            throw Error(fmt::format("initramfs entry '{}': '..' is not allowed", path));
        if (!out.empty()) out += '/';
        out += part;
    }
    if (out.empty()) throw Error(fmt::format("initramfs entry '{}' names no file", path));
    return out;
}

static bool same_entry(const Entry& a, const Entry& b) {
    return a.type == b.type && a.path == b.path && a.mode == b.mode && a.uid == b.uid &&
           a.gid == b.gid && a.host_source == b.host_source && a.data == b.data &&
           a.target == b.target && a.major == b.major && a.minor == b.minor;
}

static const char* type_name(Entry::Type t) {
    switch (t) {
    case Entry::Type::File: return "file";
    case Entry::Type::Dir: return "directory";
    case Entry::Type::Symlink: return "symlink";
    case Entry::Type::CharDev: return "character device";
    case Entry::Type::BlockDev: return "block device";
    }
    return "?";
}

static void validate(const Entry& e) {
    if (e.mode & ~07777u)
        throw Error(fmt::format("initramfs entry {}: mode {:o} has bits beyond 07777 (the type "
                                "comes from the entry kind)",
                                e.path, e.mode));
    if (e.type == Entry::Type::Symlink && e.target.empty())
        throw Error(fmt::format("initramfs symlink {} has an empty target", e.path));
    if (e.type == Entry::Type::File && !e.host_source.empty() && !e.data.empty())
        throw Error(fmt::format("initramfs file {} has both a host source and contents",
                                e.path));
}

std::vector<Entry> plan_archive(std::vector<Entry> entries) {
    struct Slot {
        Entry entry;
        bool implied;
    };
    std::map<std::string, Slot> by_path;  // sorted by path bytes: parents before children

    for (auto& e : entries) {
        e.path = normalize_path(e.path);
        validate(e);
        // Parents: implied directories unless given explicitly (earlier or later).
        for (size_t slash = e.path.find('/'); slash != std::string::npos;
             slash = e.path.find('/', slash + 1)) {
            std::string parent = e.path.substr(0, slash);
            auto it = by_path.find(parent);
            if (it == by_path.end())
                by_path.emplace(parent, Slot{directory(parent), true});
            else if (it->second.entry.type != Entry::Type::Dir)
                throw Error(fmt::format("initramfs entry {} needs {} to be a directory, but it "
                                        "is a {}",
                                        e.path, parent, type_name(it->second.entry.type)));
        }
        auto it = by_path.find(e.path);
        if (it == by_path.end()) {
            by_path.emplace(e.path, Slot{e, false});
        } else if (it->second.implied && e.type == Entry::Type::Dir) {
            it->second = Slot{e, false};
        } else if (!same_entry(it->second.entry, e)) {
            throw Error(fmt::format("initramfs entry {} is given twice, differently ({} and {})",
                                    e.path, type_name(it->second.entry.type), type_name(e.type)));
        }
    }
    std::vector<Entry> out;
    out.reserve(by_path.size());
    for (auto& [path, slot] : by_path) out.push_back(std::move(slot.entry));
    return out;
}

time_t archive_mtime(const char* sde) {
    if (!sde || !*sde) return 0;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(sde, &end, 10);
    if (errno || *end || v < 0) return 0;
    return static_cast<time_t>(v);
}

namespace {

struct ArchiveFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

[[noreturn]] void fail(archive* a, const std::string& what) {
    const char* msg = archive_error_string(a);
    throw Error(fmt::format("writing initramfs: {}: {}", what, msg ? msg : "unknown error"));
}

void write_host_file(archive* a, const Entry& e, int64_t size) {
    int fd = ::open(e.host_source.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw SysError("open", e.host_source.string(), errno);
    std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* p) { ::close(*p); });
    std::vector<char> buf(1 << 16);
    int64_t done = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw SysError("read", e.host_source.string(), errno);
        }
        if (n == 0) break;
        if (done + n > size) break;
        if (archive_write_data(a, buf.data(), n) != n) fail(a, e.path);
        done += n;
    }
    if (done != size)
        throw Error(fmt::format("initramfs source {} changed size while being archived",
                                e.host_source.string()));
}

}  // namespace

void write_archive(const std::vector<Entry>& planned, const sfs::path& out, time_t mtime,
                   Compression compression) {
    const sfs::path tmp = out.string() + ".tmp." + std::to_string(::getpid());
    std::unique_ptr<archive, ArchiveFree> a(archive_write_new());
    if (!a) throw Error("archive_write_new failed (out of memory)");
    if (archive_write_set_format_cpio_newc(a.get()) != ARCHIVE_OK) fail(a.get(), "newc format");
    if (compression == Compression::Gzip) {
        if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK) fail(a.get(), "gzip filter");
        // No timestamp in the gzip header: the output must not depend on when it was made.
        if (archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr) < ARCHIVE_OK)
            fail(a.get(), "gzip timestamp option");
    }
    archive_write_set_bytes_in_last_block(a.get(), 1);
    // A failed write leaves no half-written archive behind.
    struct RemoveOnFailure {
        sfs::path path;
        int uncaught = std::uncaught_exceptions();
        ~RemoveOnFailure() {
            std::error_code ec;
            if (std::uncaught_exceptions() != uncaught) sfs::remove(path, ec);
        }
    } cleanup{tmp};
    if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) fail(a.get(), tmp.string());

    int64_t ino = 0;
    for (const auto& e : planned) {
        std::unique_ptr<archive_entry, EntryFree> ae(archive_entry_new());
        archive_entry_set_pathname(ae.get(), e.path.c_str());
        archive_entry_set_uid(ae.get(), e.uid);
        archive_entry_set_gid(ae.get(), e.gid);
        archive_entry_set_mtime(ae.get(), mtime, 0);
        archive_entry_set_ino64(ae.get(), ++ino);
        archive_entry_set_nlink(ae.get(), e.type == Entry::Type::Dir ? 2 : 1);
        archive_entry_set_perm(ae.get(), e.mode);
        int64_t size = 0;
        archive_entry_set_size(ae.get(), 0);  // newc wants a size on every entry
        switch (e.type) {
        case Entry::Type::File:
            archive_entry_set_filetype(ae.get(), AE_IFREG);
            if (!e.host_source.empty()) {
                struct stat st;
                if (::stat(e.host_source.c_str(), &st) != 0)
                    throw SysError("stat", e.host_source.string(), errno);
                if (!S_ISREG(st.st_mode))
                    throw Error(fmt::format("initramfs source {} is not a regular file",
                                            e.host_source.string()));
                size = st.st_size;
            } else {
                size = static_cast<int64_t>(e.data.size());
            }
            archive_entry_set_size(ae.get(), size);
            break;
        case Entry::Type::Dir:
            archive_entry_set_filetype(ae.get(), AE_IFDIR);
            break;
        case Entry::Type::Symlink:
            archive_entry_set_filetype(ae.get(), AE_IFLNK);
            archive_entry_set_symlink(ae.get(), e.target.c_str());
            break;
        case Entry::Type::CharDev:
        case Entry::Type::BlockDev:
            archive_entry_set_filetype(ae.get(),
                                       e.type == Entry::Type::CharDev ? AE_IFCHR : AE_IFBLK);
            archive_entry_set_rdevmajor(ae.get(), e.major);
            archive_entry_set_rdevminor(ae.get(), e.minor);
            break;
        }
        if (archive_write_header(a.get(), ae.get()) != ARCHIVE_OK) fail(a.get(), e.path);
        if (e.type == Entry::Type::File) {
            if (!e.host_source.empty())
                write_host_file(a.get(), e, size);
            else if (!e.data.empty() &&
                     archive_write_data(a.get(), e.data.data(), e.data.size()) !=
                         static_cast<la_ssize_t>(e.data.size()))
                fail(a.get(), e.path);
        }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) fail(a.get(), "close");
    a.reset();
    if (::rename(tmp.c_str(), out.c_str()) != 0)
        throw SysError("rename", std::vector<std::string>{tmp.string(), out.string()}, errno);
}

}  // namespace romimg::initramfs
