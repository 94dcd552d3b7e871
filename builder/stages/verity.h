// The verity stage: a dm-verity hash tree (with Reed-Solomon parity unless --verity-fec 0) for
// the root squashfs, every content layer and the target's self-test, each from the cache when
// that layer was hashed before. Input: the base layer, the packed contents. Output: Verified.
// Side effects: <cache>/verity entries, the padded self-test under the work dir.
#pragma once

#include <filesystem>
#include <vector>

#include "stages/base.h"
#include "stages/contents.h"
#include "verity/tree.h"

namespace romimg::pipeline {

struct Verified {
    bool on = true;  // false: --no-verity (only the self-test's tree is set)
    verity::Tree root;
    std::vector<verity::Tree> layers;  // one per content layer, in order
    verity::Tree selftest;             // of the padded self-test (the params go into the initramfs)
};

Verified verity_stage(const BuildOptions& opt, const Request& r, const BaseLayer& base, const Contents& packed);

}  // namespace romimg::pipeline
