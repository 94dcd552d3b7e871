// The closure stage: TraceResult → FileSet, the files a service's jail must hold (DESIGN.md §6,
// issue 3). Input: a trace and the template's include/exclude rules. Output: every path with its
// type, owner, mode and why it is there. Side effects: none; it only reads the host filesystem
// (lstat, readlink, ELF headers, xattrs, /etc/ld.so.cache).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

#include "trace/trace_result.h"

namespace romimg::closure {

enum class Reason { traced, closure, include, basics };  // why a path is in the jail
std::string to_string(Reason);

struct FileEntry {
    std::string path;                 // absolute host path (also the path inside the jail)
    trace::FileType type;             // file, dir, symlink, device (fifo/socket/missing never appear)
    std::string target;               // symlink text (kept verbatim: every hop stays a symlink)
    uint64_t size = 0;                // regular files
    unsigned mode = 0;                // st_mode permission bits incl. setuid/setgid/sticky
    unsigned uid = 0, gid = 0;        // owner on the host
    dev_t rdev = 0;                   // devices
    std::string hardlink_of;          // "" or the first path (in sort order) sharing this inode in the set
    bool has_file_caps = false;       // security.capability xattr present (and kept)
    Reason reason = Reason::traced;
    std::string why;                  // "DT_NEEDED of /usr/sbin/apache2", "read", "basics: NSS", ...
};

struct ClosureOptions {
    std::vector<std::string> include;          // globs (FNM_PATHNAME; "**" = any depth), added whole, dirs recursively
    std::vector<std::string> exclude;          // globs never included (a matching dir excludes its subtree)
    std::vector<std::string> env_library_path; // LD_LIBRARY_PATH entries from the service environment
    std::vector<std::string> allowed_devices = {"/dev/null", "/dev/zero", "/dev/random",
                                                "/dev/urandom", "/dev/full", "/dev/tty"};
    bool keep_setuid = false, keep_file_caps = false;
    // Where ld.so's cache is read from; tests point it elsewhere ("" = no cache).
    std::string ld_so_cache = "/etc/ld.so.cache";
    // Also add NSS, DNS, timezone and CA basics when libc / a TLS library is in the set.
    bool basics = true;
};

struct Finding {
    std::string severity;  // "warning" | "secret" | "dropped"
    std::string path;
    std::string message;
};

struct FileSet {
    std::map<std::string, FileEntry> entries;  // key = path; every parent directory present as a dir entry
    std::vector<Finding> findings;             // setuid/caps dropped, secrets, includes matching nothing, devices refused
    uint64_t total_bytes() const;              // sum of regular file sizes, hard links counted once
};

FileSet compute_closure(const trace::TraceResult& trace, const ClosureOptions& opt);

// Glob match used for include/exclude: fnmatch(FNM_PATHNAME) per component, and a "**"
// component matches any number of components (including none). Pure.
bool glob_match(const std::string& pattern, const std::string& path);

// What an include glob matches on the host now, sorted ("" or relative globs match nothing).
std::vector<std::string> glob_expand(const std::string& glob);
// Everything one include takes: its matches and, below each matched directory, every name
// (symlinked directories below it are not walked, as in the closure). For the base cache, which
// must notice a new file an include would now pick up.
std::vector<std::string> include_covers(const std::string& glob);

// ld.so's view of the machine, exposed for tests and the manifest.
namespace elf {
struct Info {
    bool is_elf = false;
    int elf_class = 0;                    // ELFCLASS32/64
    int machine = 0;                      // EM_*
    std::string interp;                   // PT_INTERP
    std::string soname;
    std::vector<std::string> needed;      // DT_NEEDED in order
    std::vector<std::string> rpath, runpath;  // split on ':', tokens not yet expanded
    bool nodeflib = false;                // DF_1_NODEFLIB
};
Info read_info(const std::string& path);  // is_elf = false for anything not a readable ELF file

// Parsed /etc/ld.so.cache: soname → paths, with the flags that say which ABI each serves.
class LdCache {
public:
    static LdCache load(const std::string& file);  // empty cache if missing or unreadable
    // Paths the cache lists for `soname`, in the order ld.so tries them (entries for the
    // baseline ABI before glibc-hwcaps subdirectories). The caller picks the first whose ELF
    // class and machine match the object that needs it, as ld.so does with the cache flags.
    std::vector<std::string> candidates(const std::string& soname) const;
    size_t size() const { return size_; }

private:
    std::map<std::string, std::vector<std::string>> by_name_;
    size_t size_ = 0;
};
}  // namespace elf

}  // namespace romimg::closure
