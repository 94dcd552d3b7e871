#include "image_info.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_int.h"
#include "common/fs.h"
#include "common/names.h"
#include "common/sys.h"
#include "iso/iso.h"
#include "ready_check.h"
#include "target/target.h"

namespace romimg::image {

using nlohmann::json;

json to_json(const ImageInfo& info) {
    json services = json::array();
    for (const auto& s : info.services) {
        json j = {{"name", s.name}, {"ports", s.ports}, {"ready", s.ready}, {"probes", s.probes}, {"exec_lock", s.exec_lock}};
        if (!s.data.empty()) j["data"] = s.data;
        services.push_back(j);
    }
    json layers = json::array();
    for (const auto& l : info.layers) {
        json layer = {{"iso_path", l.iso_path}, {"sha256", l.sha256}, {"bytes", l.bytes}, {"mount", l.mount}};
        if (!l.verity_root_hash.empty()) layer["verity"] = {{"root_hash", l.verity_root_hash}, {"fec_roots", l.fec_roots}};
        layers.push_back(layer);
    }
    return {{"format", info.format},
            {"label", info.label},
            {"cmdline", info.cmdline},
            {"source_date_epoch", info.source_date_epoch},
            {"romlock_mode", info.romlock_mode},
            {"arch", info.arch},
            {"traced", info.traced},
            {"services", services},
            {"layers", layers},
            {"signer", info.signer}};
}

namespace {

// image.json comes from an ISO that anyone can make: every string that becomes a name, a port, a
// path or a line of a boot loader's config is checked before anything uses it.
Error bad_field(const std::string& field, const std::string& value, const std::string& what) {
    return Error(fmt::format("{}: {} '{}' {}: the image was not made by romimg or was altered; rebuild it with "
                             "`romimg build`",
                             kInfoPath, field, names::printable(value), what));
}

bool is_port(long p) { return p >= 1 && p <= 65535; }

void check_service(const ServiceInfo& s, size_t i) {
    const std::string at = fmt::format("services[{}]", i);
    if (!names::is_simple_name(s.name)) throw bad_field(at + ".name", s.name, "is not a service name ([a-z0-9_-], 1 to 64)");
    for (int p : s.ports)
        if (!is_port(p)) throw bad_field(at + ".ports", std::to_string(p), "is not a TCP port (1-65535)");
    appliance::ReadyCheck ready;
    std::string why;
    if (!appliance::parse_ready_check(s.ready, ready, why))
        throw bad_field(at + ".ready", s.ready, "is not a ready check (" + why + ")");
    for (const auto& p : s.probes)
        if (names::has_control(p)) throw bad_field(at + ".probes", p, "contains a control character");
    for (const auto& d : s.data)
        if (std::string why = names::absolute_path_problem(d); !why.empty())
            throw bad_field(at + ".data", d, "is not a data dir (" + why + ")");
}

void check_layer(const LayerInfo& l, size_t i) {
    const std::string at = fmt::format("layers[{}]", i);
    if (std::string why = names::relative_path_problem(l.iso_path); !why.empty())
        throw bad_field(at + ".iso_path", l.iso_path, "is not a safe ISO path (" + why + ")");
    if (std::string why = names::absolute_path_problem(l.mount); !why.empty())
        throw bad_field(at + ".mount", l.mount, "is not a mount point (" + why + ")");
    if (l.sha256.size() != 64 || l.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw bad_field(at + ".sha256", l.sha256, "is not a sha256");
    if (!l.verity_root_hash.empty() &&
        (l.verity_root_hash.size() != 64 || l.verity_root_hash.find_first_not_of("0123456789abcdef") != std::string::npos))
        throw bad_field(at + ".verity.root_hash", l.verity_root_hash, "is not a sha256");
    if (l.fec_roots > 24) throw bad_field(at + ".verity.fec_roots", std::to_string(l.fec_roots), "is not 0..24");
}

void check_info(const ImageInfo& info) {
    try {
        iso::validate_label(info.label);
        iso::validate_cmdline(info.cmdline);
    } catch (const UsageError& e) {
        throw Error(fmt::format("{}: {}: the image was not made by romimg or was altered", kInfoPath,
                                names::printable(e.what())));
    }
    if (info.romlock_mode != "enforce" && info.romlock_mode != "permissive")
        throw bad_field("romlock_mode", info.romlock_mode, "is not enforce or permissive");
    if (!target::target_for_name(info.arch))
        throw bad_field("arch", info.arch, fmt::format("is not a target this romimg knows ({})", target::target_names()));
    if (info.traced != "native" &&
        !(info.traced.rfind("translated from ", 0) == 0 && target::target_for_name(info.traced.substr(16))))
        throw bad_field("traced", info.traced, "is neither native nor translated from a target this romimg knows");
    if (info.source_date_epoch < 0) throw bad_field("source_date_epoch", std::to_string(info.source_date_epoch), "is negative");
    for (size_t i = 0; i < info.services.size(); ++i) {
        check_service(info.services[i], i);
        for (size_t k = 0; k < i; ++k)
            if (info.services[k].name == info.services[i].name)
                throw bad_field(fmt::format("services[{}].name", i), info.services[i].name, "is there twice");
    }
    for (size_t i = 0; i < info.layers.size(); ++i) check_layer(info.layers[i], i);
    if (names::has_control(info.signer) || info.signer.size() > 1024)
        throw bad_field("signer", info.signer, "is not one printable line");
}

}  // namespace

ImageInfo image_info_from_json(const json& j) {
    ImageInfo info;
    std::string field;
    try {
        field = "format";
        info.format = json_int<int>(j.at("format"));
        if (info.format != kFormat)
            throw Error(fmt::format("{} has format {}, this romimg reads format {}: use a matching romimg", kInfoPath,
                                    info.format, kFormat));
        field = "label";
        info.label = j.at("label").get<std::string>();
        field = "cmdline";
        info.cmdline = j.at("cmdline").get<std::string>();
        field = "source_date_epoch";
        info.source_date_epoch = json_int<int64_t>(j.at("source_date_epoch"));
        field = "romlock_mode";
        info.romlock_mode = j.at("romlock_mode").get<std::string>();
        field = "arch";
        if (j.contains("arch")) info.arch = j.at("arch").get<std::string>();
        field = "traced";
        if (j.contains("traced")) info.traced = j.at("traced").get<std::string>();
        field = "services";
        for (const auto& s : j.at("services")) {
            std::vector<int> ports;
            for (const auto& p : s.at("ports")) ports.push_back(json_int<int>(p));
            info.services.push_back({s.at("name").get<std::string>(), ports, s.at("ready").get<std::string>(),
                                     s.at("probes").get<std::vector<std::string>>(), s.at("exec_lock").get<bool>(),
                                     s.contains("data") ? s.at("data").get<std::vector<std::string>>()
                                                        : std::vector<std::string>{}});
        }
        field = "signer";
        if (j.contains("signer")) info.signer = j.at("signer").get<std::string>();
        field = "layers";
        for (const auto& l : j.at("layers")) {
            LayerInfo li{l.at("iso_path").get<std::string>(), l.at("sha256").get<std::string>(),
                         json_int<uint64_t>(l.at("bytes")), l.at("mount").get<std::string>(), "", 0};
            if (l.contains("verity")) {
                li.verity_root_hash = l.at("verity").at("root_hash").get<std::string>();
                li.fec_roots = json_int<unsigned>(l.at("verity").at("fec_roots"));
            }
            info.layers.push_back(li);
        }
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: bad or missing field '{}': {}", kInfoPath, field, e.what()));
    }
    check_info(info);
    return info;
}

std::string iso_volume_label(const std::filesystem::path& iso) {
    int fd = open(iso.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw SysError("open", iso.string(), errno);
    char pvd[2048];
    ssize_t n = pread(fd, pvd, sizeof pvd, 16 * 2048);
    close(fd);
    if (n != (ssize_t)sizeof pvd || memcmp(pvd, "\001CD001", 6) != 0)
        throw Error(iso.string() + " is not an ISO 9660 image (no primary volume descriptor at sector 16)");
    std::string label(pvd + 40, 32);
    while (!label.empty() && label.back() == ' ') label.pop_back();
    return label;
}

void check_bootable_iso(const std::filesystem::path& iso) {
    iso_volume_label(iso);
    Fd fd = sys::open(iso, O_RDONLY);
    char brvd[64];
    static const char kElTorito[] = "\0CD001\1EL TORITO SPECIFICATION";
    if (pread(fd.get(), brvd, sizeof brvd, 17 * 2048) != (ssize_t)sizeof brvd ||
        memcmp(brvd, kElTorito, sizeof kElTorito - 1) != 0)
        throw Error(iso.string() + " is an ISO 9660 image but not a bootable one (no El Torito boot record at "
                    "sector 17): give an image made by `romimg build`");
}

namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;

// Calls `fn(path, archive)` for every regular file until it returns false.
void for_each_file(const std::filesystem::path& iso,
                   const std::function<bool(const std::string&, struct archive*)>& fn) {
    iso_volume_label(iso);  // a clear error for a file that is not an ISO at all
    ArchivePtr a(archive_read_new(), archive_read_free);
    archive_read_support_format_iso9660(a.get());
    if (archive_read_open_filename(a.get(), iso.c_str(), 65536) != ARCHIVE_OK)
        throw Error(fmt::format("cannot read {}: {}", iso.string(), archive_error_string(a.get())));
    struct archive_entry* e;
    for (;;) {
        int r = archive_read_next_header(a.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN)
            throw Error(fmt::format("cannot read {}: {}", iso.string(), archive_error_string(a.get())));
        const char* raw = archive_entry_pathname(e);
        std::string path = raw ? raw : "";
        while (path.rfind("./", 0) == 0) path.erase(0, 2);
        if (archive_entry_filetype(e) == AE_IFDIR) {
            if (path == "." || path == "./") continue;  // the root directory
            if (path.size() > 1 && path.back() == '/') path.pop_back();
        }
        // Every name, whatever its type, before any is used: a crafted ISO (Rock Ridge names
        // may be "..", hold "/" or a newline) is refused as a whole.
        if (std::string why = names::relative_path_problem(path); !why.empty())
            throw Error(fmt::format("{} holds a file named '{}' ({}): romimg reads only the plain names it writes; "
                                    "this image was crafted or damaged, rebuild it with `romimg build`",
                                    iso.string(), names::printable(path), why));
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        if (!fn(path, a.get())) return;
    }
}

}  // namespace

std::vector<std::string> iso_files(const std::filesystem::path& iso) {
    std::vector<std::string> out;
    for_each_file(iso, [&](const std::string& p, struct archive*) {
        out.push_back(p);
        return true;
    });
    std::sort(out.begin(), out.end());
    return out;
}

namespace {

void copy_out(const std::filesystem::path& iso, const std::string& path,
              const std::function<void(const char*, size_t)>& sink) {
    bool found = false;
    for_each_file(iso, [&](const std::string& p, struct archive* a) {
        if (p != path) return true;
        found = true;
        char buf[65536];
        for (;;) {
            la_ssize_t n = archive_read_data(a, buf, sizeof buf);
            if (n < 0) throw Error(fmt::format("cannot read {} from {}: {}", path, iso.string(), archive_error_string(a)));
            if (n == 0) break;
            sink(buf, (size_t)n);
        }
        return false;
    });
    if (!found) throw Error(fmt::format("{} has no /{}", iso.string(), path));
}

}  // namespace

std::string read_iso_file(const std::filesystem::path& iso, const std::string& path) {
    std::string out;
    copy_out(iso, path, [&](const char* b, size_t n) { out.append(b, n); });
    return out;
}

void extract_iso_file(const std::filesystem::path& iso, const std::string& path, const std::filesystem::path& dest) {
    std::ofstream f(dest, std::ios::binary | std::ios::trunc);
    if (!f) throw SysError("open", dest.string(), errno);
    copy_out(iso, path, [&](const char* b, size_t n) { f.write(b, (std::streamsize)n); });
    f.close();
    if (!f) throw SysError("write", dest.string(), errno);
}

void extract_iso_file_beneath(const std::filesystem::path& iso, const std::string& path, const std::filesystem::path& dir) {
    Fd fd = fs::create_beneath(dir, path);
    copy_out(iso, path, [&](const char* b, size_t n) { sys::write_all(fd.get(), std::string(b, n)); });
}

ImageInfo read_image_info(const std::filesystem::path& iso) {
    std::string text;
    try {
        text = read_iso_file(iso, kInfoPath);
    } catch (const Error&) {
        if (iso_files(iso).empty()) throw;
        throw Error(fmt::format("{} has no /{}: it was not made by this romimg (rebuild it with `romimg build`)",
                                iso.string(), kInfoPath));
    }
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: /{} is not valid JSON: {}", iso.string(), kInfoPath, e.what()));
    }
    return image_info_from_json(j);
}

}  // namespace romimg::image
