// The content layers (--content): each SOURCE packed into its own squashfs, cached by content
// hash. Input: the request's checked specs. Output: Contents (one layer and epoch per spec, in
// order). Side effects: under work/content and <cache>/content.
#pragma once

#include <vector>

#include "content/pack.h"
#include "stages/epoch.h"

namespace romimg::pipeline {

struct Contents {
    std::vector<content::PackedLayer> layers;
    std::vector<Newest> epochs;
};

Contents pack_contents(const BuildOptions& opt, const Request& r);

}  // namespace romimg::pipeline
