// The stage list. Each stage reads what the earlier ones returned and writes only under its
// own part of the work dir; this file is the table of contents.
#include "pipeline.h"

#include <arpa/inet.h>
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

time_t source_date_epoch() {
    const char* env = getenv("SOURCE_DATE_EPOCH");
    return env ? (time_t)atoll(env) : 0;
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
    std::filesystem::path init = init_binary();
    if (!std::filesystem::exists(init)) throw Error("romimg-init is not built (" + init.string() + "): run `make`");
    std::vector<recipe::ServiceTemplate> templates;
    for (const auto& s : opt.services) templates.push_back(recipe::load_template(s));
    const std::filesystem::path work = std::filesystem::absolute(opt.work);
    const time_t epoch = source_date_epoch();
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

    // 3. The read-only root: jails, init, appliance.conf, overlays.
    rootfs::RootfsResult root;
    {
        auto stage = log::stage("root filesystem");
        rootfs::RootfsRequest rr;
        appliance::Conf conf;
        conf.hostname = opt.hostname;
        conf.log_to = opt.log_to;
        conf.log_console = opt.log_console;
        conf.debug_shell = opt.debug_shell;
        for (size_t i = 0; i < templates.size(); ++i) {
            rr.jails.push_back({&templates[i], &jails[i].plan, jails[i].dir});
            conf.services.push_back(rootfs::service_entry(templates[i], jails[i].plan, opt.exec_lock));
        }
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
        std::filesystem::path info_file = work / "image" / image::kInfoPath;
        std::filesystem::create_directories(info_file.parent_path());
        fs::write_file_atomic(info_file, image::to_json(info).dump(2) + "\n");
        ir.payload = {{root.squashfs, "live/root.sqfs"}, {info_file, image::kInfoPath}};
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
