// SOURCE_DATE_EPOCH per layer (epoch.h).
#include "stages/epoch.h"

#include <sys/stat.h>
#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/error.h"
#include "common/log.h"
#include "install/layout.h"
#include "kernel/kernel.h"

namespace romimg::pipeline {

int64_t newest_input_time(const std::vector<std::filesystem::path>& paths, std::filesystem::path* which) {
    int64_t newest = 0;
    for (const auto& p : paths) {
        struct stat st;
        if (lstat(p.c_str(), &st) != 0) continue;
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
        if (st.st_mtim.tv_sec > newest || (which && which->empty())) {
            newest = std::max<int64_t>(newest, st.st_mtim.tv_sec);
            if (which) *which = p;
        }
    }
    return newest;
}

int64_t choose_source_date_epoch(const std::optional<int64_t>& explicit_value, const char* env, int64_t newest) {
    if (explicit_value) {
        if (*explicit_value < 0) throw UsageError(fmt::format("--source-date-epoch must not be negative, got {}", *explicit_value));
        if (*explicit_value > kMaxEpoch)
            throw UsageError(fmt::format("--source-date-epoch {} is out of range: squashfs stores 32-bit times, at most {} "
                                         "(2106-02-07)",
                                         *explicit_value, kMaxEpoch));
        return *explicit_value;
    }
    if (env && *env) {
        char* end = nullptr;
        errno = 0;
        long long v = strtoll(env, &end, 10);
        if (*end || errno || v < 0 || v > kMaxEpoch)
            throw UsageError(fmt::format("SOURCE_DATE_EPOCH must be seconds since 1970, at most 4294967295, got '{}' "
                                         "(unset it to use the newest input's time)",
                                         env));
        return v;
    }
    return newest;
}

void Newest::take(int64_t t, const std::string& w) {
    if (t > time || which.empty()) {
        time = std::max(time, t);
        which = w;
    }
}

namespace {

// romimg's own files (its data and programs, wherever it is installed or checked out) count with
// the release time compiled into romimg, not their mtimes: a checkout or an install gives them
// new ones, which would make every clone's ISO different.
bool romimg_own(const std::filesystem::path& p) {
    for (const auto& dir : {install::templates_dir(), install::kernel_config_dir(), install::overlays_dir(),
                            install::layout().programs}) {
        auto [d, f] = std::mismatch(dir.begin(), dir.end(), p.begin(), p.end());
        if (d == dir.end()) return true;
    }
    return false;
}

}  // namespace

void Newest::take(const std::vector<std::filesystem::path>& paths) {
    std::vector<std::filesystem::path> others;
    bool own = false;
    for (const auto& p : paths) {
        if (romimg_own(p)) own = true;
        else others.push_back(p);
    }
    if (own) take(install::release_time(), fmt::format("romimg {}'s own files (its commit time)", install::version()));
    std::filesystem::path w;
    int64_t t = newest_input_time(others, &w);
    if (!w.empty()) take(t, w.string());
}

std::vector<std::filesystem::path> files_under(const std::filesystem::path& p) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    if (!std::filesystem::is_directory(p, ec)) return {p};
    for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        out.push_back(it->path());
    return out;
}

std::optional<int64_t> given_epoch(const BuildOptions& opt) {
    const char* env = getenv("SOURCE_DATE_EPOCH");
    if (!opt.source_date_epoch && !(env && *env)) return std::nullopt;
    return choose_source_date_epoch(opt.source_date_epoch, env, 0);
}

Newest pre_trace_epoch(const Request& r) {
    Newest pre;
    std::vector<std::filesystem::path> in;
    for (const auto& t : r.templates) in.push_back(t.file);
    in.push_back(r.init);
    for (const auto& f : files_under(overlays_dir())) in.push_back(f);
    pre.take(in);
    return pre;
}

Newest base_epoch(const std::optional<int64_t>& given, const Newest& pre, const std::vector<cache::FileStamp>& stamps) {
    if (given) return {*given, "given"};
    Newest n = pre;
    for (const auto& st : stamps)
        if (st.type == 'f') n.take(st.mtime_ns / 1000000000, st.path);
    return n;
}

time_t image_epoch(const BuildOptions& opt, const Request& r, const Newest& base, const std::vector<Newest>& contents) {
    Newest e = base;
    for (const auto& c : contents) e.take(c.time, c.which);
    if (!r.given) {
        std::vector<std::filesystem::path> kin = files_under(kernel_config_dir(opt));
        kin.push_back(kernel::KernelOptions{}.source_tarball);
        e.take(kin);
    }
    log::info("==> SOURCE_DATE_EPOCH {} ({})", e.time, r.given ? "given" : "the newest input: " + e.which);
    return (time_t)e.time;
}

}  // namespace romimg::pipeline
