// The pipeline's pure plans (plans.h); the kernel command line (pipeline.h).
#include "plans.h"

#include <arpa/inet.h>
#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "kernel/hardening.h"
#include "rootfs/rootfs.h"
#include "verity_params.h"

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
    // that an image carries them. A panic reboots after 10 s (an oops panics: PANIC_ON_OOPS; init
    // makes an unclaimed NMI panic too, docs/limits.md).
    std::string cmdline = fmt::format("console=tty0 console=ttyS0,115200 romimg.label={} romlock.mode={} {} panic=10",
                                      opt.label, opt.romlock_mode, kernel_ip_argument(opt.net));
    if (opt.hardening_cmdline) cmdline += fmt::format(" {}", fmt::join(kernel::hardening_cmdline(kernel_arch), " "));
    return cmdline;
}

std::vector<appliance::Layer> layers_of(const std::vector<content::ContentSpec>& contents, const std::string& service) {
    std::vector<appliance::Layer> out;
    int n = 0;
    for (const auto& c : contents)
        if (c.service == service) out.push_back({"/run/medium/" + content::layer_iso_path(service, ++n), content::layer_mount_point(c)});
    return out;
}

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
        image::ServiceInfo si{t.name, t.ports, t.ready, t.trace_probes, opt.exec_lock && t.exec_lock, t.data.paths};
        si.probes.insert(si.probes.end(), t.verify_probes.begin(), t.verify_probes.end());
        info.services.push_back(si);
    }
    info.layers.push_back(root);
    std::map<std::string, int> per_service;
    for (size_t i = 0; i < contents.size(); ++i)
        info.layers.push_back({content::layer_iso_path(contents[i].service, ++per_service[contents[i].service]),
                               packed[i].sha256, packed[i].bytes, content::layer_mount_point(contents[i]),
                               packed[i].verity_root_hash, packed[i].fec_roots});
    return info;
}

kernel::KernelOptions kernel_plan(const BuildOptions& opt, const target::Target& tgt,
                                  const std::filesystem::path& config_dir, const std::filesystem::path& cache_dir,
                                  unsigned cores) {
    kernel::KernelOptions ko;
    ko.config_dir = config_dir;
    ko.arch = tgt.kernel_arch;
    ko.cache_dir = cache_dir;
    ko.jobs = opt.jobs > 0 ? opt.jobs : (int)std::max(1u, cores);
    return ko;
}

std::vector<initramfs::Entry> initramfs_plan(const std::filesystem::path& init, const std::string& root_params,
                                             const std::string& selftest_params) {
    namespace ir = romimg::initramfs;
    std::vector<ir::Entry> entries = {ir::file_from_host("/init", init, 0755), ir::directory("/dev"), ir::directory("/proc"),
                                      ir::directory("/sys"), ir::char_device("/dev/console", 5, 1, 0600)};
    entries.push_back(ir::directory("/verity"));
    // No root params: --no-verity (init then mounts the layers unchecked, and says so). The
    // self-test is verified either way.
    if (!root_params.empty()) entries.push_back(ir::file_from_bytes(verity::kInitrdRootParams, root_params, 0444));
    entries.push_back(ir::file_from_bytes(verity::kInitrdSelftestParams, selftest_params, 0444));
    return ir::plan_archive(entries);
}

std::vector<std::pair<std::string, std::string>> image_description_plan(
    const image::ImageInfo& info, const image::KernelInfo& kernel, const std::string& conf_text,
    const std::vector<std::pair<std::string, std::string>>& manifest_texts) {
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back(image::kInfoPath, image::to_json(info).dump(2) + "\n");
    out.emplace_back(image::kKernelInfoPath, image::to_json(kernel).dump(2) + "\n");
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
    for (const auto& [service, text] : manifest_texts) out.emplace_back(std::string(image::kJailsDir) + service + ".json", text);
    return out;
}

IsoPlan iso_plan(const BuildOptions& opt, const target::Target& tgt, const image::ImageInfo& info, const std::string& cmdline,
                 iso::Media media, time_t epoch, const std::filesystem::path& work, const IsoInputs& in) {
    if (info.layers.size() != in.layers.size() + 1) throw Error("internal: image.json's layers and the squashfs files differ");
    IsoPlan p;
    iso::IsoRequest& ir = p.request;
    ir.kernel = in.kernel;
    ir.initramfs = in.initramfs;
    const bool verity = !in.root_tree.empty();  // else --no-verity
    if ((verity && (in.layer_trees.size() != in.layers.size() || in.layer_params.size() != in.layers.size())) ||
        (!in.layer_signatures.empty() && in.layer_signatures.size() != in.layers.size()))
        throw Error("internal: a content layer without its verity tree or params");
    ir.payload = {{in.root_sqfs, info.layers[0].iso_path}};
    if (verity) ir.payload.push_back({in.root_tree, info.layers[0].iso_path + verity::kTreeSuffix});
    std::string described;  // every /romimg/ file and verity params, for the key (the trees: by image.json's root hashes)
    for (size_t i = 0; i < in.layers.size(); ++i) {
        const std::string& at = info.layers[i + 1].iso_path;
        ir.payload.push_back({in.layers[i], at});
        if (!verity) continue;
        ir.payload.push_back({in.layer_trees[i], at + verity::kTreeSuffix});
        const std::string params = at + verity::kParamsSuffix;
        p.files.emplace_back(work / "image" / params, in.layer_params[i]);
        ir.payload.push_back({work / "image" / params, params});
        described += params + "\n" + fs::sha256_hex(in.layer_params[i]) + "\n";
        if (!in.layer_signatures.empty()) {
            const std::string sig = at + verity::kSignatureSuffix;
            p.files.emplace_back(work / "image" / sig, in.layer_signatures[i]);
            ir.payload.push_back({work / "image" / sig, sig});
            described += sig + "\n" + fs::sha256_hex(in.layer_signatures[i]) + "\n";
        }
    }
    ir.efi_binary = in.efi_binary;
    for (const auto& [iso_path, text] : in.description) {
        const std::filesystem::path file = work / "image" / iso_path;
        p.files.emplace_back(file, text);
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
    p.inputs_key = fs::sha256_hex(fmt::format("romimg iso v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n", in.romimg_sha256,
                                              in.kernel_sha256, in.initramfs_sha256, described, opt.label, cmdline,
                                              opt.media, (long long)epoch, ir.uefi ? "uefi" : "bios",
                                              in.efi_binary.empty() ? "grub" : "signed " + in.efi_sha256));
    return p;
}

std::string iso_stamp_text(const std::string& inputs_key, dev_t dev, ino_t ino, off_t size, const struct timespec& mtime) {
    return fmt::format("{}\n{} {} {} {}.{}\n", inputs_key, dev, ino, size, mtime.tv_sec, mtime.tv_nsec);
}

}  // namespace romimg::pipeline
