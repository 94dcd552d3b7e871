// A deterministic newc cpio writer (what the kernel unpacks as an initramfs).
// Input: a list of entries (files from host paths or bytes, directories, symlinks, device
// nodes described as data — no mknod, no root needed). plan_archive() is pure: it normalizes
// paths, adds missing parent directories, rejects conflicts and sorts. write_archive() is the
// one function that touches the disk. Output bytes depend only on the entries and the mtime:
// owners are 0 unless given, inode numbers are assigned in order, nothing is read from the
// host except the contents of File entries with a host source.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

namespace romimg::initramfs {

struct Entry {
    enum class Type { File, Dir, Symlink, CharDev, BlockDev };
    Type type = Type::File;
    std::string path;  // inside the archive; "/" prefix optional, normalized by plan_archive
    unsigned mode = 0;  // permission bits only (07777); the type bits come from `type`
    uint32_t uid = 0, gid = 0;
    std::filesystem::path host_source;  // File: copy contents from here, if not empty
    std::string data;                   // File: contents, when host_source is empty
    std::string target;                 // Symlink
    unsigned major = 0, minor = 0;      // CharDev/BlockDev
};

Entry file_from_host(std::string path, std::filesystem::path source, unsigned mode = 0644);
Entry file_from_bytes(std::string path, std::string data, unsigned mode = 0644);
Entry directory(std::string path, unsigned mode = 0755);
Entry symlink_to(std::string path, std::string target);
Entry char_device(std::string path, unsigned major, unsigned minor, unsigned mode = 0600);

// "/a//b/./c/" → "a/b/c". Throws Error on "", "/", or any ".." component.
std::string normalize_path(const std::string& path);

// Normalized, parents first (missing ones added as 0755 root directories), sorted by path
// bytes, each path once. Two different entries for one path throw Error; an identical
// duplicate, or an explicit directory for an implied one, is merged.
std::vector<Entry> plan_archive(std::vector<Entry> entries);

// SOURCE_DATE_EPOCH if set to a valid number, else 0 (pure: pass getenv's result).
time_t archive_mtime(const char* source_date_epoch);

enum class Compression { None, Gzip };

// Writes the planned entries as newc cpio to `out` (via a temporary file and rename).
void write_archive(const std::vector<Entry>& planned, const std::filesystem::path& out,
                   time_t mtime, Compression compression = Compression::None);

}  // namespace romimg::initramfs
