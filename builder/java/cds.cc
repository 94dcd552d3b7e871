#include "java/cds.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "cache/inventory.h"

namespace romimg::java {

namespace sfs = std::filesystem;

std::string dump_list(const std::string& default_list, const std::string& loaded) {
    std::set<std::string> have;
    std::string out;
    for (const auto& line : split(default_list, '\n', true)) {
        if (line.empty()) continue;
        out += line + "\n";
        if (line[0] != '@' && line[0] != '#') have.insert(line);
    }
    std::set<std::string> extra;
    for (const auto& line : split(loaded, '\n', true)) {
        // "java/lang/Object id: 1" in some JDKs' lists: the name is the first word.
        std::string name = line.substr(0, line.find(' '));
        if (name.empty() || name[0] == '@' || name[0] == '#' || have.count(name)) continue;
        if (name.find_first_of("\t\r") != std::string::npos) continue;
        extra.insert(name);
    }
    for (const auto& n : extra) out += n + "\n";
    return out;
}

std::string archive_key(const std::string& list, const std::string& version, const std::string& modules_sha256,
                        const std::string& libjvm_sha256) {
    return fs::sha256_hex(fmt::format("romimg cds v1\nversion {}\nmodules {}\nlibjvm {}\nlist {}\n", version,
                                      modules_sha256, libjvm_sha256, fs::sha256_hex(list)));
}

std::string share_classes(const jail::JavaRuntime& rt, const std::string& list, const std::string& source,
                          const sfs::path& cache, const sfs::path& work, const std::string& service) {
    const sfs::path image = rt.image, archive = image / "lib/server/classes.jsa";
    const std::string key = archive_key(list, rt.version, fs::sha256_file(image / "lib/modules"),
                                        fs::sha256_file(image / "lib/server/libjvm.so"));
    size_t classes = 0;
    for (const auto& line : split(list, '\n', true))
        if (!line.empty() && line[0] != '@' && line[0] != '#') ++classes;
    const std::string what = fmt::format("{} classes: {}", classes, source);
    const sfs::path cached = cache.empty() ? sfs::path() : cache / (key + ".jsa");
    // What the archive was dumped from, beside the image (also when it comes from the cache).
    const sfs::path list_file = work / "java" / (service + ".dumplist");
    fs::write_file_atomic(list_file, list);
    if (!cached.empty() && sfs::is_regular_file(cached)) {
        cache::mark_used(cached);
        fs::write_file_atomic(archive, fs::read_file(cached), 0444);
        log::info("    CDS archive of {} (cached, key {})", what, key.substr(0, 16));
        return what;
    }
    const sfs::path tmp = image / "lib/server/classes.jsa.new";
    sfs::remove(tmp);
    Command c;
    c.argv = {(image / "bin/java").string(), "-Xshare:dump", "-XX:SharedClassListFile=" + list_file.string(),
              "-XX:SharedArchiveFile=" + tmp.string()};
    c.log = work / "logs" / fmt::format("cds-{}.log", service);
    fs::write_file_atomic(c.log, "");
    try {
        run(c);
    } catch (...) {
        sfs::remove(tmp);
        throw;
    }
    if (!sfs::is_regular_file(tmp) || sfs::file_size(tmp) == 0)
        throw Error(fmt::format("{}: java -Xshare:dump wrote no archive (its output: {})", service, c.log.string()));
    size_t skipped = 0;
    for (const auto& line : split(fs::read_file(c.log), '\n', true))
        if (line.find("Preload Warning: Cannot find") != std::string::npos) ++skipped;
    sfs::rename(tmp, archive);
    if (!cached.empty()) {
        sfs::create_directories(cache);
        fs::write_file_atomic(cached, fs::read_file(archive), 0444);
    }
    log::info("    CDS archive of {}{}, {:.1f} MB", what,
              skipped ? fmt::format(" ({} of them the service's own, not the runtime's: left out)", skipped) : "",
              sfs::file_size(archive) / 1048576.0);
    return what;
}

}  // namespace romimg::java
