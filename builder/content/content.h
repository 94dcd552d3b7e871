// Content layers: `--content SERVICE:PATH=SOURCE` replaces PATH inside SERVICE's jail with
// SOURCE (a directory or an archive), packed as its own squashfs and mounted read-only by init.
// This file is the pure part: parsing, validation against the template and the jail plan, and
// the jail plan with the replaced subtrees left out. Staging and packing: content/pack.h.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "jail/jail.h"
#include "recipe/template.h"

namespace romimg::content {

struct ContentSpec {
    std::string arg;               // as given, for messages
    std::string service;
    std::string path;              // absolute and normalized, inside the jail
    std::filesystem::path source;  // as given
};

// "apache:/var/www/html=./release-42/" → spec. Throws UsageError naming the argument.
ContentSpec parse_content_arg(const std::string& arg);

// Throws UsageError "--content ARG: WHAT (FIX)".
[[noreturn]] void reject(const ContentSpec& c, const std::string& what, const std::string& fix);

// Pure: every spec names a service being built; no two share or nest a PATH in one service.
void check_specs(const std::vector<ContentSpec>& specs, const std::vector<std::string>& services);

// Pure: PATH does not cover the service's program, its account files, /dev, /proc, a log
// FIFO, and is neither inside nor above one of its writable tmpfs areas.
void check_against_template(const ContentSpec& c, const recipe::ServiceTemplate& t);

// Pure: nothing under PATH is a program or library the jail needs (ELF dependencies,
// interpreters, symlink hops: closure::Reason::closure), or a device node. Traced files,
// includes and basics under PATH are what the content replaces.
void check_against_plan(const ContentSpec& c, const jail::JailPlan& plan);

// Pure: the plan without anything strictly under each PATH, and each PATH an empty directory
// (root-owned, 0755) so the read-only root has a mount point there; missing parents are added
// as root-owned 0755 directories. Nodes stay sorted.
jail::JailPlan replace_subtrees(jail::JailPlan plan, const std::vector<std::string>& paths);

// The content PATHs of one service, in command-line order.
std::vector<std::string> paths_of(const std::vector<ContentSpec>& specs, const std::string& service);

// Pure: the layer's file on the medium ("live/content/apache-1.sqfs", n counts from 1 per
// service in command-line order) and its mount point in the appliance ("/jail/apache/var/www/html").
std::string layer_iso_path(const std::string& service, int n);
std::string layer_mount_point(const ContentSpec& c);

}  // namespace romimg::content
