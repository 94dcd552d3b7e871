// The stage list. Each stage reads what the earlier ones returned and writes only under its
// own part of the work dir; this file is the table of contents.
#include "pipeline.h"
#include "plans.h"

#include <arpa/inet.h>
#include <elf.h>
#include <sys/stat.h>
#include <algorithm>
#include <map>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "appliance_conf.h"
#include "cache/base_cache.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/names.h"
#include "common/places.h"
#include "common/signals.h"
#include "common/strings.h"
#include "content/content.h"
#include "content/pack.h"
#include "image/image_info.h"
#include "image/manifest.h"
#include "initramfs/cpio.h"
#include "iso/iso.h"
#include "jail/stage.h"
#include "kernel/hardening.h"
#include "kernel/kernel.h"
#include "recipe/template.h"
#include "rootfs/rootfs.h"
#include "seccomp/filter.h"
#include "staging/root_view.h"
#include "staging/staging.h"
#include "target/target.h"
#include "workdir/workdir.h"

namespace romimg::pipeline {

std::string kernel_ip_argument(const std::string& net) {
    if (net == "dhcp") return "ip=dhcp";
    if (net.rfind("static:", 0) != 0)
        throw UsageError("--net takes dhcp or static:ADDR/PREFIX,GW[,DNS], got " + net);
    std::vector<std::string> parts = split(net.substr(7), ',');
    auto slash = parts[0].find('/');
    if (parts.size() < 2 || parts.size() > 3 || slash == std::string::npos)
        throw UsageError("--net static needs ADDR/PREFIX,GW[,DNS], got " + net);
    std::string addr = parts[0].substr(0, slash);
    int prefix = atoi(parts[0].c_str() + slash + 1);
    struct in_addr a, g, d;
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1 || inet_pton(AF_INET, parts[1].c_str(), &g) != 1 || prefix < 1 ||
        prefix > 32 || (parts.size() == 3 && inet_pton(AF_INET, parts[2].c_str(), &d) != 1))
        throw UsageError("--net static needs IPv4 ADDR/PREFIX,GW[,DNS], got " + net);
    uint32_t mask = prefix == 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
    struct in_addr m;
    m.s_addr = htonl(mask);
    char mbuf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &m, mbuf, sizeof mbuf);
    // ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>
    return fmt::format("ip={}::{}:{}:::off{}", addr, parts[1], mbuf, parts.size() == 3 ? ":" + parts[2] : "");
}

std::string kernel_cmdline(const BuildOptions& opt, const std::string& kernel_arch) {
    if (opt.romlock_mode != "enforce" && opt.romlock_mode != "permissive")
        throw UsageError("--romlock-mode is enforce or permissive, got " + opt.romlock_mode);
    // The hardening parameters (kernel-config/hardening.tsv) come last; `romimg verify` checks
    // that an image carries them.
    std::string cmdline = fmt::format("console=tty0 console=ttyS0,115200 romimg.label={} romlock.mode={} {} panic=10",
                                      opt.label, opt.romlock_mode, kernel_ip_argument(opt.net));
    if (opt.hardening_cmdline) cmdline += fmt::format(" {}", fmt::join(kernel::hardening_cmdline(kernel_arch), " "));
    return cmdline;
}

namespace {

std::filesystem::path kernel_config_dir(const BuildOptions& opt) {
    if (!opt.kernel_config_dir.empty()) return std::filesystem::absolute(opt.kernel_config_dir);
    return std::filesystem::path(ROMIMG_SOURCE_DIR) / "kernel-config";
}

// The target's static romimg-init (built beside the host's); $ROMIMG_INIT (amd64) or
// $ROMIMG_INIT_I386 point elsewhere.
std::filesystem::path init_binary(const target::Target& t) {
    std::string env = "ROMIMG_INIT";
    if (t.name != "amd64")
        for (char c : "_" + t.name) env += (char)toupper((unsigned char)c);
    if (const char* e = getenv(env.c_str()); e && *e) return e;
    return std::filesystem::path(ROMIMG_INIT_BINARY).parent_path() / t.init;
}

}  // namespace

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
    for (const auto& [service, mode] : c.seccomp) opt.seccomp[service] = mode;
}

std::optional<std::string> seccomp_override(const BuildOptions& opt, const std::string& service) {
    if (auto it = opt.seccomp.find(service); it != opt.seccomp.end()) return it->second;
    if (auto it = opt.seccomp.find("*"); it != opt.seccomp.end()) return it->second;
    return std::nullopt;
}

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

namespace {

// The newest of some inputs, and which one it was (for the build's log line).
struct Newest {
    int64_t time = 0;
    std::string which;
    void take(int64_t t, const std::string& w) {
        if (t > time || which.empty()) {
            time = std::max(time, t);
            which = w;
        }
    }
    void take(const std::vector<std::filesystem::path>& paths) {
        std::filesystem::path w;
        int64_t t = newest_input_time(paths, &w);
        if (!w.empty()) take(t, w.string());
    }
};

// Everything a build is made from, checked before minutes of work: every usage error a build
// can find without tracing is found here.
struct Request {
    const target::Target* tgt = nullptr;
    std::string cmdline;
    iso::Media media = iso::Media::any;
    std::optional<int64_t> given;  // SOURCE_DATE_EPOCH, if given
    std::filesystem::path init;
    std::vector<recipe::ServiceTemplate> templates;
    std::vector<content::ContentSpec> contents;
    std::filesystem::path work, cache_dir;
    // For another arch: how its services are traced here, and why not natively.
    staging::TraceRoute route = staging::TraceRoute::native;
    std::string route_why;
};

// For another arch: which way its services are traced, and why.
void log_route(const Request& r) {
    if (r.tgt->name == target::host_target().name) return;
    if (r.route == staging::TraceRoute::native)
        log::info("==> trace: native: the {} programs run on this host (IA32 emulation) and are traced as they are",
                  r.tgt->name);
    else
        log::info("==> trace: translated: {}; each service is traced as this host's {} build and what it used is "
                  "carried over into the {} root by path and package (work/logs/translate-*.txt)",
                  r.route_why, target::host_target().name, r.tgt->name);
}

// The root the services are traced and jailed in.
struct BuildRoot {
    std::filesystem::path dir;  // "" = the build host's own /
    bool staged = false;        // a staging root romimg made: this host's [site] files go over it
};

// Every regular file and symlink under `p` (or `p` itself when it is not a directory).
std::vector<std::filesystem::path> files_under(const std::filesystem::path& p) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    if (!std::filesystem::is_directory(p, ec)) return {p};
    for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        out.push_back(it->path());
    return out;
}

// SOURCE_DATE_EPOCH given (--source-date-epoch, romimg.toml, or the environment), if it was.
std::optional<int64_t> given_epoch(const BuildOptions& opt) {
    const char* env = getenv("SOURCE_DATE_EPOCH");
    if (!opt.source_date_epoch && !(env && *env)) return std::nullopt;
    return choose_source_date_epoch(opt.source_date_epoch, env, 0);
}


const recipe::ServiceTemplate& template_of(const std::vector<recipe::ServiceTemplate>& ts, const std::string& name) {
    for (const auto& t : ts)
        if (t.name == name) return t;
    throw Error("no template loaded for " + name);
}

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
    in["overlays"] = cache::tree_digest(std::filesystem::path(ROMIMG_SOURCE_DIR) / "overlays");
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
    in["option:hostname"] = opt.hostname;
    in["option:log-to"] = opt.log_to;
    in["option:log-console"] = opt.log_console ? "yes" : "no";
    in["option:debug-shell"] = opt.debug_shell ? "yes" : "no";
    in["option:exec-lock"] = opt.exec_lock ? "yes" : "no";
    for (const auto& t : templates) in["option:seccomp:" + t.name] = seccomp_override(opt, t.name).value_or("template");
    in["option:epoch"] = epoch_rule;  // a given value, or "newest input" and the pre-trace inputs' newest
    return in;
}

// The appliance's view of a service's content layers: which image over which directory.
std::vector<appliance::Layer> layers_of(const std::vector<content::ContentSpec>& contents, const std::string& service) {
    std::vector<appliance::Layer> out;
    int n = 0;
    for (const auto& c : contents)
        if (c.service == service) out.push_back({"/run/medium/" + content::layer_iso_path(service, ++n), content::layer_mount_point(c)});
    return out;
}

struct BaseLayer {
    std::filesystem::path root_sqfs;
    std::string root_sha256;
    uint64_t root_bytes = 0;
    std::vector<std::pair<std::string, std::string>> manifests;  // service → its manifest (with sha256s)
    std::string conf_text;  // /etc/romimg/appliance.conf in the root
    Newest epoch;           // what root.sqfs is stamped with, and why
    bool cached = false;
};

// The base layer's SOURCE_DATE_EPOCH: the given one, else the newest of the inputs known before
// tracing (`pre`) and the host files the jails copied (their stamps: the same set whether the
// base is built now or taken from the cache, so both give the same bytes).
Newest base_epoch(const std::optional<int64_t>& given, const Newest& pre, const std::vector<cache::FileStamp>& stamps) {
    if (given) return {*given, "given"};
    Newest n = pre;
    for (const auto& st : stamps)
        if (st.type == 'f') n.take(st.mtime_ns / 1000000000, st.path);
    return n;
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
    for (const auto& st : cache::stamp_globs(t.include)) stamps.push_back(st);
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
    rr.overlays = std::filesystem::path(ROMIMG_SOURCE_DIR) / "overlays";
    rr.compression = opt.fast ? "zstd" : "xz";
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

// The /romimg/ files (ISO path → contents): image.json, kernel.json, the romlock policy,
// appliance.conf and one manifest per jail (with each file's sha256).
std::vector<std::pair<std::string, std::string>> image_description(
    const image::ImageInfo& info, const kernel::KernelResult& kernel, const std::string& conf_text,
    const std::vector<std::pair<std::string, std::string>>& manifests) {
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back(image::kInfoPath, image::to_json(info).dump(2) + "\n");
    image::KernelInfo k;
    k.version = image::bzimage_version(fs::read_file(kernel.bzimage).substr(0, 65536));
    k.config_sha256 = fs::sha256_file(kernel.config);
    k.cache_key = kernel.key;
    k.source = kernel.source_version;
    k.compiler = kernel.compiler;
    out.emplace_back(image::kKernelInfoPath, image::to_json(k).dump(2) + "\n");
    appliance::Conf conf;
    std::string error;
    if (!appliance::parse_conf(conf_text, conf, error))
        throw Error("internal: the base layer's appliance.conf does not parse: " + error);
    std::vector<std::string> lines;
    if (!appliance::romlock_policy(conf, lines, error)) throw Error(error);
    std::string policy;
    for (const auto& line : lines) policy += line + "\n";
    out.emplace_back(image::kPolicyPath, policy);
    out.emplace_back(image::kConfPath, conf_text);
    for (const auto& [service, path] : manifests)
        out.emplace_back(std::string(image::kJailsDir) + service + ".json", fs::read_file(path));
    return out;
}

// The ISO's inputs, and the stat of the ISO last made from them: equal means nothing to do.
std::string iso_stamp(const std::string& inputs_key, const std::filesystem::path& iso) {
    struct stat st;
    if (stat(iso.c_str(), &st) != 0) return "";
    return fmt::format("{}\n{} {} {} {}.{}\n", inputs_key, st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

// The output and the work dir, before any work: an ISO that cannot be written must not cost a
// build, and romimg replaces subdirectories of its work dir, so that must be its own.
void check_places(const BuildOptions& opt) {
    places::check_output_file(opt.output, "-o");
    if (std::filesystem::exists(opt.output)) {
        try {
            image::iso_volume_label(opt.output);
        } catch (const Error&) {
            throw UsageError(fmt::format("-o {} exists and is not an ISO image: romimg replaces only ISOs; choose another "
                                         "-o, or remove the file",
                                         opt.output.string()));
        }
    }
    if (std::string why = places::dangerous_dir(opt.work, workdir::protected_dirs()); !why.empty())
        throw UsageError(fmt::format("--work {}: refusing, it {}; give a new or empty directory of its own",
                                     opt.work.string(), why));
}

// The root the services come from: --root, else / for the build host's own arch, else a
// staging root of the target's arch (made and cached here).
BuildRoot choose_root(const BuildOptions& opt, const target::Target& tgt, const std::vector<recipe::ServiceTemplate>& templates,
                      const std::filesystem::path& cache_dir, const std::filesystem::path& work) {
    if (!opt.root.empty()) {
        const std::filesystem::path dir = std::filesystem::absolute(opt.root).lexically_normal();
        if (dir == "/") return {};
        return {dir, false};  // checked before any work (build_appliance)
    }
    if (tgt.name == target::host_target().name) return {};
    const std::vector<std::string> packages = staging::staging_packages(templates, staging::host_owners(templates));
    return {staging::staging_root(tgt, packages, cache_dir, work / "logs" / "05-staging.log",
                                  staging::parse_root_maker(opt.staging_route, "--staging-route")),
            true};
}

// --staging-route is a valid choice, and one for a build that makes a staging root.
void check_staging_route(const BuildOptions& opt, const target::Target& tgt) {
    if (!staging::parse_root_maker(opt.staging_route, "--staging-route")) return;
    if (tgt.name == target::host_target().name)
        throw UsageError(fmt::format("--staging-route {}: the image is for this host's own arch ({}), built from its own "
                                     "root; no staging root is made",
                                     opt.staging_route, tgt.name));
    if (!opt.root.empty())
        throw UsageError(fmt::format("--staging-route {}: --root {} is the root; no staging root is made (leave one of "
                                     "them out)",
                                     opt.staging_route, opt.root.string()));
}

// The target and the options that depend on it (route, debug shell, staging route, --root).
const target::Target& check_target(const BuildOptions& opt, Request& r) {
    const target::Target& tgt = opt.arch.empty() ? target::host_target() : target::target_named(opt.arch);
    r.route = staging::choose_route(tgt, staging::parse_route(opt.trace_route, "--trace-route"), r.route_why);
    if (opt.debug_shell && tgt.name != target::host_target().name)
        throw UsageError(fmt::format("--debug-shell takes this host's busybox, which an {} image cannot run: build the "
                                     "debug image for {}, or leave --debug-shell out",
                                     tgt.name, target::host_target().name));
    check_staging_route(opt, tgt);
    if (!opt.root.empty()) staging::check_root(opt.root, tgt, "--root");
    return tgt;
}

// The services named once each, and every --seccomp override for one of them.
void check_services(const BuildOptions& opt) {
    if (opt.services.empty()) throw UsageError("romimg build needs at least one service");
    for (size_t i = 0; i < opt.services.size(); ++i)
        for (size_t k = 0; k < i; ++k)
            if (opt.services[k] == opt.services[i])
                throw UsageError(fmt::format("service {} is named twice: each service is built once, name it once",
                                             names::printable(opt.services[i])));
    for (const auto& [service, mode] : opt.seccomp) {
        seccomp::parse_mode(mode, "--seccomp " + names::printable(service));
        if (service != "*" && std::find(opt.services.begin(), opt.services.end(), service) == opt.services.end())
            throw UsageError(fmt::format("--seccomp {}={}: {} is not one of the services being built ({})",
                                         names::printable(service), mode, names::printable(service),
                                         fmt::join(opt.services, ", ")));
    }
}

// Each service's template, loaded and checked; two names for one service are refused.
std::vector<recipe::ServiceTemplate> load_templates(const BuildOptions& opt) {
    std::vector<recipe::ServiceTemplate> templates;
    for (const auto& s : opt.services) {
        templates.push_back(recipe::load_template(s));
        for (size_t k = 0; k + 1 < templates.size(); ++k)
            if (templates[k].name == templates.back().name)
                throw UsageError(fmt::format("{} and {} are both the service {}: name each service once", opt.services[k], s,
                                             templates.back().name));
    }
    return templates;
}

// The --content specs, each checked against its service's template and its source (and, with
// --retrace, against this host's directories), none of them inside the work dir.
std::vector<content::ContentSpec> check_contents(const BuildOptions& opt, const std::vector<recipe::ServiceTemplate>& templates,
                                                 const std::filesystem::path& work) {
    std::vector<content::ContentSpec> contents;
    for (const auto& a : opt.content) contents.push_back(content::parse_content_arg(a));
    content::check_specs(contents, opt.services);
    for (const auto& c : contents) {
        content::check_against_template(c, template_of(templates, c.service));
        content::check_source(c);
        if (opt.retrace) {
            // The trace binds the content over PATH in its overlay view of the host; a symlink on
            // the way there would be followed outside the sandbox.
            std::string cur;
            for (const auto& part : split(c.path, '/', true)) {
                cur += "/" + part;
                struct stat st;
                if (lstat(cur.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
                    content::reject(c, "--retrace: " + cur + " is not a directory on this host",
                                    "give the PATH the service really uses, without symlinks");
            }
        }
    }
    for (const auto& c : contents) content::check_source_outside(c, work);
    return contents;
}

Request check_request(const BuildOptions& opt) {
    Request r;
    const target::Target& tgt = check_target(opt, r);
    r.tgt = &tgt;
    r.cmdline = kernel_cmdline(opt, tgt.kernel_arch);
    iso::validate_label(opt.label);
    r.media = iso::parse_media(opt.media);
    if (!opt.log_to.empty() && !recipe::log_to_problem(opt.log_to).empty())
        throw UsageError("--log-to " + recipe::log_to_problem(opt.log_to));
    if (!recipe::hostname_problem(opt.hostname).empty())
        throw UsageError("--hostname " + recipe::hostname_problem(opt.hostname));
    check_services(opt);
    check_places(opt);
    r.given = given_epoch(opt);  // a bad value is refused now
    r.init = init_binary(tgt);
    if (!std::filesystem::exists(r.init))
        throw Error(fmt::format("{} is not built ({}): run `make`{}", tgt.init, r.init.string(),
                                tgt.elf_class == ELFCLASS32 ? " (the 32-bit init needs g++-multilib: `make deps`)" : ""));
    r.templates = load_templates(opt);
    r.work = std::filesystem::absolute(opt.work);
    r.contents = check_contents(opt, r.templates, r.work);
    r.cache_dir = kernel::resolve_cache_dir(std::nullopt, getenv("ROMIMG_CACHE"), getenv("HOME"));
    workdir::check_cache(r.cache_dir, getenv("ROMIMG_CACHE") && *getenv("ROMIMG_CACHE") ? "$ROMIMG_CACHE" : "$HOME/.cache/romimg");
    workdir::claim(r.work);
    return r;
}

// SOURCE_DATE_EPOCH (docs/release.md): the given one, else the newest input's mtime, per layer:
// the base layer's (templates, romimg-init, overlays/, the host files the jails copy), each
// content layer's (its source), and the image's (all of those and the kernel's inputs), so that
// a content release does not change the base layer. This is the base layer's part known before
// tracing.
Newest pre_trace_epoch(const Request& r) {
    Newest pre;
    std::vector<std::filesystem::path> in;
    for (const auto& t : r.templates) in.push_back(t.file);
    in.push_back(r.init);
    for (const auto& f : files_under(std::filesystem::path(ROMIMG_SOURCE_DIR) / "overlays")) in.push_back(f);
    pre.take(in);
    return pre;
}

// The content layers (packing is quick, and --retrace traces with them in place), each with its
// own epoch.
struct Contents {
    std::vector<content::PackedLayer> layers;
    std::vector<Newest> epochs;
};

Contents pack_contents(const BuildOptions& opt, const Request& r) {
    const std::string compression = opt.fast ? "zstd" : "xz";
    const auto& given = r.given;
    const auto& work = r.work;
    const auto& cache_dir = r.cache_dir;
    Contents out;
    auto& layers = out.layers;
    auto& content_epochs = out.epochs;
    std::map<std::string, int> per_service;
    for (const auto& c : r.contents) {
        const int n = ++per_service[c.service];
        auto stage = log::stage(fmt::format("content {}:{}", c.service, c.path));
        content::PackRequest pr;
        pr.compression = compression;
        Newest own;
        if (given) own.take(*given, "given");
        else own.take(files_under(c.source));
        pr.epoch = (time_t)own.time;
        content_epochs.push_back(own);
        pr.work = work;
        pr.cache_dir = cache_dir;
        pr.log = work / "logs" / "25-content.log";
        pr.keep_tree = opt.retrace;
        pr.allow_private = opt.content_allow_private;
        layers.push_back(content::pack_content(c, fmt::format("{}-{}", c.service, n), pr));
        const auto& l = layers.back();
        stage.detail(fmt::format("{} files, {:.1f} MB layer, {}", l.files, l.bytes / 1048576.0, l.cached ? "cached" : "packed"));
    }
    return out;
}

// The target's kernel, from the cache when its inputs did not change.
kernel::KernelResult kernel_stage(const BuildOptions& opt, const Request& r) {
    auto stage = log::stage("kernel");
    kernel::KernelOptions ko;
    ko.config_dir = kernel_config_dir(opt);
    ko.arch = r.tgt->kernel_arch;
    ko.cache_dir = r.cache_dir;
    ko.jobs = opt.jobs > 0 ? opt.jobs : (int)std::max(1u, std::thread::hardware_concurrency());
    kernel::KernelResult kernel = kernel::build_kernel(ko);
    stage.detail(kernel.from_cache ? "cached " + kernel.bzimage.string() : "built " + kernel.bzimage.string());
    return kernel;
}

// The image's epoch (initramfs, ISO, /romimg/): the newest of every layer's and the kernel's.
time_t image_epoch(const BuildOptions& opt, const Request& r, const BaseLayer& base, const Contents& contents) {
    Newest e = base.epoch;
    for (const auto& c : contents.epochs) e.take(c.time, c.which);
    if (!r.given) {
        std::vector<std::filesystem::path> kin = files_under(kernel_config_dir(opt));
        kin.push_back(kernel::KernelOptions{}.source_tarball);
        e.take(kin);
    }
    log::info("==> SOURCE_DATE_EPOCH {} ({})", e.time, r.given ? "given" : "the newest input: " + e.which);
    return (time_t)e.time;
}

// The initramfs: the target's romimg-init alone, as /init. (With every layer cached, nothing
// before this has needed the work dir.)
std::filesystem::path initramfs_stage(const Request& r, time_t epoch) {
    std::filesystem::create_directories(r.work);
    std::filesystem::path initrd = r.work / "initramfs.cpio.gz";
    auto stage = log::stage("initramfs");
    namespace ir = romimg::initramfs;
    std::vector<ir::Entry> entries = {ir::file_from_host("/init", r.init, 0755), ir::directory("/dev"), ir::directory("/proc"),
                                      ir::directory("/sys"), ir::char_device("/dev/console", 5, 1, 0600)};
    ir::write_archive(ir::plan_archive(entries), initrd, epoch, ir::Compression::Gzip);
    stage.detail(fmt::format("{:.1f} MB", std::filesystem::file_size(initrd) / 1048576.0));
    return initrd;
}

// The hybrid ISO (BIOS, and UEFI where the target has it), unless the one at the output was
// made from exactly these inputs. Fills result.iso, bytes, iso_unchanged.
void iso_stage(const BuildOptions& opt, const Request& r, const BaseLayer& base, const Contents& packed,
               const kernel::KernelResult& kernel, const std::filesystem::path& initrd, time_t epoch, BuildResult& result) {
    const target::Target& tgt = *r.tgt;
    const std::string& cmdline = r.cmdline;
    const auto& templates = r.templates;
    const auto& contents = r.contents;
    const auto& layers = packed.layers;
    const auto& work = r.work;
    const iso::Media media = r.media;
    {
        auto stage = log::stage("iso");
        iso::IsoRequest ir;
        ir.kernel = kernel.bzimage;
        ir.initramfs = initrd;
        // /romimg/image.json: what the image is, for verify, manifest and diff.
        std::vector<image::LayerInfo> packed_layers;
        for (const auto& l : layers) packed_layers.push_back({"", l.sha256, l.bytes, ""});
        const image::ImageInfo info = image_info_plan(opt, tgt, r.route, cmdline, epoch, templates,
                                                      {"live/root.sqfs", base.root_sha256, base.root_bytes, "/"}, contents,
                                                      packed_layers);
        ir.payload = {{base.root_sqfs, "live/root.sqfs"}};
        for (size_t i = 0; i < contents.size(); ++i) ir.payload.push_back({layers[i].squashfs, info.layers[i + 1].iso_path});
        std::string described;  // every /romimg/ file, for the ISO's inputs key
        for (const auto& [iso_path, text] : image_description(info, kernel, base.conf_text, base.manifests)) {
            std::filesystem::path file = work / "image" / iso_path;
            std::filesystem::create_directories(file.parent_path());
            fs::write_file_atomic(file, text);
            ir.payload.push_back({file, iso_path});
            described += iso_path + "\n" + fs::sha256_hex(text) + "\n";
        }
        ir.label = opt.label;
        ir.cmdline = cmdline;
        ir.uefi = tgt.uefi;
        ir.source_date_epoch = epoch;
        ir.media = media;
        ir.output = std::filesystem::absolute(opt.output);
        ir.work_dir = work;
        ir.log = work / "logs" / "50-iso.log";
        // Everything else the ISO is made of (the payload is described by image.json's hashes).
        const std::string inputs_key = fs::sha256_hex(fmt::format(
            "romimg iso v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n", fs::sha256_file("/proc/self/exe"), fs::sha256_file(ir.kernel),
            fs::sha256_file(ir.initramfs), described, opt.label, cmdline, opt.media, (long long)epoch, ir.uefi ? "uefi" : "bios"));
        const std::filesystem::path stamp_file = work / "iso.stamp";
        const std::string before = std::filesystem::exists(stamp_file) ? fs::read_file(stamp_file) : "";
        if (!before.empty() && before == iso_stamp(inputs_key, ir.output)) {
            result.iso = ir.output;
            result.bytes = std::filesystem::file_size(ir.output);
            result.iso_unchanged = true;
            stage.detail(fmt::format("unchanged: {} was made from the same inputs", ir.output.string()));
        } else {
            std::filesystem::remove(stamp_file);
            iso::IsoResult res = iso::build_iso(ir);
            result.iso = res.iso;
            result.bytes = res.bytes;
            fs::write_file_atomic(stamp_file, iso_stamp(inputs_key, res.iso));
            stage.detail(fmt::format("{} ({:.1f} MB)", res.iso.string(), res.bytes / 1048576.0));
        }
    }
}

}  // namespace

appliance::Conf appliance_conf_plan(const BuildOptions& opt, const std::vector<recipe::ServiceTemplate>& templates,
                                    const std::vector<const jail::JailPlan*>& plans,
                                    const std::vector<content::ContentSpec>& contents) {
    appliance::Conf conf;
    conf.hostname = opt.hostname;
    conf.log_to = opt.log_to;
    conf.log_console = opt.log_console;
    conf.debug_shell = opt.debug_shell;
    for (size_t i = 0; i < templates.size(); ++i) {
        conf.services.push_back(rootfs::service_entry(templates[i], *plans.at(i), opt.exec_lock));
        conf.services.back().layers = layers_of(contents, templates[i].name);
    }
    return conf;
}

image::ImageInfo image_info_plan(const BuildOptions& opt, const target::Target& tgt, staging::TraceRoute route,
                                 const std::string& cmdline, time_t epoch, const std::vector<recipe::ServiceTemplate>& templates,
                                 const image::LayerInfo& root, const std::vector<content::ContentSpec>& contents,
                                 const std::vector<image::LayerInfo>& packed) {
    if (packed.size() != contents.size()) throw Error("internal: a content layer without its packed squashfs");
    image::ImageInfo info;
    info.label = opt.label;
    info.cmdline = cmdline;
    info.source_date_epoch = epoch;
    info.romlock_mode = opt.romlock_mode;
    info.arch = tgt.name;
    info.traced = route == staging::TraceRoute::translated ? std::string("translated from ") + target::host_target().name
                                                           : std::string("native");
    for (const auto& t : templates) {
        image::ServiceInfo si{t.name, t.ports, t.ready, t.trace_probes, opt.exec_lock && t.exec_lock};
        si.probes.insert(si.probes.end(), t.verify_probes.begin(), t.verify_probes.end());
        info.services.push_back(si);
    }
    info.layers.push_back(root);
    std::map<std::string, int> per_service;
    for (size_t i = 0; i < contents.size(); ++i)
        info.layers.push_back({content::layer_iso_path(contents[i].service, ++per_service[contents[i].service]),
                               packed[i].sha256, packed[i].bytes, content::layer_mount_point(contents[i])});
    return info;
}

BuildResult build_appliance(const BuildOptions& opt) {
    // From here Ctrl-C/SIGTERM stop the running tool and unwind: nothing is published after one.
    signals::install_interrupt_handlers();
    const Request r = check_request(opt);
    const Newest pre = pre_trace_epoch(r);
    BuildResult result;
    for (const auto& t : r.templates)
        for (int p : t.ports) result.ports.push_back(fmt::format("{}:{}", t.name, p));

    // Content layers first: packing is quick, and --retrace traces with them in place.
    const Contents contents = pack_contents(opt, r);
    // 0. The root the services are traced in: /, --root, or a staging root of the target's arch;
    // and how: natively, or as this host's own services translated into that root.
    const BuildRoot root = choose_root(opt, *r.tgt, r.templates, r.cache_dir, r.work);
    log_route(r);
    // 1 + 3. Jails and the read-only root, from the base cache when nothing they depend on changed.
    const BaseLayer base = build_base(opt, r, root, pre);
    for (const auto& [name, path] : base.manifests) result.manifests.push_back(path);
    result.base_cached = base.cached;
    result.root_sha256 = base.root_sha256;
    // 2. The kernel, from the cache when its inputs did not change.
    const kernel::KernelResult kernel = kernel_stage(opt, r);
    const time_t epoch = image_epoch(opt, r, base, contents);
    // 4. The initramfs.  5. The hybrid ISO.
    const std::filesystem::path initrd = initramfs_stage(r, epoch);
    iso_stage(opt, r, base, contents, kernel, initrd, epoch, result);
    return result;
}

}  // namespace romimg::pipeline
