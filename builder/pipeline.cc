// The stage list. Each stage reads what the earlier ones returned and writes only under its
// own part of the work dir; this file is the table of contents.
#include "pipeline.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "appliance_conf.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "image/image_info.h"
#include "image/manifest.h"
#include "initramfs/cpio.h"
#include "iso/iso.h"
#include "jail/stage.h"
#include "kernel/kernel.h"
#include "recipe/template.h"
#include "rootfs/rootfs.h"

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

std::string kernel_cmdline(const BuildOptions& opt) {
    if (opt.romlock_mode != "enforce" && opt.romlock_mode != "permissive")
        throw UsageError("--romlock-mode is enforce or permissive, got " + opt.romlock_mode);
    return fmt::format("console=tty0 console=ttyS0,115200 romimg.label={} romlock.mode={} {} panic=10",
                       opt.label, opt.romlock_mode, kernel_ip_argument(opt.net));
}

namespace {

std::filesystem::path init_binary() {
    if (const char* env = getenv("ROMIMG_INIT")) return env;
    return ROMIMG_INIT_BINARY;
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
    if (c.output) opt.output = *c.output;
    if (c.work) opt.work = *c.work;
    if (c.source_date_epoch) opt.source_date_epoch = *c.source_date_epoch;
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
        return *explicit_value;
    }
    if (env && *env) {
        char* end = nullptr;
        errno = 0;
        long long v = strtoll(env, &end, 10);
        if (*end || errno || v < 0)
            throw UsageError(fmt::format("SOURCE_DATE_EPOCH must be seconds since 1970, got '{}' (unset it to use the "
                                         "newest input's time)",
                                         env));
        return v;
    }
    return newest;
}

namespace {

// The inputs whose newest mtime is the default SOURCE_DATE_EPOCH: the templates, every host
// file the jails copy, romimg-init, overlays/ and the kernel's inputs (kernel-config/ and the
// source tarball). Not directories, not the build host's clock.
std::vector<std::filesystem::path> image_inputs(const std::vector<recipe::ServiceTemplate>& templates,
                                                const std::vector<jail::JailBuild>& jails,
                                                const std::filesystem::path& init,
                                                const std::filesystem::path& source_dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& t : templates) out.push_back(t.file);
    for (const auto& j : jails)
        for (const auto& n : j.plan.nodes)
            if (n.kind == jail::JailNode::file) out.push_back(n.source);
    out.push_back(init);
    for (const char* dir : {"overlays", "kernel-config"}) {
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(source_dir / dir, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
            out.push_back(it->path());
    }
    out.push_back(kernel::KernelOptions{}.source_tarball);
    return out;
}

appliance::Conf appliance_conf(const BuildOptions& opt, const std::vector<recipe::ServiceTemplate>& templates,
                               const std::vector<jail::JailBuild>& jails) {
    appliance::Conf conf;
    conf.hostname = opt.hostname;
    conf.log_to = opt.log_to;
    conf.log_console = opt.log_console;
    conf.debug_shell = opt.debug_shell;
    for (size_t i = 0; i < templates.size(); ++i)
        conf.services.push_back(rootfs::service_entry(templates[i], jails[i].plan, opt.exec_lock));
    return conf;
}

// The /romimg/ files (ISO path → contents): image.json, kernel.json, the romlock policy,
// appliance.conf and one manifest per jail, each file's sha256 read from the applied jail.
std::vector<std::pair<std::string, std::string>> image_description(const image::ImageInfo& info,
                                                                   const kernel::KernelResult& kernel,
                                                                   const appliance::Conf& conf,
                                                                   const std::vector<jail::JailBuild>& jails) {
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back(image::kInfoPath, image::to_json(info).dump(2) + "\n");
    image::KernelInfo k;
    k.version = image::bzimage_version(fs::read_file(kernel.bzimage).substr(0, 65536));
    k.config_sha256 = fs::sha256_file(kernel.config);
    k.cache_key = kernel.key;
    k.source = kernel.source_version;
    k.compiler = kernel.compiler;
    out.emplace_back(image::kKernelInfoPath, image::to_json(k).dump(2) + "\n");
    std::string policy;
    for (const auto& line : appliance::romlock_policy(conf)) policy += line + "\n";
    out.emplace_back(image::kPolicyPath, policy);
    out.emplace_back(image::kConfPath, appliance::format_conf(conf));
    for (const auto& j : jails) {
        nlohmann::json m = nlohmann::json::parse(fs::read_file(j.manifest));
        out.emplace_back(std::string(image::kJailsDir) + j.plan.service + ".json",
                         image::jail_record_json(m, j.dir).dump(1) + "\n");
    }
    return out;
}

}  // namespace

BuildResult build_appliance(const BuildOptions& opt) {
    // Check everything that can be checked before minutes of work.
    const std::string cmdline = kernel_cmdline(opt);
    iso::validate_label(opt.label);
    iso::Media media = iso::parse_media(opt.media);
    if (!opt.log_to.empty() && opt.log_to.rfind("udp://", 0) != 0)
        throw UsageError("--log-to takes udp://ADDRESS:PORT, got " + opt.log_to);
    if (opt.services.empty()) throw UsageError("romimg build needs at least one service");
    choose_source_date_epoch(opt.source_date_epoch, getenv("SOURCE_DATE_EPOCH"), 0);  // a bad value, now
    // Content layers are packed by a stage that is not on this branch yet: refuse rather than
    // build an image without the content asked for. (Remove when the content stage joins.)
    if (!opt.content.empty())
        throw UsageError("content layers (" + opt.content.front() +
                         ") are not supported by this romimg yet: remove [[content]] from romimg.toml");
    std::filesystem::path init = init_binary();
    if (!std::filesystem::exists(init)) throw Error("romimg-init is not built (" + init.string() + "): run `make`");
    std::vector<recipe::ServiceTemplate> templates;
    for (const auto& s : opt.services) templates.push_back(recipe::load_template(s));
    const std::filesystem::path work = std::filesystem::absolute(opt.work);
    BuildResult result;

    // 1. One jail per service.
    std::vector<jail::JailBuild> jails;
    for (const auto& t : templates) {
        jails.push_back(jail::build_jail(t, work / "jails" / t.name, work));
        result.manifests.push_back(jails.back().manifest.string());
        for (int p : t.ports) result.ports.push_back(fmt::format("{}:{}", t.name, p));
    }

    // 2. The kernel, from the cache when its inputs did not change.
    kernel::KernelResult kernel;
    {
        auto stage = log::stage("kernel");
        kernel::KernelOptions ko;
        ko.config_dir = std::filesystem::path(ROMIMG_SOURCE_DIR) / "kernel-config";
        ko.cache_dir = kernel::resolve_cache_dir(std::nullopt, getenv("ROMIMG_CACHE"), getenv("HOME"));
        ko.jobs = opt.jobs > 0 ? opt.jobs : (int)std::max(1u, std::thread::hardware_concurrency());
        kernel = kernel::build_kernel(ko);
        stage.detail(kernel.from_cache ? "cached " + kernel.bzimage.string() : "built " + kernel.bzimage.string());
    }

    // Every date in the image is this one: given, or the newest input's.
    std::filesystem::path newest;
    const int64_t newest_time =
        newest_input_time(image_inputs(templates, jails, init, std::filesystem::path(ROMIMG_SOURCE_DIR)), &newest);
    const char* env_epoch = getenv("SOURCE_DATE_EPOCH");
    const time_t epoch = (time_t)choose_source_date_epoch(opt.source_date_epoch, env_epoch, newest_time);
    if (!opt.source_date_epoch && !(env_epoch && *env_epoch))
        log::info("SOURCE_DATE_EPOCH {} (the newest input, {})", (int64_t)epoch, newest.string());
    else
        log::info("SOURCE_DATE_EPOCH {} (given)", (int64_t)epoch);
    const appliance::Conf conf = appliance_conf(opt, templates, jails);

    // 3. The read-only root: jails, init, appliance.conf, overlays.
    rootfs::RootfsResult root;
    {
        auto stage = log::stage("root filesystem");
        rootfs::RootfsRequest rr;
        for (size_t i = 0; i < templates.size(); ++i) rr.jails.push_back({&templates[i], &jails[i].plan, jails[i].dir});
        rr.conf = conf;
        rr.init_binary = init;
        rr.overlays = std::filesystem::path(ROMIMG_SOURCE_DIR) / "overlays";
        rr.compression = opt.fast ? "zstd" : "xz";
        rr.epoch = epoch;
        rr.work = work;
        rr.log = work / "logs" / "30-rootfs.log";
        root = rootfs::build_rootfs(rr);
        stage.detail(fmt::format("{:.1f} MB squashfs ({})", root.bytes / 1048576.0, rr.compression));
    }

    // 4. The initramfs: romimg-init alone, as /init.
    std::filesystem::path initrd = work / "initramfs.cpio.gz";
    {
        auto stage = log::stage("initramfs");
        namespace ir = romimg::initramfs;
        std::vector<ir::Entry> entries = {ir::file_from_host("/init", init, 0755), ir::directory("/dev"),
                                          ir::directory("/proc"), ir::directory("/sys"),
                                          ir::char_device("/dev/console", 5, 1, 0600)};
        ir::write_archive(ir::plan_archive(entries), initrd, epoch, ir::Compression::Gzip);
        stage.detail(fmt::format("{:.1f} MB", std::filesystem::file_size(initrd) / 1048576.0));
    }

    // 5. The hybrid ISO.
    {
        auto stage = log::stage("iso");
        iso::IsoRequest ir;
        ir.kernel = kernel.bzimage;
        ir.initramfs = initrd;
        // /romimg/image.json: what the image is, for verify, manifest and diff.
        image::ImageInfo info;
        info.label = opt.label;
        info.cmdline = cmdline;
        info.source_date_epoch = epoch;
        info.romlock_mode = opt.romlock_mode;
        for (const auto& t : templates) {
            image::ServiceInfo si{t.name, t.ports, t.ready, t.trace_probes, opt.exec_lock && t.exec_lock};
            si.probes.insert(si.probes.end(), t.verify_probes.begin(), t.verify_probes.end());
            info.services.push_back(si);
        }
        info.layers.push_back({"live/root.sqfs", fs::sha256_file(root.squashfs), root.bytes, "/"});
        ir.payload = {{root.squashfs, "live/root.sqfs"}};
        for (const auto& [iso_path, text] : image_description(info, kernel, conf, jails)) {
            std::filesystem::path file = work / "image" / iso_path;
            std::filesystem::create_directories(file.parent_path());
            fs::write_file_atomic(file, text);
            ir.payload.push_back({file, iso_path});
        }
        ir.label = opt.label;
        ir.cmdline = cmdline;
        ir.source_date_epoch = epoch;
        ir.media = media;
        ir.output = std::filesystem::absolute(opt.output);
        ir.work_dir = work;
        ir.log = work / "logs" / "50-iso.log";
        iso::IsoResult res = iso::build_iso(ir);
        result.iso = res.iso;
        result.bytes = res.bytes;
        stage.detail(fmt::format("{} ({:.1f} MB)", res.iso.string(), res.bytes / 1048576.0));
    }
    return result;
}

}  // namespace romimg::pipeline
