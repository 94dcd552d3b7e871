// The root a build traces and jails its services in: `/` (the build host itself), a configured
// server tree given with --root, or a staging root romimg made for another arch (staging.h).
// A RootView shows such a tree as "/" to the jail stage without ever writing to it: an overlay
// with the tree as its read-only lower layer, in romimg's own mount namespace (nothing of it is
// visible to the host, and the kernel takes it all down when romimg exits, however it exits).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "target/target.h"

namespace romimg::staging {

// Once per process: romimg's own mount namespace (private propagation), so that no mount it or a
// tool it runs makes reaches the host, and all of them go when romimg exits, however it exits.
void own_mount_namespace();

// The Debian arch a root's dpkg database says (var/lib/dpkg/arch, else libc6's or base-files'
// Architecture in var/lib/dpkg/status); "" if it says none.
std::string dpkg_arch_of(const std::filesystem::path& root);

// Throws UsageError unless `root` is a directory holding a Debian system (its dpkg status,
// etc/passwd and etc/group) whose dpkg arch is the target's; `flag` names where it came from.
void check_root(const std::filesystem::path& root, const target::Target& t, const std::string& flag);

// Pure: the problem with using `root` as an overlay layer ("" if none): its path must be absolute
// and free of the characters overlayfs options separate with (',' ':' '\\') and of blanks.
std::string overlay_path_problem(const std::filesystem::path& root);

class RootView {
public:
    // Mounts the view under work/view: lower `root`, upper work/view/upper (fresh each build),
    // with /proc, /dev and /sys from the host and the work dir bound at its own path, so the
    // jail stage writes its jails where the rest of the build finds them; and each of `also`
    // (created if missing) at its own path too (the CDS archive cache).
    RootView(const std::filesystem::path& root, const std::filesystem::path& work,
             const std::vector<std::filesystem::path>& also = {});
    ~RootView();
    RootView(const RootView&) = delete;
    RootView& operator=(const RootView&) = delete;

    const std::filesystem::path& root() const { return root_; }
    // Where the view is mounted, seen from the host.
    const std::filesystem::path& merged() const { return merged_; }

    // Runs `fn` with the view as this process's root directory (chroot), and returns to the
    // host's root afterwards, also when `fn` throws. Paths inside resolve as on the tree's own
    // system: its absolute symlinks stay in it.
    void inside(const std::function<void()>& fn);
    // An O_PATH fd on the host's "/" (for reading host files from inside, with RESOLVE_IN_ROOT).
    int host_root_fd() const { return host_root_.get(); }

private:
    std::filesystem::path root_, work_, base_, merged_;
    Fd host_root_;
    bool in_ = false;
};

}  // namespace romimg::staging
