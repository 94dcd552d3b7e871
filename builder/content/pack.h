// Content staging and packing. Input: a ContentSpec's SOURCE (a directory, or a tar/tar.gz/
// tar.xz/zip/.war archive, both read through libarchive). Output: a squashfs layer in the cache
// (<cache>/content/<digest>.sqfs), reused whenever the same content is packed again. Side
// effects: a staging tree under work/content/, the cache entry (published with one rename).
#pragma once

#include <ctime>
#include <filesystem>
#include <string>

#include "common/command.h"
#include "content/content.h"

namespace romimg::content {

enum class SourceKind { directory, archive };

// Throws UsageError unless SOURCE exists and is a directory or an archive libarchive reads as
// tar or zip (sniffed from its bytes, whatever its name), under any compression it knows.
SourceKind check_source(const ContentSpec& c);

struct StagedContent {
    std::filesystem::path tree;
    std::string digest;  // sha256 over the sorted (type, path, mode, size, sha256 or link) list
    uint64_t files = 0, bytes = 0;
};

// Throws UsageError if SOURCE (resolved) contains the work directory (staging would copy itself)
// or lies inside it (a build clears it).
void check_source_outside(const ContentSpec& c, const std::filesystem::path& work);

// Writes SOURCE's entries under `tree` (created; must not exist). A SOURCE that is a symlink to a
// directory is resolved. Refused with UsageError: absolute names, "..", device nodes, FIFOs,
// sockets, setuid/setgid bits, an entry reached through a symlink, a source with no file or
// symlink (an empty layer), host secrets by the jails' rule (closure/secrets.h: by where the
// entry lands and by its name), and unless `allow_private`, PEM private keys and files or
// directories that are not world-readable in the source. Modes are normalized (directories
// 0755, files 0644, or 0755 when any execute bit was set): the layer is root-owned and mounted
// noexec, and the service's user must be able to read it; a private entry allowed by
// `allow_private` keeps its owner and group bits only (never widened). Symlinks are kept
// verbatim: they resolve inside the chroot, so they cannot reach the host or another jail.
StagedContent stage_content(const ContentSpec& c, const std::filesystem::path& tree, bool allow_private = false);

// Pure: the mksquashfs command for a content layer (root-owned, fixed times, no xattrs).
Command content_mksquashfs_command(const std::filesystem::path& tree, const std::filesystem::path& out,
                                   const std::string& compression, time_t epoch, const std::filesystem::path& log);

// Pure: the cache key of a layer: the staged content's digest and how it is packed.
std::string layer_key(const std::string& digest, const std::string& compression, time_t epoch);

struct PackRequest {
    std::string compression = "xz";
    time_t epoch = 0;
    std::filesystem::path work;       // staging under work/content/
    std::filesystem::path cache_dir;  // <cache>; layers go to <cache>/content/
    std::filesystem::path log;
    bool keep_tree = false;           // leave work/content/NAME/tree (--retrace binds it)
    bool allow_private = false;       // --content-allow-private (stage_content)
};

struct PackedLayer {
    std::filesystem::path squashfs;  // in the cache
    std::string sha256;
    uint64_t bytes = 0;
    uint64_t files = 0;
    bool cached = false;
};

PackedLayer pack_content(const ContentSpec& c, const std::string& name, const PackRequest& req);

}  // namespace romimg::content
