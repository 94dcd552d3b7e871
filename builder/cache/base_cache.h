// The base-layer cache: what tracing, jailing and packing the root produce (root.sqfs and the
// jails' manifests), kept under <cache>/base/<key>/ and reused while its inputs are unchanged.
// The key is a hash of everything the builder reads on purpose (templates, options, romimg and
// romimg-init, overlays/, the dpkg status, the account files); the entry also records a stamp
// of every host file the jails copied, re-checked on each lookup, so an edited
// /etc/apache2/apache2.conf invalidates it. Entries are published with one rename: a directory
// that exists is complete. Key and stamp logic are pure; lookup/publish touch the cache only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jail/jail.h"

namespace romimg::cache {

// Pure: the key from named input digests ("template:apache" → sha256, "option:fast" → "yes").
std::string input_key(const std::map<std::string, std::string>& inputs);

// sha256 over a directory tree's relative paths, types, modes and bytes ("" if it does not exist).
std::string tree_digest(const std::filesystem::path& dir);

// What a build depended on in one host file, or in what one include glob covers: a change to any
// field invalidates the entry.
struct FileStamp {
    std::string path;       // the file, or the include glob (type 'g')
    char type = 'f';        // f d l, or '-' for gone; 'g' an include glob
    uint64_t size = 0;
    int64_t mtime_ns = 0;   // files only: a directory's mtime moves whenever a sibling changes
    unsigned mode = 0, uid = 0, gid = 0;
    std::string link;       // symlink text; 'g': sha256 of the covered paths (size = their count)
    bool operator==(const FileStamp&) const = default;
};

// Pure: the host paths a jail plan took from the host (files, directories, symlinks).
std::vector<std::string> host_sources(const jail::JailPlan& plan);
// lstat of each path, now.
std::vector<FileStamp> stamp_files(const std::vector<std::string>& paths);
// Each include glob's coverage now (closure::include_covers: matches, and all below matched
// directories): a file the glob would now pick up, or one gone, changes it.
std::vector<FileStamp> stamp_globs(const std::vector<std::string>& globs);
// The same stamp taken again now (a glob re-expanded, a file lstat'ed).
std::vector<FileStamp> restamp(const std::vector<FileStamp>& recorded);
// Pure: text form, one stamp per line, and back (false on a malformed line).
std::string format_stamps(const std::vector<FileStamp>& stamps);
bool parse_stamps(const std::string& text, std::vector<FileStamp>& out);
// Pure: the recorded stamps that no longer match `now` (same order as `recorded`), as paths.
std::vector<std::string> changed(const std::vector<FileStamp>& recorded, const std::vector<FileStamp>& now);

struct BaseEntry {
    std::filesystem::path dir;          // <cache>/base/<key>
    std::filesystem::path root_sqfs;
    std::string root_sha256;
    std::map<std::string, std::filesystem::path> manifests;  // service → its .manifest.json
    std::vector<FileStamp> stamps;      // the host files the jails copied, as they were
    std::string appliance_conf;         // /etc/romimg/appliance.conf inside root.sqfs
};

// The entry for `key` if it exists and every stamped host file is unchanged; otherwise nullopt
// and `why` says what changed (empty when there was no entry).
// `restamp_fn` takes the stamps again (default: restamp, against this process's "/"; a build in
// a RootView takes them inside it).
using Restamp = std::function<std::vector<FileStamp>(const std::vector<FileStamp>&)>;
std::optional<BaseEntry> lookup(const std::filesystem::path& cache_dir, const std::string& key, std::string& why,
                                const Restamp& restamp_fn = restamp);

// Copies root.sqfs and the manifests (NAME → DIR.manifest.json; the .txt beside it comes along)
// into a temporary entry, writes the stamps, then renames it into place. A valid entry already
// there (a parallel build of the same inputs) is kept unless `replace` (--retrace: a new trace
// of the same inputs supersedes it); a stale one is replaced.
BaseEntry publish(const std::filesystem::path& cache_dir, const std::string& key, const std::filesystem::path& root_sqfs,
                  const std::map<std::string, std::filesystem::path>& manifests, const std::vector<FileStamp>& stamps,
                  const std::string& appliance_conf, bool replace = false);

}  // namespace romimg::cache
