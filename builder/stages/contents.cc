// The content layers, packed (contents.h).
#include "stages/contents.h"

#include <map>

#include <fmt/format.h>

#include "common/log.h"

namespace romimg::pipeline {

Contents pack_contents(const BuildOptions& opt, const Request& r) {
    Contents out;
    std::map<std::string, int> per_service;
    for (const auto& c : r.contents) {
        const int n = ++per_service[c.service];
        auto stage = log::stage(fmt::format("content {}:{}", c.service, c.path));
        content::PackRequest pr;
        pr.compression = opt.fast ? "zstd" : "xz";
        Newest own;
        if (r.given) own.take(*r.given, "given");
        else own.take(files_under(c.source));
        pr.epoch = (time_t)own.time;
        out.epochs.push_back(own);
        pr.work = r.work;
        pr.cache_dir = r.cache_dir;
        pr.log = r.work / "logs" / "25-content.log";
        pr.keep_tree = opt.retrace;
        pr.allow_private = opt.content_allow_private;
        out.layers.push_back(content::pack_content(c, fmt::format("{}-{}", c.service, n), pr));
        const auto& l = out.layers.back();
        stage.detail(fmt::format("{} files, {:.1f} MB layer, {}", l.files, l.bytes / 1048576.0, l.cached ? "cached" : "packed"));
    }
    return out;
}

}  // namespace romimg::pipeline
