// dm-verity hash trees for what the medium carries (the root squashfs, every content layer, a
// verify copy's self-test): `veritysetup format --no-superblock` writes the tree, and the
// Reed-Solomon parity after it, into one file that goes on the medium beside the layer
// (LAYER.verity); the parameters (verity_params.h) go into the initramfs (the root, the
// self-test) or beside the layer (a content layer). Reproducible: the salt is the layer's own
// sha256 and there is no superblock (so no random UUID). Kept in <cache>/verity/<key>/ (key: the
// layer's sha256, the parity and the format), so a content release that keeps its base does not
// hash the root again. See docs/verity.md.
#pragma once

#include <filesystem>
#include <string>

#include "common/command.h"
#include "verity_params.h"

namespace romimg::verity {

// Error-correction parity bytes per RS(255) codeword by default: any one bad 4 KiB block in
// every 253 is repaired, for 0.8 % more space.
inline constexpr unsigned kDefaultFecRoots = 2;

struct Tree {
    std::filesystem::path file;  // the tree + parity (in the cache)
    Params params;
    bool cached = false;
};

// ---- pure ----

// The params of a layer of `bytes` bytes with sha256 `sha256`, all but its root hash (a
// one-block layer gets no parity: veritysetup 2.6.1 cannot make it). Throws
// Error if `bytes` is not a positive multiple of 4096 (mksquashfs pads its images to 4 KiB).
Params plan_params(uint64_t bytes, const std::string& sha256, unsigned fec_roots, const std::string& what);
Command format_command(const std::filesystem::path& data, const std::filesystem::path& tree, const Params& p);
// The "Root hash:" of veritysetup's output; throws Error if there is none.
std::string parse_root_hash(const std::string& veritysetup_output);
std::string cache_key(const std::string& sha256, unsigned fec_roots);

// ---- with effects ----

// The tree of `data` (whose sha256 is `sha256`), from the cache or made and published there
// (an interrupted run publishes nothing). `what` names the layer in errors.
Tree make_tree(const std::filesystem::path& data, const std::string& sha256, unsigned fec_roots,
               const std::filesystem::path& cache_dir, const std::string& what);

// `src` copied to `dest` with zeros up to the next 4 KiB (an ELF runs the same).
void pad_copy(const std::filesystem::path& src, const std::filesystem::path& dest);

}  // namespace romimg::verity
