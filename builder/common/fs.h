// Filesystem helpers that know nothing of romimg.
#pragma once

#include <filesystem>
#include <string>

#include "common/fd.h"

namespace romimg::fs {

// Writes to "<path>.tmp.<pid>" then renames, so readers never see a half-written file.
void write_file_atomic(const std::filesystem::path& path, const std::string& data,
                       unsigned mode = 0644);
std::string read_file(const std::filesystem::path& path);

// A directory removed (recursively) when the object goes away, unless keep() was called.
class TempDir {
public:
    explicit TempDir(const std::filesystem::path& parent, const std::string& prefix = "romimg-");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    void keep() { keep_ = true; }

private:
    std::filesystem::path path_;
    bool keep_ = false;
};

// Where temporary directories go: $TMPDIR, else /tmp. Throws Error if it is not an existing
// directory (a TempDir would otherwise create a missing $TMPDIR on the host).
std::filesystem::path temp_parent();

// Removes a tree without crossing into other filesystems (a stray mount is left alone and
// reported, never emptied).
void remove_tree(const std::filesystem::path& path);

// Creates the file `rel` (a relative path of plain names) under `dir`, with any missing parent
// directories (0755), and opens it for writing. Never leaves `dir`: no name can be "..", absolute
// or hold a control character, and no symlink is followed (openat2 RESOLVE_BENEATH); an existing
// file is an error (O_EXCL). For names that come from outside (an ISO's file names).
Fd create_beneath(const std::filesystem::path& dir, const std::string& rel, unsigned mode = 0644);

// True if `path` is `dir` or inside it, by components ("/a/bc" is not inside "/a/b"). Pure.
bool path_within(const std::string& path, const std::string& dir);

std::string sha256_hex(const std::string& data);
std::string sha256_file(const std::filesystem::path& path);

}  // namespace romimg::fs
