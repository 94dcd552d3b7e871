// The kernel, the initramfs and the ISO: each stage applies its plan (boot.h, plans.h).
#include "stages/boot.h"

#include <sys/stat.h>
#include <thread>

#include <fmt/format.h>

#include "common/fs.h"
#include "common/log.h"
#include "image/manifest.h"
#include "install/layout.h"
#include "initramfs/cpio.h"
#include "iso/iso.h"
#include "plans.h"

namespace romimg::pipeline {

kernel::KernelResult kernel_stage(const BuildOptions& opt, const Request& r) {
    auto stage = log::stage("kernel");
    kernel::KernelOptions ko =
        kernel_plan(opt, *r.tgt, kernel_config_dir(opt), r.cache_dir, std::thread::hardware_concurrency());
    ko.packaged_dir = install::packaged_kernels_dir();  // the romimg-kernel-* packages' kernels
    kernel::KernelResult kernel = kernel::build_kernel(ko);
    stage.detail(kernel.packaged ? "packaged " + kernel.bzimage.string()
                 : kernel.from_cache ? "cached " + kernel.bzimage.string() : "built " + kernel.bzimage.string());
    return kernel;
}

// With every layer cached, nothing before this has needed the work dir.
std::filesystem::path initramfs_stage(const Request& r, const Verified& v, time_t epoch) {
    std::filesystem::create_directories(r.work);
    const std::filesystem::path initrd = r.work / "initramfs.cpio.gz";
    auto stage = log::stage("initramfs");
    initramfs::write_archive(initramfs_plan(r.init, v.on ? verity::format_params(v.root.params) : "",
                                            verity::format_params(v.selftest.params)),
                             initrd, epoch, initramfs::Compression::Gzip);
    stage.detail(fmt::format("{:.1f} MB", std::filesystem::file_size(initrd) / 1048576.0));
    return initrd;
}

namespace {

// kernel.json: the kernel the image boots, read from the built kernel.
image::KernelInfo kernel_info(const kernel::KernelResult& kernel) {
    image::KernelInfo k;
    k.version = image::bzimage_version(fs::read_file(kernel.bzimage).substr(0, 65536));
    k.config_sha256 = fs::sha256_file(kernel.config);
    k.cache_key = kernel.key;
    k.source = kernel.source_version;
    k.compiler = kernel.compiler;
    return k;
}

// The stamp of the ISO at `iso` as made from `inputs_key`, "" if there is none.
std::string iso_stamp(const std::string& inputs_key, const std::filesystem::path& iso) {
    struct stat st;
    if (stat(iso.c_str(), &st) != 0) return "";
    return iso_stamp_text(inputs_key, st.st_dev, st.st_ino, st.st_size, st.st_mtim);
}

// Signing is the last step: everything it signs is made already. The UKI carries the kernel,
// the initramfs (with the root's verity params) and the command line; each content layer's root
// hash gets its own signature, so a content release re-signs only its layer.
void sign_boot(const sign::Signer& s, const Request& r, const Verified& v, const kernel::KernelResult& kernel,
               const std::filesystem::path& initrd, IsoInputs& in) {
    auto stage = log::stage("sign");
    const std::filesystem::path dir = r.work / "sign";
    const bool signed_now =
        sign::make_signed_uki(s, kernel.bzimage, initrd, r.cmdline, dir, dir / "BOOTX64.EFI", r.work / "logs" / "45-sign.log");
    in.efi_binary = dir / "BOOTX64.EFI";
    in.efi_sha256 = fs::sha256_file(in.efi_binary);
    for (const auto& t : v.layers) in.layer_signatures.push_back(sign::pkcs7_sign(s, t.params.root_hash));
    stage.detail(fmt::format("a unified kernel image ({:.1f} MB, {}) and {} content layer root hash(es), by {}",
                             std::filesystem::file_size(in.efi_binary) / 1048576.0,
                             signed_now ? "signed now" : "unchanged: kept as signed before", v.layers.size(), s.subject));
}

}  // namespace

void iso_stage(const BuildOptions& opt, const Request& r, const BaseLayer& base, const Contents& packed,
               const Verified& v, const kernel::KernelResult& kernel, const std::filesystem::path& initrd, time_t epoch, BuildResult& result) {
    auto stage = log::stage("iso");
    std::vector<image::LayerInfo> packed_layers;
    for (size_t i = 0; i < packed.layers.size(); ++i)
        packed_layers.push_back({"", packed.layers[i].sha256, packed.layers[i].bytes, "",
                                 v.on ? v.layers[i].params.root_hash : "", v.on ? v.layers[i].params.fec_roots : 0});
    image::ImageInfo info =
        image_info_plan(opt, *r.tgt, r.route, r.cmdline, epoch, r.templates,
                        {"live/root.sqfs", base.root_sha256, base.root_bytes, "/", v.root.params.root_hash, v.root.params.fec_roots},
                        r.contents, packed_layers);
    if (r.signer) info.signer = fmt::format("{} (sha256 {})", r.signer->subject, r.signer->fingerprint);
    IsoInputs in;
    in.kernel = kernel.bzimage;
    in.initramfs = initrd;
    in.root_sqfs = base.root_sqfs;
    for (const auto& l : packed.layers) in.layers.push_back(l.squashfs);
    in.root_tree = v.on ? v.root.file : "";
    for (const auto& t : v.layers) {
        in.layer_trees.push_back(t.file);
        in.layer_params.push_back(verity::format_params(t.params));
    }
    if (r.signer) sign_boot(*r.signer, r, v, kernel, initrd, in);
    in.romimg_sha256 = fs::sha256_file("/proc/self/exe");
    in.kernel_sha256 = fs::sha256_file(kernel.bzimage);
    in.initramfs_sha256 = fs::sha256_file(initrd);
    std::vector<std::pair<std::string, std::string>> manifests;
    for (const auto& [service, path] : base.manifests) manifests.emplace_back(service, fs::read_file(path));
    in.description = image_description_plan(info, kernel_info(kernel), base.conf_text, manifests);
    const IsoPlan plan = iso_plan(opt, *r.tgt, info, r.cmdline, r.media, epoch, r.work, in);

    for (const auto& [file, text] : plan.files) {
        std::filesystem::create_directories(file.parent_path());
        fs::write_file_atomic(file, text);
    }
    const std::filesystem::path& output = plan.request.output;
    const std::filesystem::path stamp_file = r.work / "iso.stamp";
    const std::string before = std::filesystem::exists(stamp_file) ? fs::read_file(stamp_file) : "";
    if (!before.empty() && before == iso_stamp(plan.inputs_key, output)) {
        result.iso = output;
        result.bytes = std::filesystem::file_size(output);
        result.iso_unchanged = true;
        stage.detail(fmt::format("unchanged: {} was made from the same inputs", output.string()));
        return;
    }
    std::filesystem::remove(stamp_file);
    const iso::IsoResult res = iso::build_iso(plan.request);
    result.iso = res.iso;
    result.bytes = res.bytes;
    fs::write_file_atomic(stamp_file, iso_stamp(plan.inputs_key, res.iso));
    stage.detail(fmt::format("{} ({:.1f} MB)", res.iso.string(), res.bytes / 1048576.0));
}

}  // namespace romimg::pipeline
