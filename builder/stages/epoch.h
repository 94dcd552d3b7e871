// SOURCE_DATE_EPOCH per layer (docs/release.md): the given one, else the newest input's time
// (romimg's own files count with its commit time, compiled in; others with their mtime):
// the base layer's (templates, romimg-init, overlays/, the host files the jails copy), each
// content layer's (its source), and the image's (all of those and the kernel's inputs), so that
// a content release does not change the base layer. Reads only metadata (lstat).
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cache/base_cache.h"
#include "stages/request.h"

namespace romimg::pipeline {

// The newest of some inputs, and which one it was (for the build's log line).
struct Newest {
    int64_t time = 0;
    std::string which;
    void take(int64_t t, const std::string& w);
    void take(const std::vector<std::filesystem::path>& paths);
};

// Every regular file and symlink under `p` (or `p` itself when it is not a directory).
std::vector<std::filesystem::path> files_under(const std::filesystem::path& p);

// SOURCE_DATE_EPOCH given (--source-date-epoch, romimg.toml, or the environment), if it was.
std::optional<int64_t> given_epoch(const BuildOptions& opt);

// The base layer's part known before tracing: templates, romimg-init, overlays/.
Newest pre_trace_epoch(const Request& r);

// The base layer's: the given one, else the newest of `pre` and the host files the jails copied
// (their stamps: the same set whether the base is built now or taken from the cache, so both
// give the same bytes).
Newest base_epoch(const std::optional<int64_t>& given, const Newest& pre, const std::vector<cache::FileStamp>& stamps);

// The image's (initramfs, ISO, /romimg/): the newest of every layer's and the kernel's inputs.
time_t image_epoch(const BuildOptions& opt, const Request& r, const Newest& base, const std::vector<Newest>& contents);

}  // namespace romimg::pipeline
