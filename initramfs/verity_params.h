// dm-verity parameters of one layer (the root squashfs or a content layer), shared by the
// builder (which writes them) and romimg-init (which maps the layer with them). Pure: text in,
// text out; no system calls. The hash tree and its Reed-Solomon parity live in one file beside
// the layer on the medium (LAYER.verity): the tree from block 0, the parity from block
// `hash_blocks` on, both in 4096-byte blocks, as `veritysetup format --no-superblock` writes
// them (format 1, sha256, salt from the layer's own sha256 so builds stay reproducible).
// Unit-tested in tests/unit/verity_params_test.cc.
#pragma once

#include <cstdint>
#include <string>

namespace romimg::verity {

inline constexpr uint64_t kBlockSize = 4096;
inline constexpr const char* kTreeSuffix = ".verity";           // hash tree + parity, beside the layer
inline constexpr const char* kParamsSuffix = ".verity.params";  // a content layer's params on the medium
inline constexpr const char* kSignatureSuffix = ".verity.p7s";  // PKCS#7 of its root hash (signed images)
inline constexpr unsigned kMaxFecRoots = 24;                    // veritysetup: 2..24 parity bytes
// In the initramfs: the root squashfs's params, and the params of the only self-test binary init
// will run from a verify copy of the medium (romimg/selftest, padded to 4 KiB, read through
// verity into memory).
inline constexpr const char* kInitrdRootParams = "/verity/root.params";
inline constexpr const char* kInitrdSelftestParams = "/verity/selftest.params";
// Written by early boot for PID 1 (root only, in the root's /run tmpfs): "secure_boot 0|1" and
// "root_dev MAJ:MIN" (the loop device under the root's verity device); and a copy of the
// self-test's params.
inline constexpr const char* kBootFacts = "/run/romimg-init/boot";
inline constexpr const char* kSelftestParams = "/run/romimg-init/selftest.params";

struct Params {
    uint64_t data_blocks = 0;  // the layer's size / 4096 (squashfs images are padded to 4 KiB)
    uint64_t hash_blocks = 0;  // hash_tree_blocks(data_blocks)
    std::string salt;          // hex
    std::string root_hash;     // hex, 64 digits (sha256)
    unsigned fec_roots = 0;    // 0: no error correction; else parity bytes per RS(255) codeword
};

// Blocks of a sha256 hash tree over `data_blocks` 4096-byte blocks (128 digests per block), every
// level included, as the kernel counts levels: 0 for one block (its hash is the root hash).
uint64_t hash_tree_blocks(uint64_t data_blocks);
// Blocks of Reed-Solomon parity veritysetup writes for data + tree with `roots` parity bytes.
uint64_t fec_blocks(uint64_t covered_blocks, unsigned roots);

// "format 1\ndata_blocks N\n..." (each field on its own line, in a fixed order).
std::string format_params(const Params& p);
// Parses format_params()'s output; false with `error` naming the line on anything else (an
// unknown key, a bad number, a hash that is not 64 hex digits, a hash_blocks that does not fit
// data_blocks).
bool parse_params(const std::string& text, Params& p, std::string& error);

// The "verity" target's parameters for a table line over `data_dev` with the tree file on
// `tree_dev` (major:minor or a path), errors returned as EIO (the default), with error
// correction from the tree file when fec_roots > 0, and the root hash's signature taken from
// the user key `signature_key` when it is not empty.
std::string table_params(const Params& p, const std::string& data_dev, const std::string& tree_dev,
                         const std::string& signature_key);
// "device-mapper: verity: 7:2: data block 113 is corrupted" → data_dev "7:2", what "data block
// 113"; false for any other kernel message.
bool parse_corruption(const std::string& kernel_line, std::string& data_dev, std::string& what);

// The target's length in 512-byte sectors.
inline uint64_t sectors(const Params& p) { return p.data_blocks * (kBlockSize / 512); }

}  // namespace romimg::verity
