// `romimg build`: the table of contents. Each stage (stages/) reads what the earlier ones
// returned, applies a pure plan (plans.h) and writes only under its own part of the work dir
// or the cache.
#include "pipeline.h"

#include <fmt/format.h>

#include "common/signals.h"
#include "stages/base.h"
#include "stages/boot.h"
#include "stages/cache_care.h"
#include "stages/contents.h"
#include "stages/epoch.h"
#include "stages/request.h"

namespace romimg::pipeline {

BuildResult build_appliance(const BuildOptions& opt) {
    // From here Ctrl-C/SIGTERM stop the running tool and unwind: nothing is published after one.
    signals::install_interrupt_handlers();
    // Every usage error a build can find without tracing, found before any work.
    const Request r = check_request(opt);
    const time_t start = time(nullptr);
    // The cache is held (shared) until the ISO is written: `romimg cache prune` waits for it.
    Fd cache_lock = cache::lock_shared(r.cache_dir);
    const Newest pre = pre_trace_epoch(r);
    // Content layers first: packing is quick, and --retrace traces with them in place.
    const Contents contents = pack_contents(opt, r);
    // 0. The root the services are traced in (/, --root, or a staging root of the target's
    // arch), and how: natively, or as this host's own services translated into that root.
    const BuildRoot root = choose_root(opt, r);
    log_route(r);
    // 1 + 3. Jails and the read-only root, from the base cache when nothing they depend on changed.
    const BaseLayer base = build_base(opt, r, root, pre);
    // 2. The kernel, from the cache when its inputs did not change.
    const kernel::KernelResult kernel = kernel_stage(opt, r);
    const time_t epoch = image_epoch(opt, r, base.epoch, contents.epochs);
    // 3b. dm-verity trees for the root, the content layers and the self-test.
    const Verified verified = verity_stage(opt, r, base, contents);
    // 4. The initramfs, with the root's verity parameters.
    const std::filesystem::path initrd = initramfs_stage(r, verified, epoch);
    // 5. The hybrid ISO.
    BuildResult result;
    iso_stage(opt, r, base, contents, verified, kernel, initrd, epoch, result);
    for (const auto& t : r.templates) {
        for (int p : t.ports) result.ports.push_back(fmt::format("{}:{}", t.name, p));
        if (!t.data.paths.empty()) result.data.push_back(t.name);
    }
    for (const auto& [name, path] : base.manifests) result.manifests.push_back(path);
    result.base_cached = base.cached;
    result.root_sha256 = base.root_sha256;
    cache_lock.reset();
    // 6. The cache kept under romimg.toml's cache_limit (never what this build used).
    prune_to_limit(opt, r.cache_dir, start);
    return result;
}

void apply_config(const recipe::ApplianceConfig& c, BuildOptions& opt) {
    if (c.services) opt.services = *c.services;
    opt.content.insert(opt.content.end(), c.content.begin(), c.content.end());
    if (c.net) opt.net = *c.net;
    if (c.hostname) opt.hostname = *c.hostname;
    if (c.log_to) opt.log_to = *c.log_to;
    if (c.log_console) opt.log_console = *c.log_console;
    if (c.media) opt.media = *c.media;
    if (c.label) opt.label = *c.label;
    if (c.compression) opt.fast = *c.compression == "zstd";
    if (c.romlock_mode) opt.romlock_mode = *c.romlock_mode;
    if (c.arch) opt.arch = *c.arch;
    if (c.trace_route) opt.trace_route = *c.trace_route;
    if (c.staging_route) opt.staging_route = *c.staging_route;
    if (c.root) opt.root = *c.root;
    if (c.output) opt.output = *c.output;
    if (c.work) opt.work = *c.work;
    if (c.source_date_epoch) opt.source_date_epoch = *c.source_date_epoch;
    if (c.verity_fec) opt.verity_fec_roots = *c.verity_fec;
    if (c.cache_limit) opt.cache_limit = *c.cache_limit;
    if (c.sign_key) opt.sign_key = *c.sign_key;
    if (c.sign_cert) opt.sign_cert = *c.sign_cert;
    for (const auto& [service, mode] : c.seccomp) opt.seccomp[service] = mode;
}

std::optional<std::string> seccomp_override(const BuildOptions& opt, const std::string& service) {
    if (auto it = opt.seccomp.find(service); it != opt.seccomp.end()) return it->second;
    if (auto it = opt.seccomp.find("*"); it != opt.seccomp.end()) return it->second;
    return std::nullopt;
}

}  // namespace romimg::pipeline
