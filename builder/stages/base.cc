// The base layer: jails and the read-only root, or both from the base cache (base.h).
#include "stages/base.h"

#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "appliance_conf.h"
#include "cache/base_cache.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "image/manifest.h"
#include "jail/stage.h"
#include "plans.h"
#include "rootfs/rootfs.h"
#include "seccomp/filter.h"
#include "staging/root_view.h"
#include "staging/staging.h"

namespace romimg::pipeline {

namespace {

// Everything the jails and the root squashfs are made from, by name (cache::input_key).
std::map<std::string, std::string> base_inputs(const BuildOptions& opt, const Request& req, const BuildRoot& root,
                                               const std::string& epoch_rule) {
    const auto& templates = req.templates;
    const auto& contents = req.contents;
    std::map<std::string, std::string> in;
    auto file = [](const std::filesystem::path& p) { return std::filesystem::exists(p) ? fs::sha256_file(p) : "absent"; };
    const std::filesystem::path r = root.dir.empty() ? "/" : root.dir;
    in["romimg"] = file("/proc/self/exe");  // the builder's own rules (closure, jail plan, rootfs)
    in["romimg-init"] = file(req.init);
    in["overlays"] = cache::tree_digest(overlays_dir());
    in["target"] = req.tgt->name;
    in["trace-route"] = staging::to_string(req.route);
    // Translated: what the host's own services are made of counts too.
    if (req.route == staging::TraceRoute::translated) in["build-host:dpkg-status"] = file("/var/lib/dpkg/status");
    in["root"] = root.dir.empty() ? "/" : root.dir.string() + (root.staged ? " (staging root)" : "");
    in["host:dpkg-status"] = file(r / "var/lib/dpkg/status");
    in["host:passwd"] = file(r / "etc/passwd");
    in["host:group"] = file(r / "etc/group");
    if (opt.debug_shell) in["host:busybox"] = file("/bin/busybox");
    in["services"] = fmt::format("{}", fmt::join(opt.services, " "));
    for (const auto& t : templates) {
        in["template:" + t.name] = file(t.file);
        in["content-paths:" + t.name] = fmt::format("{}", fmt::join(content::paths_of(contents, t.name), " "));
    }
    in["option:compression"] = opt.fast ? "zstd" : "xz";
    in["squashfs-block"] = req.tgt->squashfs_block;
    in["option:hostname"] = opt.hostname;
    in["option:log-to"] = opt.log_to;
    in["option:log-console"] = opt.log_console ? "yes" : "no";
    in["option:debug-shell"] = opt.debug_shell ? "yes" : "no";
    in["option:exec-lock"] = opt.exec_lock ? "yes" : "no";
    for (const auto& t : templates) in["option:seccomp:" + t.name] = seccomp_override(opt, t.name).value_or("template");
    in["option:epoch"] = epoch_rule;  // a given value, or "newest input" and the pre-trace inputs' newest
    return in;
}

// What the trace binds over a service's content paths: with --retrace, its packed content trees.
std::vector<std::pair<std::string, std::string>> trace_binds(const BuildOptions& opt, const Request& r,
                                                             const recipe::ServiceTemplate& t) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!opt.retrace) return out;
    int n = 0;
    for (const auto& c : r.contents)
        if (c.service == t.name)
            out.push_back({(r.work / "content" / fmt::format("{}-{}", t.name, ++n) / "tree").string(), c.path});
    return out;
}

// Stage 1 for one service, in the build's root: trace (or take `carried`, a trace made on the
// host and translated into this root), closure, jail, manifest (with each file's sha256). Adds
// the stamps of what it read to `stamps`.
jail::JailBuild jail_service(const BuildOptions& opt, const Request& r, const recipe::ServiceTemplate& t,
                             std::optional<trace::TraceResult> carried, std::vector<cache::FileStamp>& stamps) {
    const std::filesystem::path& work = r.work;
    jail::JailExtras extras;
    extras.seccomp_arch = r.tgt->seccomp_arch;
    extras.traced = std::move(carried);
    extras.run_target = r.route != staging::TraceRoute::translated;
    extras.cds_cache = r.cache_dir / "cds";
    if (auto mode = seccomp_override(opt, t.name)) extras.seccomp_mode = seccomp::parse_mode(*mode, "--seccomp");
    std::vector<content::ContentSpec> mine;
    for (const auto& c : r.contents)
        if (c.service == t.name) mine.push_back(c);
    extras.trace_binds = trace_binds(opt, r, t);
    extras.adjust_plan = [mine](jail::JailPlan plan) {
        for (const auto& c : mine) content::check_against_plan(c, plan);
        std::vector<std::string> paths;
        for (const auto& c : mine) paths.push_back(c.path);
        return content::replace_subtrees(std::move(plan), paths);
    };
    // Before the trace: a file that appears while it runs changes the stamp (a miss next time),
    // never the other way round.
    for (const auto& st : cache::stamp_globs(recipe::jail_includes(t))) stamps.push_back(st);
    jail::JailBuild j = jail::build_jail(t, work / "jails" / t.name, work, extras);
    // The manifest gains each file's sha256 (from the applied jail), for manifest and diff.
    nlohmann::json m = nlohmann::json::parse(fs::read_file(j.manifest));
    fs::write_file_atomic(j.manifest, image::jail_record_json(m, j.dir).dump(1) + "\n");
    // Stamped right after the copy: a file edited later invalidates the entry.
    for (const auto& st : cache::stamp_files(cache::host_sources(j.plan))) stamps.push_back(st);
    return j;
}

// A root other than / is seen through a view: the jails are traced, and the cache's stamps
// checked, against what the services will really have (a staging root with this host's site
// files over it).
// (`view` stays empty for the host's own /.)
void root_view_stage(const Request& r, const BuildRoot& root, std::optional<staging::RootView>& view) {
    if (root.dir.empty()) return;
    auto stage = log::stage("root view");
    view.emplace(root.dir, r.work, std::vector<std::filesystem::path>{r.cache_dir / "cds"});
    size_t copied = root.staged ? staging::copy_site(*view, r.templates) : 0;
    stage.detail(fmt::format("{}{}", root.dir.string(),
                             root.staged ? fmt::format(", with {} site files of this host over it", copied) : ""));
}

// Runs fn in the build's root (the view's, or the host's own /).
void in_root(std::optional<staging::RootView>& view, const std::function<void()>& fn) {
    if (view) view->inside(fn);
    else fn();
}

// The base layer from the cache, if an entry for `key` is still true of the files it copied.
std::optional<BaseLayer> cached_base(const Request& r, const std::string& key, const Newest& pre,
                                     std::optional<staging::RootView>& view) {
    auto stage = log::stage("base layer");
    auto restamp = [&](const std::vector<cache::FileStamp>& recorded) {
        std::vector<cache::FileStamp> now;
        in_root(view, [&] { now = cache::restamp(recorded); });
        return now;
    };
    std::string why;
    auto hit = cache::lookup(r.cache_dir, key, why, restamp);
    if (!hit) {
        stage.detail(why.empty() ? "not cached: tracing and packing" : "not cached (" + why + "): tracing and packing");
        return std::nullopt;
    }
    BaseLayer base;
    base.root_sqfs = hit->root_sqfs;
    base.root_sha256 = hit->root_sha256;
    base.root_bytes = std::filesystem::file_size(hit->root_sqfs);
    for (const auto& t : r.templates)
        if (hit->manifests.count(t.name)) base.manifests.emplace_back(t.name, hit->manifests.at(t.name).string());
    base.conf_text = hit->appliance_conf;
    base.epoch = base_epoch(r.given, pre, hit->stamps);
    base.cached = true;
    stage.detail(fmt::format("cached (jails and root.sqfs, key {}; --retrace traces again)", key.substr(0, 16)));
    return base;
}

// Stage 1: one jail per service, with each content PATH left empty as a mount point; traced in
// the build's root, or (translated) traced on this host and carried over into it. Adds the
// stamps of what the jails copied to `stamps`.
std::vector<jail::JailBuild> jails_stage(const BuildOptions& opt, const Request& r, std::optional<staging::RootView>& view,
                                         std::vector<cache::FileStamp>& stamps) {
    const auto& templates = r.templates;
    std::vector<std::optional<trace::TraceResult>> carried(templates.size());
    if (r.route == staging::TraceRoute::translated) {
        std::vector<std::vector<std::pair<std::string, std::string>>> binds;
        for (const auto& t : templates) binds.push_back(trace_binds(opt, r, t));
        std::vector<trace::TraceResult> traces = staging::translated_traces(*view, *r.tgt, templates, binds, r.work);
        for (size_t i = 0; i < traces.size(); ++i) carried[i] = std::move(traces[i]);
    }
    std::vector<jail::JailBuild> jails;
    in_root(view, [&] {
        for (size_t i = 0; i < templates.size(); ++i) jails.push_back(jail_service(opt, r, templates[i], std::move(carried[i]), stamps));
    });
    return jails;
}

// Stage 3: the read-only root (jails, init, appliance.conf, overlays), published to the base
// cache under `key`.
BaseLayer rootfs_stage(const BuildOptions& opt, const Request& r, const std::string& key, const Newest& pre,
                       const std::vector<jail::JailBuild>& jails, const std::vector<cache::FileStamp>& stamps) {
    const auto& templates = r.templates;
    auto stage = log::stage("root filesystem");
    BaseLayer base;
    rootfs::RootfsRequest rr;
    std::vector<const jail::JailPlan*> plans;
    for (size_t i = 0; i < templates.size(); ++i) {
        rr.jails.push_back({&templates[i], &jails[i].plan, jails[i].dir});
        plans.push_back(&jails[i].plan);
    }
    const appliance::Conf conf = appliance_conf_plan(opt, templates, plans, r.contents);
    rr.conf = conf;
    rr.init_binary = r.init;
    rr.e2fsck = r.e2fsck;
    rr.overlays = overlays_dir();
    rr.compression = opt.fast ? "zstd" : "xz";
    rr.block = r.tgt->squashfs_block;
    base.epoch = base_epoch(r.given, pre, stamps);
    rr.epoch = (time_t)base.epoch.time;
    rr.work = r.work;
    rr.log = r.work / "logs" / "30-rootfs.log";
    rootfs::RootfsResult root = rootfs::build_rootfs(rr);
    stage.detail(fmt::format("{:.1f} MB squashfs ({})", root.bytes / 1048576.0, rr.compression));
    std::map<std::string, std::filesystem::path> manifests;
    for (size_t i = 0; i < templates.size(); ++i) manifests[templates[i].name] = jails[i].manifest;
    cache::BaseEntry e = cache::publish(r.cache_dir, key, root.squashfs, manifests, stamps, appliance::format_conf(conf), opt.retrace);
    base.root_sqfs = e.root_sqfs;
    base.root_sha256 = e.root_sha256;
    base.root_bytes = std::filesystem::file_size(e.root_sqfs);
    base.conf_text = e.appliance_conf;
    for (const auto& t : templates) base.manifests.emplace_back(t.name, e.manifests.at(t.name).string());
    return base;
}

}  // namespace

BuildRoot choose_root(const BuildOptions& opt, const Request& r) {
    if (!opt.root.empty()) {
        const std::filesystem::path dir = std::filesystem::absolute(opt.root).lexically_normal();
        if (dir == "/") return {};
        return {dir, false};  // checked before any work (check_request)
    }
    const target::Target& tgt = *r.tgt;
    if (tgt.name == target::host_target().name) return {};
    const std::vector<std::string> packages = staging::staging_packages(r.templates, staging::host_owners(r.templates));
    return {staging::staging_root(tgt, packages, r.cache_dir, r.work / "logs" / "05-staging.log",
                                  staging::parse_root_maker(opt.staging_route, "--staging-route")),
            true};
}

// Stages 1 and 3 of a build: jails and the root squashfs, or both from the base cache.
BaseLayer build_base(const BuildOptions& opt, const Request& r, const BuildRoot& root, const Newest& pre) {
    const std::string rule = r.given ? "given " + std::to_string(*r.given) : "newest input, at least " + std::to_string(pre.time);
    const std::string key = cache::input_key(base_inputs(opt, r, root, rule));
    std::optional<staging::RootView> view;
    root_view_stage(r, root, view);
    if (opt.retrace) log::info("==> base layer: --retrace: tracing again, with the content in place");
    if (!opt.retrace)
        if (auto hit = cached_base(r, key, pre, view)) return *hit;
    std::vector<cache::FileStamp> stamps;
    const std::vector<jail::JailBuild> jails = jails_stage(opt, r, view, stamps);
    view.reset();
    return rootfs_stage(opt, r, key, pre, jails, stamps);
}

}  // namespace romimg::pipeline
