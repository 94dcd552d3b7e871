#include "staging/root_view.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/sys.h"

namespace romimg::staging {

namespace sfs = std::filesystem;

namespace {

std::string status_arch(const std::string& status) {
    // The first of these packages dpkg lists as installed names the root's arch.
    std::string found;
    for (const char* want : {"libc6", "base-files", "dpkg"}) {
        std::string pkg, arch;
        for (const auto& line : split(status + "\n\n", '\n', false)) {
            if (line.empty()) {
                if (pkg == want && !arch.empty() && arch != "all") return arch;
                pkg.clear();
                arch.clear();
            } else if (line.rfind("Package: ", 0) == 0) {
                pkg = line.substr(9);
            } else if (line.rfind("Architecture: ", 0) == 0) {
                arch = line.substr(14);
            }
        }
    }
    return found;
}

}  // namespace

void own_mount_namespace() {
    static bool done = false;
    if (done) return;
    sys::unshare(CLONE_NEWNS);
    sys::mount("", "/", "", MS_REC | MS_PRIVATE);
    done = true;
}

std::string dpkg_arch_of(const sfs::path& root) {
    std::error_code ec;
    if (sfs::is_regular_file(root / "var/lib/dpkg/arch", ec)) {
        std::string first = fs::read_file(root / "var/lib/dpkg/arch");
        first = first.substr(0, first.find('\n'));
        if (!first.empty()) return first;
    }
    if (!sfs::is_regular_file(root / "var/lib/dpkg/status", ec)) return "";
    return status_arch(fs::read_file(root / "var/lib/dpkg/status"));
}

std::string overlay_path_problem(const sfs::path& root) {
    const std::string s = root.string();
    if (!root.is_absolute()) return "is not an absolute path";
    for (char c : s)
        if (c == ',' || c == ':' || c == '\\' || c == ' ' || c == '\t' || c == '\n' || (unsigned char)c < 0x20)
            return fmt::format("has a '{}' in it, which overlayfs options cannot carry", c == '\n' ? std::string("\\n") : std::string(1, c));
    return "";
}

void check_root(const sfs::path& root, const target::Target& t, const std::string& flag) {
    std::error_code ec;
    if (!sfs::is_directory(root, ec))
        throw UsageError(fmt::format("{} {}: not a directory; give the root directory of a configured Debian system",
                                     flag, root.string()));
    if (std::string why = overlay_path_problem(sfs::absolute(root)); !why.empty())
        throw UsageError(fmt::format("{} {}: the path {}; move or link the tree to a plain path", flag, root.string(), why));
    for (const char* f : {"var/lib/dpkg/status", "etc/passwd", "etc/group"})
        if (!sfs::is_regular_file(root / f, ec))
            throw UsageError(fmt::format("{} {}: not a Debian root (it has no /{}); give the root directory of a Debian "
                                         "system with the services installed and configured",
                                         flag, root.string(), f));
    const std::string arch = dpkg_arch_of(root);
    if (arch.empty())
        throw UsageError(fmt::format("{} {}: its dpkg database names no architecture (no var/lib/dpkg/arch, no libc6 in "
                                     "var/lib/dpkg/status); is it a complete Debian system?",
                                     flag, root.string()));
    if (arch != t.name)
        throw UsageError(fmt::format("{} {} is an {} system, but the image is for {}: give --arch {}, or a root of the "
                                     "target's arch",
                                     flag, root.string(), arch, t.name, arch));
}

RootView::RootView(const sfs::path& root, const sfs::path& work, const std::vector<sfs::path>& also)
    : root_(sfs::absolute(root)), work_(sfs::absolute(work)), base_(work_ / "view"), merged_(base_ / "merged") {
    if (std::string why = overlay_path_problem(root_); !why.empty())
        throw UsageError(fmt::format("the root {}: the path {}", root_.string(), why));
    if (std::string why = overlay_path_problem(base_); !why.empty())
        throw UsageError(fmt::format("--work {}: the path {}; give a plain path for a build with a root other than /",
                                     work_.string(), why));
    own_mount_namespace();
    // A view a previous build left mounted cannot exist (the namespace died with it); its
    // directories may, and the upper layer holds copies of site files: start fresh.
    sfs::remove_all(base_);
    for (const char* d : {"upper", "ovl-work", "merged"}) sfs::create_directories(base_ / d);
    sys::mount("overlay", merged_.string(), "overlay", MS_NOSUID,
               fmt::format("lowerdir={},upperdir={},workdir={}", root_.string(), (base_ / "upper").string(),
                           (base_ / "ovl-work").string()));
    try {
        for (const char* d : {"proc", "dev", "sys", "tmp"}) sfs::create_directories(merged_ / d);
        sys::mount("proc", (merged_ / "proc").string(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
        sys::mount("/dev", (merged_ / "dev").string(), "", MS_BIND | MS_REC);
        sys::mount("sysfs", (merged_ / "sys").string(), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
        sys::mount("tmpfs", (merged_ / "tmp").string(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=256m");
        // The work dir at its own path (not its submounts: the view itself is below it).
        const sfs::path work_inside = merged_ / work_.relative_path();
        sfs::create_directories(work_inside);
        sys::mount(work_.string(), work_inside.string(), "", MS_BIND);
        for (const auto& dir : also) {
            const sfs::path d = sfs::absolute(dir), inside = merged_ / d.relative_path();
            sfs::create_directories(d);
            sfs::create_directories(inside);
            sys::mount(d.string(), inside.string(), "", MS_BIND);
        }
        host_root_ = sys::open("/", O_PATH | O_DIRECTORY);
    } catch (...) {
        ::umount2(merged_.c_str(), MNT_DETACH);
        throw;
    }
}

RootView::~RootView() {
    if (in_) {
        // Only reachable if inside() could not return to the host's root: leave no view behind.
        if (fchdir(host_root_.get()) == 0 && chroot(".") == 0) in_ = false;
    }
    ::umount2(merged_.c_str(), MNT_DETACH);
    std::error_code ec;
    sfs::remove_all(base_, ec);
}

void RootView::inside(const std::function<void()>& fn) {
    if (in_) return fn();
    Fd cwd = sys::open(".", O_PATH | O_DIRECTORY);
    if (chroot(merged_.c_str()) != 0) throw SysError("chroot", merged_.string(), errno);
    in_ = true;
    auto back = [&] {
        if (fchdir(host_root_.get()) != 0 || chroot(".") != 0)
            throw SysError("chroot", "back to the host's /", errno);
        in_ = false;
        if (fchdir(cwd.get()) != 0) throw SysError("fchdir", "the working directory", errno);
    };
    try {
        if (chdir("/") != 0) throw SysError("chdir", "/", errno);
        fn();
    } catch (...) {
        back();
        throw;
    }
    back();
}

}  // namespace romimg::staging
