#include "verity/tree.h"

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/signals.h"
#include "cache/inventory.h"

namespace romimg::verity {

namespace sfs = std::filesystem;

Params plan_params(uint64_t bytes, const std::string& sha256, unsigned fec_roots, const std::string& what) {
    if (bytes == 0 || bytes % kBlockSize != 0)
        throw Error(fmt::format("internal: {} is {} bytes, not a positive multiple of {}: dm-verity would leave its tail unchecked",
                                what, bytes, kBlockSize));
    if (fec_roots != 0 && (fec_roots < 2 || fec_roots > kMaxFecRoots))
        throw UsageError(fmt::format("verity error correction of {} parity bytes: use 0 (none) or 2..{}", fec_roots, kMaxFecRoots));
    Params p;
    p.data_blocks = bytes / kBlockSize;
    p.hash_blocks = hash_tree_blocks(p.data_blocks);
    p.salt = sha256;
    // veritysetup 2.6.1 fails on a one-block layer with parity ("Failed to read RS block 0 byte
    // 1"); a 4 KiB layer goes without.
    p.fec_roots = p.data_blocks == 1 ? 0 : fec_roots;
    return p;
}

Command format_command(const sfs::path& data, const sfs::path& tree, const Params& p) {
    Command c;
    c.argv = {"veritysetup", "format", "--no-superblock", "--hash=sha256", "--data-block-size=4096",
              "--hash-block-size=4096", fmt::format("--data-blocks={}", p.data_blocks), "--salt=" + p.salt};
    if (p.fec_roots) {
        c.argv.push_back("--fec-device=" + tree.string());
        c.argv.push_back(fmt::format("--fec-offset={}", p.hash_blocks * kBlockSize));
        c.argv.push_back(fmt::format("--fec-roots={}", p.fec_roots));
    }
    c.argv.push_back(data.string());
    c.argv.push_back(tree.string());
    return c;
}

std::string parse_root_hash(const std::string& out) {
    const std::string key = "Root hash:";
    size_t at = out.find(key);
    if (at == std::string::npos) throw Error("veritysetup printed no root hash:\n" + out);
    size_t b = out.find_first_not_of(" \t", at + key.size());
    size_t e = out.find_first_of(" \t\r\n", b);
    std::string h = out.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (h.size() != 64 || h.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error("veritysetup printed a root hash that is not a sha256: '" + h + "'");
    return h;
}

std::string cache_key(const std::string& sha256, unsigned fec_roots) {
    return fs::sha256_hex(fmt::format("romimg verity v2\n{}\nsha256 4096 fec {}\n", sha256, fec_roots));
}

Tree make_tree(const sfs::path& data, const std::string& sha256, unsigned fec_roots, const sfs::path& cache_dir,
               const std::string& what) {
    Params p = plan_params(sfs::file_size(data), sha256, fec_roots, what);
    const std::string key = cache_key(sha256, fec_roots);
    const sfs::path dir = cache_dir / "verity" / key;
    Tree t;
    t.file = dir / "tree";
    std::string error;
    if (sfs::exists(dir / "params") && sfs::exists(t.file) && parse_params(fs::read_file(dir / "params"), t.params, error) &&
        t.params.data_blocks == p.data_blocks && t.params.salt == p.salt && t.params.fec_roots == p.fec_roots) {
        t.cached = true;
        cache::mark_used(dir);
        return t;
    }
    sfs::create_directories(dir.parent_path());
    fs::TempDir tmp(dir.parent_path(), ".new-" + key.substr(0, 16) + "-");
    Command c = format_command(data, tmp.path() / "tree", p);
    c.log = tmp.path() / "veritysetup.log";
    // veritysetup writes the parity into an existing file only
    fs::write_file_atomic(tmp.path() / "tree", "");
    p.root_hash = parse_root_hash(run_capture(c));
    const uint64_t want = (p.hash_blocks + fec_blocks(p.data_blocks + p.hash_blocks, p.fec_roots)) * kBlockSize;
    if (sfs::file_size(tmp.path() / "tree") != want)
        throw Error(fmt::format("veritysetup wrote a {}-byte tree for {}, where the layout init maps needs {} bytes "
                                "(tested with veritysetup 2.6.1, Debian 12's)",
                                sfs::file_size(tmp.path() / "tree"), what, want));
    fs::write_file_atomic(tmp.path() / "params", format_params(p));
    signals::throw_if_interrupted();
    // An entry that did not check out above (damaged, or half removed by hand) is replaced.
    if (sfs::exists(dir)) {
        fs::TempDir trash(dir.parent_path(), ".old-" + key.substr(0, 16) + "-");
        if (rename(dir.c_str(), (trash.path() / "entry").c_str()) != 0 && errno != ENOENT)
            throw SysError("rename", {dir.string(), (trash.path() / "entry").string()}, errno);
    }
    if (rename(tmp.path().c_str(), dir.c_str()) != 0) {
        if (!sfs::exists(dir / "params")) throw SysError("rename", {tmp.path().string(), dir.string()}, errno);
    } else {
        tmp.keep();
    }
    if (!parse_params(fs::read_file(dir / "params"), t.params, error)) throw Error("verity cache entry " + dir.string() + ": " + error);
    return t;
}

void pad_copy(const sfs::path& src, const sfs::path& dest) {
    std::string bytes = fs::read_file(src);
    bytes.resize((bytes.size() + kBlockSize - 1) / kBlockSize * kBlockSize, '\0');
    fs::write_file_atomic(dest, bytes);
}

}  // namespace romimg::verity
