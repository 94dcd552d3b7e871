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

namespace romimg::image {

using nlohmann::json;

json to_json(const ImageInfo& info) {
    json services = json::array();
    for (const auto& s : info.services)
        services.push_back({{"name", s.name}, {"ports", s.ports}, {"ready", s.ready}, {"probes", s.probes},
                            {"exec_lock", s.exec_lock}});
    json layers = json::array();
    for (const auto& l : info.layers)
        layers.push_back({{"iso_path", l.iso_path}, {"sha256", l.sha256}, {"bytes", l.bytes}, {"mount", l.mount}});
    return {{"format", info.format},
            {"label", info.label},
            {"cmdline", info.cmdline},
            {"source_date_epoch", info.source_date_epoch},
            {"romlock_mode", info.romlock_mode},
            {"services", services},
            {"layers", layers}};
}

ImageInfo image_info_from_json(const json& j) {
    ImageInfo info;
    std::string field;
    try {
        field = "format";
        info.format = j.at("format").get<int>();
        if (info.format != kFormat)
            throw Error(fmt::format("{} has format {}, this romimg reads format {}: use a matching romimg", kInfoPath,
                                    info.format, kFormat));
        field = "label";
        info.label = j.at("label").get<std::string>();
        field = "cmdline";
        info.cmdline = j.at("cmdline").get<std::string>();
        field = "source_date_epoch";
        info.source_date_epoch = j.at("source_date_epoch").get<int64_t>();
        field = "romlock_mode";
        info.romlock_mode = j.at("romlock_mode").get<std::string>();
        field = "services";
        for (const auto& s : j.at("services"))
            info.services.push_back({s.at("name").get<std::string>(), s.at("ports").get<std::vector<int>>(),
                                     s.at("ready").get<std::string>(), s.at("probes").get<std::vector<std::string>>(),
                                     s.at("exec_lock").get<bool>()});
        field = "layers";
        for (const auto& l : j.at("layers"))
            info.layers.push_back({l.at("iso_path").get<std::string>(), l.at("sha256").get<std::string>(),
                                   l.at("bytes").get<uint64_t>(), l.at("mount").get<std::string>()});
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: bad or missing field '{}': {}", kInfoPath, field, e.what()));
    }
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
        if (archive_entry_filetype(e) != AE_IFREG) continue;
        std::string path = archive_entry_pathname(e);
        while (path.rfind("./", 0) == 0) path.erase(0, 2);
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
