// Filesystem helpers that know nothing of romimg.
#pragma once

#include <filesystem>
#include <string>

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

// Removes a tree without crossing into other filesystems (a stray mount is left alone and
// reported, never emptied).
void remove_tree(const std::filesystem::path& path);

// True if `path` is `dir` or inside it, by components ("/a/bc" is not inside "/a/b"). Pure.
bool path_within(const std::string& path, const std::string& dir);

std::string sha256_hex(const std::string& data);
std::string sha256_file(const std::filesystem::path& path);

}  // namespace romimg::fs
