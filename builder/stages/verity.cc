// dm-verity trees for every layer (verity.h).
#include "stages/verity.h"

#include <fmt/format.h>

#include "common/error.h"
#include "install/layout.h"
#include "common/fs.h"
#include "common/log.h"
#include "verify/verify.h"

namespace romimg::pipeline {

Verified verity_stage(const BuildOptions& opt, const Request& r, const BaseLayer& base, const Contents& packed) {
    auto stage = log::stage("verity");
    Verified v;
    int made = 0;
    if (opt.verity) {
        v.root = verity::make_tree(base.root_sqfs, base.root_sha256, opt.verity_fec_roots, r.cache_dir, "live/root.sqfs");
        made += !v.root.cached;
        for (size_t i = 0; i < packed.layers.size(); ++i) {
            const auto& l = packed.layers[i];
            v.layers.push_back(verity::make_tree(l.squashfs, l.sha256, opt.verity_fec_roots, r.cache_dir,
                                                 fmt::format("content layer {}", i + 1)));
            made += !v.layers.back().cached;
        }
    }
    // The self-test is verified even in a --no-verity image: init runs only the one built here.
    const std::string selftest = verify::selftest_binary(*r.tgt);
    if (!std::filesystem::is_regular_file(selftest))
        throw Error(install::missing_program(r.tgt->selftest, selftest));
    std::filesystem::create_directories(r.work / "verity");
    const std::filesystem::path padded = r.work / "verity" / "selftest";
    verity::pad_copy(selftest, padded);
    v.selftest = verity::make_tree(padded, fs::sha256_file(padded), 0, r.cache_dir, "the self-test");
    if (!opt.verity) {
        v.on = false;
        stage.detail("OFF (--no-verity, for benchmarking only): every layer will be mounted unchecked");
        return v;
    }
    stage.detail(fmt::format("root {}..., {} content layer(s), error correction {}; {} tree(s) made, the rest cached",
                             v.root.params.root_hash.substr(0, 16), v.layers.size(),
                             opt.verity_fec_roots ? fmt::format("{} parity bytes", opt.verity_fec_roots) : "off", made));
    return v;
}

}  // namespace romimg::pipeline
