// Where romimg's own files are (layout.h).
#include "install/layout.h"

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <optional>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "romimg_version.h"

namespace romimg::install {

namespace {

namespace sfs = std::filesystem;

constexpr const char* kBuildTreeFile = "romimg-build-tree";

bool is_dir(const sfs::path& p) {
    std::error_code ec;
    return sfs::is_directory(p, ec);
}

// The build dir's romimg-build-tree: "source=DIR" and "programs=DIR" lines. Looked for beside
// the binary and up to three levels above it (the tests' binaries live in build/tests/...).
std::optional<Layout> build_tree(const sfs::path& exe) {
    sfs::path dir = exe.parent_path();
    for (int up = 0; up < 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
        const sfs::path f = dir / kBuildTreeFile;
        std::error_code ec;
        if (!sfs::is_regular_file(f, ec)) {
            if (dir == dir.root_path()) break;
            continue;
        }
        Layout l;
        for (const auto& line : split(fs::read_file(f), '\n', false)) {
            if (line.rfind("source=", 0) == 0) l.data = line.substr(7);
            if (line.rfind("programs=", 0) == 0) l.programs = line.substr(9);
        }
        if (l.data.empty() || l.programs.empty())
            throw Error(fmt::format("{} names no source= and programs= directory: rerun cmake (make build)", f.string()));
        if (!is_dir(l.data))
            throw Error(fmt::format("{} names the source dir {}, which is gone: rebuild romimg from its source (make "
                                    "build), or install it (make install)",
                                    f.string(), l.data.string()));
        l.how = "build tree " + dir.string();
        return l;
    }
    return std::nullopt;
}

// PREFIX/share/romimg must hold this version's data: its VERSION file says which romimg
// installed it.
void check_installed_data(const sfs::path& data, const sfs::path& exe) {
    const std::string want = fmt::format("romimg {} {}", ROMIMG_VERSION, ROMIMG_COMMIT);
    const sfs::path stamp = data / "VERSION";
    if (!is_dir(data))
        throw Error(fmt::format("romimg's data directory {} is missing (this is romimg {}, installed as {}): "
                                "reinstall romimg (apt-get install --reinstall romimg, or make install), or point "
                                "ROMIMG_DATA_DIR at its share/romimg",
                                data.string(), ROMIMG_VERSION, exe.string()));
    std::error_code ec;
    if (!sfs::is_regular_file(stamp, ec))
        throw Error(fmt::format("{} has no VERSION file: it is not romimg {}'s data directory (reinstall romimg, or "
                                "point ROMIMG_DATA_DIR at its share/romimg)",
                                data.string(), ROMIMG_VERSION));
    std::string have = fs::read_file(stamp);
    while (!have.empty() && isspace((unsigned char)have.back())) have.pop_back();
    if (have != want)
        throw Error(fmt::format("{} holds the data of {}, but this is {} ({}): the binary and its data come from "
                                "different installs; reinstall romimg so that both match",
                                data.string(), have.empty() ? "an unknown romimg" : have, want, exe.string()));
}

}  // namespace

Layout resolve(const sfs::path& exe, const std::string& data_env, const std::string& lib_env) {
    Layout l;
    if (auto b = build_tree(exe)) {
        l = *b;
    } else {
        const sfs::path prefix = exe.parent_path().parent_path();
        l.data = prefix / "share" / "romimg";
        l.programs = prefix / "lib" / "romimg";
        l.how = "installed in " + prefix.string();
        if (data_env.empty()) check_installed_data(l.data, exe);
    }
    if (!data_env.empty()) {
        l.data = data_env;
        l.how += ", data from ROMIMG_DATA_DIR";
        if (!is_dir(l.data))
            throw Error(fmt::format("ROMIMG_DATA_DIR={} is not a directory: point it at romimg's share/romimg (or "
                                    "unset it)",
                                    data_env));
    }
    if (!lib_env.empty()) {
        l.programs = lib_env;
        l.how += ", programs from ROMIMG_LIB_DIR";
    }
    return l;
}

const Layout& layout() {
    static const Layout l = [] {
        std::error_code ec;
        sfs::path exe = sfs::read_symlink("/proc/self/exe", ec);
        if (ec) throw Error("cannot find where romimg runs from (/proc/self/exe): is /proc mounted?");
        const char* d = getenv("ROMIMG_DATA_DIR");
        const char* p = getenv("ROMIMG_LIB_DIR");
        return resolve(exe, d ? d : "", p ? p : "");
    }();
    return l;
}

sfs::path templates_dir() { return layout().data / "jail-templates"; }
sfs::path kernel_config_dir() { return layout().data / "kernel-config"; }
sfs::path overlays_dir() { return layout().data / "overlays"; }
sfs::path program(const std::string& name) { return layout().programs / name; }
sfs::path packaged_kernels_dir() { return layout().programs / "kernel"; }

std::string missing_program(const std::string& name, const sfs::path& where) {
    if (layout().how.rfind("build tree", 0) == 0) return fmt::format("{} is not built ({}): run `make`", name, where.string());
    return fmt::format("{} is missing ({}): reinstall romimg (apt-get install --reinstall romimg, or make install)", name,
                       where.string());
}

const char* version() { return ROMIMG_VERSION; }
const char* commit() { return ROMIMG_COMMIT; }
int64_t release_time() { return ROMIMG_RELEASE_TIME; }

std::string version_line() {
    time_t t = (time_t)release_time();
    struct tm tm {};
    gmtime_r(&t, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    return fmt::format("romimg {} (commit {}, {})", version(), commit(), day);
}

}  // namespace romimg::install
