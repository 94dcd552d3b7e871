// The pipeline's pure plans: what a build writes, decided from its inputs alone, before (and
// apart from) the stage that writes it (pipeline.cc applies them). Unit-tested in
// tests/unit/plans_test.cc.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "appliance_conf.h"
#include "content/content.h"
#include "image/image_info.h"
#include "jail/jail.h"
#include "pipeline.h"
#include "recipe/template.h"
#include "staging/translate.h"
#include "target/target.h"

namespace romimg::pipeline {

// /etc/romimg/appliance.conf of the root: the options init needs, and per service (in
// `templates` order, with its jail's plan) its entry and its content layers' mount points.
appliance::Conf appliance_conf_plan(const BuildOptions& opt, const std::vector<recipe::ServiceTemplate>& templates,
                                    const std::vector<const jail::JailPlan*>& plans,
                                    const std::vector<content::ContentSpec>& contents);

// /romimg/image.json: what the image is (target, how it was traced, services with their probes,
// and its layers: `root`, then one per content spec with `packed`'s hash and size at the ISO
// path init mounts it from).
image::ImageInfo image_info_plan(const BuildOptions& opt, const target::Target& tgt, staging::TraceRoute route,
                                 const std::string& cmdline, time_t epoch, const std::vector<recipe::ServiceTemplate>& templates,
                                 const image::LayerInfo& root, const std::vector<content::ContentSpec>& contents,
                                 const std::vector<image::LayerInfo>& packed);

}  // namespace romimg::pipeline
