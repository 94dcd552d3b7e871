#include "verity_params.h"

#include <cstdlib>
#include <vector>

namespace romimg::verity {

namespace {

constexpr uint64_t kDigestsPerBlock = kBlockSize / 32;  // sha256
constexpr unsigned kRsSymbols = 255;

bool is_hex(const std::string& s) {
    if (s.empty() || s.size() % 2) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool parse_u64(const std::string& s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    out = strtoull(s.c_str(), nullptr, 10);
    return true;
}

}  // namespace

uint64_t hash_tree_blocks(uint64_t data_blocks) {
    // One data block: no tree, its own hash is the root hash (the kernel computes 0 levels).
    if (data_blocks <= 1) return 0;
    uint64_t total = 0;
    for (uint64_t n = data_blocks; n > 0;) {
        n = (n + kDigestsPerBlock - 1) / kDigestsPerBlock;
        total += n;
        if (n == 1) break;
    }
    return total;
}

uint64_t fec_blocks(uint64_t covered_blocks, unsigned roots) {
    if (roots == 0) return 0;
    const uint64_t rsn = kRsSymbols - roots;
    return (covered_blocks + rsn - 1) / rsn * roots;
}

std::string format_params(const Params& p) {
    return "format 1\ndata_blocks " + std::to_string(p.data_blocks) + "\nhash_blocks " + std::to_string(p.hash_blocks) +
           "\nsalt " + p.salt + "\nroot_hash " + p.root_hash + "\nfec_roots " + std::to_string(p.fec_roots) + "\n";
}

bool parse_params(const std::string& text, Params& p, std::string& error) {
    p = Params{};
    bool format = false, data = false, hash = false, salt = false, root = false, fec = false;
    size_t pos = 0;
    for (int line = 1; pos < text.size(); ++line) {
        size_t nl = text.find('\n', pos);
        std::string l = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        if (l.empty()) continue;
        size_t sp = l.find(' ');
        std::string key = l.substr(0, sp), value = sp == std::string::npos ? "" : l.substr(sp + 1);
        uint64_t n = 0;
        auto bad = [&](const std::string& why) {
            error = "line " + std::to_string(line) + " (" + key + "): " + why;
            return false;
        };
        if (key == "format") {
            if (value != "1") return bad("only format 1 is known");
            format = true;
        } else if (key == "data_blocks") {
            if (!parse_u64(value, n) || n == 0) return bad("not a positive number");
            p.data_blocks = n;
            data = true;
        } else if (key == "hash_blocks") {
            if (!parse_u64(value, n)) return bad("not a number");
            p.hash_blocks = n;
            hash = true;
        } else if (key == "salt") {
            if (!is_hex(value) || value.size() > 2 * 256) return bad("not lower-case hex of at most 256 bytes");
            p.salt = value;
            salt = true;
        } else if (key == "root_hash") {
            if (!is_hex(value) || value.size() != 64) return bad("not a sha256 in lower-case hex");
            p.root_hash = value;
            root = true;
        } else if (key == "fec_roots") {
            if (!parse_u64(value, n) || (n != 0 && (n < 2 || n > kMaxFecRoots))) return bad("not 0 or 2..24");
            p.fec_roots = (unsigned)n;
            fec = true;
        } else {
            return bad("unknown key");
        }
    }
    if (!format || !data || !hash || !salt || !root || !fec) {
        error = "a field is missing (format, data_blocks, hash_blocks, salt, root_hash and fec_roots are all needed)";
        return false;
    }
    if (p.hash_blocks != hash_tree_blocks(p.data_blocks)) {
        error = "hash_blocks " + std::to_string(p.hash_blocks) + " is not the tree size of " +
                std::to_string(p.data_blocks) + " data blocks (" + std::to_string(hash_tree_blocks(p.data_blocks)) + ")";
        return false;
    }
    return true;
}

std::string table_params(const Params& p, const std::string& data_dev, const std::string& tree_dev,
                         const std::string& signature_key) {
    std::vector<std::string> opt;
    if (p.fec_roots) {
        const uint64_t covered = p.data_blocks + p.hash_blocks;
        for (const std::string& s : {std::string("use_fec_from_device"), tree_dev, std::string("fec_roots"),
                                     std::to_string(p.fec_roots), std::string("fec_blocks"), std::to_string(covered),
                                     std::string("fec_start"), std::to_string(p.hash_blocks)})
            opt.push_back(s);
    }
    if (!signature_key.empty()) {
        opt.push_back("root_hash_sig_key_desc");
        opt.push_back(signature_key);
    }
    std::string t = "1 " + data_dev + " " + tree_dev + " 4096 4096 " + std::to_string(p.data_blocks) + " 0 sha256 " +
                    p.root_hash + " " + p.salt;
    if (!opt.empty()) {
        t += " " + std::to_string(opt.size());
        for (const auto& o : opt) t += " " + o;
    }
    return t;
}

bool parse_corruption(const std::string& line, std::string& data_dev, std::string& what) {
    const std::string prefix = "device-mapper: verity: ";
    if (line.rfind(prefix, 0) != 0) return false;
    const size_t colon = line.find(": ", prefix.size());
    const size_t tail = line.find(" is corrupted");
    if (colon == std::string::npos || tail == std::string::npos || tail < colon) return false;
    data_dev = line.substr(prefix.size(), colon - prefix.size());
    what = line.substr(colon + 2, tail - colon - 2);
    return true;
}

}  // namespace romimg::verity
