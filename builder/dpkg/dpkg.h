// Debian's package database, read in-process: which package owns a path, what a package depends
// on, how big it is installed. Input: dpkg's admindir (status, info/*.list, diversions). Output:
// a read-only Database. Side effects: none. One load parses every file list once (no `dpkg -S`
// per path), fast enough to do on every `romimg jail`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace romimg::dpkg {

struct Package {
    std::string name, version, arch;
    uint64_t installed_size_kb = 0;
    // Depends and Pre-Depends: package names without versions or arch qualifiers, every
    // alternative of an "a | b" listed.
    std::vector<std::string> depends;
    std::vector<std::string> provides;  // virtual package names it provides
};

class Database {
public:
    // Reads status, info/*.list of every installed package and diversions. Throws SysError if the
    // status file cannot be read; a missing .list means a package owns no files.
    static Database load(const std::filesystem::path& admindir = "/var/lib/dpkg");

    // The package whose file list names `path` (nullptr if none). Merged-/usr aliases count
    // (/lib/x ↔ /usr/lib/x, /bin, /sbin, /lib32, /lib64, /libx32) and diversions are applied: the
    // diverted-to path belongs to the package whose file was moved. A directory shared by
    // several packages answers with the first of them in status order.
    const Package* owner_of(const std::string& path) const;
    const Package* package(const std::string& name) const;  // "name" or "name:arch"; installed only
    // `names` plus everything their Depends and Pre-Depends pull in, recursively, through
    // installed packages and installed providers of virtual names. Sorted, unique.
    std::vector<std::string> dependency_closure(const std::vector<std::string>& names) const;
    uint64_t installed_bytes(const std::vector<std::string>& names) const;  // Installed-Size KiB → bytes
    // The paths the package's file list names (as dpkg wrote them), empty when it is not installed.
    std::vector<std::string> files_of(const std::string& name) const;

    size_t package_count() const { return packages_.size(); }
    size_t path_count() const { return owner_.size(); }

private:
    struct Diversion {
        std::string from, to, by;  // by = diverting package, ":" for a local diversion
    };
    std::vector<Package> packages_;
    std::unordered_map<std::string, size_t> by_name_;              // name and name:arch
    std::unordered_map<std::string, std::vector<size_t>> providers_;
    std::vector<std::unique_ptr<std::string>> lists_;              // .list contents (owner_ views point here)
    std::unordered_map<size_t, size_t> list_of_;                   // package index → lists_ index
    std::unordered_map<std::string_view, uint32_t> owner_;         // path → package index
    std::unordered_map<std::string, Diversion> diverted_from_, diverted_to_;
    std::unordered_map<std::string, std::vector<uint32_t>> diverted_listers_;  // every package listing a diverted path

    const Package* listed_owner(const std::string& path) const;
};

}  // namespace romimg::dpkg
